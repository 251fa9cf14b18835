// What the engine knows of a job (the jobs issue's exec mode): the ticket it runs a process
// for, and what it reports when that process ends. The queue itself (storage, retries,
// states) lives above, in jobs/; the engine only pairs tickets with slots, runs them under
// the pool's supervision (stop signal, grace, containment, output) and says how they ended.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>

namespace drover {

struct JobTicket {
  int64_t id = 0;
  std::string args = "{}";  // JSON text: the process's stdin and DROVER_JOB_ARGS
  int attempt = 1;          // DROVER_JOB_ATTEMPT
  double timeout_s = 0;     // 0: none; past it the process is stopped like a worker
};

// The bytes of a job's output kept for its result or error: its last lines, stdout and
// stderr together (all of it still goes to the log).
inline constexpr size_t kJobOutputTailBytes = 4096;

struct JobExit {
  enum class How {
    kExited,     // ran and exited by itself (ok: exit 0)
    kTimedOut,   // stopped past its timeout
    kCancelled,  // stopped by cancel_job
    kStopped,    // stopped with its pool (stop, remove, shutdown) or killed from outside
    kNotStarted  // given back unrun: its spawn failed, or its pool went before it ran
  };
  std::string pool;
  int64_t id = 0;
  How how = How::kExited;
  bool ok = false;   // kExited with status 0
  std::string text;  // "exit 3", "signal 9 (KILL)", "timed out after 5s, then signal 15 (TERM)", "spawn: ..."
  std::string output;
  int slot = -1;
  pid_t pid = 0;
  double run_s = 0;
};

// Set by the job dispatcher above the engine. Both run on the engine's loop thread and
// must not block: post the work elsewhere.
struct JobHooks {
  // A job process ended, or a ticket was given back.
  std::function<void(const JobExit&)> on_exit;
  // A jobs pool has room for `free` more tickets than it holds (its n minus its running
  // jobs and its waiting tickets; 0 while it is stopped). Said when that number changes.
  // `taken` counts every ticket offered to the pool so far, run or given back: the
  // dispatcher subtracts the ones it offered that are not in yet, so it never claims twice
  // for the same room.
  std::function<void(const std::string& pool, int free, uint64_t taken)> on_demand;
  // Worker mode: a worker of a worker-mode jobs pool exited (how: "exit 1", "signal 9
  // (KILL)", "stalled, then ..."). Whatever jobs it held were not finished by it.
  std::function<void(const std::string& pool, int slot, pid_t pid, const std::string& how)> on_worker_exit;
};

}  // namespace drover
