// Reconciler: the pure decision of what a pool should do next, from its target and the
// state of its slots (circus's manage_processes, but computed from facts rather than
// polled, and without side effects so that every rule is unit-tested without processes).
//
// Rules:
//  - Too few wanted slots: create new ones at the lowest unused slot indices.
//  - Too many: retire the surplus. Slots without a process go first (gave up, flapping,
//    backoff: nothing to signal), then stalled ones; then workers whose last heartbeat
//    said busy=false, then those that never said, and busy ones only when no other is
//    left, so a job in progress is the last thing a scale-down interrupts; within each,
//    the newest first, so long-lived workers and their warm caches stay.
//  - Rolling (launch spec changed): replace one old-generation worker at a time, only
//    while nothing else is stopping or being rolled, so capacity dips by at most one.
// Workers that stay are never part of any action: that is what makes resize live.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace drover {

struct SlotView {
  // kStalled: silent past its heartbeat timeout, being stopped, to be replaced.
  enum class Phase { kStarting, kRunning, kBackoff, kFlapping, kGaveUp, kRetiring, kRolling, kStalled };
  int slot = 0;
  Phase phase = Phase::kRunning;
  int64_t started_seq = 0;  // spawn order; larger is newer
  uint64_t generation = 0;
  std::optional<bool> busy;  // from heartbeats; nullopt when the worker never said
};

struct ReconcilePlan {
  std::vector<int> create;  // new slot indices to spawn
  std::vector<int> retire;  // existing slots to remove (stop if running, else just drop)
  int roll = -1;            // one running old-generation slot to replace, or -1
};

ReconcilePlan reconcile(int target, const std::vector<SlotView>& slots, uint64_t generation);

}  // namespace drover
