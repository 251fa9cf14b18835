// The Lua config loader.
//
// A config is a Lua chunk run once, in a private state (load_config_file) or, as drover
// runs it, in the shell's state (ConfigRecorder; shell/autoscale/policy_config.h):
// `defaults{...}` and `pool "name" {...}` are C functions that read their table straight
// into PoolSpecs.
// Every check happens inside those calls and fails with luaL_error, so the message is
// prefixed with the file:line of the call in the config -- the line of `pool "name"`
// (Lua gives a call the line its expression starts on, even when the table spans many
// lines). Lua is built as C++ here, so luaL_error unwinds through our std::strings.
//
// `pool "name"` returns a closure that takes the body; a name left without a body is
// caught after the chunk has run, because otherwise the pool would silently vanish.
#include "shell/lua/config_loader.h"

#include "autoscale/redis_probe.h"
#include "shell/lua/lua_limits.h"
#include "shell/lua/option_table.h"
#include "shell/lua/schedule_table.h"
#include "shell/lua/script_loader.h"

#include <lua.hpp>

#include <climits>
#include <cmath>
#include <cstring>
#include <exception>
#include <filesystem>
#include <set>

#include <fmt/format.h>

namespace drover {

namespace {

const char kLoaderKey = 0;  // registry key (its address) of the Loader below

struct PendingPool {
  std::string name;
  std::string where;  // "pools.lua:3: ", from luaL_where at the `pool "name"` call
  bool defined = false;
};

struct Loader {
  EngineLimits limits;
  std::string base_dir;  // the config file's directory: default and base of relative cwd
  LoadedConfig config;
  std::set<std::string> names;
  std::vector<PendingPool> pending;
  std::set<std::string> schedule_names;
};

Loader& loader_of(lua_State* L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kLoaderKey);
  auto* l = static_cast<Loader*>(lua_touserdata(L, -1));
  lua_pop(L, 1);
  // In the shell's state the functions outlive the run (a policy may close over them).
  if (!l) luaL_error(L, "pool, defaults and no_pools define pools only while the config file runs");
  return *l;
}

// Turns a C++ exception into a Lua error at this call, so it names the config line. A Lua
// error (luaL_error) is not a std::exception and passes through untouched.
template <int (*Fn)(lua_State*)>
int guarded(lua_State* L) {
  std::string what;
  try {
    return Fn(L);
  } catch (const std::exception& e) {
    what = e.what();
  }
  return luaL_error(L, "%s", what.c_str());
}

// A heartbeat timeout: seconds in (0, kMaxHeartbeatTimeout]. Zero is refused rather than
// read as "off", which is spelled heartbeat = false.
constexpr double kMaxHeartbeatTimeout = 86400;
double read_heartbeat_timeout(lua_State* L, const std::string& what, const char* field) {
  double v = read_number(L, what, field);
  if (!(v > 0 && v <= kMaxHeartbeatTimeout))  // also refuses nan
    luaL_error(L, "%s: %s must be a number of seconds in (0, %d], got %s%s", what.c_str(), field,
               static_cast<int>(kMaxHeartbeatTimeout), lua_tostring(L, -1),
               v == 0 ? " (heartbeat = false turns heartbeats off)" : "");
  return v;
}

std::vector<std::string> read_argv(lua_State* L, const std::string& what) {
  if (lua_type(L, -1) == LUA_TSTRING) return command_from_string(read_string(L, what, "cmd"));
  if (!lua_istable(L, -1))
    luaL_error(L, "%s: cmd must be a string or a list of strings, got %s", what.c_str(), luaL_typename(L, -1));
  std::vector<std::string> argv;
  lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, -1));
  for (lua_Integer i = 1; i <= n; ++i) {
    lua_rawgeti(L, -1, i);  // a copy: converting a number here leaves the table alone
    if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
      luaL_error(L, "%s: cmd[%d] must be a string, got %s", what.c_str(), static_cast<int>(i), luaL_typename(L, -1));
    size_t len = 0;
    const char* arg = lua_tolstring(L, -1, &len);
    argv.emplace_back(arg, len);  // with any NUL in it, for validate_pool_spec to refuse
    lua_pop(L, 1);
  }
  // { "./bar", fast = true } would otherwise lose "fast" without a word.
  lua_Integer count = 0;
  for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) ++count;
  if (count != n) luaL_error(L, "%s: cmd must be a plain list { \"prog\", \"arg\", ... }", what.c_str());
  return argv;
}

