// The autoscaler's state as the API shows it: autoscale.list() in a shell, local or
// attached, and GET /api/v1/autoscale. The policies run in the shell's Autoscaler
// (shell/autoscale/), which is the AutoscaleControl a local EngineClient reads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "autoscale/scale_decider.h"

namespace drover {

// One policy as autoscale.list() shows it. Its fields are described in api/records.h.
struct AutoscaleInfo {
  std::string pool, owner, probe;
  double every_s = 0;
  ScaleLimits limits;
  bool enabled = true, suspended = false;
  int errors_in_row = 0;
  std::string last_error;
  std::optional<double> queue;   // the latest depth
  int last_recommended = -1;     // -1: not run yet
  std::string last_reason;       // of the last change
  double last_run_wall_s = 0;
  uint64_t runs = 0, changes = 0;
  uint64_t overruns = 0;  // calls past the time budget inside C code, which cannot be interrupted

  bool operator==(const AutoscaleInfo&) const = default;
};

// Every policy, the budget and the every() timers, as of one moment.
struct AutoscaleView {
  std::vector<AutoscaleInfo> policies;
  int budget = 0;  // 0: none
  int timers = 0;  // every() timers

  bool operator==(const AutoscaleView&) const = default;
};

// What the API asks of whoever runs the policies. Called with the Lua lock held (a local
// shell's bindings hold it); the HTTP routes go through AutoscaleHooks instead, which
// take the lock with a deadline.
class AutoscaleControl {
 public:
  virtual ~AutoscaleControl() = default;
  virtual AutoscaleView view() const = 0;
  // false: no policy for that pool.
  virtual bool set_enabled(const std::string& pool, bool enabled) = 0;
};

}  // namespace drover
