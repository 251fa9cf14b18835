// autoscale, budget, every, the queue probes (redis, command, fn), load and unload: the
// shell's side of autoscaling. Each binding checks its arguments and hands plain values
// to the Autoscaler (shell/autoscale/autoscaler.h), which runs the policies.
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "autoscale/command_probe.h"
#include "autoscale/redis_probe.h"
#include "shell/autoscale/autoscaler.h"
#include "shell/lua/binding.h"
#include "shell/lua/option_table.h"
#include "shell/lua/record_lua.h"
#include "shell/lua/script_loader.h"
#include "shell/lua/shell_context.h"
#include "shell/lua/view.h"

namespace drover {

namespace {

constexpr const char* kProbeMeta = "drover.probe";

Autoscaler& autoscaler_of(lua_State* L, ShellContext& ctx) {
  if (!ctx.autoscaler) luaL_error(L, "autoscaling is not available in this shell");
  return *ctx.autoscaler;
}

std::string owner_of(const ShellContext& ctx) { return ctx.loading.empty() ? "" : ctx.loading.back(); }

// A number field of the table at idx within [lo, hi], or def when absent: what a probe
// table made by redis{} or command{} holds (the user's tables go through read_options).
double number_field(lua_State* L, int idx, const char* key, const std::string& what, double def, double lo,
                    double hi) {
  if (lua_getfield(L, idx, key) == LUA_TNIL) {
    lua_pop(L, 1);
    return def;
  }
  const double v = read_number_in(L, what, key, lo, hi);
  lua_pop(L, 1);
  return v;
}

// A probe value: a table made by redis{}, command() or fn(), with the probe metatable.
bool is_probe(lua_State* L, int idx) {
  if (!lua_getmetatable(L, idx)) return false;
  luaL_getmetatable(L, kProbeMeta);
  const bool same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return same;
}

std::string string_field(lua_State* L, int idx, const char* key) {
  lua_getfield(L, idx, key);
  std::string v = lua_isstring(L, -1) ? lua_tostring(L, -1) : "";
  lua_pop(L, 1);
  return v;
}

// Reads `queue = ...` (the table at idx) into spec: a Redis or command probe, or a Lua fn.
void read_queue(lua_State* L, int idx, AutoscaleSpec& spec, const std::string& what) {
  if (lua_type(L, idx) == LUA_TFUNCTION) {
    lua_pushvalue(L, idx);
    spec.probe_fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return;
  }
  if (!lua_istable(L, idx) || !is_probe(L, idx))
    luaL_error(L, "%s: queue must be redis{...}, command \"...\" or fn(function), got %s", what.c_str(),
               luaL_typename(L, idx));
  const std::string kind = string_field(L, idx, "kind");
  if (kind == "fn") {
    lua_getfield(L, idx, "fn");
    spec.probe_fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return;
  }
  Result<std::unique_ptr<QueueProbe>> probe = Status::invalid("unknown probe");
  if (kind == "redis") {
    RedisQueueSpec r;
    r.url = string_field(L, idx, "url");
    auto layout = queue_layout_from_name(string_field(L, idx, "layout"));
    if (!layout) luaL_error(L, "%s: %s", what.c_str(), layout.error().message().c_str());
    r.layout = *layout;
    r.name = string_field(L, idx, "name");
    if (std::string ns = string_field(L, idx, "namespace"); !ns.empty()) r.ns = ns;
    r.timeout_s = number_field(L, idx, "timeout", what + ": redis", 1.0, 0.001, 3600);
    probe = make_redis_probe(r);
    // The queue system's own records of its workers: busy states for scale-down.
    if (r.layout != QueueLayout::kKey) spec.registry = WorkerRegistrySpec{r.url, r.layout, r.ns, r.timeout_s, ""};
  } else if (kind == "command") {
    const double timeout = number_field(L, idx, "timeout", what + ": command", 5.0, 0.001, 3600);
    probe = make_command_probe(string_field(L, idx, "cmd"), timeout);
  }
  if (!probe) luaL_error(L, "%s: queue: %s", what.c_str(), probe.error().message().c_str());
  spec.probe = std::move(*probe);
}

// autoscale("foo", {...}) once both halves are known.
int define(lua_State* L, const std::string& pool, int idx) {
  ShellContext& ctx = shell_context_of(L);
  // A policy belongs with the pools it sizes: one defined here would stop scaling the
  // moment this shell detached, and the host's autoscale.list() would not show it.
  if (ctx.client.remote())
    luaL_error(L, "autoscale \"%s\": policies run on the drover host: define it in its config (or a file it "
               "loads) and reload there", pool.c_str());
  Autoscaler& as = autoscaler_of(L, ctx);
  const std::string what = fmt::format("autoscale \"{}\"", pool);
  luaL_checktype(L, idx, LUA_TTABLE);
  AutoscaleSpec spec;
  spec.pool = pool;
  spec.owner = owner_of(ctx);
  spec.every_s = 5;
  spec.time_budget_s = kDefaultPolicyBudget;
  spec.limits.cooldown_s = 30;
  std::optional<int> max, min;
  auto count = [&](const char* field, int& out) {
    return [L, &what, field, p = &out] { *p = read_count_in(L, what, field, 0, kDefaultMaxWorkers); };
  };
  read_options(L, idx, what, nullptr, {
      {"cooldown", [&] { spec.limits.cooldown_s = read_number_in(L, what, "cooldown", 0, 86400); }},
      {"every", [&] { spec.every_s = read_number_in(L, what, "every", 0.1, 3600); }},
      {"max", [&] { max = read_count_in(L, what, "max", 0, kDefaultMaxWorkers); }},
      {"min", [&] { min = read_count_in(L, what, "min", 0, kDefaultMaxWorkers); }},
      {"policy", [] {}},  // a function; it and the queue are taken below, once nothing more can raise
      {"queue", [] {}},
      {"step_down", count("step_down", spec.limits.max_step_down)},
      {"step_up", count("step_up", spec.limits.max_step_up)},
      {"timeout", [&] { spec.time_budget_s = read_number_in(L, what, "timeout", 0.001, 10); }},
  });
  if (ctx.config_autoscaled) {
    // A config file runs: its pools exist once it is applied, and are checked then.
    luaL_where(L, 1);
    ctx.config_autoscaled->emplace_back(pool, lua_tostring(L, -1));
    lua_pop(L, 1);
  } else if (const EngineSnapshot snap = checked(L, ctx.client.snapshot()); !snap.find(pool)) {
    std::string names;
    for (const auto& p : snap.pools) names += (names.empty() ? "" : ", ") + p.spec.name;
    luaL_error(L, "%s: no such pool (pools: %s)", what.c_str(), names.empty() ? "none" : names.c_str());
  }
  if (!max) luaL_error(L, "%s: max is required: the most workers the policy may ask for", what.c_str());
  spec.limits.max = *max;
  spec.limits.min = min ? *min : std::min(1, *max);
  if (Status s = validate_scale_limits(spec.limits); !s) luaL_error(L, "%s: %s", what.c_str(), s.message().c_str());
  if (lua_getfield(L, idx, "policy") != LUA_TFUNCTION)
    luaL_error(L, "%s: policy must be a function(m) returning a number of workers, got %s", what.c_str(),
               luaL_typename(L, -1));
  // Refs are taken last, once nothing more can raise: an error leaks none.
  const int queue_type = lua_getfield(L, idx, "queue");
  if (queue_type != LUA_TNIL) read_queue(L, lua_gettop(L), spec, what);
  lua_pop(L, 1);
  spec.policy_ref = luaL_ref(L, LUA_REGISTRYINDEX);  // pops the policy
  as.add(std::move(spec));
  lua_pushboolean(L, 1);
  return 1;
}

int l_autoscale_body(lua_State* L) {
  return guarded(L, [L] { return define(L, lua_tostring(L, lua_upvalueindex(1)), 1); });
}

int l_autoscale(lua_State* L) {
  return guarded(L, [L] {
    const std::string pool = luaL_checkstring(L, 1);
    if (!lua_isnoneornil(L, 2)) return define(L, pool, 2);
    lua_pushvalue(L, 1);  // autoscale "foo" { ... }: the body comes in a second call
    lua_pushcclosure(L, l_autoscale_body, 1);
    return 1;
  });
}

std::string render_list(const std::vector<AutoscaleInfo>& list, int budget, size_t timers) {
  if (list.empty() && timers == 0) return "no autoscale policies\n";
  std::string out = fmt::format("{:<12} {:>6} {:>9} {:>7} {:>6}  {}\n", "pool", "every", "min..max", "queue", "last", "state");
  for (const auto& i : list) {
    std::string state = !i.enabled ? "off" : i.suspended ? "suspended: " + i.last_error
                                          : i.errors_in_row ? fmt::format("erring ({}): {}", i.errors_in_row, i.last_error)
                                                            : "on";
    if (!i.last_reason.empty() && i.enabled && !i.suspended) state += "  (" + i.last_reason + ")";
    out += fmt::format("{:<12} {:>5}s {:>9} {:>7} {:>6}  {}\n", i.pool, fmt::format("{:g}", i.every_s),
                       fmt::format("{}..{}", i.limits.min, i.limits.max), i.queue ? fmt::format("{:g}", *i.queue) : "-",
                       i.last_recommended < 0 ? "-" : std::to_string(i.last_recommended), state);
  }
  if (budget > 0) out += fmt::format("budget: {} workers in all\n", budget);
  if (timers) out += fmt::format("{} every() timer{}\n", timers, timers == 1 ? "" : "s");
  return out;
}

int l_autoscale_list(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    const AutoscaleView view = checked(L, ctx.client.autoscale());
    const auto& list = view.policies;
    lua_createtable(L, static_cast<int>(list.size()), 0);
    for (size_t k = 0; k < list.size(); ++k) {
      push_record(L, list[k]);  // its fields as api/records.h describes them
      lua_rawseti(L, -2, static_cast<lua_Integer>(k + 1));
    }
    attach_view(L, render_list(list, view.budget, static_cast<size_t>(view.timers)));
    return 1;
  });
}