// busy = redis{ rq = "default", url = "redis://..." }: where the job queue keeps its
// workers' busy state. In this state redis{} returns its table as written, so the fields
// are checked here, with the messages the shell's redis{} gives.
// The same from the shell's own redis{} (drover runs the config in the shell's state),
// which has checked its fields already and returns them as a queue:
// { kind = "redis", layout = "rq", name = ..., url = ..., namespace = ..., timeout = ... }.
BusyRegistry read_shell_busy_registry(lua_State* L, const std::string& what) {
  BusyRegistry r;
  auto field = [&](const char* f) {
    lua_getfield(L, -1, f);
    std::string v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    lua_pop(L, 1);
    return v;
  };
  r.layout = field("layout");
  if (r.layout != "rq" && r.layout != "resque" && r.layout != "sidekiq" && r.layout != "celery")
    luaL_error(L, "%s: busy: name the queue system: busy = redis{ rq = \"default\" } (or resque, sidekiq, celery)",
               what.c_str());
  if (std::string url = field("url"); !url.empty()) r.url = url;
  if (std::string ns = field("namespace"); !ns.empty()) r.ns = ns;
  lua_getfield(L, -1, "timeout");
  if (lua_type(L, -1) == LUA_TNUMBER) r.timeout_s = lua_tonumber(L, -1);
  lua_pop(L, 1);
  if (!(r.timeout_s > 0 && r.timeout_s <= 60))
    luaL_error(L, "%s: busy.timeout must be in (0, 60] seconds, got %f", what.c_str(), r.timeout_s);
  return r;
}

// jobs = true (exec mode), false, or { mode = "exec" | "worker", prefetch = N }.
void read_jobs(lua_State* L, const std::string& what, PoolSpec& spec) {
  if (lua_type(L, -1) == LUA_TBOOLEAN) {
    spec.jobs = lua_toboolean(L, -1);
    spec.job_mode = JobMode::kExec;
    return;
  }
  if (!lua_istable(L, -1))
    luaL_error(L, "%s: jobs must be true, false or { mode = \"worker\", prefetch = 1 }, got %s", what.c_str(),
               luaL_typename(L, -1));
  spec.jobs = true;
  spec.job_mode = JobMode::kExec;
  read_options(L, -1, what, "jobs", {
      {"mode", [&] {
         const std::string mode = read_string(L, what, "jobs.mode");
         auto m = job_mode_from_name(mode);
         if (!m) luaL_error(L, "%s: jobs.mode must be \"exec\" or \"worker\", got \"%s\"", what.c_str(), mode.c_str());
         spec.job_mode = *m;
       }},
      {"prefetch", [&] { spec.job_prefetch = read_count_in(L, what, "jobs.prefetch", 1, kMaxJobPrefetch); }},
  });
}

BusyRegistry read_busy_registry(lua_State* L, const std::string& what) {
  BusyRegistry r;
  if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) return r;  // busy = false: none
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "kind");
    const bool from_shell = lua_type(L, -1) == LUA_TSTRING && std::strcmp(lua_tostring(L, -1), "redis") == 0;
    lua_pop(L, 1);
    if (from_shell) return read_shell_busy_registry(L, what);
  }
  if (!lua_istable(L, -1))
    luaL_error(L, "%s: busy must be redis{ rq = \"QUEUE\" } (or resque, sidekiq, celery), got %s", what.c_str(),
               luaL_typename(L, -1));
  auto layout = [&](const char* name) {
    return Option{name, [&, name] {
      if (!r.layout.empty())
        luaL_error(L, "%s: busy: give one of rq, resque, sidekiq, celery; got %s and %s", what.c_str(), r.layout.c_str(),
                   name);
      read_string(L, what, fmt::format("busy.{}", name).c_str());  // the queue's name: the registry lists every queue's workers
      r.layout = name;
    }};
  };
  read_options(L, -1, what, "busy", {
      {"url", [&] {
         r.url = read_string(L, what, "busy.url");
         if (auto a = parse_redis_url(r.url); !a) luaL_error(L, "%s: busy.url: %s", what.c_str(), a.error().message().c_str());
       }},
      layout("rq"), layout("resque"), layout("sidekiq"), layout("celery"),
      {"namespace", [&] {
         r.ns = read_string(L, what, "busy.namespace");
         if (r.ns.empty()) luaL_error(L, "%s: busy.namespace is empty", what.c_str());
       }},
      {"timeout", [&] {
         r.timeout_s = read_number(L, what, "busy.timeout");
         if (!(r.timeout_s > 0 && r.timeout_s <= 60))
           luaL_error(L, "%s: busy.timeout must be in (0, 60] seconds, got %s", what.c_str(), lua_tostring(L, -1));
       }},
  });
  if (r.layout.empty())
    luaL_error(L, "%s: busy: name the queue system: busy = redis{ rq = \"default\" } (or resque, sidekiq, celery)",
               what.c_str());
  return r;
}

