#include "shell/lua/option_table.h"

#include <climits>
#include <cmath>

#include <fmt/format.h>

namespace drover {

void read_options(lua_State* L, int idx, const std::string& what, const char* table,
                  const std::vector<Option>& options) {
  idx = lua_absindex(L, idx);
  if (table && !lua_istable(L, idx))
    luaL_error(L, "%s: %s must be a table, got %s", what.c_str(), table, luaL_typename(L, idx));
  auto fields = [&] {
    std::string list;
    for (const Option& o : options)
      if (o.listed) list += (list.empty() ? "" : ", ") + std::string(o.name);
    return list;
  };
  const std::string in = table ? fmt::format(" in {}", table) : "";
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_error(L, "%s: unexpected %s key%s; write name = value (fields: %s)", what.c_str(), luaL_typename(L, -2),
                 in.c_str(), fields().c_str());
    const char* key = lua_tostring(L, -2);
    const Option* found = nullptr;
    for (const Option& o : options)
      if (std::string_view(o.name) == key) found = &o;
    if (!found) luaL_error(L, "%s: unknown field '%s'%s (fields: %s)", what.c_str(), key, in.c_str(), fields().c_str());
    found->read();
    lua_pop(L, 1);
  }
}

double read_number(lua_State* L, const std::string& what, const char* field) {
  if (lua_type(L, -1) != LUA_TNUMBER)
    luaL_error(L, "%s: %s must be a number, got %s", what.c_str(), field, luaL_typename(L, -1));
  return lua_tonumber(L, -1);
}

int read_count(lua_State* L, const std::string& what, const char* field, int min) {
  const bool number = lua_type(L, -1) == LUA_TNUMBER;
  const lua_Number v = number ? lua_tonumber(L, -1) : 0;
  const bool whole = lua_isinteger(L, -1) || (number && std::isfinite(v) && std::floor(v) == v);
  // The text of the value from a copy: lua_tostring converts a number in place, and
  // "inf" then reads back as no number at all (math.huge used to become 0 here).
  lua_pushvalue(L, -1);
  const std::string got = number ? lua_tostring(L, -1) : luaL_typename(L, -1);
  lua_pop(L, 1);
  if (!whole || v < min)
    luaL_error(L, "%s: %s must be a whole number >= %d, got %s", what.c_str(), field, min, got.c_str());
  if (v > INT_MAX) luaL_error(L, "%s: %s = %s is too large", what.c_str(), field, got.c_str());
  return static_cast<int>(v);
}

std::string read_string(lua_State* L, const std::string& what, const char* field) {
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_error(L, "%s: %s must be a string, got %s", what.c_str(), field, luaL_typename(L, -1));
  size_t len = 0;
  const char* s = lua_tolstring(L, -1, &len);
  return std::string(s, len);
}

bool read_boolean(lua_State* L, const std::string& what, const char* field) {
  if (lua_type(L, -1) != LUA_TBOOLEAN)
    luaL_error(L, "%s: %s must be true or false, got %s", what.c_str(), field, luaL_typename(L, -1));
  return lua_toboolean(L, -1);
}

double read_number_in(lua_State* L, const std::string& what, const char* field, double lo, double hi) {
  int isnum = 0;
  const double v = lua_tonumberx(L, -1, &isnum);
  if (!isnum) luaL_error(L, "%s: %s must be a number, got %s", what.c_str(), field, luaL_typename(L, -1));
  if (!(v >= lo && v <= hi)) {  // lua_pushfstring knows no %g
    lua_pushvalue(L, -1);       // lua_tostring would convert the value itself in place
    const std::string got = lua_tostring(L, -1);
    lua_pop(L, 1);
    luaL_error(L, "%s", fmt::format("{}: {} must be in [{:g}, {:g}], got {}", what, field, lo, hi, got).c_str());
  }
  return v;
}

int read_count_in(lua_State* L, const std::string& what, const char* field, int lo, int hi) {
  const double v = read_number_in(L, what, field, lo, hi);
  if (v != std::floor(v))
    luaL_error(L, "%s", fmt::format("{}: {} must be a whole number, got {:g}", what, field, v).c_str());
  return static_cast<int>(v);
}

}  // namespace drover
