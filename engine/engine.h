// Engine: the thread-safe handle to a pool master (leveldb's DB, for processes).
//
// Threads: the engine owns one loop thread that holds all pool state. Every method
// here may be called from any other thread: it posts a command to the loop's inbox and
// waits for the reply, which is a value (Status, snapshot, copied lines). None may be
// called from the loop thread itself (there is no callback that runs there).
//
// Processes: the engine is the parent of every worker. It reaps them through pidfds,
// so it does not need SIGCHLD and does not steal other children's exit statuses.
//
// Errors: bad input returns a Status naming the pool and field and changes nothing;
// a batch (apply, configure) is validated whole before any of it is applied. Once the
// engine has finished (its loop ended), every call that changes something returns
// kUnavailable "the engine has finished"; snapshot() and log_tail() answer with the state
// the loop ended in, and subscribe() with a closed subscription. No call throws for it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/clock.h"
#include "engine/containment.h"
#include "engine/events.h"
#include "engine/job_ticket.h"
#include "engine/pool_spec.h"
#include "engine/size_batch.h"
#include "engine/snapshot.h"
#include "engine/status.h"
#include "engine/subscription.h"

namespace drover {

inline constexpr int kBusyReportMisses = 3;
inline constexpr const char* kWpmHeartbeatEndpoint = "tcp://127.0.0.1:5591";

struct EngineOptions {
  EngineLimits limits;
  // Captured output and engine events, stamped and prefixed. Empty: no file, ring only.
  std::string log_path;
  uint64_t log_max_bytes = 64ull << 20;  // rotate before a write would pass this size
  int log_keep = 5;                      // rotated files kept: path.1 .. path.N
  size_t ring_lines = 20000;             // in-memory tail, bounded by lines ...
  size_t ring_bytes = 4u << 20;          // ... and by bytes
  size_t max_line_bytes = 4096;          // longer lines are cut
  // Route SIGINT/TERM/QUIT/HUP/TTIN/TTOU/USR1/USR2/CONT through a signalfd in the loop.
  // Requires block_engine_signals() in main() before any thread starts.
  bool handle_signals = false;
  // With handle_signals: leave SIGINT to the host (an interactive shell uses Ctrl-C to
  // interrupt its own work, never to stop the engine).
  bool leave_sigint = false;
  // Heartbeats: the engine binds one ZeroMQ SUB socket (subscribed to everything) on each
  // endpoint; workers get the first in DROVER_HEARTBEAT (a tcp port "*" is resolved).
  // Empty (or an empty entry): ipc://<runtime_dir>/heartbeat. workerpoolmanager's workers connect to
  // tcp://127.0.0.1:5591 (kWpmHeartbeatEndpoint).
  std::vector<std::string> heartbeat_endpoints;
  bool heartbeats = true;  // false: no socket and no DROVER_HEARTBEAT
  // Worker mode's job endpoint (Engine::jobs_endpoint). Empty: ipc://<runtime_dir>/jobs.
  std::string jobs_endpoint;
  // Where local sockets live, created 0700. Empty: a fresh drover-XXXXXX under
  // $XDG_RUNTIME_DIR (or /tmp), removed when the engine is destroyed.
  std::string runtime_dir;
  // Echo every log line (worker output and engine events) to this fd; -1 for none.
  int echo_fd = -1;
  const Clock* clock = nullptr;  // nullptr: the steady clock
  // How a worker's whole tree is held (engine/containment.h): nullopt picks cgroup v2
  // where drover can create cgroups, else the subreaper.
  std::optional<ContainMode> containment;
};

// Blocks the signals the engine handles, in the calling thread; threads created
// afterwards inherit the mask. Call first thing in main() when handle_signals is set.
void block_engine_signals();

class Engine {
 public:
  explicit Engine(EngineOptions options = {});
  // Stops every worker (stop signal, SIGKILL at grace) and joins the loop thread.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Defines or updates pools. A new name is added and started; an existing one gets the
  // new spec: a size change resizes live, a launch change (argv/cwd/env/queue) rolls its
  // workers one at a time. remove_missing: pools not named are stopped and removed
  // (a config reload). All specs are validated before any is applied.
  Status apply(std::vector<PoolSpec> specs, bool remove_missing = false);
  Status define_pool(PoolSpec spec) { return apply({std::move(spec)}, false); }
  Status remove_pool(const std::string& name);

