// Binding: one Lua-facing shell command. Each row holds what the user types, its
// signature and a one-line summary (which feed completion and the help index) and the
// C function behind it. The long text lives in help/NAME.md, whose first line must read
// "SIGNATURE -- SUMMARY": a unit test holds the rows and the pages to each other.
//
// A binding does three things, as redis's luaLogCommand does: check its arguments, make
// one call on the EngineClient, push a plain table (or print). Policy lives elsewhere.
#pragma once

#include <lua.hpp>

#include <exception>
#include <span>
#include <string>
#include <vector>

namespace drover {

struct Binding {
  const char* name;       // "status", or "log.tail" for a field of a global table
  const char* signature;  // "status()"
  const char* summary;    // one line, no trailing period
  lua_CFunction fn;
};

// The rows of each bindings file, and all of them together.
std::span<const Binding> status_bindings();
std::span<const Binding> config_bindings();
std::span<const Binding> pool_bindings();
std::span<const Binding> pstree_bindings();
std::span<const Binding> heartbeat_bindings();
std::span<const Binding> log_bindings();
std::span<const Binding> autoscale_bindings();
std::span<const Binding> jobs_bindings();
std::span<const Binding> history_bindings();
std::span<const Binding> schedule_bindings();  // schedule, schedule.*, schedules
std::span<const Binding> top_bindings();
std::span<const Binding> shell_bindings();  // help, events, exit
std::vector<Binding> all_bindings();

// The help page a binding is documented on: "log.tail" -> "log".
std::string help_page_of(const std::string& binding_name);

// Runs fn and turns an escaped std::exception into a Lua error with its message (with
// Lua built as C++, lua_error itself unwinds as an exception and passes through).
template <typename Fn>
int guarded(lua_State* L, Fn fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return luaL_error(L, "%s", e.what());
  }
}

}  // namespace drover