void read_env(lua_State* L, const std::string& what, std::map<std::string, std::string>& env) {
  if (!lua_istable(L, -1)) luaL_error(L, "%s: env must be a table, got %s", what.c_str(), luaL_typename(L, -1));
  for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_error(L, "%s: env names must be strings, got %s", what.c_str(), luaL_typename(L, -2));
    size_t len = 0;
    const char* name = lua_tolstring(L, -2, &len);
    std::string var(name, len);
    int type = lua_type(L, -1);
    if (type != LUA_TSTRING && type != LUA_TNUMBER)
      luaL_error(L, "%s: env.%s must be a string or number, got %s", what.c_str(), var.c_str(), luaL_typename(L, -1));
    // The value, not the key, is converted: lua_next stays valid. Both keep any NUL,
    // for validate_pool_spec to refuse: execve would cut the string there.
    const char* value = lua_tolstring(L, -1, &len);
    env[var] = std::string(value, len);
  }
}

// heartbeat = false (exit-only supervision), = 30 (short for { timeout = 30 }), or
// = { timeout = S, require = B }. A table merges into the inherited setting field by
// field, as backoff and flap do; false turns it off whatever defaults said.
void read_heartbeat(lua_State* L, const std::string& what, HeartbeatPolicy& hb) {
  if (lua_type(L, -1) == LUA_TBOOLEAN) {
    if (lua_toboolean(L, -1))
      luaL_error(L, "%s: heartbeat = true says no timeout; write heartbeat = { timeout = 30 }", what.c_str());
    hb = {};
  } else if (lua_type(L, -1) == LUA_TNUMBER) {
    hb.timeout_s = read_heartbeat_timeout(L, what, "heartbeat");
  } else {
    if (!lua_istable(L, -1))
      luaL_error(L, "%s: heartbeat must be false, a timeout in seconds or { timeout = S, require = B }, got %s",
                 what.c_str(), luaL_typename(L, -1));
    read_options(L, -1, what, "heartbeat", {
        {"timeout", [&] { hb.timeout_s = read_heartbeat_timeout(L, what, "heartbeat.timeout"); }},
        {"require", [&] { hb.require = read_boolean(L, what, "heartbeat.require"); }},
    });
  }
  // Checked here, not only in validate_pool_spec, so the message says what to write.
  if (hb.require && hb.timeout_s == 0)
    luaL_error(L, "%s: heartbeat.require needs a timeout; write heartbeat = { timeout = 30, require = true }",
               what.c_str());
}

std::string resolve_cwd(const std::string& cwd, const std::string& base_dir) {
  if (cwd.empty() || cwd[0] == '/' || base_dir.empty()) return cwd;
  std::string out = (std::filesystem::path(base_dir) / cwd).lexically_normal().string();
  if (out.size() > 1 && out.back() == '/') out.pop_back();  // "." normalizes to "dir/"
  return out;
}

