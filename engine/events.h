// What the engine tells the outside world: events (past tense, one per state change
// worth a line) and captured output lines. Both are plain values, copied out of the
// loop thread into subscriptions; nothing here points back into engine state.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <variant>

namespace drover {

enum class EventKind {
  kWorkerSpawned,       // pid, slot
  kWorkerExited,        // pid, slot, text = reason ("exit 1", "signal 9 (KILL)")
  kSpawnFailed,         // slot, text = reason ("spawn ./nope: No such file or directory")
  kBackoffScheduled,    // slot, text = delay
  kSlotFlapping,        // slot, text = cool-down
  kSlotGaveUp,          // slot
  kWorkerStopping,      // pid, slot, text = signal
  kWorkerKilledAfterGrace,
  kWorkerStalled,       // pid, slot, text = "no heartbeat for 30s"
  kPoolAdded,
  kPoolRemoved,
  kPoolResized,         // text = "3 -> 5"
  kPoolRolling,         // launch spec changed; workers replaced one at a time
  kReloadRequested,     // SIGHUP: whoever owns the config file should re-read it
  kShutdownStarted,
  kShutdownFinished,
  // Reported from outside the loop through Engine::report (the autoscaler), so that they
  // reach the same log and the same subscribers as the engine's own.
  kAutoscaled,          // text = "3 -> 7 (queue 640)"
  kPolicyWarning,       // text = a probe failing or recovering, a policy's error or suspension
  kReloadFailed,        // text = why; the running config is kept
  // The job queue's (jobs/JobDispatcher, reported once the store has the change).
  kJobsEnqueued,        // pool = topic, text = "3 jobs: 17..19"
  kJobDone,             // text = "job 17 (attempt 1, 0.4s)"
  kJobRetrying,         // text = "job 17 attempt 1 failed: exit 3; retry in 2.0s"
  kJobDead,             // text = "job 17 out of attempts: exit 3"
  kJobCancelled,        // text = "job 17"
};
// The enum is dense up to here (snapshot JSON reads kinds by name over this range).
inline constexpr EventKind kLastEventKind = EventKind::kJobCancelled;

const char* event_kind_name(EventKind kind);

struct Event {
  EventKind kind;
  int64_t wall_ms = 0;
  std::string pool;
  int slot = -1;
  pid_t pid = 0;
  std::string text;
};

enum class LogStream { kStdout, kStderr, kEngine };

struct LogLine {
  int64_t wall_ms = 0;
  std::string pool;   // empty for engine-wide lines
  int slot = -1;
  pid_t pid = 0;      // the worker's pid, or drover's own for engine lines
  LogStream stream = LogStream::kStdout;
  std::string text;   // without the trailing newline
};

// "foo[1234]: text" for worker lines, "drover[99]: text" for the engine's own.
std::string format_log_prefix(const LogLine& line);

using EngineItem = std::variant<Event, LogLine>;

}  // namespace drover