  // Live resize: name -> n for existing pools. Workers that stay are never signalled;
  // scale-down stops the newest first. Unknown names or out-of-range n reject the batch.
  // Returns the resulting sizes of all pools.
  Result<std::map<std::string, int>> configure(const std::map<std::string, int>& sizes);
  // configure() with removals, in one call (config{}, PATCH /api/v1/config): the whole
  // batch is checked first (an unknown or draining pool to resize, an n out of range, a
  // name both resized and removed: nothing applied), then the resizes and removals are
  // applied together. A removal of a pool that is not there is no error. Returns the
  // resulting sizes of all pools, those being removed left out.
  Result<std::map<std::string, int>> resize(SizeBatch batch);
  // TTIN/TTOU semantics: add delta to every pool's n (clamped at 0 and the cap).
  void resize_all_by(int delta);

  // stop: the pool (or all) keeps its spec but its workers are stopped and not restarted.
  // start: brings it back to n, and clears flapping/gave-up slots.
  Status start(const std::optional<std::string>& pool = std::nullopt);
  Status stop(const std::optional<std::string>& pool = std::nullopt);
  Status signal_workers(int sig, const std::optional<std::string>& pool = std::nullopt);
  // Sends sig to one worker's process group (its children too, as signal_workers does).
  // kNotFound: no such pool, or no such slot in it; kUnavailable: the slot has no process
  // now (backoff, flapping, starting); kInvalidArgument: sig is not 1..NSIG-1. Allowed
  // during shutdown (a stuck worker may need a KILL before its grace ends).
  Status signal_worker(const std::string& pool, int slot, int sig);

  EngineSnapshot snapshot();
  std::vector<LogLine> log_tail(size_t n, const std::optional<std::string>& pool = std::nullopt);
  void reopen_log();
  // Logs and publishes an event on behalf of a component outside the engine (the
  // autoscaler: kAutoscaled, kPolicyWarning; the shell: kReloadFailed), as if the engine had emitted it. pool may
  // name no pool (empty: engine-wide). Posted: returns at once.
  void report(EventKind kind, std::string pool, std::string text);
  // The pool's queue as read by a probe outside the engine; shown in snapshots. Posted.
  void set_queue_gauge(const std::string& pool, const QueueGauge& gauge);
  // Busy states of the pool's workers as the job queue records them, read from outside
  // (autoscale/worker_registry_probe.h), for workers that send no heartbeat. Each pid is
  // matched to a live worker of the pool, itself or a descendant; others are ignored. A
  // worker keeps what it was last told until kBusyReportMisses reports in a row leave it
  // out (then unknown again); a spawn starts unknown. A heartbeat's busy takes precedence.
  // source names the records ("rq") for status(). Posted: returns at once.
  void set_worker_busy(const std::string& pool, std::string source, std::vector<WorkerBusy> workers);

  // Exec mode (jobs pools). The dispatcher's hooks run on the loop thread and must not
  // block. Offered tickets wait in the pool's window for a free slot; a pool that cannot
  // take them (gone, stopped, not a jobs pool) gives them back through on_exit as
  // kNotStarted. Posted: returns at once.
  void set_job_hooks(JobHooks hooks);
  void offer_jobs(const std::string& pool, std::vector<JobTicket> tickets);
  // Stops the job's process (stop signal, SIGKILL at grace) or drops its waiting ticket;
  // on_exit says kCancelled. kNotFound when no slot or window here holds it.
  Status cancel_job(int64_t id);
  // The job queue's counts (EngineSnapshot::jobs), added to each snapshot on the calling
  // thread, not the loop: fn must read memory only, never a disk. Unset it ({}) before
  // what fn reads goes; an unset waits for a snapshot running fn to finish with it.
  void set_job_gauges(std::function<std::vector<TopicGauge>()> fn);

  std::shared_ptr<Subscription> subscribe(size_t capacity = 10000, Subscription::Filter f = {});

  // Worker mode: the endpoint a worker-mode pool's workers fetch jobs from (DROVER_JOBS),
  // fixed when the engine starts: EngineOptions::jobs_endpoint, or ipc:// in the runtime
  // directory. The job broker above binds it. Any thread; never blocks.
  const std::string& jobs_endpoint() const;
  // Stops one worker (stop signal, SIGKILL at grace) and starts its replacement at once,
  // as a roll does: how a job broker ends a job past its timeout, or cancelled, in a
  // worker. kNotFound / kUnavailable as signal_worker.
  Status restart_worker(const std::string& pool, int slot);

  // Graceful shutdown of all pools, in parallel. Returns at once; see wait_finished().
  void shutdown();
  // Escalation: SIGKILL to every worker now (a second Ctrl-C).
  void kill_all();
  // Waits until shutdown has reaped every worker. False on timeout.
  bool wait_finished(Duration timeout);
  bool finished() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace drover