// Reads the table at `idx` into spec: a pool's fields, or with is_pool false the ones
// defaults{} may set. A command, a queue and a busy registry belong to one pool; inheriting
// them would only hide mistakes, so defaults{} refuses them by name.
void read_fields(lua_State* L, int idx, PoolSpec& spec, const std::string& what, const std::string& base_dir,
                 bool is_pool) {
  auto own = [&](const char* name, std::function<void()> read) {
    return Option{name, is_pool ? std::move(read) : std::function<void()>([&, name] {
      luaL_error(L, "%s: %s cannot be a default; give each pool its own", what.c_str(), name);
    }), is_pool};
  };
  auto number = [&](const char* field, double& out) {
    return [L, &what, field, p = &out] { *p = read_number(L, what, field); };
  };
  read_options(L, idx, what, nullptr, {
      own("cmd", [&] { spec.argv = read_argv(L, what); }),
      {"n", [&] { spec.n = read_count(L, what, "n", 0); }},
      {"cwd", [&] { spec.cwd = resolve_cwd(read_string(L, what, "cwd"), base_dir); }},
      {"env", [&] { read_env(L, what, spec.env); }},
      own("queue", [&] { spec.queue = read_string(L, what, "queue"); }),
      {"stop_signal", [&] {
         int type = lua_type(L, -1);
         if (type != LUA_TSTRING && type != LUA_TNUMBER)
           luaL_error(L, "%s: stop_signal must be a signal name or number, got %s", what.c_str(), luaL_typename(L, -1));
         lua_pushvalue(L, -1);  // lua_tostring converts a number in place: a copy keeps lua_next's key valid
         std::string name = lua_tostring(L, -1);
         lua_pop(L, 1);
         spec.stop_signal = signal_from_name(name);
         if (!spec.stop_signal) luaL_error(L, "%s: stop_signal '%s' is not a signal", what.c_str(), name.c_str());
       }},
      {"stop_to", [&] {
         std::string to = read_string(L, what, "stop_to");
         auto parsed = stop_to_from_name(to);
         if (!parsed)
           luaL_error(L, "%s: stop_to must be \"auto\", \"process\" or \"group\", got '%s'", what.c_str(), to.c_str());
         spec.stop_to = *parsed;
       }},
      {"grace", number("grace", spec.grace_s)},
      {"backoff", [&] {
         read_options(L, -1, what, "backoff", {
             {"initial", number("backoff.initial", spec.backoff.initial_s)},
             {"max", number("backoff.max", spec.backoff.max_s)},
             {"factor", number("backoff.factor", spec.backoff.factor)},
             {"reset_after", number("backoff.reset_after", spec.backoff.reset_after_s)},
         });
       }},
      {"flap", [&] {
         read_options(L, -1, what, "flap", {
             {"max_exits", [&] { spec.flap.max_exits = read_count(L, what, "flap.max_exits", 1); }},
             {"window", number("flap.window", spec.flap.window_s)},
             {"cooldown", number("flap.cooldown", spec.flap.cooldown_s)},
             {"give_up_after", [&] { spec.flap.give_up_after = read_count(L, what, "flap.give_up_after", 0); }},
         });
       }},
      {"heartbeat", [&] { read_heartbeat(L, what, spec.heartbeat); }},
      own("busy", [&] { spec.busy_registry = read_busy_registry(L, what); }),
      own("jobs", [&] { read_jobs(L, what, spec); }),
  });
}

int l_defaults(lua_State* L) {
  Loader& ld = loader_of(L);
  if (lua_type(L, 1) != LUA_TTABLE)
    luaL_error(L, "defaults: expected a table, as in defaults { grace = 10 }, got %s", luaL_typename(L, 1));
  PoolSpec next = ld.config.defaults;
  read_fields(L, 1, next, "defaults", ld.base_dir, /*is_pool=*/false);
  // Check the values here, so a bad default is reported at its own line rather than at
  // the first pool that inherits it.
  PoolSpec probe = next;
  probe.name = "x";
  probe.argv = {"x"};
  if (Status s = validate_pool_spec(probe, ld.limits); !s) {
    std::string msg = s.message();
    const std::string prefix = "pool \"x\": ";
    if (msg.rfind(prefix, 0) == 0) msg.erase(0, prefix.size());
    luaL_error(L, "defaults: %s", msg.c_str());
  }
  ld.config.defaults = std::move(next);
  return 0;
}

