// help(), events(), exit(): the shell's own commands.
#include <thread>

#include <fmt/format.h>

#include "shell/lua/binding.h"
#include "shell/lua/help_pages.h"
#include "shell/lua/shell_context.h"
#include "shell/lua/view.h"

namespace drover {

namespace {

int l_help(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    if (lua_isnoneornil(L, 1)) {
      std::string out = "Commands (help \"name\" for a page):\n";
      size_t w = 0;
      for (const Binding& b : all_bindings()) w = std::max(w, std::string_view(b.signature).size());
      for (const Binding& b : all_bindings()) out += fmt::format("  {:<{}}  {}\n", b.signature, w, b.summary);
      fmt::print(ctx.out, "{}", out);
      return 0;
    }
    std::string name = luaL_checkstring(L, 1);
    // help "log.tail" shows the page of its group.
    const HelpPage* page = find_help_page(help_page_of(name));
    if (!page) luaL_error(L, "help: no page for \"%s\"; help lists the commands", name.c_str());
    fmt::print(ctx.out, "{}", page->text);
    return 0;
  });
}

int l_events(lua_State* L) {
  ShellContext& ctx = shell_context_of(L);
  if (!lua_isnoneornil(L, 1)) ctx.events_enabled = lua_toboolean(L, 1);
  lua_pushboolean(L, ctx.events_enabled);
  return 1;
}

// Graceful shutdown with a progress line, then the REPL ends. A second Ctrl-C while
// draining kills the rest now.
int l_exit(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    ctx.exit_requested = true;
    ctx.client.shutdown();
    bool killed = false;
    auto wait = [&ctx] {
      LuaUnlocked waiting(ctx.lua_lock);
      return ctx.client.wait_finished(std::chrono::milliseconds(100));
    };
    while (!wait()) {
      if (ctx.interrupted.exchange(false) && !killed) {
        ctx.client.kill_all();  // Ctrl-C while draining: do not wait out the grace periods
        killed = true;
      }
      int live = 0;
      for (const auto& p : ctx.client.snapshot().pools) live += p.running + p.stopping;
      if (ctx.color) {
        fmt::print(ctx.out, "\r\x1b[Kexit: {} worker{} draining", live, live == 1 ? "" : "s");
        std::fflush(ctx.out);
      }
    }
    if (ctx.color) fmt::print(ctx.out, "\r\x1b[K");
    if (killed) consume_interrupt(L);
    return 0;
  });
}

const Binding kBindings[] = {
    {"help", "help([name])", "list the commands, or show one command's page", l_help},
    {"events", "events([on])", "show engine events above the prompt, or silence them with events(false)", l_events},
    {"exit", "exit()", "stop every worker gracefully, then leave drover (also Ctrl-D)", l_exit},
};

}  // namespace

std::span<const Binding> shell_bindings() { return kBindings; }

std::vector<Binding> all_bindings() {
  std::vector<Binding> all;
  for (auto rows : {status_bindings(), config_bindings(), pool_bindings(), pstree_bindings(), heartbeat_bindings(),
                    log_bindings(), autoscale_bindings(), shell_bindings()})
    all.insert(all.end(), rows.begin(), rows.end());
  return all;
}

std::string help_page_of(const std::string& binding_name) { return binding_name.substr(0, binding_name.find('.')); }

}  // namespace drover
