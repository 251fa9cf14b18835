// start(), stop(), kill(), settle(): acting on one pool's workers, or all of them, and
// waiting for them.
#include <thread>

#include <fmt/format.h>

#include "shell/lua/binding.h"
#include "shell/lua/shell_context.h"
#include "shell/lua/view.h"

namespace drover {

namespace {

int count_live(const EngineSnapshot& snap, const std::optional<std::string>& pool) {
  int live = 0;
  for (const auto& p : snap.pools)
    if (!pool || p.spec.name == *pool) live += p.running + p.stopping;
  return live;
}

// Shows "N workers draining" until the pool(s) have no process left or Ctrl-C; the stop
// itself goes on in the engine either way.
int l_stop(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    auto pool = opt_pool_arg(L, 1);
    check_status(L, ctx.client.stop(pool));
    int live = 0;
    bool said = false;
    while ((live = count_live(checked(L, ctx.client.snapshot()), pool)) > 0 && !ctx.interrupted) {
      // A terminal gets a counter in place; anything else one line, once.
      if (ctx.color) fmt::print(ctx.out, "\r\x1b[Kstopping: {} worker{} draining", live, live == 1 ? "" : "s");
      else if (!said) fmt::print(ctx.out, "stopping: {} worker{} draining (Ctrl-C stops waiting)\n", live, live == 1 ? "" : "s");
      said = true;
      std::fflush(ctx.out);
      LuaUnlocked waiting(ctx.lua_lock);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (ctx.color) fmt::print(ctx.out, "\r\x1b[K");
    if (live) {
      consume_interrupt(L);  // Ctrl-C ends the wait, not the stop
      fmt::print(ctx.out, "stop goes on in the background: {} worker{} still draining (status() shows them)\n", live,
                 live == 1 ? "" : "s");
    }
    lua_pushboolean(L, live == 0);
    return 1;
  });
}

int l_start(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    check_status(L, ctx.client.start(opt_pool_arg(L, 1)));
    lua_pushboolean(L, 1);
    return 1;
  });
}

int l_kill(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    int sig = 0;
    if (lua_isinteger(L, 1)) sig = static_cast<int>(lua_tointeger(L, 1));
    else if (lua_type(L, 1) == LUA_TSTRING) sig = signal_from_name(lua_tostring(L, 1));
    else luaL_typeerror(L, 1, "signal name or number");
    if (sig <= 0 || sig >= 65) luaL_argerror(L, 1, "unknown signal");
    check_status(L, ctx.client.signal_workers(sig, opt_pool_arg(L, 2)));
    lua_pushboolean(L, 1);
    return 1;
  });
}

// A worker younger than this may be a command about to fail: it does not count as settled.
constexpr double kSettledUptimeS = 1.0;

// Why the pools are not settled yet ("web: 1/3 running, 2 in backoff"), or "" when every
// pool runs its target, each worker up for kSettledUptimeS, with nothing starting,
// stopping, backing off or flapping. Jobs pools (exec mode) are always settled.
std::string unsettled(const EngineSnapshot& snap) {
  std::string out;
  for (const auto& p : snap.pools) {
    // A jobs pool runs what its queue holds, from none to n: nothing to settle to.
    if (p.spec.jobs) continue;
    int young = 0;
    for (const auto& w : p.workers)
      if (w.state == SlotState::kRunning && w.uptime_s < kSettledUptimeS) ++young;
    if (p.running == p.target && !young && !p.starting && !p.stopping && !p.backoff && !p.flapping) continue;
    std::string why = fmt::format("{}/{} running", p.running, p.target);
    if (young) why += fmt::format(", {} up less than {:g} s", young, kSettledUptimeS);
    if (p.starting) why += fmt::format(", {} starting", p.starting);
    if (p.stopping) why += fmt::format(", {} stopping", p.stopping);
    if (p.backoff) why += fmt::format(", {} in backoff", p.backoff);
    if (p.flapping) why += fmt::format(", {} flapping", p.flapping);
    out += (out.empty() ? "" : "; ") + p.spec.name + ": " + why;
  }
  return out;
}

// settle([seconds]): true once every pool is at its size; false and why after the
// timeout (default 30 s). Ctrl-C ends the wait (false, "interrupted").
int l_settle(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    const double seconds = luaL_optnumber(L, 1, 30);
    if (!(seconds >= 0 && seconds <= 86400)) luaL_argerror(L, 1, "seconds from 0 to 86400");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    std::string why;
    for (;;) {
      why = unsettled(checked(L, ctx.client.snapshot()));
      if (why.empty() || ctx.interrupted || std::chrono::steady_clock::now() >= deadline) break;
      LuaUnlocked waiting(ctx.lua_lock);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!why.empty() && ctx.interrupted) {
      consume_interrupt(L);
      why = "interrupted; " + why;
    }
    lua_pushboolean(L, why.empty());
    if (why.empty()) return 1;
    lua_pushstring(L, fmt::format("not settled after {:g} s: {}", seconds, why).c_str());
    return 2;
  });
}

const Binding kBindings[] = {
    {"settle", "settle([seconds])", "wait until every pool runs its size; false and why after the timeout",
     l_settle},
    {"start", "start([pool])", "start one pool, or all, back up to its size; retries flapping slots now", l_start},
    {"stop", "stop([pool])", "stop one pool's workers, or all, keeping the pool defined", l_stop},
    {"kill", "kill(sig, [pool])", "send a signal to every worker's process group, in one pool or all", l_kill},
};

}  // namespace

std::span<const Binding> pool_bindings() { return kBindings; }

}  // namespace drover