int l_pool_body(lua_State* L) {
  Loader& ld = loader_of(L);
  std::string name = lua_tostring(L, lua_upvalueindex(1));
  auto pending = static_cast<size_t>(lua_tointeger(L, lua_upvalueindex(2)));
  std::string what = fmt::format("pool \"{}\"", name);
  if (lua_type(L, 1) != LUA_TTABLE)
    luaL_error(L, "%s: expected a table, as in pool \"%s\" { cmd = ..., n = ... }, got %s", what.c_str(),
               name.c_str(), luaL_typename(L, 1));
  ld.pending[pending].defined = true;  // whatever follows, the name got its body
  PoolSpec spec = ld.config.defaults;
  spec.name = name;
  read_fields(L, 1, spec, what, ld.base_dir, /*is_pool=*/true);
  lua_getfield(L, 1, "cmd");
  if (lua_isnil(L, -1)) luaL_error(L, "%s: cmd is missing", what.c_str());
  lua_pop(L, 1);
  if (!ld.names.insert(name).second) luaL_error(L, "%s is defined twice", what.c_str());
  if (Status s = validate_pool_spec(spec, ld.limits); !s) luaL_error(L, "%s", s.message().c_str());
  ld.config.pools.push_back(std::move(spec));
  return 0;
}

// pool "name" { ... }: the name call returns the function that takes the body.
int l_pool(lua_State* L) {
  Loader& ld = loader_of(L);
  if (lua_type(L, 1) != LUA_TSTRING)
    luaL_error(L, "pool: expected a name, as in pool \"foo\" { ... }, got %s", luaL_typename(L, 1));
  luaL_where(L, 1);
  ld.pending.push_back({lua_tostring(L, 1), lua_tostring(L, -1)});
  lua_pop(L, 1);
  lua_pushvalue(L, 1);
  lua_pushinteger(L, static_cast<lua_Integer>(ld.pending.size() - 1));
  lua_pushcclosure(L, guarded<l_pool_body>, 2);
  return 1;
}

// schedule "name" { ... } in a config: recorded, defined in the job queue once the pools
// run (LoadedConfig::schedules). Checked here, so a bad one names its line.
int l_schedule_body(lua_State* L) {
  Loader& ld = loader_of(L);
  const std::string name = lua_tostring(L, lua_upvalueindex(1));
  jobs::Schedule s = read_schedule_table(L, 1, name);
  if (!ld.schedule_names.insert(name).second) luaL_error(L, "schedule \"%s\" is defined twice", name.c_str());
  ld.config.schedules.push_back(std::move(s));
  return 0;
}

int l_schedule(lua_State* L) {
  if (lua_type(L, 1) != LUA_TSTRING)
    luaL_error(L, "schedule: expected a name, as in schedule \"nightly\" { cron = \"0 3 * * *\", topic = ... }, got %s",
               luaL_typename(L, 1));
  lua_pushvalue(L, 1);
  lua_pushcclosure(L, guarded<l_schedule_body>, 1);
  return 1;
}

// no_pools(): this config defines no pool on purpose (see LoadedConfig::no_pools).
int l_no_pools(lua_State* L) {
  loader_of(L).config.no_pools = true;
  return 0;
}

// The standard library stays (string helpers, os.getenv are handy in a config), but a
// config must never end the process that loads it: reload() runs inside the live master.
int l_no_exit(lua_State* L) { return luaL_error(L, "os.exit is not available in a config file"); }

// What is wrong with a run that ended without an error: a pool name left without its body,
// or no_pools() next to a pool. Empty when nothing is.
std::string after_run_error(const Loader& ld, const std::string& label) {
  for (const auto& p : ld.pending)
    if (!p.defined)
      return fmt::format("{}pool \"{}\" has no definition; write pool \"{}\" {{ cmd = ..., n = ... }}", p.where,
                         p.name, p.name);
  if (ld.config.no_pools && !ld.config.pools.empty())
    return fmt::format("{}: no_pools() says this config defines no pool, but it defines pool \"{}\"", label,
                       ld.config.pools[0].name);
  return "";
}

void set_loader(lua_State* L, Loader* ld) {
  lua_pushlightuserdata(L, ld);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kLoaderKey);
}

int message_handler(lua_State* L) {
  // As lua.c's msghandler, without the traceback: the message already names file:line.
  if (lua_isstring(L, 1)) return 1;
  if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
  lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  return 1;
}