int switch_policy(lua_State* L, bool on) {
  return guarded(L, [L, on] {
    ShellContext& ctx = shell_context_of(L);
    const std::string pool = luaL_checkstring(L, 1);
    const Status st = ctx.client.set_autoscale(pool, on);
    if (st.code() != Status::Code::kNotFound) check_status(L, st);
    else
      return luaL_error(L, "autoscale.%s: no policy for \"%s\" (autoscale.list() shows them)", on ? "on" : "off",
                        pool.c_str());
    lua_pushboolean(L, 1);
    return 1;
  });
}
int l_autoscale_on(lua_State* L) { return switch_policy(L, true); }
int l_autoscale_off(lua_State* L) { return switch_policy(L, false); }

int l_autoscale_cancel(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    const lua_Integer id = luaL_checkinteger(L, 1);
    lua_pushboolean(L, autoscaler_of(L, ctx).cancel_timer(static_cast<int>(id)));
    return 1;
  });
}

int l_budget(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    if (ctx.client.remote()) {
      // The host's budget, read through the API; it is set where its policies run.
      if (!lua_isnoneornil(L, 1)) luaL_error(L, "budget{}: the budget is set on the drover host, in its config");
      const int budget = checked(L, ctx.client.autoscale()).budget;
      if (budget > 0) lua_pushinteger(L, budget);
      else lua_pushnil(L);
      return 1;
    }
    Autoscaler& as = autoscaler_of(L, ctx);
    if (!lua_isnoneornil(L, 1)) {
      luaL_checktype(L, 1, LUA_TTABLE);
      int budget = 0;  // max_workers = false (or 0, or none) lifts the budget
      bool fleet = false;
      read_options(L, 1, "budget", nullptr,
                   {{"max_workers",
                     [&] {
                       if (!lua_isboolean(L, -1) || lua_toboolean(L, -1))
                         budget = read_count_in(L, "budget", "max_workers", 0, 1000000);
                     }},
                    {"scope", [&] {
                       const std::string scope = read_string(L, "budget", "scope");
                       if (scope != "host" && scope != "fleet")
                         luaL_error(L, "budget{}: scope must be \"host\" (this drover's pools) or \"fleet\" (every host "
                                       "sharing the job store), got \"%s\"", scope.c_str());
                       fleet = scope == "fleet";
                     }}});
      as.set_budget(budget, fleet);
    }
    if (as.budget() > 0) lua_pushinteger(L, as.budget());
    else lua_pushnil(L);
    return 1;
  });
}

