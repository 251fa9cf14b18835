// Pool and Slot: the runtime state of one pool, owned by the Supervisor on the loop
// thread. A slot is a stable index within a pool (DROVER_SLOT); it outlives the worker
// processes that fill it, carrying their backoff, flapping history and restart count.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/backoff.h"
#include "engine/event_loop.h"
#include "engine/flap_detector.h"
#include "engine/job_ticket.h"
#include "engine/line_splitter.h"
#include "engine/pool_spec.h"
#include "engine/reconciler.h"
#include "engine/snapshot.h"

namespace drover {

struct Slot {
  using Phase = SlotView::Phase;

  Slot(int slot_index, size_t max_line) : index(slot_index), out_lines(max_line), err_lines(max_line) {}

  int index;
  Phase phase = Phase::kRunning;
  // The process, when there is one (Running, Retiring, Rolling).
  pid_t pid = 0;
  int pidfd = -1;
  int out_fd = -1, err_fd = -1;
  std::string cgroup;  // cgroup containment: the process's own cgroup directory
  LineSplitter out_lines, err_lines;
  TimePoint started{};
  int64_t started_wall_ms = 0;
  int64_t started_seq = 0;
  uint64_t generation = 0;
  // From this process's heartbeats; reset at each spawn.
  uint64_t heartbeats = 0;
  TimePoint last_heartbeat{};
  int64_t last_heartbeat_wall_ms = 0;
  std::optional<bool> busy;
  std::optional<double> progress;
  std::string status;
  // From the job queue's own records of its workers (Engine::set_worker_busy: rq's worker
  // hashes, Sidekiq's processes...), for workers that send no heartbeat; reset at each spawn.
  std::optional<bool> registry_busy;
  int registry_misses = 0;  // reports in a row that did not name this worker
  EventLoop::TimerId stall_timer = 0;  // armed while the pool's heartbeat timeout applies
  bool stalled = false;                // stopped for silence: its exit is a bad one
  TimePoint silent_since{};            // `require`: the first heartbeat is due by this + timeout
  // Stop bookkeeping: set when we sent the stop signal, and when grace ran out.
  bool stop_sent = false;
  bool killed_after_grace = false;
  // The pending timer: backoff/flapping retry, or the grace deadline while stopping.
  EventLoop::TimerId timer = 0;
  uint64_t spawn_token = 0;  // a spawn handed to a helper thread, awaiting its result
  TimePoint retry_at{};

  // Exec mode: the job this slot's process runs (id 0: none), how it is being ended, and
  // the tail of its output for the job's result.
  JobTicket job;
  JobExit::How job_end = JobExit::How::kExited;
  EventLoop::TimerId job_timer = 0;
  int job_stdin = -1;  // a memfd holding the args, until the spawn has taken it
  bool job_counted = false;  // in its pool's jobs_running
  std::string job_output;

  Backoff backoff;
  FlapDetector flap;
  int restarts = 0;
  std::string last_exit;

  bool has_process() const { return pid > 0; }
  // What scale-down goes by: the worker's own word (its heartbeat) first, else the registry's.
  std::optional<bool> effective_busy() const { return busy ? busy : registry_busy; }
};

struct Pool {
  PoolSpec spec;
  bool enabled = true;    // false after stop(pool)
  bool removing = false;  // remove_pool() in progress: erased once its slots are gone
  uint64_t generation = 1;
  PoolCounters counters;
  std::map<int, std::unique_ptr<Slot>> slots;
  // drover's environment with the pool's overrides and DROVER_POOL/QUEUE, built once per
  // launch-spec change; a spawn adds only DROVER_SLOT.
  std::shared_ptr<const std::vector<std::string>> env_base;
  std::string path_env;  // the PATH workers see, for executable lookup
  QueueGauge queue;      // told by the autoscaler (Engine::set_queue_gauge)
  std::string busy_source;  // who last reported busy states (Engine::set_worker_busy): "rq", ...

  int target() const { return enabled && !removing ? spec.n : 0; }

  // Exec mode: tickets waiting for a free slot, oldest first, and the slots running one
  // that is not being stopped.
  std::deque<JobTicket> job_window;
  int jobs_running = 0;
  int demand_said = 0;  // the free room last told to JobHooks::on_demand
  uint64_t tickets_taken = 0;
  // The slots reconcile keeps: n workers; in exec mode the running jobs plus the tickets
  // that fit within n (a resize down lets running jobs finish instead of stopping them).
  int wanted_slots() const {
    if (!spec.exec_jobs()) return target();
    if (target() == 0) return 0;
    return std::max(jobs_running, std::min(spec.n, jobs_running + static_cast<int>(job_window.size())));
  }
};

}  // namespace drover
