#include "shell/repl/repl.h"

#include "shell/repl/bare_line.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "engine/log_file.h"
#include "shell/lua/pretty.h"
#include "shell/repl/completer.h"
#include "shell/repl/line_editor.h"

namespace drover {

namespace {

constexpr const char* kPrompt = "drover> ";
constexpr const char* kContinuation = ">> ";
constexpr int kMaxEventsPerTick = 20;

ShellContext* g_ctx = nullptr;
LuaState* g_lua = nullptr;

void on_sigint(int) {
  if (g_ctx) g_ctx->interrupted = true;
  if (g_lua) g_lua->interrupt();  // lua_sethook is async-signal-safe (lua.c relies on it)
}

bool incomplete(lua_State* L, int status) {
  if (status != LUA_ERRSYNTAX) return false;
  size_t len;
  const char* msg = lua_tolstring(L, -1, &len);
  constexpr std::string_view kEof = "<eof>";
  return len >= kEof.size() && std::string_view(msg + len - kEof.size()) == kEof;
}

// Which events are worth interrupting the operator's typing for.
bool worth_showing(EventKind k) {
  switch (k) {
    case EventKind::kWorkerSpawned:
    case EventKind::kWorkerStopping:
    case EventKind::kBackoffScheduled:
    case EventKind::kShutdownStarted:
    case EventKind::kShutdownFinished:
    case EventKind::kReloadFailed:  // the shell says so itself, as it reloads
    case EventKind::kJobsEnqueued:  // a job's end is news; its enqueue and its done, a stream
    case EventKind::kJobDone:
      return false;
    default:
      return true;
  }
}


std::string strip_traceback(std::string msg) {
  // Bindings' errors are for operators: the message, not the Lua stack.
  size_t tb = msg.find("\nstack traceback:");
  if (tb != std::string::npos && !std::getenv("DROVER_TRACEBACK")) msg.erase(tb);
  return msg;
}

}  // namespace

std::string default_history_path() {
  if (const char* state = std::getenv("XDG_STATE_HOME"); state && *state)
    return std::string(state) + "/drover/history";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.local/state/drover/history";
  return "";
}

struct Repl::Impl {
  Impl(ShellContext& c, LuaState& l, std::shared_ptr<Subscription> ev)
      : ctx(c),
        lua(l),
        completer(l.get(),
                  [this] {
                    std::vector<std::string> names;
                    if (auto snap = ctx.client.snapshot())
                      for (const auto& p : snap->pools) names.push_back(p.spec.name);
                    return names;
                  }),
        editor(std::getenv("DROVER_HISTORY") ? std::getenv("DROVER_HISTORY") : default_history_path(),
               [this](const std::string& before) {
                 std::lock_guard hold(ctx.lua_lock);  // called from inside read_line, unlocked
                 return completer.complete(before);
               }),
        events(std::move(ev)) {
    if (const char* p = std::getenv("DROVER_PROMPT")) prompt = p;
  }
  ~Impl() { events->close(); }

  ShellContext& ctx;
  LuaState& lua;
  Completer completer;
  LineEditor editor;
  std::shared_ptr<Subscription> events;
  std::string prompt = kPrompt;

  void print_error(const std::string& msg) {
    if (ctx.color) fmt::print(ctx.out, "\x1b[31m{}\x1b[0m\n", strip_traceback(msg));
    else fmt::print(ctx.out, "{}\n", strip_traceback(msg));
    std::fflush(ctx.out);
  }

  // Engine events since the last tick, above the prompt; a burst is summarised.
  void show_events() {
    std::string text;
    int shown = 0, skipped = 0;
    while (auto item = events->pop(Duration::zero())) {
      const Event* ev = std::get_if<Event>(&*item);
      if (!ev) continue;
      if (ev->kind == EventKind::kReloadRequested && ctx.load_config) {
        Status s = reload_config(ctx);
        text += s ? "SIGHUP: config reloaded\n" : "SIGHUP: reload failed, nothing changed: " + s.message() + "\n";
        continue;
      }
      if (!worth_showing(ev->kind) || !ctx.events_enabled) continue;
      if (shown++ >= kMaxEventsPerTick) {
        ++skipped;
        continue;
      }
      std::string who = ev->pool.empty() ? "engine" : ev->slot >= 0 ? fmt::format("{}.{}", ev->pool, ev->slot) : ev->pool;
      std::string body = fmt::format("[{}] {} {}{}{}{}", format_timestamp(ev->wall_ms).substr(11, 8), who,
                                     event_kind_name(ev->kind), ev->pid ? fmt::format(" pid {}", ev->pid) : "",
                                     ev->text.empty() ? "" : ": ", ev->text);
      text += ctx.color ? "\x1b[33m" + body + "\x1b[0m\n" : body + "\n";
    }
    if (skipped) text += fmt::format("... and {} more events\n", skipped);
    if (!text.empty()) editor.print_above(text);
  }

  // Loads a chunk the REPL way: "return CODE" first, then CODE. Leaves the function or
  // the error message on the stack; returns the load status.
  int load(const std::string& code, const std::string& name) {
    lua_State* L = lua.get();
    std::string ret = "return " + code + ";";
    if (luaL_loadbuffer(L, ret.data(), ret.size(), name.c_str()) == LUA_OK) return LUA_OK;
    lua_pop(L, 1);
    return luaL_loadbuffer(L, code.data(), code.size(), name.c_str());
  }

