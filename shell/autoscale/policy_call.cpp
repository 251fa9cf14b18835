#include "shell/autoscale/policy_call.h"

#include <cmath>

#include <fmt/format.h>

namespace drover {

LuaCall call_lua(lua_State* L, int ref, int nargs, int nresults, double budget_s, const LuaMemory* memory) {
  // The function goes below its arguments.
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  lua_insert(L, -(nargs + 1));
  LuaCall out;
  LuaRun run(L, memory, budget_s);
  const int status = lua_pcall(L, nargs, nresults, 0);
  out.took_s = run.elapsed_s();
  if (status != LUA_OK) {
    out.error = run.error_text(L, status);
    lua_pop(L, 1);
  }
  // Interrupted by the hook (or by drover stopping) is the error above; finishing late
  // without it means the time went in C code, which the hook cannot reach.
  out.overran = budget_s > 0 && out.took_s > budget_s && !run.timed_out() && !lua_stopping();
  return out;
}

Result<PolicyAnswer> check_policy_answer(lua_State* L) {
  PolicyAnswer a;
  if (lua_type(L, -1) == LUA_TSTRING) a.reason = lua_tostring(L, -1);
  const int type = lua_type(L, -2);
  int isnum = 0;
  const double n = lua_tonumberx(L, -2, &isnum);
  lua_pop(L, 2);
  if (type == LUA_TNIL) return a;  // no opinion: keep the size
  if (type != LUA_TNUMBER || !isnum)
    return Status::invalid(fmt::format("returned a {}, not a number of workers", lua_typename(L, type)));
  if (!std::isfinite(n) || n < 0)
    return Status::invalid(fmt::format("returned {}, not a number of workers (finite, >= 0)", n));
  a.size = n;
  return a;
}

std::optional<double> check_probe_answer(lua_State* L) {
  int isnum = 0;
  const double v = lua_tonumberx(L, -1, &isnum);
  lua_pop(L, 1);
  if (isnum && std::isfinite(v) && v >= 0) return v;
  return std::nullopt;
}

PolicyCall call_policy(lua_State* L, int ref, const PolicyMetrics& m, double budget_s, const LuaMemory* memory) {
  push_policy_metrics(L, m);
  LuaCall call = call_lua(L, ref, 1, 2, budget_s, memory);
  PolicyCall out;
  out.took_s = call.took_s;
  out.overran = call.overran;
  if (call.error) {
    out.error = std::move(call.error);
    return out;
  }
  Result<PolicyAnswer> answer = check_policy_answer(L);
  if (!answer) out.error = answer.error().message();
  else out.answer = std::move(*answer);
  return out;
}

}  // namespace drover
