// Value snapshots of engine state, built on the loop thread and handed to any thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/pool_spec.h"

namespace drover {

enum class SlotState {
  kStarting,  // being spawned (a burst spread over helper threads)
  kRunning,   // a live worker process
  kBackoff,   // waiting out a restart delay
  kFlapping,  // too many bad exits in the window; cooling down
  kGaveUp,    // flapped more often than the pool's give-up limit; needs start()
  kStopping,  // stop signal sent; SIGKILL at the grace deadline
  kStalled,   // silent past its heartbeat timeout: being stopped, then replaced
};
const char* slot_state_name(SlotState s);

struct PoolCounters {
  uint64_t started = 0;             // successful spawns
  uint64_t exited_ok = 0;           // exit status 0 (stops we asked for count here too)
  uint64_t exited_bad = 0;          // non-zero exit or death by signal, not asked for
  uint64_t spawn_failures = 0;      // counted in exited_bad as well
  uint64_t killed_after_grace = 0;  // needed SIGKILL after the stop signal's grace period
  uint64_t restarts = 0;            // replacements of an exited worker in a wanted slot
  uint64_t stalls = 0;              // heartbeat timeouts (heartbeat issue)

  bool operator==(const PoolCounters&) const = default;
};

struct WorkerSnapshot {
  int slot = -1;
  pid_t pid = 0;           // 0 when the slot has no process (backoff, flapping, gave up)
  SlotState state = SlotState::kRunning;
  int64_t started_at_ms = 0;  // wall clock; 0 when no process
  double uptime_s = 0;
  double retry_in_s = 0;      // backoff/flapping: time until the next spawn attempt
  int restarts = 0;           // restarts of this slot
  std::string last_exit;      // "exit 1", "signal 9 (KILL)", "spawn: ...: No such file"
  uint64_t generation = 0;    // launch-spec generation the process runs
  // From the worker's heartbeats (all empty/zero when it never sent one).
  uint64_t heartbeats = 0;           // messages accepted from this process
  int64_t last_heartbeat_ms = 0;     // wall clock of the last one; 0: none yet
  double heartbeat_age_s = -1;       // seconds since the last one; -1: none yet
  // Busy or idle: the last `busy` its heartbeat reported, else what the job queue's own
  // records say (Engine::set_worker_busy); nullopt when neither knows.
  std::optional<bool> busy;
  std::string busy_from;             // where busy came from: "heartbeat", "rq", ...; empty: unknown
  std::optional<double> progress;    // the last `progress` (0..1) it reported
  std::string status;                // the last `status` text it reported
  // cgroup containment: the worker's cgroup directory (pstree lists its members, even
  // those that left the worker's process tree). Empty in the other modes.
  std::string cgroup;

  bool operator==(const WorkerSnapshot&) const = default;
};

// One worker's busy state as a job queue records it (rq's worker hash, Sidekiq's process
// entry...): the pid is the worker's, or one of its descendants' (a `sh -c` wrapper's child).
struct WorkerBusy {
  pid_t pid = 0;
  bool busy = false;

  bool operator==(const WorkerBusy&) const = default;
};

// A pool's queue as its autoscale probe last read it: told to the engine from outside
// (Engine::set_queue_gauge), so that status(), /metrics and a remote shell all see it.
struct QueueGauge {
  std::optional<double> depth;     // jobs waiting; nullopt: no probe, or it failed
  std::optional<double> inflight;  // jobs being worked on, when the queue keeps count
  int64_t read_at_ms = 0;          // wall clock of the reading; 0: never

  bool operator==(const QueueGauge&) const = default;
};

// Run times as a Prometheus histogram: counts[i] runs took at most bounds[i] seconds and
// more than bounds[i - 1]; counts has one more entry, for the runs past the last bound.
struct RunHistogram {
  std::vector<double> bounds;    // ascending, seconds
  std::vector<uint64_t> counts;  // bounds.size() + 1 entries, or none before the first run
  double sum = 0;                // seconds, all runs
  uint64_t count = 0;

