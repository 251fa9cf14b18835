#include "jobs/job_queue.h"

#include <pthread.h>

#include <chrono>

namespace drover::jobs {

JobQueue::JobQueue(std::unique_ptr<JobStore> store, NowFn now) : store_(std::move(store)), now_(std::move(now)) {
  if (!now_)
    now_ = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  thread_ = std::thread([this] { run(); });
}

JobQueue::~JobQueue() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void JobQueue::post(Op op) {
  {
    std::lock_guard lock(mu_);
    pending_.push_back(std::move(op));
  }
  cv_.notify_one();
}

JobQueue::Counters JobQueue::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

void JobQueue::run() {
  pthread_setname_np(pthread_self(), "drover-jobs");
  std::vector<Op> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) return;  // stopping, and everything submitted is answered
      batch.swap(pending_);
    }
    // Everything that queued up while the previous commit ran goes into this one.
    const int64_t now = now_();
    Status commit = store_->group([&] {
      for (Op& op : batch) op.run(*store_, now);
      return Status::ok();
    });
    {
      std::lock_guard lock(mu_);
      ++counters_.commits;
      counters_.calls += batch.size();
      if (!commit) ++counters_.failed_commits;
    }
    for (Op& op : batch) op.done(commit);
    batch.clear();
  }
}

std::future<Result<std::vector<Job>>> JobQueue::enqueue(std::vector<JobRequest> requests) {
  return call<std::vector<Job>>([requests = std::move(requests)](JobStore& s, int64_t now) {
    return s.enqueue(requests, now);
  });
}

std::future<Result<std::vector<TopicStats>>> JobQueue::stats() {
  return call<std::vector<TopicStats>>([](JobStore& s, int64_t now) { return s.stats(now); });
}

}  // namespace drover::jobs
