#include "shell/lua/lua_json.h"

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace drover {

namespace {

using nlohmann::json;
constexpr int kMaxDepth = 64;

Status convert(lua_State* L, int idx, const std::string& path, int depth, json& out) {
  idx = lua_absindex(L, idx);
  switch (lua_type(L, idx)) {
    case LUA_TNIL: out = nullptr; return Status::ok();
    case LUA_TBOOLEAN: out = static_cast<bool>(lua_toboolean(L, idx)); return Status::ok();
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        out = static_cast<int64_t>(lua_tointeger(L, idx));
      } else {
        const double d = lua_tonumber(L, idx);
        if (!std::isfinite(d)) return Status::invalid(fmt::format("{}: {} is not a JSON number", path, d));
        out = d;
      }
      return Status::ok();
    case LUA_TSTRING: {
      size_t n = 0;
      const char* s = lua_tolstring(L, idx, &n);
      out = std::string(s, n);
      return Status::ok();
    }
    case LUA_TTABLE: break;
    default:
      return Status::invalid(fmt::format("{}: a {} cannot be sent as JSON", path, luaL_typename(L, idx)));
  }
  if (depth >= kMaxDepth) return Status::invalid(fmt::format("{}: nested deeper than {} (a cycle?)", path, kMaxDepth));
  luaL_checkstack(L, 4, "lua_to_json");
  // An array when its keys are exactly 1..n; an object when they are all strings.
  const lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, idx));
  size_t keys = 0;
  bool all_strings = true;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    ++keys;
    if (lua_type(L, -2) != LUA_TSTRING) all_strings = false;
    lua_pop(L, 1);
  }
  if (keys == 0) {
    out = json::object();
    return Status::ok();
  }
  if (n > 0 && static_cast<size_t>(n) == keys) {
    out = json::array();
    for (lua_Integer i = 1; i <= n; ++i) {
      lua_rawgeti(L, idx, i);
      json item;
      Status s = convert(L, -1, fmt::format("{}[{}]", path, i), depth + 1, item);
      lua_pop(L, 1);
      if (!s) return s;
      out.push_back(std::move(item));
    }
    return Status::ok();
  }
  if (!all_strings) return Status::invalid(fmt::format("{}: a table with keys 1..n (an array) or only string keys", path));
  out = json::object();
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const std::string key = lua_tostring(L, -2);
    json item;
    Status s = convert(L, -1, path + "." + key, depth + 1, item);
    if (!s) {
      lua_pop(L, 2);
      return s;
    }
    out[key] = std::move(item);
    lua_pop(L, 1);
  }
  return Status::ok();
}

void push(lua_State* L, const json& j) {
  luaL_checkstack(L, 3, "push_json");
  switch (j.type()) {
    case json::value_t::null: lua_pushnil(L); break;
    case json::value_t::boolean: lua_pushboolean(L, j.get<bool>()); break;
    case json::value_t::number_integer: lua_pushinteger(L, j.get<int64_t>()); break;
    case json::value_t::number_unsigned: lua_pushinteger(L, static_cast<lua_Integer>(j.get<uint64_t>())); break;
    case json::value_t::number_float: lua_pushnumber(L, j.get<double>()); break;
    case json::value_t::string: {
      const auto& s = j.get_ref<const std::string&>();
      lua_pushlstring(L, s.data(), s.size());
      break;
    }
    case json::value_t::array: {
      lua_createtable(L, static_cast<int>(j.size()), 0);
      lua_Integer i = 1;
      for (const auto& e : j) {
        push(L, e);
        lua_rawseti(L, -2, i++);
      }
      break;
    }
    case json::value_t::object: {
      lua_createtable(L, 0, static_cast<int>(j.size()));
      for (const auto& [k, v] : j.items()) {
        push(L, v);
        lua_setfield(L, -2, k.c_str());
      }
      break;
    }
    default: lua_pushnil(L);
  }
}

}  // namespace

Result<std::string> lua_to_json(lua_State* L, int idx, const std::string& what) {
  json out;
  if (Status s = convert(L, idx, what, 0, out); !s) return s;
  return out.dump();
}

void push_json(lua_State* L, const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    lua_pushlstring(L, text.data(), text.size());
    return;
  }
  push(L, j);
}

}  // namespace drover
