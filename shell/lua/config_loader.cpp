#include "shell/lua/config_loader.h"

#include <lua.hpp>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>

#include <fmt/format.h>

namespace drover {

namespace {

const char kLoaderKey = 0;  // registry key (its address) of the Loader below

struct Loader {
  EngineLimits limits;
  std::string base_dir;  // the config file's directory: default and base of relative cwd
  LoadedConfig config;
  std::set<std::string> names;
};

Loader& loader_of(lua_State* L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kLoaderKey);
  auto* l = static_cast<Loader*>(lua_touserdata(L, -1));
  lua_pop(L, 1);
  return *l;
}

constexpr const char* kPoolFields = "cmd, n, cwd, env, queue, stop_signal, grace, backoff, flap";

// Field readers. `what` names the place for errors ("pool \"foo\"" or "defaults").
double read_number(lua_State* L, const std::string& what, const char* field) {
  if (!lua_isnumber(L, -1) || lua_type(L, -1) == LUA_TSTRING)
    luaL_error(L, "%s: %s must be a number, got %s", what.c_str(), field, luaL_typename(L, -1));
  return lua_tonumber(L, -1);
}

int read_count(lua_State* L, const std::string& what, const char* field, int min) {
  if (!lua_isinteger(L, -1)) {
    bool whole = lua_type(L, -1) == LUA_TNUMBER && std::floor(lua_tonumber(L, -1)) == lua_tonumber(L, -1);
    if (!whole)
      luaL_error(L, "%s: %s must be a whole number >= %d, got %s", what.c_str(), field, min,
                 lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
  }
  lua_Number v = lua_tonumber(L, -1);
  if (v < min || v > 1e9) luaL_error(L, "%s: %s must be a whole number >= %d, got %s", what.c_str(), field, min, lua_tostring(L, -1));
  return static_cast<int>(v);
}

std::string read_string(lua_State* L, const std::string& what, const char* field) {
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_error(L, "%s: %s must be a string, got %s", what.c_str(), field, luaL_typename(L, -1));
  return lua_tostring(L, -1);
}

// Iterates the sub-table at the top of the stack, calling fn(key) with the value on top.
template <typename Fn>
void each_field(lua_State* L, const std::string& what, const char* table, const char* allowed, Fn fn) {
  if (!lua_istable(L, -1)) luaL_error(L, "%s: %s must be a table, got %s", what.c_str(), table, luaL_typename(L, -1));
  int t = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_error(L, "%s: %s has a %s key; fields are: %s", what.c_str(), table, luaL_typename(L, -2), allowed);
    std::string key = lua_tostring(L, -2);
    if (!fn(key))
      luaL_error(L, "%s: unknown field '%s' in %s (fields: %s)", what.c_str(), key.c_str(), table, allowed);
    lua_pop(L, 1);
  }
}

void read_fields(lua_State* L, int idx, PoolSpec& spec, const std::string& what, const std::string& base_dir) {
  lua_pushvalue(L, idx);
  each_field(L, what, "the definition", kPoolFields, [&](const std::string& key) {
    if (key == "cmd") {
      if (lua_type(L, -1) == LUA_TSTRING) {
        spec.argv = command_from_string(lua_tostring(L, -1));
      } else if (lua_istable(L, -1)) {
        spec.argv.clear();
        lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, -1));
        for (lua_Integer i = 1; i <= n; ++i) {
          lua_rawgeti(L, -1, i);
          if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "%s: cmd[%d] must be a string, got %s", what.c_str(), static_cast<int>(i), luaL_typename(L, -1));
          spec.argv.emplace_back(lua_tostring(L, -1));
          lua_pop(L, 1);
        }
      } else {
        luaL_error(L, "%s: cmd must be a string or a list of strings, got %s", what.c_str(), luaL_typename(L, -1));
      }
    } else if (key == "n") {
      spec.n = read_count(L, what, "n", 0);
    } else if (key == "cwd") {
      std::string cwd = read_string(L, what, "cwd");
      spec.cwd = (cwd.empty() || cwd[0] == '/' || base_dir.empty()) ? cwd : base_dir + "/" + cwd;
    } else if (key == "queue") {
      spec.queue = read_string(L, what, "queue");
    } else if (key == "stop_signal") {
      std::string name = lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1) : read_string(L, what, "stop_signal");
      spec.stop_signal = signal_from_name(name);
      if (!spec.stop_signal) luaL_error(L, "%s: stop_signal '%s' is not a signal", what.c_str(), name.c_str());
    } else if (key == "grace") {
      spec.grace_s = read_number(L, what, "grace");
    } else if (key == "env") {
      each_field(L, what, "env", "variable names", [&](const std::string& var) {
        int type = lua_type(L, -1);
        if (type != LUA_TSTRING && type != LUA_TNUMBER)
          luaL_error(L, "%s: env.%s must be a string or number, got %s", what.c_str(), var.c_str(), luaL_typename(L, -1));
        lua_pushvalue(L, -1);  // lua_tostring converts in place; keep lua_next's key intact
        spec.env[var] = lua_tostring(L, -1);
        lua_pop(L, 1);
        return true;
      });
    } else if (key == "backoff") {
      each_field(L, what, "backoff", "initial, max, factor, reset_after", [&](const std::string& f) {
        double v = read_number(L, what, ("backoff." + f).c_str());
        if (f == "initial") spec.backoff.initial_s = v;
        else if (f == "max") spec.backoff.max_s = v;
        else if (f == "factor") spec.backoff.factor = v;
        else if (f == "reset_after") spec.backoff.reset_after_s = v;
        else return false;
        return true;
      });
    } else if (key == "flap") {
      each_field(L, what, "flap", "max_exits, window, cooldown, give_up_after", [&](const std::string& f) {
        if (f == "max_exits") spec.flap.max_exits = read_count(L, what, "flap.max_exits", 1);
        else if (f == "window") spec.flap.window_s = read_number(L, what, "flap.window");
        else if (f == "cooldown") spec.flap.cooldown_s = read_number(L, what, "flap.cooldown");
        else if (f == "give_up_after") spec.flap.give_up_after = read_count(L, what, "flap.give_up_after", 0);
        else return false;
        return true;
      });
    } else {
      return false;
    }
    return true;
  });
  lua_pop(L, 1);
}