int l_every(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    Autoscaler& as = autoscaler_of(L, ctx);
    const double secs = luaL_checknumber(L, 1);
    if (!(secs >= 0.1 && secs <= 86400)) luaL_argerror(L, 1, "seconds in [0.1, 86400]");
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    const int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushinteger(L, as.add_timer(secs, ref, owner_of(ctx)));
    return 1;
  });
}

void push_probe(lua_State* L) {  // the table on top becomes a probe value
  luaL_newmetatable(L, kProbeMeta);
  lua_setmetatable(L, -2);
}

int l_redis(lua_State* L) {
  return guarded(L, [L] {
    luaL_checktype(L, 1, LUA_TTABLE);
    std::string layout, name, url = "redis://127.0.0.1:6379/0", ns;
    std::optional<double> timeout;
    auto queue = [&](const char* l) {
      return Option{l, [&, l] {
        if (!layout.empty()) luaL_error(L, "redis: give one of resque, rq, sidekiq, celery, key; got %s and %s", layout.c_str(), l);
        if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "redis: %s must be a queue name, got %s", l, luaL_typename(L, -1));
        layout = l;
        name = lua_tostring(L, -1);
      }};
    };
    read_options(L, 1, "redis", nullptr, {
        queue("celery"), queue("key"),
        {"namespace", [&] { ns = read_string(L, "redis", "namespace"); }},
        queue("resque"), queue("rq"), queue("sidekiq"),
        {"timeout", [&] { timeout = read_number_in(L, "redis", "timeout", 0.01, 60); }},
        {"url", [&] {
           if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "redis: url must be a string");
           url = lua_tostring(L, -1);
         }},
    });
    if (layout.empty()) luaL_error(L, "redis: name the queue: redis{ rq = \"default\" } (or resque, sidekiq, celery, key)");
    if (auto a = parse_redis_url(url); !a) luaL_error(L, "redis: %s", a.error().message().c_str());
    lua_createtable(L, 0, 6);
    set_string(L, "kind", "redis");
    set_string(L, "name", name);
    set_string(L, "layout", layout);
    set_string(L, "url", url);
    if (!ns.empty()) set_string(L, "namespace", ns);
    if (timeout) {
      lua_pushnumber(L, *timeout);
      lua_setfield(L, -2, "timeout");
    }
    push_probe(L);
    return 1;
  });
}

