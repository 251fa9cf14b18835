#include "engine/spawn_queue.h"

#include <pthread.h>
#include <signal.h>

namespace drover {

SpawnQueue::SpawnQueue(int helpers, Deliver deliver) : deliver_(std::move(deliver)) {
  for (int i = 0; i < helpers; ++i)
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "drover-spawn");
      run();
    });
}

SpawnQueue::~SpawnQueue() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    jobs_.clear();
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void SpawnQueue::push(SpawnJob job) {
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

std::optional<SpawnJob> SpawnQueue::try_pop() {
  std::lock_guard lock(mu_);
  if (jobs_.empty()) return std::nullopt;
  SpawnJob job = std::move(jobs_.front());
  jobs_.pop_front();
  return job;
}

void SpawnQueue::run() {
  // Signals are for the loop thread's signalfd; this thread inherited the engine's mask.
  Spawner spawner;
  for (;;) {
    SpawnJob job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    SpawnOutcome out{std::move(job), Status::ok()};
    out.result = spawner.spawn(out.job.request);
    deliver_(std::move(out));
  }
}

}  // namespace drover
