// help(), events(), exit(): the shell's own commands.
#include <thread>

#include <fmt/format.h>

#include "shell/lua/binding.h"
#include "shell/lua/help_pages.h"
#include "shell/lua/help_render.h"
#include "shell/lua/pager.h"
#include "shell/lua/shell_context.h"
#include "shell/lua/view.h"

namespace drover {

namespace {

int l_help(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    if (lua_isnoneornil(L, 1)) {
      print_paged(ctx.out, render_help_index(all_bindings()));
      return 0;
    }
    std::string name = luaL_checkstring(L, 1);
    // help "log.tail" shows the page of its group.
    const HelpPage* page = find_help_page(help_page_of(name));
    if (!page) luaL_error(L, "help: no page for \"%s\"; help lists the commands", name.c_str());
    print_paged(ctx.out, render_help_page(page->text, kHelpWidth, ctx.color));
    return 0;
  });
}

int l_events(lua_State* L) {
  ShellContext& ctx = shell_context_of(L);
  if (!lua_isnoneornil(L, 1)) ctx.events_enabled = lua_toboolean(L, 1);
  lua_pushboolean(L, ctx.events_enabled);
  return 1;
}

// What the stop did, from the engine's own events: "exit: 5 workers stopped (1 killed
// after its grace) in 2.1 s". Said only when the engine says it finished: an attached
// shell detaches, and the remote drover goes on.
std::string exit_summary(Subscription& events, std::chrono::steady_clock::duration took, bool killed_now) {
  int stopped = 0, after_grace = 0;
  bool finished = false;
  while (auto item = events.pop(Duration::zero())) {
    const Event* ev = std::get_if<Event>(&*item);
    if (!ev) continue;
    if (ev->kind == EventKind::kWorkerExited) ++stopped;
    if (ev->kind == EventKind::kWorkerKilledAfterGrace) ++after_grace;
    if (ev->kind == EventKind::kShutdownFinished) finished = true;
  }
  if (!finished) return "";
  std::string out = fmt::format("exit: {} worker{} stopped", stopped, stopped == 1 ? "" : "s");
  if (killed_now) out += " (the rest killed at once by Ctrl-C)";
  else if (after_grace) out += fmt::format(" ({} killed after {} grace)", after_grace, after_grace == 1 ? "its" : "their");
  return out + fmt::format(" in {:.1f} s\n", std::chrono::duration<double>(took).count());
}

// Graceful shutdown with a progress line, then the REPL ends. A second Ctrl-C while
// draining kills the rest now.
int l_exit(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    ctx.exit_requested = true;
    // Every exit and kill of the stop, for the summary; before shutdown(), so none is missed.
    auto events = ctx.client.subscribe(1 << 16, {.events = true, .log_lines = false});
    const auto began = std::chrono::steady_clock::now();
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
      for (const auto& p : checked(L, ctx.client.snapshot()).pools) live += p.running + p.stopping;
      if (ctx.color) {
        fmt::print(ctx.out, "\r\x1b[Kexit: {} worker{} draining", live, live == 1 ? "" : "s");
        std::fflush(ctx.out);
      }
    }
    if (ctx.color) fmt::print(ctx.out, "\r\x1b[K");
    fmt::print(ctx.out, "{}", exit_summary(*events, std::chrono::steady_clock::now() - began, killed));
    events->close();
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
                    log_bindings(), autoscale_bindings(), jobs_bindings(), schedule_bindings(), history_bindings(),
                    top_bindings(), shell_bindings()})
    all.insert(all.end(), rows.begin(), rows.end());
  return all;
}

std::string help_page_of(const std::string& binding_name) { return binding_name.substr(0, binding_name.find('.')); }

}  // namespace drover
