// JobDispatcher: the seam between drover's queue and its engine in exec mode. It claims
// due jobs for a jobs pool as the engine says it has room (JobHooks::on_demand), offers
// them as tickets, and records each job's end (JobHooks::on_exit) in the store: done, a
// retry after a backoff, dead, or given back unrun. It never blocks the engine loop: the
// hooks only submit work to the store thread, whose answers post tickets to the inbox.
//
// A pool whose last claim found fewer jobs than it had room for is hungry: an enqueue of
// its topic through the dispatcher claims again at once, and a poll every `poll` catches
// jobs that become due by time (a delay, a retry's backoff).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "engine/engine.h"
#include "jobs/job_queue.h"
#include "jobs/retry_backoff.h"
#include "jobs/worker_broker.h"
#include "jobs/topic_counters.h"

namespace drover::jobs {

struct DispatchOptions {
  std::string host;  // recorded on each job it runs; default: this machine's name
  RetryBackoff backoff;
  std::chrono::milliseconds poll{200};
  // Counts enqueues, starts and ends as they are reported (JobService's); may be null.
  TopicCounters* counters = nullptr;
  // Told of each failed attempt that will be retried, once it is recorded (on the store
  // thread: it must not wait). JobService's retry listener; may be empty.
  std::function<void(const Job&)> on_retrying;
};

class JobDispatcher {
 public:
  // Hooks into the engine at once; unhooks in the destructor. Both must outlive it.
  JobDispatcher(Engine& engine, JobQueue& queue, DispatchOptions options = {});
  ~JobDispatcher();
  JobDispatcher(const JobDispatcher&) = delete;

  // Worker mode: binds the engine's jobs endpoint, where worker-mode pools' workers fetch
  // jobs (jobs/worker_broker.h). An error names the endpoint; exec mode works without it.
  Status open_broker();

  // At start, before pools run jobs: what a previous drover left running goes back to
  // queued (attempt counted), or to dead on its last attempt. Returns those jobs.
  Result<std::vector<Job>> recover();
  std::future<Result<std::vector<Job>>> enqueue(std::vector<JobRequest> requests);
  // Cancels in the store first (so its end is not recorded as a failure), then stops its
  // process if one runs here. The job as the store now has it.
  Result<Job> cancel(JobId id);

  // Jobs of the topic (or of any, nullopt) may be due now (a retry): hungry pools claim.
  void poke(const std::optional<std::string>& topic);

  struct Counters {
    uint64_t claimed = 0, done = 0, failed = 0, given_back = 0;
  };
  Counters counters() const;

 private:
  struct Demand {
    int free = 0;          // the engine's last word on the pool's room
    uint64_t taken = 0;    // tickets it had accepted then
    uint64_t offered = 0;  // tickets offered to it so far
    bool claiming = false;
    bool hungry = false;
  };
  void on_demand(const std::string& pool, int free, uint64_t taken);  // loop thread
  void on_exit(const JobExit& e);                                      // loop thread
  // A job's end to the store; if the store is unreachable, kept and tried again at each
  // poll, so an outage does not leave the job "running" for ever.
  using Record = std::function<Result<Job>(JobStore&, int64_t)>;
  struct Unrecorded {
    Record record;
    bool given_back = false;
    std::string text;
    double run_s = 0;
  };
  void record_end(Unrecorded end);
  void claim_for(const std::string& pool);
  // Events for the log and the streams, once the store has the change.
  void report_end(const Job& j, const std::string& how, double run_s);
  void report_enqueued(const std::vector<Job>& jobs);
  void poll_loop();
  int64_t retry_at(int attempt, int64_t now_ms);

  Engine& engine_;
  JobQueue& queue_;
  DispatchOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, Demand> demand_;
  Counters counters_;
  std::mt19937_64 rng_{std::random_device{}()};
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<Unrecorded> unrecorded_;  // under mu_: ends the store could not take yet
  std::thread poller_;
  std::unique_ptr<WorkerBroker> broker_;  // set once by open_broker, before any worker exit matters
  std::atomic<WorkerBroker*> broker_ptr_{nullptr};  // what the loop thread's hook reads
};

}  // namespace drover::jobs
