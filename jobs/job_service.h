// JobService: drover's job queue as the API above sees it: the SQLite store in the state
// directory, its thread, and the dispatcher feeding the engine's jobs pools, behind
// synchronous calls that return values (the shell's jobs.*, the HTTP routes, `drover
// enqueue`). One drover owns a store at a time: a second one on the same state directory
// is told so, with the owner's pid, instead of stealing its running jobs at recovery.
#pragma once

#include <condition_variable>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "jobs/job_dispatcher.h"
#include "jobs/scheduler.h"
#include "jobs/sqlite_job_store.h"
#include "jobs/topic_counters.h"

namespace drover::jobs {

struct JobServiceOptions {
  std::string state_dir;  // created 0700 if missing; jobs.db and its lock go here
  Durability durability = Durability::kNormal;
  DispatchOptions dispatch;
  Retention retention;
  // Finished jobs past the retention are deleted at open and then this often.
  std::chrono::milliseconds prune_every{std::chrono::minutes(1)};
};

class JobService {
 public:
  // Opens (creating) the store, takes its lock, puts back what a previous drover left
  // running, then starts feeding the engine's jobs pools.
  static Result<std::unique_ptr<JobService>> open(Engine& engine, JobServiceOptions options);
  ~JobService();

  Result<std::vector<Job>> enqueue(std::vector<JobRequest> requests);
  Result<Job> get(JobId id);
  Result<std::vector<Job>> list(const JobFilter& filter);
  Result<std::vector<TopicStats>> stats();
  Result<Job> cancel(JobId id);
  Result<Job> retry(JobId id);
  Result<size_t> retry_dead(const std::optional<std::string>& topic);
  Status drop(JobId id);

  // A failed job's next attempt moved to delay_s from now, if it still waits to retry that
  // attempt (JobStore::reschedule).
  Result<Job> reschedule(JobId id, int attempt, double delay_s);
  // fn hears of each failed attempt that will be retried, once recorded, on the store
  // thread: it must not wait (the shell's retry delay functions queue it for their own
  // thread). Empty: none. Once this returns, the previous fn is no longer being called.
  void set_retry_listener(std::function<void(const Job&)> fn);
  // Schedules (jobs/schedule_store.h): defined or replaced, listed with their next tick
  // (ScheduleState::next_ms) and last outcome, turned off and on, run once now, removed.
  // A bad definition is Status::invalid naming the field; an unknown name, not_found.
  Result<ScheduleState> define_schedule(const Schedule& s);
  Result<std::vector<ScheduleState>> schedules();
  Result<ScheduleState> schedule(const std::string& name);
  Result<ScheduleState> set_schedule_enabled(const std::string& name, bool on);
  Result<Job> run_schedule(const std::string& name);
  Status drop_schedule(const std::string& name);

  // The per-topic numbers kept in memory (what snapshots carry as EngineSnapshot::jobs).
  std::vector<TopicGauge> gauges() const;

  const std::string& path() const { return path_; }
  // Jobs the start found running (each may run twice: the only duplicates there are).
  size_t recovered() const { return recovered_; }

 private:
  JobService() = default;
  // Refreshes counters_ from the store once a second, until stopping_.
  void refresh_loop();

  Engine* engine_ = nullptr;
  std::string path_;
  int lock_fd_ = -1;
  size_t recovered_ = 0;
  TopicCounters counters_;
  std::unique_ptr<JobQueue> queue_;
  std::unique_ptr<JobDispatcher> dispatcher_;  // after queue_: destroyed first
  std::unique_ptr<Scheduler> scheduler_;       // after dispatcher_: its jobs poke it
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  Retention retention_;
  std::chrono::milliseconds prune_every_{0};
  std::thread refresher_;
  std::mutex retry_mu_;  // guards retry_listener_, held while it runs
  std::function<void(const Job&)> retry_listener_;
};

// ${XDG_STATE_HOME:-$HOME/.local/state}/drover, or an error naming what is missing.
Result<std::string> default_state_dir();

}  // namespace drover::jobs
