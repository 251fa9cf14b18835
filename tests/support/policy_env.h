// PolicyEnv: a Lua state for testing policies/*.lua the way an autoscale config uses
// them. It defines the global `load "x"` as the shell does (run the file found by the
// shell's lookup, return its values; relative paths are taken from the source tree), builds a policy from
// a chunk of configuration named "pools.lua", and calls it as the autoscaler does
// (call_policy: the table of push_policy_metrics, the answer check). Header-only: unit
// tests include it directly.
#pragma once

#include <lua.hpp>

#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "shell/autoscale/policy_call.h"
#include "shell/autoscale/policy_metrics.h"
#include "shell/lua/script_loader.h"

#ifndef DROVER_SOURCE_DIR
#error "DROVER_SOURCE_DIR must name the source tree"
#endif

namespace drover::testing {

// A policy's answer as text: n is "nil" or the number; error is the message when the
// call raised or the answer was refused (n and why are then empty).
struct Answer {
  std::string n, why, error;
};

class PolicyEnv {
 public:
  PolicyEnv() : L_(luaL_newstate()) {
    if (!L_) throw std::runtime_error("luaL_newstate failed");
    luaL_openlibs(L_);
    lua_pushcfunction(L_, l_load);
    lua_setglobal(L_, "load");
  }
  ~PolicyEnv() { lua_close(L_); }
  PolicyEnv(const PolicyEnv&) = delete;
  PolicyEnv& operator=(const PolicyEnv&) = delete;

  // Runs a configuration chunk that returns a policy and keeps it. Returns "" or the
  // error message (which names "pools.lua:LINE:" when the level of the error is right).
  std::string build(const std::string& chunk) {
    if (policy_ref_ != LUA_NOREF) luaL_unref(L_, LUA_REGISTRYINDEX, policy_ref_);
    policy_ref_ = LUA_NOREF;
    if (luaL_loadbuffer(L_, chunk.data(), chunk.size(), "=pools.lua") != LUA_OK || lua_pcall(L_, 0, 1, 0) != LUA_OK) {
      std::string err = lua_tostring(L_, -1) ? lua_tostring(L_, -1) : "(no message)";
      lua_pop(L_, 1);
      return err;
    }
    if (!lua_isfunction(L_, -1)) {
      lua_pop(L_, 1);
      return "the chunk did not return a function";
    }
    policy_ref_ = luaL_ref(L_, LUA_REGISTRYINDEX);
    return "";
  }

  // Through the product's call_policy, so the tests see its answer check. No time
  // budget: these tests are about what a policy answers, not how fast.
  Answer call(const PolicyMetrics& m) {
    Answer a;
    PolicyCall c = call_policy(L_, policy_ref_, m, 0);
    if (c.error) {
      a.error = *c.error;
      return a;
    }
    a.n = c.answer.size ? fmt::format("{}", *c.answer.size) : "nil";
    a.why = c.answer.reason;
    return a;
  }

  lua_State* get() const { return L_; }

 private:
  static int l_load(lua_State* L) {
    // The shell's lookup: a policy name ("queue_proportional") in the shipped policies/.
    const std::string given = luaL_checkstring(L, 1);
    const std::string path = resolve_script(given, {DROVER_SOURCE_DIR});
    if (path.empty()) return luaL_error(L, "%s", no_script_message(given, {DROVER_SOURCE_DIR}).c_str());
    int base = lua_gettop(L);
    if (luaL_loadfile(L, path.c_str()) != LUA_OK) return lua_error(L);
    lua_call(L, 0, LUA_MULTRET);
    return lua_gettop(L) - base;
  }

  lua_State* L_;
  int policy_ref_ = LUA_NOREF;
};

// Metrics with only what a queue policy reads; the rest is filled per test.
inline PolicyMetrics queue_metrics(std::optional<double> queue, std::optional<double> inflight = 0, int running = 1,
                                   int target = -1) {
  PolicyMetrics m;
  m.name = "foo";
  m.now = 1704067200;  // 2024-01-01 00:00 UTC, a Monday
  m.queue = queue;
  m.inflight = inflight;
  m.cpus = 4;
  m.mem_total = 8.0 * (1 << 30);
  m.mem_available = 4.0 * (1 << 30);
  m.workers.running = running;
  m.workers.target = target < 0 ? running : target;
  m.min = 0;
  m.max = 100;
  return m;
}

// "7 | why" or "nil | why", or "error: ..." when the call raised.
inline std::string answer(PolicyEnv& env, const PolicyMetrics& m) {
  Answer a = env.call(m);
  if (!a.error.empty()) return "error: " + a.error;
  return a.n + " | " + a.why;
}

// The error of a config chunk `head .. opts` that keeps the policy in a local `p` (not
// `return f{...}`: a tail call leaves no line for the error to name).
inline std::string rejected(PolicyEnv& env, const std::string& head, const std::string& opts) {
  return env.build(head + opts + "\nreturn p");
}

}  // namespace drover::testing
