// call_policy: the one way drover calls a policy and reads its answer. The Autoscaler
// (policies, Lua fn probes, every() timers), bench/autoscale_sim and the policy tests all
// go through here, so what the simulation and the tests exercise is the product's own
// time budget and answer check, not a copy of them that could drift.
//
// - call_lua: a Lua function under LuaRun (lua_limits.h): its count hook cuts the call
//   off past its time budget, and the state's allocator (LuaMemory) caps its memory. The
//   budget is measured on the steady clock, never on an injected one: it bounds how long
//   the Lua lock is really held, and a fake clock would stand still while a loop spins.
//   A call that finished late inside a C function (os.execute), where the hook cannot
//   reach, is not an error but an overrun, for the caller to report.
// - check_policy_answer: nil keeps the size; a number must be finite and >= 0; anything
//   else (a string, a table, NaN, -1, math.huge) is an error saying what came back.
// - call_policy: both, with the metrics table m (policy_metrics.h) as the argument.
#pragma once

#include <lua.hpp>

#include <optional>
#include <string>

#include "engine/status.h"
#include "shell/autoscale/policy_metrics.h"
#include "shell/lua/lua_limits.h"

namespace drover {

// A policy's time budget when its autoscale{} says no `timeout`.
inline constexpr double kDefaultPolicyBudget = 0.25;

// How one call went.
struct LuaCall {
  std::optional<std::string> error;  // raised, cut off by its budget, out of memory; else the results are on L
  double took_s = 0;                 // wall time of the call
  bool overran = false;              // past its budget inside C code: finished late, not interrupted
};

// Calls the function at registry `ref` with the nargs values on top of L as arguments,
// under budget_s (0: none) and L's memory cap (memory: L's allocator, for the limit in the
// message; may be null). On success leaves nresults values on L; on error, none.
LuaCall call_lua(lua_State* L, int ref, int nargs, int nresults, double budget_s, const LuaMemory* memory = nullptr);

// A policy's answer, checked.
struct PolicyAnswer {
  std::optional<double> size;  // the wanted size, finite and >= 0; nullopt: nil, keep the size
  std::string reason;          // the optional second value, when a string ("queue 640")
};

// Reads (answer, reason) from the top two slots of L and pops them; the error says what
// the answer was instead of a number of workers.
Result<PolicyAnswer> check_policy_answer(lua_State* L);

// A queue probe fn's answer, the top slot of L (popped): a depth when it is a finite
// number >= 0 (or a string that reads as one), else nullopt: no reading (m.queue = nil),
// which is no error.
std::optional<double> check_probe_answer(lua_State* L);

struct PolicyCall {
  std::optional<std::string> error;  // the call failed or its answer was refused
  PolicyAnswer answer;               // when no error
  double took_s = 0;
  bool overran = false;  // see LuaCall
};

// Calls the policy at registry `ref` with m as its table, under budget_s and L's memory
// cap, and checks its answer. Leaves L's stack as it found it.
PolicyCall call_policy(lua_State* L, int ref, const PolicyMetrics& m, double budget_s,
                       const LuaMemory* memory = nullptr);

}  // namespace drover