  bool operator==(const RunHistogram&) const = default;
};

// One topic of drover's own job queue (its pool has the same name), told to the engine by
// the job service (Engine::set_job_gauges, jobs/topic_counters.h): the store's counts as
// of its latest refresh (at most a second old), and what drover counted since it started.
struct TopicGauge {
  std::string topic;
  int64_t queued = 0;     // waiting and due
  int64_t scheduled = 0;  // waiting, not due yet (a delay)
  int64_t running = 0;
  int64_t retrying = 0;   // failed, waiting out the backoff to its next attempt
  int64_t dead = 0;       // out of attempts, kept until retried or pruned
  double oldest_age_s = 0;  // how long the oldest due job has waited; 0 if none
  // Since drover started.
  uint64_t enqueued_total = 0;
  uint64_t started_total = 0;
  uint64_t done_total = 0;
  uint64_t failed_total = 0;  // failed attempts: retried or dead
  uint64_t dead_total = 0;
  uint64_t cancelled_total = 0;
  RunHistogram run_time;  // attempts that ran to an end: done or failed

  bool operator==(const TopicGauge&) const = default;
};

struct PoolSnapshot {
  PoolSpec spec;
  bool enabled = true;     // false after stop(pool): target is held at 0 until start(pool)
  int target = 0;          // enabled ? spec.n : 0
  int starting = 0;
  int running = 0;
  int stopping = 0;
  int backoff = 0;
  int flapping = 0;        // includes gave-up slots
  int stalled = 0;         // being stopped for silence
  int busy = 0;            // running workers known busy (heartbeat, else the queue's records)
  int idle = 0;            // ... known idle (the rest: unknown)
  bool rolling = false;
  bool removing = false;   // remove_pool() or a reload dropped it; listed until its last worker is gone
  QueueGauge queue;
  PoolCounters counters;
  std::vector<WorkerSnapshot> workers;  // sorted by slot

  bool operator==(const PoolSnapshot&) const = default;
};

// Heartbeat socket statistics since engine start. Every message is counted once: as
// accepted or under the reason it was ignored.
struct HeartbeatStats {
  std::vector<std::string> endpoints;  // as bound (tcp ports resolved)
  std::string worker_endpoint;         // what workers get in DROVER_HEARTBEAT
  uint64_t received = 0;
  uint64_t accepted = 0;
  uint64_t malformed = 0;    // wrong frame count, bad JSON, no usable pid
  uint64_t oversized = 0;    // a frame over kMaxHeartbeatBytes
  uint64_t unknown_pid = 0;  // not a live worker (or a descendant of one) of that pool

  bool operator==(const HeartbeatStats&) const = default;
};

struct EngineSnapshot {
  pid_t pid = 0;
  double uptime_s = 0;
  bool shutting_down = false;
  std::string log_path;
  // The log file's failed writes (a full disk): batches dropped, the lines they held, and
  // why while it is still failing ("" once it takes lines again).
  uint64_t log_write_errors = 0;
  uint64_t log_lines_lost = 0;
  std::string log_error;
  // How workers' trees are held: "cgroup <dir>", "subreaper ...", "group ..." (Containment).
  std::string containment;
  uint64_t loop_iterations = 0;
  // Engine loop lag: how long the request for this snapshot waited in the inbox before
  // the loop ran it, and the longest single wake-up of the loop since the previous
  // snapshot that asked (a burst of spawns, a flood of output). Seconds.
  double loop_lag_s = 0;
  double loop_busy_max_s = 0;
  HeartbeatStats heartbeat;
  size_t subscribers = 0;           // open subscriptions: shells, HTTP streams, the autoscaler
  std::vector<PoolSnapshot> pools;  // sorted by name
  std::vector<TopicGauge> jobs;     // by topic; empty while drover serves no job queue

  // Field by field: what a snapshot sent over the wire must come back as (control/snapshot_json.h).
  bool operator==(const EngineSnapshot&) const = default;

  const PoolSnapshot* find(const std::string& name) const {
    for (const auto& p : pools)
      if (p.spec.name == name) return &p;
    return nullptr;
  }
  const TopicGauge* find_topic(const std::string& topic) const {
    for (const auto& t : jobs)
      if (t.topic == topic) return &t;
    return nullptr;
  }
};

}  // namespace drover