// `load_chunk` pushes the compiled chunk (or an error message) and returns a Lua status.
template <typename LoadChunk>
Result<LoadedConfig> load(LoadChunk load_chunk, const std::string& label, const std::string& base_dir,
                          const EngineLimits& limits) {
  Loader ld;
  ld.limits = limits;
  ld.base_dir = base_dir;
  ld.config.defaults.cwd = base_dir;  // pools run from the config file's directory
  // A config is code: bounded in memory and time, so a loop or a bomb in it cannot take
  // the master (or, on reload, its every later reload) with it.
  LuaMemory memory(lua_limit_settings().memory_bytes);
  lua_State* L = new_limited_state(memory);
  if (!L) return Status::io_error("cannot create a Lua state (out of memory)");
  std::string error;
  Status::Code code = Status::Code::kInvalidArgument;
  try {
    luaL_openlibs(L);
    set_loader(L, &ld);
    lua_register(L, "defaults", guarded<l_defaults>);
    lua_register(L, "pool", guarded<l_pool>);
    lua_register(L, "no_pools", l_no_pools);
    lua_register(L, "schedule", guarded<l_schedule>);
    install_policy_stubs(L, {base_dir, drover_data_dir()});
    lua_getglobal(L, "os");
    lua_pushcfunction(L, l_no_exit);
    lua_setfield(L, -2, "exit");
    lua_pop(L, 1);
    lua_pushcfunction(L, message_handler);
    // Line events: a config runs once, and a memory error then names its exact line.
    LuaRun run(L, &memory, lua_limit_settings().config_time_s, /*line_events=*/true);
    int status = load_chunk(L);
    if (status == LUA_OK) status = lua_pcall(L, 0, 0, -2);
    if (status != LUA_OK) {
      error = run.error_text(L, status);
      if (status == LUA_ERRFILE) code = Status::Code::kIoError;
    }
    if (error.empty()) error = after_run_error(ld, label);
  } catch (const std::exception& e) {
    error = e.what();
  }
  lua_close(L);
  if (!error.empty()) return code == Status::Code::kIoError ? Status::io_error(error) : Status::invalid(error);
  return std::move(ld.config);
}

}  // namespace

struct ConfigRecorder::Impl {
  Loader ld;
  std::string label;
};

ConfigRecorder::ConfigRecorder(lua_State* L, const std::string& path, const EngineLimits& limits)
    : L_(L), impl_(std::make_unique<Impl>()) {
  std::error_code ec;
  const std::string dir = std::filesystem::absolute(path, ec).parent_path().lexically_normal().string();
  impl_->ld.limits = limits;
  impl_->ld.base_dir = dir;
  impl_->ld.config.defaults.cwd = dir;  // pools run from the config file's directory
  impl_->label = path;
  set_loader(L_, &impl_->ld);
}

ConfigRecorder::~ConfigRecorder() { set_loader(L_, nullptr); }

void ConfigRecorder::install(int env_index) {
  env_index = lua_absindex(L_, env_index);
  lua_pushcfunction(L_, guarded<l_defaults>);
  lua_setfield(L_, env_index, "defaults");
  lua_pushcfunction(L_, guarded<l_pool>);
  lua_setfield(L_, env_index, "pool");
  lua_pushcfunction(L_, l_no_pools);
  lua_setfield(L_, env_index, "no_pools");
  lua_pushcfunction(L_, guarded<l_schedule>);
  lua_setfield(L_, env_index, "schedule");
}

Result<LoadedConfig> ConfigRecorder::finish() {
  if (std::string error = after_run_error(impl_->ld, impl_->label); !error.empty()) return Status::invalid(error);
  return std::move(impl_->ld.config);
}

Result<LoadedConfig> load_config_file(const std::string& path, const EngineLimits& limits) {
  std::error_code ec;
  std::string dir = std::filesystem::absolute(path, ec).parent_path().lexically_normal().string();
  // luaL_loadfile names the chunk "@path", so errors read "pools.lua:3: ...", a missing
  // file "cannot open pools.lua: No such file or directory"; it also skips a #! line.
  auto r = load([&path](lua_State* L) { return luaL_loadfile(L, path.c_str()); }, path, dir, limits);
  if (!r && r.error().code() == Status::Code::kIoError && !std::filesystem::exists(path, ec))
    return Status::not_found(r.error().message());
  return r;
}

Result<LoadedConfig> load_config_string(const std::string& text, const std::string& chunk_name,
                                        const EngineLimits& limits) {
  const std::string label = chunk_name.empty() || (chunk_name[0] != '=' && chunk_name[0] != '@') ? chunk_name
                                                                                                 : chunk_name.substr(1);
  return load([&](lua_State* L) { return luaL_loadbuffer(L, text.data(), text.size(), chunk_name.c_str()); }, label,
              "", limits);
}

}  // namespace drover
