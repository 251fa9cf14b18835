// PoolSpec: everything that defines a pool, as plain data. Produced by the config
// loaders (Lua file, --workers spec string, later YAML/JSON), validated once by
// validate_pool_spec(), then handed to the engine, which never re-parses anything.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/clock.h"
#include "engine/status.h"

namespace drover {

inline constexpr int kDefaultMaxWorkers = 10000;
inline constexpr int kMaxJobPrefetch = 1000;

struct BackoffPolicy {
  double initial_s = 0.1;  // first delay after a quick exit
  double max_s = 30.0;     // cap of the doubling
  double factor = 2.0;
  double reset_after_s = 1.0;  // a worker up this long resets the slot's backoff

  bool operator==(const BackoffPolicy&) const = default;
};

struct FlapPolicy {
  int max_exits = 5;        // more than this many bad exits ...
  double window_s = 10.0;   // ... within this sliding window puts the slot in `flapping`
  double cooldown_s = 30.0; // how long a flapping slot waits before it is retried
  int give_up_after = 0;    // flapping episodes before the slot is abandoned; 0 = never

  bool operator==(const FlapPolicy&) const = default;
};

// Heartbeats (help/heartbeat.md): any message from a worker counts as alive; the policy
// says what silence means.
struct HeartbeatPolicy {
  // 0: supervise by exit only (the default: most programs never send one). Otherwise a
  // worker silent for this long after its last heartbeat is stalled: stopped with the
  // pool's stop signal and grace, counted as a stall and a bad exit, and replaced.
  double timeout_s = 0;
  // Also stall a worker whose first heartbeat does not come within timeout_s of its start
  // (workerpoolmanager's rule). Without it, a worker is judged only once it has spoken.
  bool require = false;

  bool operator==(const HeartbeatPolicy&) const = default;
};

// Where the job queue keeps its workers' busy/idle state, for workers that send no
// heartbeat (help/autoscale.md). The engine only carries it: the shell reads the registry
// (autoscale/worker_registry_probe.h) and reports what it finds with
// Engine::set_worker_busy, so that scale-down retires idle workers first.
struct BusyRegistry {
  std::string layout;  // "rq", "resque", "sidekiq", "celery"; empty: none
  std::string url = "redis://127.0.0.1:6379/0";
  std::string ns = "resque";  // resque's namespace
  double timeout_s = 1.0;     // bounds one read

  bool enabled() const { return !layout.empty(); }
  bool operator==(const BusyRegistry&) const = default;
};

// Who the stop signal goes to. kProcess: the worker process alone, which stops its own
// children its way (Celery's prefork pool finishes its tasks on TERM, rq's worker waits
// for its horse, resque's child keeps QUIT's default); a group signal would hit those
// children mid-job. kGroup: its whole process group (a shell script whose children do
// not hear of the stop otherwise). SIGKILL after grace takes the worker's whole tree
// either way. kAuto (the default): kGroup for a command line drover runs through
// `/bin/sh -c` (the shell dies of TERM at once, and the program it started would only
// ever see the SIGKILL), kProcess for everything drover execs directly.
enum class StopTo { kAuto, kProcess, kGroup };
const char* stop_to_name(StopTo to);
// "auto", "process" or "group"; nullopt for anything else.
std::optional<StopTo> stop_to_from_name(const std::string& name);

// How a jobs pool runs its jobs. kExec: the command runs once per job. kWorker: n
// long-lived workers fetch jobs from drover over ZeroMQ (DROVER_JOBS), prefetch at a time.
enum class JobMode { kExec, kWorker };
const char* job_mode_name(JobMode mode);
std::optional<JobMode> job_mode_from_name(const std::string& name);

struct PoolSpec {
  std::string name;
  // argv form. A shell string from the config becomes a plain split argv when it has no
  // shell syntax, else {"/bin/sh", "-c", line} (see command_from_string); the engine only
  // ever sees argv.
  std::vector<std::string> argv;
  int n = 1;
  std::string cwd;                             // empty: drover's own cwd
  std::map<std::string, std::string> env;      // overrides on top of drover's environment
  std::string queue;                           // QUEUE for the workers; default: the name
  int stop_signal = 15;                        // SIGTERM
  StopTo stop_to = StopTo::kAuto;
  double grace_s = 10.0;                       // stop signal -> SIGKILL
  BackoffPolicy backoff;
  FlapPolicy flap;
  HeartbeatPolicy heartbeat;
  BusyRegistry busy_registry;  // config: busy = redis{ rq = "default" }
  // false: a new pool is defined stopped and waits for start(name) (workerpoolmanager's
  // tasks outside `autotasks`). Read only when the pool is added; a reload keeps its state.
  bool autostart = true;
  // Exec mode (the jobs issue): the command runs once per job of the pool's topic, n at a
  // time, instead of n long-lived workers; an exit ends the job, not a worker to restart.
  bool jobs = false;
  JobMode job_mode = JobMode::kExec;
  int job_prefetch = 1;  // worker mode: jobs a worker holds at once (DROVER_JOBS_PREFETCH)

  // The engine runs one process per job (exec mode); worker mode's workers are a plain pool
  // to the engine, with DROVER_JOBS in their environment and their exits told to the broker.
  bool exec_jobs() const { return jobs && job_mode == JobMode::kExec; }
  bool worker_jobs() const { return jobs && job_mode == JobMode::kWorker; }

  // Anything that changes how a worker is started: a change rolls the pool's workers.
  bool same_launch(const PoolSpec& o) const {
    return argv == o.argv && cwd == o.cwd && env == o.env && queue == o.queue && jobs == o.jobs &&
           job_mode == o.job_mode && job_prefetch == o.job_prefetch;
  }
  bool operator==(const PoolSpec&) const = default;
};

// Where the stop signal goes for this spec: kProcess or kGroup, never kAuto.
StopTo effective_stop_to(const PoolSpec& spec);

struct EngineLimits {
  int max_workers_per_pool = kDefaultMaxWorkers;
};

// Checks a spec on its own (name, argv, ranges). Returns an error naming the pool and
// the field; never partially "fixes" a spec.
Status validate_pool_spec(const PoolSpec& spec, const EngineLimits& limits = {});

// Turns a shell command line into argv. A line without shell syntax is split on blanks
// (with '...' and "..." quoting) and exec'd directly, so the worker's pid is the one drover
// spawned; anything else runs as {"/bin/sh", "-c", line}.
std::vector<std::string> command_from_string(const std::string& line);

// Parses "TERM", "SIGTERM", "term" or "15". Returns 0 for an unknown name.
int signal_from_name(const std::string& name);
std::string signal_name(int sig);

}  // namespace drover
