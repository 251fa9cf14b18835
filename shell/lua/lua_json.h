// Lua values to JSON text and back, for what crosses into JSON as data (a job's args):
// a table with only the keys 1..n is an array, {} an empty object, any other table an
// object with string keys; numbers, strings, booleans; nil is null. Functions, userdata,
// mixed or non-string keys, cycles and nesting past 64 are errors that name the path.
#pragma once

#include <lua.hpp>

#include <string>

#include "engine/status.h"

namespace drover {

// The value at idx as JSON text; `what` names it in errors ("args").
Result<std::string> lua_to_json(lua_State* L, int idx, const std::string& what);
// Pushes the JSON text's value (an invalid text pushes it as a string).
void push_json(lua_State* L, const std::string& text);

}  // namespace drover
