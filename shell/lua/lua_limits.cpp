#include "shell/lua/lua_limits.h"

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace drover {

namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "stop_all_lua runs in a signal handler");

// The innermost run on this thread: the hook of any state this thread runs reads it.
thread_local LuaRun* t_run = nullptr;

// Raises msg at the place the hook interrupted, as "file:line: msg". luaL_error would
// name level 1, which in a hook is the caller of the running function, not the loop.
[[noreturn]] void raise_here(lua_State* L, lua_Debug* ar, const std::string& msg) {
  if (ar->currentline > 0) lua_pushfstring(L, "%s:%d: %s", ar->short_src, ar->currentline, msg.c_str());
  else lua_pushstring(L, msg.c_str());
  lua_error(L);
  std::abort();  // lua_error does not return
}

std::string megabytes(size_t bytes) { return fmt::format("{:g} MB", static_cast<double>(bytes) / (1 << 20)); }

}  // namespace

LuaLimitSettings& lua_limit_settings() {
  static LuaLimitSettings settings;
  return settings;
}

void LuaMemory::attach(lua_State* L) {
  // luaL_newstate's allocator is realloc/free, as ours: blocks move freely between them.
  used_ = static_cast<size_t>(lua_gc(L, LUA_GCCOUNT, 0)) * 1024 + static_cast<size_t>(lua_gc(L, LUA_GCCOUNTB, 0));
  lua_setallocf(L, alloc, this);
}

void* LuaMemory::alloc(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* m = static_cast<LuaMemory*>(ud);
  const size_t old = ptr ? osize : 0;  // with no block, osize says what kind of object
  if (nsize == 0) {
    std::free(ptr);
    m->used_ -= old;
    return nullptr;
  }
  // Shrinking never fails (Lua relies on it); growing fails past the limit.
  if (nsize > old && m->used_ - old + nsize > m->limit_) return nullptr;
  void* p = std::realloc(ptr, nsize);
  if (p) m->used_ = m->used_ - old + nsize;
  return p;
}

lua_State* new_limited_state(LuaMemory& memory) {
  lua_State* L = luaL_newstate();
  if (L) memory.attach(L);
  return L;
}

LuaRun::LuaRun(lua_State* L, const LuaMemory* memory, double budget_s, bool line_events)
    : L_(L),
      memory_(memory),
      budget_s_(budget_s),
      start_(Clock::now()),
      outer_(t_run),
      old_hook_(lua_gethook(L)),
      old_mask_(lua_gethookmask(L)),
      old_count_(lua_gethookcount(L)) {
  if (budget_s > 0)
    deadline_ = start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(budget_s));
  t_run = this;
  // A hook of someone else's is a Ctrl-C that came before the run began (LuaState::
  // interrupt): it is meant for this run, and ends it at its first instruction.
  if (!old_hook_ || old_hook_ == lua_limit_hook)
    lua_sethook(L, lua_limit_hook, LUA_MASKCOUNT | (line_events ? LUA_MASKLINE : 0), kLuaHookCount);
}

LuaRun::~LuaRun() {
  lua_sethook(L_, old_hook_, old_mask_, old_count_);
  t_run = outer_;
}

double LuaRun::elapsed_s() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

std::string LuaRun::error_text(lua_State* L, int status) const {
  const char* msg = lua_tostring(L, -1);
  std::string text = msg ? msg : fmt::format("(error object is a {} value)", luaL_typename(L, -1));
  // The memory error skips the message handler and carries no place: add the last one
  // the hook saw (the line, with line events; within kLuaHookCount instructions without).
  if (status == LUA_ERRMEM || (status == LUA_ERRERR && memory_ && memory_->used() * 10 > memory_->limit() * 9)) {
    const std::string at = where();
    text = fmt::format("{}{}not enough memory (drover's limit for Lua is {})", at, at.empty() ? "" : ": ",
                       megabytes(memory_ ? memory_->limit() : lua_limit_settings().memory_bytes));
  }
  return text;
}

std::string LuaRun::where() const { return line_ > 0 ? fmt::format("{}:{}", src_, line_) : ""; }

void lua_limit_hook(lua_State* L, lua_Debug* ar) {
  LuaRun* run = t_run;
  lua_getinfo(L, "Sl", ar);
  if (run && ar->currentline > 0) {
    if (ar->source != run->src_of_) {
      std::memcpy(run->src_, ar->short_src, sizeof run->src_);
      run->src_of_ = ar->source;
    }
    run->line_ = ar->currentline;
  }
  if (g_stop.load(std::memory_order_relaxed)) raise_here(L, ar, "interrupted: drover is stopping");
  if (!run || run->budget_s_ <= 0 || ar->event != LUA_HOOKCOUNT) return;
  if (Clock::now() > run->deadline_) {
    run->timed_out_ = true;
    raise_here(L, ar, fmt::format("ran past its time budget of {:g} s, interrupted", run->budget_s_));
  }
}

void stop_all_lua() { g_stop.store(true, std::memory_order_relaxed); }
bool lua_stopping() { return g_stop.load(std::memory_order_relaxed); }

}  // namespace drover
