// EngineClient: the one API above the engine. The shell's bindings call it; the HTTP
// routes under /api/v1 (control/) are its wire form, one route per call; RemoteClient
// (shell/remote/) is the same API over that wire, so `drover attach` runs every shell
// command as a local shell does (tests/integration/attach_parity_test.cpp compares them).
//
//   call             route                                          local
//   snapshot         GET    /api/v1/snapshot                        Engine::snapshot
//   configure        PATCH  /api/v1/pools      {"foo": 3}            Engine::configure
//   merge_sizes      PATCH  /api/v1/config     {"foo": 3, "bar": 0}  Engine::resize
//   start / stop     POST   /api/v1/start|stop {"pool": "foo"}?      Engine::start/stop
//   signal_workers   POST   /api/v1/signal     {"signal", "pool"?}   Engine::signal_workers
//   signal_worker    POST   /api/v1/pools/P/workers/SLOT/signal      Engine::signal_worker
//   log_tail         GET    /api/v1/log?n=&pool=                    Engine::log_tail
//   subscribe        GET    /api/v1/events, /api/v1/log/follow (SSE) Engine::subscribe
//   autoscale        GET    /api/v1/autoscale                       the shell's Autoscaler
//   set_autoscale    POST   /api/v1/autoscale/P/on|off              the shell's Autoscaler
//   enqueue_jobs     POST   /api/v1/jobs       {"jobs": [...]}      jobs::JobService (opened on first use)
//   job              GET    /api/v1/jobs/ID
//   list_jobs        GET    /api/v1/jobs?topic=&state=&after=&limit=
//   job_stats        GET    /api/v1/topics
//   fleet            GET    /api/v1/fleet                            jobs::JobService::fleet
//   cancel_job       DELETE /api/v1/jobs/ID
//   retry_job        POST   /api/v1/jobs/ID/retry
//   retry_dead_jobs  POST   /api/v1/jobs/retry {"topic"?}
//   drop_job         POST   /api/v1/jobs/ID/drop
//   history          GET    /api/v1/history?since=&every=&pool=    the HistoryRing main keeps
//   schedules        GET    /api/v1/schedules                       jobs::JobService (schedules)
//   schedule         GET    /api/v1/schedules/NAME
//   define_schedule  POST   /api/v1/schedules  {"name", "cron"|"every", "topic", ...}
//   drop_schedule    DELETE /api/v1/schedules/NAME
//   set_schedule_enabled POST /api/v1/schedules/NAME/on|off
//   run_schedule     POST   /api/v1/schedules/NAME/run
// The rest are the local shell's own machinery, not routes: apply (a reload of the config
// files, which only the host has), what the autoscaler reports into the engine it runs
// beside (report, set_queue_gauge, set_worker_busy), and the hand-off of the shell's retry
// delay functions, which run where the queue is (watch_job_retries, reschedule_job).
//
// Every call returns values, never references into engine state, and every failure is a
// Status: a bad argument, the engine having finished, the remote drover gone. Calls may
// block briefly on the engine's inbox or the network, never on workers.
#pragma once

#include <fmt/format.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/autoscale_view.h"
#include "api/history.h"
#include "engine/engine.h"
#include "jobs/job_store.h"

namespace drover {

using SizeMap = std::map<std::string, int>;

class EngineClient {
 public:
  virtual ~EngineClient() = default;

  virtual Result<EngineSnapshot> snapshot() = 0;
  // name -> n for existing pools (0: no workers, the pool kept); all or nothing. Returns
  // every pool's size after.
  virtual Result<SizeMap> configure(const SizeMap& sizes) = 0;
  // config{}: name -> n merged in one engine call, n = 0 removing the pool (SizeBatch);
  // all or nothing. Returns the resulting sizes, pools being removed left out.
  virtual Result<SizeMap> merge_sizes(const SizeMap& sizes) = 0;
  virtual Status apply(std::vector<PoolSpec> specs, bool remove_missing) = 0;
  virtual Status start(const std::optional<std::string>& pool) = 0;
  virtual Status stop(const std::optional<std::string>& pool) = 0;
  virtual Status signal_workers(int sig, const std::optional<std::string>& pool) = 0;
  virtual Status signal_worker(const std::string& pool, int slot, int sig) = 0;
  virtual Result<std::vector<LogLine>> log_tail(size_t n, const std::optional<std::string>& pool) = 0;
  virtual std::shared_ptr<Subscription> subscribe(size_t capacity, Subscription::Filter filter) = 0;
  virtual Result<AutoscaleView> autoscale() = 0;
  // kNotFound: no policy for that pool.
  virtual Status set_autoscale(const std::string& pool, bool enabled) = 0;

