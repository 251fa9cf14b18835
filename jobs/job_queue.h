// JobQueue: the store thread. It owns a JobStore and runs every call on its own thread, so
// the engine loop, the shell and HTTP never wait on a disk. Calls that arrive while a
// commit is in flight go into the next transaction together (group commit: one fsync for
// many transitions, so throughput does not depend on the disk's fsync rate), and each
// caller learns its answer only after the commit that made it durable: an enqueue that
// returned is on disk, which is what at-least-once stands on.
//
// Thread: any thread may call; answers arrive through std::future or a callback run on
// the store thread (keep it short: post it on).
#pragma once

#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "jobs/job_store.h"

namespace drover::jobs {

class JobQueue {
 public:
  using NowFn = std::function<int64_t()>;  // wall clock, ms; tests pass a fake one
  // A store that opened; `now` defaults to the system clock.
  explicit JobQueue(std::unique_ptr<JobStore> store, NowFn now = nullptr);
  ~JobQueue();  // finishes the calls already submitted, then stops
  JobQueue(const JobQueue&) = delete;

  // fn(store, now) runs on the store thread inside the current group; done(result) runs
  // after its commit, with the commit's error instead if the commit failed.
  template <typename T>
  void submit(std::function<Result<T>(JobStore&, int64_t)> fn, std::function<void(Result<T>)> done) {
    auto result = std::make_shared<std::optional<Result<T>>>();
    post(Op{[fn = std::move(fn), result](JobStore& s, int64_t now) { result->emplace(fn(s, now)); },
            [done = std::move(done), result](const Status& commit) {
              if (!commit) done(Result<T>(commit));
              else done(std::move(**result));
            }});
  }
  // The same, answered through a future.
  template <typename T>
  std::future<Result<T>> call(std::function<Result<T>(JobStore&, int64_t)> fn) {
    auto promise = std::make_shared<std::promise<Result<T>>>();
    auto future = promise->get_future();
    submit<T>(std::move(fn), [promise](Result<T> r) { promise->set_value(std::move(r)); });
    return future;
  }

  // Conveniences over call() for the common requests.
  std::future<Result<std::vector<Job>>> enqueue(std::vector<JobRequest> requests);
  std::future<Result<std::vector<TopicStats>>> stats();

  // Commits so far, and the calls they carried: how well grouping works (bench/).
  struct Counters {
    uint64_t commits = 0;
    uint64_t calls = 0;
    uint64_t failed_commits = 0;
  };
  Counters counters() const;

 private:
  struct Op {
    std::function<void(JobStore&, int64_t)> run;
    std::function<void(const Status&)> done;
  };
  void post(Op op);
  void run();

  std::unique_ptr<JobStore> store_;
  NowFn now_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Op> pending_;
  bool stopping_ = false;
  Counters counters_;
  std::thread thread_;  // last: started once the rest exists
};

}  // namespace drover::jobs
