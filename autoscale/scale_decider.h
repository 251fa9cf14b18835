// ScaleDecider: turns a policy's answer into a pool's next target, the way a careful
// operator would: clamped to [min, max], growth at once (optionally limited per step),
// shrinking only after the scale-down stabilization window (`cooldown`) has passed with
// every recommendation in it at or below the new size (Kubernetes HPA's rule: the
// target is the highest recommendation of the last `cooldown` seconds).
//
// Pure arithmetic over the times it is given: no clock, no I/O, so the simulation in
// bench/ and the live autoscaler run the same code.
#pragma once

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "engine/status.h"

namespace drover {

struct ScaleLimits {
  int min = 0;
  int max = 10000;
  double cooldown_s = 30;   // scale-down stabilization window; 0: shrink at once
  int max_step_up = 0;      // most workers added per decision; 0: no limit
  int max_step_down = 0;    // most workers removed per decision; 0: no limit

  bool operator==(const ScaleLimits&) const = default;
};

// min <= max, both in [0, 10000], cooldown in [0, 86400], steps >= 0.
Status validate_scale_limits(const ScaleLimits& limits);

struct ScaleDecision {
  int target = 0;        // what the pool should be sized to now
  int recommended = 0;   // the policy's answer, rounded up and clamped
  bool changed = false;  // target != current
  // Why target differs from the recommendation, or empty: "held by cooldown (7, 12 s
  // left)" (held at 7 until the recommendation holding it leaves the window, 12 s from
  // now_s: the decider sees no wall clock), "clamped to max 20", "step limit +4"; joined
  // by "; " when several apply.
  std::string note;
};

class ScaleDecider {
 public:
  explicit ScaleDecider(ScaleLimits limits = {}) : limits_(limits) {}
  // now_s: any monotonic seconds. desired: the policy's answer, finite and >= 0 (the
  // caller rejects the rest); rounded up: 2.1 workers means 3.
  ScaleDecision decide(double now_s, int current, double desired);
  const ScaleLimits& limits() const { return limits_; }
  void set_limits(const ScaleLimits& limits) { limits_ = limits; }
  // Forget the recommendation history (after the policy was switched off and on again).
  void reset() { history_.clear(); }

 private:
  ScaleLimits limits_;
  std::deque<std::pair<double, int>> history_;  // (time, recommendation), within the window
};

// A global cap over the sum of all pools' targets (budget{max_workers = N}). wanted: the
// targets the deciders chose; current: the pools' targets now (pools without autoscale
// included, with wanted == current). Growth is cut so the sum stays within max_workers:
// pools that shrink or hold are never cut, and the room left is shared among the growing
// pools in proportion to the growth each asked for (largest remainders, ties by name).
// When the pools already exceed the budget nothing grows. max_workers <= 0: no budget.
std::map<std::string, int> fit_budget(const std::map<std::string, int>& current,
                                      const std::map<std::string, int>& wanted, int max_workers);

}  // namespace drover
