#include "shell/lua/view.h"

#include <cmath>

#include <fmt/format.h>

#include "engine/status.h"

namespace drover {

namespace {
int view_tostring(lua_State* L) {
  luaL_getmetafield(L, 1, "__view");
  return 1;
}
}  // namespace

void attach_view(lua_State* L, std::string view) {
  lua_createtable(L, 0, 3);
  lua_pushlstring(L, view.data(), view.size());
  lua_setfield(L, -2, "__view");
  lua_pushcfunction(L, view_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_setmetatable(L, -2);
}

std::optional<std::string> opt_pool_arg(lua_State* L, int arg) {
  if (lua_isnoneornil(L, arg)) return std::nullopt;
  if (lua_type(L, arg) != LUA_TSTRING) luaL_typeerror(L, arg, "pool name (string)");
  return std::string(lua_tostring(L, arg));
}

std::string format_age(double s) {
  if (s < 10) return fmt::format("{:.1f}s", s);
  auto t = static_cast<long>(s);
  if (t < 60) return fmt::format("{}s", t);
  if (t < 3600) return fmt::format("{}m{:02}s", t / 60, t % 60);
  if (t < 86400) return fmt::format("{}h{:02}m", t / 3600, (t % 3600) / 60);
  return fmt::format("{}d{:02}h", t / 86400, (t % 86400) / 3600);
}

void consume_interrupt(lua_State* L) { lua_sethook(L, nullptr, 0, 0); }

void check_status(lua_State* L, const Status& s) {
  if (!s) luaL_error(L, "%s", s.message().c_str());
}

void push_quantity(lua_State* L, double v) {
  // 2^53: past it a double has no fractional part anyway, and int64 holds it exactly.
  if (std::isfinite(v) && std::floor(v) == v && std::fabs(v) < 9007199254740992.0)
    lua_pushinteger(L, static_cast<lua_Integer>(v));
  else
    lua_pushnumber(L, v);
}

void set_quantity(lua_State* L, const char* key, double v) {
  push_quantity(L, v);
  lua_setfield(L, -2, key);
}

void set_quantity(lua_State* L, const char* key, const std::optional<double>& v) {
  if (v) set_quantity(L, key, *v);
}

void set_integer(lua_State* L, const char* key, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, key);
}

void set_string(lua_State* L, const char* key, const std::string& v) {
  lua_pushlstring(L, v.data(), v.size());
  lua_setfield(L, -2, key);
}

void set_boolean(lua_State* L, const char* key, bool v) {
  lua_pushboolean(L, v);
  lua_setfield(L, -2, key);
}

}  // namespace drover
