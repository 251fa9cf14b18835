#include "engine/events.h"

#include <fmt/format.h>

namespace drover {

const char* event_kind_name(EventKind kind) {
  switch (kind) {
    case EventKind::kWorkerSpawned: return "spawned";
    case EventKind::kWorkerExited: return "exited";
    case EventKind::kSpawnFailed: return "spawn-failed";
    case EventKind::kBackoffScheduled: return "backoff";
    case EventKind::kSlotFlapping: return "flapping";
    case EventKind::kSlotGaveUp: return "gave-up";
    case EventKind::kWorkerStopping: return "stopping";
    case EventKind::kWorkerKilledAfterGrace: return "killed-after-grace";
    case EventKind::kWorkerStalled: return "stalled";
    case EventKind::kPoolAdded: return "pool-added";
    case EventKind::kPoolRemoved: return "pool-removed";
    case EventKind::kPoolResized: return "resized";
    case EventKind::kPoolRolling: return "rolling";
    case EventKind::kReloadRequested: return "reload-requested";
    case EventKind::kShutdownStarted: return "shutdown-started";
    case EventKind::kShutdownFinished: return "shutdown-finished";
    case EventKind::kAutoscaled: return "autoscaled";
    case EventKind::kPolicyWarning: return "policy-warning";
    case EventKind::kReloadFailed: return "reload-failed";
    case EventKind::kJobsEnqueued: return "jobs-enqueued";
    case EventKind::kJobDone: return "job-done";
    case EventKind::kJobRetrying: return "job-retrying";
    case EventKind::kJobDead: return "job-dead";
    case EventKind::kJobCancelled: return "job-cancelled";
  }
  return "?";
}

// Stdout and stderr lines share one prefix: they are interleaved in arrival order as a
// terminal would show them, and a marker would break tools that grep "pool[pid]: ".
// LogLine keeps the stream for consumers that want to tell them apart.
std::string format_log_prefix(const LogLine& line) {
  if (line.stream == LogStream::kEngine) return fmt::format("drover[{}]: ", line.pid);
  return fmt::format("{}[{}]: ", line.pool, line.pid);
}

}  // namespace drover
