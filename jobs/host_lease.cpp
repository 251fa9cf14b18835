#include "jobs/host_lease.h"

#include <pthread.h>

#include <fmt/format.h>

namespace drover::jobs {

Result<std::unique_ptr<HostLease>> HostLease::start(JobQueue& queue, HostLeaseOptions options) {
  std::unique_ptr<HostLease> lease(new HostLease(queue, std::move(options)));
  auto first = lease->renew();
  if (!first) return first.error();
  if (!first->expired.empty() && lease->options_.on_renewal) lease->options_.on_renewal(*first);
  lease->thread_ = std::thread([l = lease.get()] { l->run(); });
  return lease;
}

HostLease::~HostLease() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool HostLease::store_reachable() const {
  std::lock_guard lock(mu_);
  return reachable_;
}

Result<LeaseRenewal> HostLease::renew() {
  HostRecord me = options_.describe();
  const int64_t lease_ms = options_.lease.count();
  // The store thread's clock sets the lease's end: the one every host compares it with.
  return queue_
      .call<LeaseRenewal>([me, lease_ms](JobStore& s, int64_t now) mutable {
        me.lease_until_ms = now + lease_ms;
        return s.renew_lease(me, now);
      })
      .get();
}

void HostLease::run() {
  pthread_setname_np(pthread_self(), "drover-lease");
  // A third of the lease: two renewals can be lost or slow before peers give up on us.
  const auto every = std::max(options_.lease / 3, std::chrono::milliseconds(1));
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, every, [this] { return stopping_; })) {
    lock.unlock();
    auto r = renew();
    lock.lock();
    const bool was = reachable_;
    reachable_ = r.has_value();
    lock.unlock();
    if (!r && was) options_.warn(fmt::format("the job store is unreachable (workers keep running): {}",
                                             r.error().message()));
    else if (r && !was) options_.warn("the job store is reachable again");
    if (r && !r->expired.empty() && options_.on_renewal) options_.on_renewal(*r);
    lock.lock();
  }
}

}  // namespace drover::jobs
