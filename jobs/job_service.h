// JobService: drover's job queue as the API above sees it: the store (the SQLite file in
// the state directory, or a PostgreSQL database shared by several hosts), its thread, and
// the dispatcher feeding the engine's jobs pools, behind synchronous calls that return
// values (the shell's jobs.*, the HTTP routes, `drover enqueue`). One drover owns an
// SQLite store at a time: a second one on the same state directory is told so, with the
// owner's pid, instead of stealing its running jobs at recovery. A PostgreSQL store is
// shared; recovery there takes back only this host's jobs.
#pragma once

#include <condition_variable>
#include <functional>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "jobs/host_lease.h"
#include "jobs/job_dispatcher.h"
#include "jobs/scheduler.h"
#include "jobs/pg_job_store.h"
#include "jobs/pg_listener.h"
#include "jobs/sqlite_job_store.h"
#include "jobs/topic_counters.h"

namespace drover::jobs {

struct JobServiceOptions {
  std::string state_dir;  // created 0700 if missing; jobs.db and its lock go here
  // "": jobs.db in state_dir, this drover's alone. postgresql://... (or postgres://): a
  // database several drovers share (jobs/pg_job_store.h); no state-directory lock then,
  // since sharing is the point: each host's jobs are told apart by its name.
  std::string store_url;
  std::string host;  // this drover's name: on the jobs it runs, in the fleet; "": the hostname
  // A shared store: a host silent this long is gone (jobs/host_lease.h).
  std::chrono::milliseconds lease{10000};
  std::string http_address;  // "HOST:PORT" this drover serves its API on, for the fleet; or set_http_address()
  // Where the fleet's news goes (the store unreachable and back, a host gone); default stderr.
  std::function<void(const std::string&)> warn;
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
  // Every host sharing the store, with its pools and running jobs, and the queue per
  // topic. With the SQLite store, this host alone.
  Result<Fleet> fleet();
  void set_http_address(std::string address);

  // The per-topic numbers kept in memory (what snapshots carry as EngineSnapshot::jobs).
  std::vector<TopicGauge> gauges() const;

  // The jobs.db path, or the PostgreSQL URL (password masked).
  const std::string& path() const { return path_; }
  const std::string& host() const { return host_; }
  // Jobs the start found running (each may run twice: the only duplicates there are).
  size_t recovered() const { return recovered_; }

 private:
  JobService() = default;
  // The SQLite store's guard: mkdir -p state_dir, then its jobs.db.lock, held while we run.
  Status lock_state_dir(const std::string& state_dir);
  // Refreshes counters_ from the store once a second, until stopping_.
  void refresh_loop();
  // This host for the fleet: pid, HTTP address, pools with their sizes.
  HostRecord describe();
  // Peers gone silent: their jobs are queued again, due now; hungry pools claim.
  void on_renewal(const LeaseRenewal& r);

  Engine* engine_ = nullptr;
  std::string path_;
  std::string host_;
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
  bool shared_ = false;  // a PostgreSQL store: a fleet, a lease, a listener
  int64_t started_ms_ = 0;
  std::function<void(const std::string&)> warn_;
  std::mutex http_mu_;
  std::string http_;
  std::unique_ptr<HostLease> lease_;      // after dispatcher_ and queue_: destroyed before them
  std::unique_ptr<PgListener> listener_;
};

// ${XDG_STATE_HOME:-$HOME/.local/state}/drover, or an error naming what is missing.
Result<std::string> default_state_dir();

}  // namespace drover::jobs