  // The job queue (control/job_routes.cpp on the wire). A client without one says so.
  virtual Result<std::vector<jobs::Job>> enqueue_jobs(std::vector<jobs::JobRequest> requests) {
    (void)requests;
    return no_jobs();
  }
  virtual Result<jobs::Job> job(jobs::JobId id) {
    (void)id;
    return no_jobs();
  }
  virtual Result<std::vector<jobs::Job>> list_jobs(const jobs::JobFilter& filter) {
    (void)filter;
    return no_jobs();
  }
  virtual Result<std::vector<jobs::TopicStats>> job_stats() { return no_jobs(); }
  // The hosts sharing the job store (this one alone on SQLite), and the queue per topic.
  virtual Result<jobs::Fleet> fleet() { return no_jobs(); }
  virtual Result<jobs::Job> cancel_job(jobs::JobId id) {
    (void)id;
    return no_jobs();
  }
  virtual Result<jobs::Job> retry_job(jobs::JobId id) {
    (void)id;
    return no_jobs();
  }
  // Every dead job (of one topic) queued again; how many.
  virtual Result<size_t> retry_dead_jobs(const std::optional<std::string>& topic) {
    (void)topic;
    return no_jobs();
  }
  virtual Status drop_job(jobs::JobId id) {
    (void)id;
    return no_jobs();
  }
  // Schedules, kept beside the jobs (jobs/schedule_store.h; control/schedule_routes.cpp).
  virtual Result<std::vector<jobs::ScheduleState>> schedules() { return no_jobs(); }
  virtual Result<jobs::ScheduleState> schedule(const std::string& name) {
    (void)name;
    return no_jobs();
  }
  virtual Result<jobs::ScheduleState> define_schedule(const jobs::Schedule& s) {
    (void)s;
    return no_jobs();
  }
  virtual Result<jobs::ScheduleState> set_schedule_enabled(const std::string& name, bool on) {
    (void)name, (void)on;
    return no_jobs();
  }
  virtual Result<jobs::Job> run_schedule(const std::string& name) {
    (void)name;
    return no_jobs();
  }
  virtual Status drop_schedule(const std::string& name) {
    (void)name;
    return no_jobs();
  }

  // The history ring's points after since_ms, one per `every` samples, of one pool and
  // topic or all (""): history(), GET /api/v1/history.
  virtual Result<History> history(int64_t since_ms, size_t every, const std::string& only) {
    (void)since_ms, (void)every, (void)only;
    return Status::unavailable(fmt::format("{} keeps no history here", name()));
  }

  // jobs.retry_delay: fn hears of each failed attempt to be retried, once it is recorded, on
  // the store's thread (it must not wait); reschedule_job moves that retry. Empty fn: none.
  virtual Status watch_job_retries(std::function<void(const jobs::Job&)> fn) {
    (void)fn;
    return Status::unavailable(
        fmt::format("{} runs no retry delay function from here: define it in the config of the drover that holds the queue",
                    name()));
  }
  virtual Result<jobs::Job> reschedule_job(jobs::JobId id, int attempt, double delay_s) {
    (void)id, (void)attempt, (void)delay_s;
    return no_jobs();
  }

  virtual void report(EventKind kind, std::string pool, std::string text) = 0;
  virtual void set_queue_gauge(const std::string& pool, const QueueGauge& gauge) = 0;
  virtual void set_worker_busy(const std::string& pool, std::string source, std::vector<WorkerBusy> workers) = 0;
  virtual void shutdown() = 0;
  virtual void kill_all() = 0;
  virtual bool wait_finished(Duration timeout) = 0;
  // Who the shell talks to, for what it says when that one goes: "drover" here, "the
  // drover at 127.0.0.1:8010" attached.
  virtual std::string name() const { return "drover"; }
  // Attached to a drover elsewhere: policies run there, not in this shell.
  virtual bool remote() const { return false; }

 protected:
  Status no_jobs() const { return Status::unavailable(fmt::format("{} serves no job queue here", name())); }
};

}  // namespace drover