int l_defaults(lua_State* L) {
  Loader& ld = loader_of(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  read_fields(L, 1, ld.config.defaults, "defaults", ld.base_dir);
  return 0;
}

int l_pool_body(lua_State* L) {
  Loader& ld = loader_of(L);
  std::string name = lua_tostring(L, lua_upvalueindex(1));
  std::string what = fmt::format("pool \"{}\"", name);
  if (lua_type(L, 1) != LUA_TTABLE) luaL_error(L, "%s: expected a table { cmd = ..., n = ... }", what.c_str());
  PoolSpec spec = ld.config.defaults;
  spec.name = name;
  spec.argv.clear();  // a command is never inherited
  read_fields(L, 1, spec, what, ld.base_dir);
  if (spec.argv.empty()) luaL_error(L, "%s: cmd is missing", what.c_str());
  if (!ld.names.insert(name).second) luaL_error(L, "%s is defined twice", what.c_str());
  if (Status s = validate_pool_spec(spec, ld.limits); !s) luaL_error(L, "%s", s.message().c_str());
  ld.config.pools.push_back(std::move(spec));
  return 0;
}

// pool "name" { ... }: the name call returns the function that takes the body.
int l_pool(lua_State* L) {
  if (lua_type(L, 1) != LUA_TSTRING) luaL_error(L, "pool: expected a name, as in pool \"foo\" { ... }");
  lua_pushvalue(L, 1);
  lua_pushcclosure(L, l_pool_body, 1);
  return 1;
}

int message_handler(lua_State* L) {
  // Config errors are for humans: the message (which names file:line) is enough.
  if (!lua_isstring(L, 1)) lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  return 1;
}

Result<LoadedConfig> load(const std::string& text, const std::string& chunk_name, const std::string& base_dir,
                          const EngineLimits& limits) {
  Loader ld;
  ld.limits = limits;
  ld.base_dir = base_dir;
  ld.config.defaults.cwd = base_dir;  // pools run from the config file's directory
  lua_State* L = luaL_newstate();
  if (!L) return Status::io_error("cannot create a Lua state");
  std::string error;
  try {
    luaL_openlibs(L);
    lua_pushlightuserdata(L, &ld);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &kLoaderKey);
    lua_register(L, "defaults", l_defaults);
    lua_register(L, "pool", l_pool);
    lua_pushcfunction(L, message_handler);
    if (luaL_loadbuffer(L, text.data(), text.size(), chunk_name.c_str()) != LUA_OK ||
        lua_pcall(L, 0, 0, -2) != LUA_OK)
      error = lua_tostring(L, -1) ? lua_tostring(L, -1) : "unknown error";
  } catch (const std::exception& e) {
    error = e.what();
  }
  lua_close(L);
  if (!error.empty()) return Status::invalid(error);
  return std::move(ld.config);
}

}  // namespace

Result<LoadedConfig> load_config_file(const std::string& path, const EngineLimits& limits) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Status::not_found(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  std::string text;
  char buf[8192];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  std::fclose(f);
  std::error_code ec;
  std::string dir = std::filesystem::absolute(std::filesystem::path(path), ec).parent_path().lexically_normal().string();
  // "@path" makes Lua name the chunk by its file, so errors read "pools.lua:3: ...".
  return load(text, "@" + path, dir, limits);
}

Result<LoadedConfig> load_config_string(const std::string& text, const std::string& chunk_name,
                                        const EngineLimits& limits) {
  return load(text, chunk_name, "", limits);
}

}  // namespace drover
