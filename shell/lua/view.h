// Helpers shared by bindings: results that are data tables but print as views, and
// small argument checks.
#pragma once

#include <lua.hpp>

#include <optional>
#include <string>

#include "engine/snapshot.h"
#include "engine/status.h"

namespace drover {

// Gives the table on top of the stack a metatable whose __tostring returns `view`, so the
// REPL (and print) shows the view while scripts index the data.
void attach_view(lua_State* L, std::string view);

// An optional pool-name argument: nil/none -> nullopt, a string -> it, else an error.
std::optional<std::string> opt_pool_arg(lua_State* L, int arg);

// A count that arrives as a double (a queue depth): an integer when it is whole, so that
// it prints as 640, not 640.0 (and math.type says "integer"); fractions stay floats.
void push_quantity(lua_State* L, double v);

// t[key] = v on the table at the top of the stack. An absent optional leaves t[key] nil.
void set_quantity(lua_State* L, const char* key, double v);
void set_quantity(lua_State* L, const char* key, const std::optional<double>& v);
void set_integer(lua_State* L, const char* key, lua_Integer v);
void set_string(lua_State* L, const char* key, const std::string& v);
void set_boolean(lua_State* L, const char* key, bool v);

// "3m12s", "1h04m", "0.4s".
std::string format_age(double seconds);

// A binding that waits (a follow, a drain) and was ended by Ctrl-C has handled it: disarm
// the hook the SIGINT handler set, so the interrupt does not also abort the caller's chunk.
void consume_interrupt(lua_State* L);

// Raises a Lua error with the Status's message when it is not ok.
void check_status(lua_State* L, const Status& s);

// The value of an API call, or a Lua error with the Status saying why there is none (the
// engine has finished, the attached drover is gone).
template <typename T>
T checked(lua_State* L, Result<T> r) {
  if (!r) check_status(L, r.error());
  return std::move(*r);
}

}  // namespace drover
