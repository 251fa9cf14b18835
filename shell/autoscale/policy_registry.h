// PolicyRegistry: the autoscale policies and every() timers the shell has defined, and
// the reload transaction over them. Kept apart from the Autoscaler's thread and tick
// because its rules are about ownership, not time: who holds which Lua ref and which
// queue probe, what a redefinition keeps, what a failed reload gives back.
//
// - A policy owns its refs (policy, fn probe) and its queue probe in the ProbeRunner,
//   under the pool's name. Redefining a pool's policy keeps what the pool has seen (the
//   cooldown's memory, the history, the counts), so a reload is not a fresh start.
// - A policy or timer may redefine or remove policies while a tick holds pointers to
//   them: between begin_tick and end_tick a removed policy is kept, marked retired, and
//   freed at end_tick.
// - begin_reload(file) puts the file's policies and timers aside; commit_reload drops
//   them, rollback_reload drops what the new run defined and puts them back.
//
// Not thread-safe: the Lua lock guards it, as it does the Autoscaler.
#pragma once

#include <lua.hpp>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "autoscale/probe_runner.h"
#include "autoscale/scale_decider.h"
#include "autoscale/worker_registry_probe.h"
#include "engine/clock.h"
#include "shell/autoscale/policy_call.h"
#include "shell/autoscale/policy_metrics.h"

namespace drover {

// What autoscale "foo" { ... } says, once read and checked by the binding.
struct AutoscaleSpec {
  std::string pool;
  double every_s = 5;
  double time_budget_s = kDefaultPolicyBudget;  // a call that runs longer is interrupted and counts as an error
  ScaleLimits limits;
  int policy_ref = LUA_NOREF;                // registry ref of the policy function (owned from here on)
  std::unique_ptr<QueueProbe> probe;         // Redis or command probe, or null
  int probe_fn_ref = LUA_NOREF;              // a Lua fn probe, or LUA_NOREF
  // queue = redis{ rq | resque | sidekiq | celery = ... }: the queue system's worker
  // registry, read on the policy's schedule for the workers' busy states.
  std::optional<WorkerRegistrySpec> registry;
  std::string owner;                         // the script that defined it; empty: typed at the shell
};

// A pool's policy and what its runs have left.
struct AutoscalePolicy {
  AutoscaleSpec spec;
  ScaleDecider decider;
  std::string probe_describe;
  bool enabled = true, suspended = false;
  int errors_in_row = 0;
  std::string last_error;
  TimePoint due;                      // the next call
  std::optional<double> last_call_s;  // the clock's seconds at the previous call, for m.dt
  std::deque<PolicySample> history;
  std::optional<double> fn_depth;  // the fn probe's last answer (it runs in the tick, not on the ProbeRunner)
  int last_recommended = -1;
  std::string last_reason;
  double last_run_wall_s = 0;
  uint64_t runs = 0, changes = 0, overruns = 0;
  bool retired = false;  // replaced or removed, possibly by a Lua call of this very tick
};

struct AutoscaleTimer {
  int id = 0;
  double every_s = 1;
  double time_budget_s = kDefaultPolicyBudget;
  int fn_ref = LUA_NOREF;
  std::string owner;
  TimePoint due;
  int errors_in_row = 0;
  bool suspended = false;
};

class PolicyRegistry {
 public:
  using Policies = std::map<std::string, std::unique_ptr<AutoscalePolicy>>;
  using Timers = std::map<int, std::unique_ptr<AutoscaleTimer>>;

  // L: the state the refs are in; probes: where policies' queue probes run. Both outlive it.
  PolicyRegistry(lua_State* L, ProbeRunner& probes, const Clock& clock);
  ~PolicyRegistry();  // drops every ref
  PolicyRegistry(const PolicyRegistry&) = delete;
  PolicyRegistry& operator=(const PolicyRegistry&) = delete;

  // Installs (or replaces) the pool's policy, due now. Takes the refs and the probe.
  void add(AutoscaleSpec spec);
  bool remove(const std::string& pool);
  AutoscalePolicy* find(const std::string& pool);
  const AutoscalePolicy* find(const std::string& pool) const;
  const Policies& policies() const { return policies_; }
  // A reload's set-aside policies: not run, but their worker registries stay installed.
  const std::vector<std::unique_ptr<AutoscalePolicy>>& aside_policies() const { return aside_policies_; }

  // every(sec, fn): due every_s from now (as setInterval); returns its id. Takes the ref.
  int add_timer(double every_s, int fn_ref, std::string owner, double time_budget_s);
  bool cancel_timer(int id);
  AutoscaleTimer* find_timer(int id);
  const Timers& timers() const { return timers_; }

  // Everything a script defined (policies, timers). Returns how many.
  int unload(const std::string& owner);
  void begin_reload(const std::string& owner);
  void commit_reload();
  void rollback_reload();
  bool reloading() const { return reloading_.has_value(); }

  // Between the two, removed policies stay alive (retired) for the tick's pointers.
  void begin_tick() { ticking_ = true; }
  void end_tick();
  bool ticking() const { return ticking_; }

 private:
  void release(AutoscalePolicy& p);
  void retire(std::unique_ptr<AutoscalePolicy> p);

  lua_State* L_;
  ProbeRunner& probes_;
  const Clock& clock_;
  Policies policies_;
  Timers timers_;
  int next_timer_id_ = 1;
  // begin_reload's set-aside: the file's policies and timers before the reload.
  std::optional<std::string> reloading_;
  std::vector<std::unique_ptr<AutoscalePolicy>> aside_policies_;
  std::vector<std::unique_ptr<AutoscaleTimer>> aside_timers_;
  bool ticking_ = false;
  std::vector<std::unique_ptr<AutoscalePolicy>> retired_;  // freed at end_tick
};

}  // namespace drover
