// Rendering Lua values for the REPL, as lua.c prints them but readable: tables with
// sorted keys (numbers first, then strings), nested tables indented, cycles marked,
// strings quoted. A value with a __tostring metamethod is shown through it, which is how
// status() and pstree() results print as views while staying tables underneath.
#pragma once

#include <lua.hpp>

#include <string>

namespace drover {

std::string pretty_value(lua_State* L, int index, bool color = false);

}  // namespace drover