int l_command(lua_State* L) {
  return guarded(L, [L] {
    lua_createtable(L, 0, 3);
    lua_pushstring(L, "command");
    lua_setfield(L, -2, "kind");
    if (lua_type(L, 1) == LUA_TSTRING) {
      lua_pushvalue(L, 1);
    } else {
      luaL_checktype(L, 1, LUA_TTABLE);  // command{ "redis-cli llen q", timeout = 2 }
      number_field(L, 1, "timeout", "command", 5, 0.01, 3600);
      lua_getfield(L, 1, "timeout");
      lua_setfield(L, -2, "timeout");
      lua_rawgeti(L, 1, 1);
      if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "command: give the command line: command \"redis-cli llen q\"");
    }
    lua_setfield(L, -2, "cmd");
    push_probe(L);
    return 1;
  });
}

int l_fn(lua_State* L) {
  return guarded(L, [L] {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_createtable(L, 0, 2);
    lua_pushstring(L, "fn");
    lua_setfield(L, -2, "kind");
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "fn");
    push_probe(L);
    return 1;
  });
}

// Keeps ctx.loading in step even when the script raises (Lua errors unwind as exceptions).
struct Loading {
  Loading(ShellContext& c, std::string path) : ctx(c) { ctx.loading.push_back(std::move(path)); }
  ~Loading() { ctx.loading.pop_back(); }
  ShellContext& ctx;
};

int l_load(lua_State* L) {
  if (!is_script_path(L, 1)) return call_builtin_load(L);
  ShellContext& ctx = shell_context_of(L);
  const std::string path = lua_tostring(L, 1);
  const std::vector<std::string> dirs = script_dirs(L);
  const std::string found = resolve_script(path, dirs);
  if (found.empty()) return luaL_error(L, "%s", no_script_message(path, dirs).c_str());
  lua_settop(L, 0);
  Loading loading(ctx, found);
  return run_script(L, found);
}

int l_unload(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    const std::string path = luaL_checkstring(L, 1);
    std::string found = resolve_script(path, script_dirs(L));
    if (found.empty()) found = path;  // deleted since: its owner name is still the path
    lua_pushinteger(L, autoscaler_of(L, ctx).unload(found));
    return 1;
  });
}

const Binding kBindings[] = {
    {"autoscale", "autoscale \"pool\" { max = N, policy = fn, queue = probe, ... }",
     "size a pool by a Lua policy of live load and queue depth", l_autoscale},
    {"autoscale.list", "autoscale.list()", "the policies, their limits, last answers and errors", l_autoscale_list},
    {"autoscale.on", "autoscale.on(pool)", "resume a pool's policy (clears its errors)", l_autoscale_on},
    {"autoscale.off", "autoscale.off(pool)", "pause a pool's policy; the pool keeps its size", l_autoscale_off},
    {"autoscale.cancel", "autoscale.cancel(id)", "cancel an every() timer", l_autoscale_cancel},
    {"budget", "budget{max_workers = N, scope}", "cap the sum of all pools' sizes that policies may reach", l_budget},
    {"every", "every(seconds, fn)", "call fn on a timer, off the engine's thread, under a time budget", l_every},
    {"redis", "redis{ url = URL, rq = NAME }", "a queue-depth probe on a Redis queue (resque, rq, sidekiq, celery, key)",
     l_redis},
    {"command", "command \"line\"", "a queue-depth probe: a command whose output is a number", l_command},
    {"fn", "fn(function)", "a queue-depth probe written in Lua", l_fn},
    {"load", "load \"name\"", "run a shipped policy or a Lua script and return what it returns", l_load},
    {"unload", "unload \"file.lua\"", "remove the policies and timers a script defined", l_unload},
};

}  // namespace

std::span<const Binding> autoscale_bindings() { return kBindings; }

}  // namespace drover
