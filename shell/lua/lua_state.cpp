#include "shell/lua/lua_state.h"

#include <stdexcept>

#include "shell/autoscale/autoscaler.h"
#include "shell/lua/binding.h"
#include "shell/lua/script_loader.h"

namespace drover {

namespace {

const char kContextKey = 0;  // its address is the registry key of the ShellContext

int message_handler(lua_State* L) {
  const char* msg = lua_tostring(L, 1);
  if (!msg) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

// `autoscale(...)` and `autoscale.list()` both: a table of functions that can be called
// itself, forwarding to the function it replaced (upvalue 1) without the table.
int call_without_self(lua_State* L) {
  lua_remove(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

// os.exit would end the master at once: no stop signal to the workers, no grace, no log
// line (the orphan guard then SIGKILLs them all). In the shell it is exit(), the graceful
// stop; a policy or timer may not stop drover at all (its error is logged, as any).
int l_os_exit(lua_State* L) {
  ShellContext& ctx = shell_context_of(L);
  if (ctx.autoscaler && ctx.autoscaler->in_tick())
    return luaL_error(L, "os.exit is not available in a config file or a policy: it would end drover without "
                         "stopping its workers");
  lua_settop(L, 0);
  lua_getglobal(L, "exit");
  lua_call(L, 0, 0);
  return 0;
}

void stop_hook(lua_State* L, lua_Debug*) {
  lua_sethook(L, nullptr, 0, 0);
  luaL_error(L, "interrupted");
}

}  // namespace

ShellContext& shell_context_of(lua_State* L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kContextKey);
  auto* ctx = static_cast<ShellContext*>(lua_touserdata(L, -1));
  lua_pop(L, 1);
  if (!ctx) luaL_error(L, "drover: no shell context in this Lua state");
  return *ctx;
}

void install_bindings(lua_State* L, ShellContext& ctx) {
  lua_pushlightuserdata(L, &ctx);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kContextKey);
  save_builtin_load(L, ctx.script_dirs);  // before the `load` binding replaces it
  for (const Binding& b : all_bindings()) {
    std::string name = b.name;
    size_t dot = name.find('.');
    if (dot == std::string::npos) {
      lua_pushcfunction(L, b.fn);
      lua_setglobal(L, b.name);
      continue;
    }
    // "log.tail": a field of the global table "log", created on first use.
    std::string table = name.substr(0, dot);
    const int type = lua_getglobal(L, table.c_str());
    if (type != LUA_TTABLE) {
      lua_newtable(L);
      if (type == LUA_TFUNCTION) {  // "autoscale" and "autoscale.list": a callable table
        lua_createtable(L, 0, 1);
        lua_pushvalue(L, -3);
        lua_pushcclosure(L, call_without_self, 1);
        lua_setfield(L, -2, "__call");
        lua_setmetatable(L, -2);
      }
      lua_remove(L, -2);
      lua_pushvalue(L, -1);
      lua_setglobal(L, table.c_str());
    }
    lua_pushcfunction(L, b.fn);
    lua_setfield(L, -2, name.substr(dot + 1).c_str());
    lua_pop(L, 1);
  }
}

LuaState::LuaState(ShellContext& ctx)
    : memory_(lua_limit_settings().memory_bytes), L_(new_limited_state(memory_)) {
  if (!L_) throw std::runtime_error("cannot create a Lua state (out of memory)");
  luaL_openlibs(L_);
  install_bindings(L_, ctx);
  lua_getglobal(L_, "os");
  lua_pushcfunction(L_, l_os_exit);
  lua_setfield(L_, -2, "exit");
  lua_pop(L_, 1);
}

LuaState::~LuaState() { lua_close(L_); }

int LuaState::call(int nargs, int nresults, double budget_s, bool line_events) {
  int base = lua_gettop(L_) - nargs;
  lua_pushcfunction(L_, message_handler);
  lua_insert(L_, base);
  LuaRun run(L_, &memory_, budget_s, line_events);
  int status = lua_pcall(L_, nargs, nresults, base);
  if (status == LUA_ERRMEM || status == LUA_ERRERR) {
    std::string text = run.error_text(L_, status);
    lua_pop(L_, 1);
    lua_pushstring(L_, text.c_str());  // the memory limit has room again: the stack unwound
  }
  lua_remove(L_, base);
  return status;
}

Status LuaState::run_file(const std::string& path) {
  if (luaL_loadfile(L_, path.c_str()) != LUA_OK || call(0, 0) != LUA_OK) {  // --script: no time limit
    std::string msg = lua_tostring(L_, -1) ? lua_tostring(L_, -1) : "error";
    lua_pop(L_, 1);
    return Status::invalid(msg);
  }
  return Status::ok();
}

Status LuaState::run_string(const std::string& code, const std::string& chunk_name) {
  if (luaL_loadbuffer(L_, code.data(), code.size(), chunk_name.c_str()) != LUA_OK || call(0, 0) != LUA_OK) {
    std::string msg = lua_tostring(L_, -1) ? lua_tostring(L_, -1) : "error";
    lua_pop(L_, 1);
    return Status::invalid(msg);
  }
  return Status::ok();
}

void LuaState::interrupt() {
  lua_sethook(L_, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
}

}  // namespace drover
