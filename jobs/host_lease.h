// HostLease: this host's place in a shared store's fleet, kept alive. Every lease/3 it
// renews its row through the store thread (JobStore::renew_lease: name, pid, HTTP
// address, pools and sizes, lease_until = now + lease), and that renewal also retires
// the hosts whose lease ran out, their running jobs queued again (attempt counted).
//
// The engine loop never waits on it: it has its own thread, and what it needs from the
// engine (the pools) it reads through a function given to it. A store that is down or
// slow delays only this thread: workers keep running. A failing renewal is warned about
// once, and its recovery once ("reachable again").
//
// Thread: its own; the callbacks run on it (on_renewal after a renewal that retired
// hosts; warn for the messages).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "jobs/job_queue.h"

namespace drover::jobs {

struct HostLeaseOptions {
  std::chrono::milliseconds lease{10000};
  // This host as it is now, lease_until_ms left for the renewal to set.
  std::function<HostRecord()> describe;
  std::function<void(const LeaseRenewal&)> on_renewal;
  std::function<void(const std::string&)> warn;
};

class HostLease {
 public:
  // Registers now (synchronously: before this host claims anything, so no peer takes its
  // new jobs for an old run's), then keeps renewing. An error: the store refused.
  static Result<std::unique_ptr<HostLease>> start(JobQueue& queue, HostLeaseOptions options);
  ~HostLease();  // stops renewing; the row stays until leave() or its lease runs out
  HostLease(const HostLease&) = delete;

  // Whether the last renewal reached the store.
  bool store_reachable() const;

 private:
  HostLease(JobQueue& queue, HostLeaseOptions options) : queue_(queue), options_(std::move(options)) {}
  Result<LeaseRenewal> renew();
  void run();

  JobQueue& queue_;
  HostLeaseOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool reachable_ = true;
  std::thread thread_;
};

}  // namespace drover::jobs
