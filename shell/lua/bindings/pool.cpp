// start(), stop(), kill(): acting on one pool's workers, or all of them.
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
    while ((live = count_live(ctx.client.snapshot(), pool)) > 0 && !ctx.interrupted) {
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

const Binding kBindings[] = {
    {"start", "start([pool])", "start one pool, or all, back up to its size; retries flapping slots now", l_start},
    {"stop", "stop([pool])", "stop one pool's workers, or all, keeping the pool defined", l_stop},
    {"kill", "kill(sig, [pool])", "send a signal to every worker's process group, in one pool or all", l_kill},
};

}  // namespace

std::span<const Binding> pool_bindings() { return kBindings; }

}  // namespace drover
