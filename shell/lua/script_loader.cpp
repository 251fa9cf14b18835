#include "shell/lua/script_loader.h"

#include <cctype>
#include <filesystem>

#include <fmt/format.h>

namespace drover {

namespace {

const char kBuiltinLoadKey = 0;  // addresses as registry keys
const char kDirsKey = 0;

// The config loader's `load`: scripts run, everything else is Lua's.
int l_stub_load(lua_State* L) {
  if (!is_script_path(L, 1)) return call_builtin_load(L);
  const std::string path = lua_tostring(L, 1);
  const std::vector<std::string> dirs = script_dirs(L);
  const std::string found = resolve_script(path, dirs);
  if (found.empty()) return luaL_error(L, "%s", no_script_message(path, dirs).c_str());
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

std::string resolve_script(const std::string& given, const std::vector<std::string>& dirs,
                           const std::vector<std::string>& policy_dirs) {
  namespace fs = std::filesystem;
  const std::string path = is_policy_name(given) ? given + ".lua" : given;
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return path;
  if (fs::path(path).is_absolute()) return "";
  for (const auto* list : {&dirs, &policy_dirs})
    for (const auto& d : *list) {
      if (d.empty()) continue;
      fs::path p = fs::path(d) / path;
      if (fs::is_regular_file(p, ec)) return p.lexically_normal().string();
    }
  return "";
}

std::string resolve_script(const std::string& path, const std::vector<std::string>& dirs) {
  return resolve_script(path, dirs, policy_dirs());
}

std::string no_script_message(const std::string& path, const std::vector<std::string>& dirs) {
  std::string where = ".";
  std::vector<std::string> all = dirs;
  for (auto& d : policy_dirs()) all.push_back(std::move(d));
  for (const auto& d : all)
    if (!d.empty()) where += ", " + d;
  std::string message = "load: no script " + path + " (looked in " + where + ")";
  // load "scripts/queue_proportional.lua" (or "../scripts/...") from before the shipped
  // policies moved to policies/ and became loadable by name: say the name.
  const std::string stem = std::filesystem::path(path).stem().string();
  if (stem != path && is_policy_name(stem) && !resolve_script(stem, {}).empty())
    message += fmt::format("; a shipped policy has this name: load \"{}\"", stem);
  return message;
}

bool is_policy_name(std::string_view s) {
  static constexpr std::string_view kKeywords[] = {"and",   "break", "do",     "else", "elseif", "end",
                                                   "false", "for",   "function", "goto", "if",   "in",
                                                   "local", "nil",   "not",    "or",   "repeat", "return",
                                                   "then",  "true",  "until",  "while"};
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  for (auto k : kKeywords)
    if (s == k) return false;
  return true;
}

bool is_script_path(lua_State* L, int idx) {
  if (lua_type(L, idx) != LUA_TSTRING) return false;
  size_t len = 0;
  const char* s = lua_tolstring(L, idx, &len);
  const std::string_view v(s, len);
  if (is_policy_name(v)) return true;
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
