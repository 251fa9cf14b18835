#include "shell/lua/script_loader.h"

#include <filesystem>

namespace drover {

namespace {

const char kBuiltinLoadKey = 0;  // addresses as registry keys
const char kDirsKey = 0;

// The config loader's `load`: scripts run, everything else is Lua's.
int l_stub_load(lua_State* L) {
  if (!is_script_path(L, 1)) return call_builtin_load(L);
  const std::string path = lua_tostring(L, 1);
  const std::string found = resolve_script(path, script_dirs(L));
  if (found.empty()) return luaL_error(L, "load: no script %s (looked in . and the script directories)", path.c_str());
  lua_settop(L, 0);
  return run_script(L, found);
}

// The rest of the shell's autoscale vocabulary, inert: a config file that sets up policies
// still yields its pools here. The shell runs the same file again to install them.
constexpr const char* kStubs = R"lua(
local function noop() end
local function curried(_, name, t)
  if t == nil then return function() return true end end
  return true
end
autoscale = setmetatable({ on = noop, off = noop, cancel = noop, list = function() return {} end },
                         { __call = curried })
budget = noop
every = function() return 0 end
unload = function() return 0 end
redis = function(t) return t end
command = function(t) return t end
fn = function(f) return f end
)lua";

}  // namespace

std::string drover_data_dir() {
#ifdef DROVER_DATA_DIR
  return DROVER_DATA_DIR;
#else
  return "";
#endif
}

std::string resolve_script(const std::string& path, const std::vector<std::string>& dirs) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return path;
  if (fs::path(path).is_absolute()) return "";
  for (const auto& d : dirs) {
    if (d.empty()) continue;
    fs::path p = fs::path(d) / path;
    if (fs::is_regular_file(p, ec)) return p.lexically_normal().string();
  }
  return "";
}

bool is_script_path(lua_State* L, int idx) {
  if (lua_type(L, idx) != LUA_TSTRING) return false;
  size_t len = 0;
  const char* s = lua_tolstring(L, idx, &len);
  const std::string_view v(s, len);
  return v.size() > 4 && v.substr(v.size() - 4) == ".lua" && v.find('\n') == std::string_view::npos;
}

void save_builtin_load(lua_State* L, const std::vector<std::string>& dirs) {
  lua_getglobal(L, "load");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kBuiltinLoadKey);
  lua_createtable(L, static_cast<int>(dirs.size()), 0);
  for (size_t i = 0; i < dirs.size(); ++i) {
    lua_pushstring(L, dirs[i].c_str());
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kDirsKey);
}

int call_builtin_load(lua_State* L) {
  const int n = lua_gettop(L);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kBuiltinLoadKey);
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  return lua_gettop(L);
}

std::vector<std::string> script_dirs(lua_State* L) {
  std::vector<std::string> out;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &kDirsKey) == LUA_TTABLE) {
    const lua_Integer n = luaL_len(L, -1);
    for (lua_Integer i = 1; i <= n; ++i) {
      lua_rawgeti(L, -1, i);
      if (const char* s = lua_tostring(L, -1)) out.emplace_back(s);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  return out;
}

int run_script(lua_State* L, const std::string& path) {
  const int base = lua_gettop(L);
  if (luaL_loadfile(L, path.c_str()) != LUA_OK) return lua_error(L);  // "file.lua:3: ..." already
  lua_call(L, 0, LUA_MULTRET);
  return lua_gettop(L) - base;
}

void install_policy_stubs(lua_State* L, const std::vector<std::string>& dirs) {
  save_builtin_load(L, dirs);
  lua_register(L, "load", l_stub_load);
  if (luaL_dostring(L, kStubs) != LUA_OK) lua_error(L);
}

}  // namespace drover