  bool call_and_print() {
    lua_State* L = lua.get();
    int base = lua_gettop(L) - 1;
    // No reset here: a Ctrl-C at the prompt was consumed (and its hook disarmed) by the
    // line editor, and one pressed between Enter and this call is meant for this chunk.
    int status = lua.call(0, LUA_MULTRET);
    lua_sethook(L, nullptr, 0, 0);  // disarm a Ctrl-C that arrived after the chunk ended
    bool was_interrupted = ctx.interrupted.exchange(false);
    if (status != LUA_OK) {
      std::string msg = lua_tostring(L, -1) ? lua_tostring(L, -1) : "(error object is not a string)";
      lua_settop(L, base);
      print_error(msg);
      return false;
    }
    int n = lua_gettop(L) - base;
    for (int i = 1; i <= n; ++i) fmt::print(ctx.out, "{}\n", pretty_value(L, base + i, ctx.color));
    if (was_interrupted && n == 0) fmt::print(ctx.out, "\n");  // a follow ended by Ctrl-C
    std::fflush(ctx.out);
    lua_settop(L, base);
    return true;
  }
};

Repl::Repl(ShellContext& ctx, LuaState& lua, std::shared_ptr<Subscription> events)
    : impl_(std::make_unique<Impl>(ctx, lua, std::move(events))) {}
Repl::~Repl() = default;

void Repl::install_sigint_handler(ShellContext& ctx, LuaState& lua) {
  g_ctx = &ctx;
  g_lua = &lua;
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: poll() in the line editor must return EINTR
  sigaction(SIGINT, &sa, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

bool Repl::eval_and_print(const std::string& code, const std::string& chunk_name) {
  if (impl_->load(code, chunk_name) != LUA_OK) {
    impl_->print_error(lua_tostring(impl_->lua.get(), -1));
    lua_pop(impl_->lua.get(), 1);
    return false;
  }
  return impl_->call_and_print();
}

void Repl::show_start_view(double settle_s) {
  lua_State* L = impl_->lua.get();
  const int top = lua_gettop(L);
  const std::string settle = fmt::format("settle({})", settle_s);
  if (impl_->load(settle, "=start") == LUA_OK) impl_->lua.call(0, 0);
  lua_settop(L, top);
  impl_->ctx.interrupted = false;  // a Ctrl-C during the wait skips the wait, not the view
  eval_and_print("status()", "=start");
  eval_and_print("pstree()", "=start");
}

int Repl::run() {
  Impl& m = *impl_;
  lua_State* L = m.lua.get();
  // The engine can finish under us (SIGTERM to drover): then the prompt gives up too.
  bool engine_gone = false;
  auto interrupted = [&m, &engine_gone, L] {
    if (m.ctx.client.wait_finished(Duration::zero())) engine_gone = m.ctx.exit_requested = true;
    if (engine_gone) return true;
    if (!m.ctx.interrupted.exchange(false)) return false;
    lua_sethook(L, nullptr, 0, 0);  // this Ctrl-C abandons the line, not the next chunk
    return true;
  };
  auto idle = [&m] {
    std::lock_guard hold(m.ctx.lua_lock);
    m.show_events();
  };
  // The caller holds the Lua lock; it is given up only while waiting for a line.
  auto read_line = [&](const char* prompt) {
    LuaUnlocked waiting(m.ctx.lua_lock);
    return m.editor.read_line(prompt, interrupted, idle);
  };
  while (!m.ctx.exit_requested) {
    m.show_events();
    auto first = read_line(m.prompt.c_str());
    if (engine_gone) break;
    if (first.outcome == LineEditor::Outcome::kInterrupted) continue;  // never exits
    if (first.outcome == LineEditor::Outcome::kEof) break;
    std::string code = first.line;
    if (code.find_first_not_of(" \t") == std::string::npos) continue;
    // `status`, `log.tail`, `help config`: a command, as in resque-pool-dynamic's shell,
    // not a look at the function value (bare_line.h says when).
    const BareLine bare = interpret_bare_line(L, code);
    if (bare.kind == BareLine::Kind::kHint) {
      m.editor.add_history(code);
      fmt::print(m.ctx.out, "{}", bare.code);
      std::fflush(m.ctx.out);
      continue;
    }
    if (bare.kind == BareLine::Kind::kCall) code = bare.code;
    int status = m.load(code, "=stdin");
    while (incomplete(L, status)) {
      lua_pop(L, 1);
      auto more = read_line(kContinuation);
      if (more.outcome != LineEditor::Outcome::kLine) {
        status = -1;  // abandoned with Ctrl-C or Ctrl-D
        break;
      }
      code += "\n" + more.line;
      status = m.load(code, "=stdin");
    }
    m.editor.add_history(bare.kind == BareLine::Kind::kCall ? first.line : code);
    if (status == -1) continue;
    if (status != LUA_OK) {
      m.print_error(lua_tostring(L, -1));
      lua_pop(L, 1);
      continue;
    }
    m.call_and_print();
  }
  if (engine_gone) {
    // A SIGTERM to drover, or the attached drover stopped or unreachable: say so, not
    // just a prompt that vanishes.
    fmt::print(m.ctx.out, "\n{} has stopped: leaving the shell\n", m.ctx.client.name());
    std::fflush(m.ctx.out);
  } else if (!m.ctx.exit_requested) {
    // Ctrl-D: the same graceful shutdown as exit().
    lua_getglobal(L, "exit");
    m.lua.call(0, 0);
  }
  return 0;
}

}  // namespace drover
