// jobs.enqueue, jobs.get, jobs.list, jobs.stats, jobs.dead, jobs.retry, jobs.cancel,
// jobs.drop, jobs.tail: drover's own job queue (help/jobs.md), through the EngineClient like every
// command. A job is a table (its fields as the HTTP API names them) that prints as a line.
// fleet(): the hosts sharing the queue (help/fleet.md).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>

#include "engine/log_file.h"
#include "shell/autoscale/autoscaler.h"
#include "shell/lua/binding.h"
#include "shell/lua/lua_json.h"
#include "shell/lua/option_table.h"
#include "shell/lua/record_lua.h"
#include "shell/lua/shell_context.h"
#include "shell/lua/view.h"

namespace drover {

namespace {

using jobs::Job;
using jobs::JobState;

std::string short_text(std::string s, size_t max) {
  for (char& c : s)
    if (c == '\n') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s;
}

std::string job_line(const Job& j) {
  std::string line = fmt::format("#{} {} {} attempt {}/{}", j.id, j.topic, jobs::job_state_name(j.state), j.attempt,
                                 j.max_attempts);
  if (j.children) line = fmt::format("#{} {} {} fan-out of {}", j.id, j.topic, jobs::job_state_name(j.state), j.children);
  if (j.parent) line += fmt::format(" (of #{})", j.parent);
  if (j.finished_ms && j.started_ms) line += fmt::format(" {:.1f}s", (j.finished_ms - j.started_ms) / 1000.0);
  if (j.state == JobState::kDone && !j.result.empty()) line += "  " + short_text(j.result, 60);
  else if (!j.error.empty()) line += "  " + short_text(j.error, 60);
  return line;
}

void push_job(lua_State* L, const Job& j) {
  push_record(L, j);  // its fields as api/records.h describes them
  attach_view(L, job_line(j));
}

void push_jobs(lua_State* L, const std::vector<Job>& list) {
  lua_createtable(L, static_cast<int>(list.size()), 0);
  std::string view;
  for (size_t i = 0; i < list.size(); ++i) {
    push_job(L, list[i]);
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
    view += job_line(list[i]) + "\n";
  }
  if (view.empty()) view = "(no jobs)\n";
  view.pop_back();
  attach_view(L, view);
}

jobs::JobId id_arg(lua_State* L, int arg) {
  if (!lua_isinteger(L, arg) || lua_tointeger(L, arg) < 1) luaL_typeerror(L, arg, "job id (a whole number >= 1)");
  return lua_tointeger(L, arg);
}

// opts of jobs.enqueue: every field checked, an unknown one named.
jobs::JobRequest read_enqueue_opts(lua_State* L, int arg, jobs::JobRequest r) {
  if (lua_isnoneornil(L, arg)) return r;
  luaL_checktype(L, arg, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, arg)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_error(L, "jobs.enqueue: options take names (priority, delay, attempts, timeout, key, topic)");
    const std::string key = lua_tostring(L, -2);
    auto number = [&](const char* what) {
      if (!lua_isnumber(L, -1)) luaL_error(L, "jobs.enqueue: %s must be a number, got %s", what, luaL_typename(L, -1));
      return lua_tonumber(L, -1);
    };
    auto whole = [&](const char* what) {
      if (!lua_isinteger(L, -1)) luaL_error(L, "jobs.enqueue: %s must be a whole number, got %s", what, luaL_tolstring(L, -1, nullptr));
      return lua_tointeger(L, -1);
    };
    if (key == "priority") r.priority = static_cast<int>(whole("priority"));
    else if (key == "delay") r.delay_s = number("delay");
    else if (key == "attempts") r.max_attempts = static_cast<int>(whole("attempts"));
    else if (key == "timeout") r.timeout_s = number("timeout");
    else if (key == "key" || (key == "topic" && !r.topics.empty())) {
      if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "jobs.enqueue: %s must be a string", key.c_str());
      (key == "key" ? r.key : r.topic) = lua_tostring(L, -1);
    } else {
      luaL_error(L, "jobs.enqueue: \"%s\" is not an option (priority, delay, attempts, timeout, key); with a "
                 "list of topics also topic", key.c_str());
    }
    lua_settop(L, lua_gettop(L) - 1);
  }
  return r;
}

int l_enqueue(lua_State* L) {
  return guarded(L, [L] {
    jobs::JobRequest r;
    if (lua_type(L, 1) == LUA_TTABLE) {
      // A fan-out: one child job per topic; opts.topic names the parent.
      const lua_Integer n = luaL_len(L, 1);
      if (n < 1) luaL_argerror(L, 1, "a list of one or more topics");
      for (lua_Integer i = 1; i <= n; ++i) {
        if (lua_geti(L, 1, i) != LUA_TSTRING) luaL_argerror(L, 1, "a list of topics (strings)");
        r.topics.push_back(lua_tostring(L, -1));
        lua_pop(L, 1);
      }
    } else {
      r.topic = luaL_checkstring(L, 1);
    }
    if (!lua_isnoneornil(L, 2)) r.args = checked(L, lua_to_json(L, 2, "args"));
    r = read_enqueue_opts(L, 3, std::move(r));
    auto made = checked(L, shell_context_of(L).client.enqueue_jobs({std::move(r)}));
    push_job(L, made.front());
    return 1;
  });
}

int l_get(lua_State* L) {
  return guarded(L, [L] {
    push_job(L, checked(L, shell_context_of(L).client.job(id_arg(L, 1))));
    return 1;
  });
}

jobs::JobFilter read_filter(lua_State* L, int arg) {
  jobs::JobFilter f;
  if (lua_isnoneornil(L, arg)) return f;
  luaL_checktype(L, arg, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, arg)) {
    const std::string key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
    if (key == "topic" && lua_type(L, -1) == LUA_TSTRING) {
      f.topic = lua_tostring(L, -1);
    } else if (key == "state" && lua_type(L, -1) == LUA_TSTRING) {
      f.state = jobs::job_state_from_name(lua_tostring(L, -1));
      if (!f.state)
        luaL_error(L, "jobs.list: state \"%s\" is not one of queued, running, done, failed, dead, cancelled",
                   lua_tostring(L, -1));
    } else if (key == "limit" && lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
      f.limit = static_cast<size_t>(lua_tointeger(L, -1));
    } else if (key == "after" && lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0) {
      f.after = lua_tointeger(L, -1);
    } else if (key == "key" && lua_type(L, -1) == LUA_TSTRING) {
      f.key = lua_tostring(L, -1);
    } else if (key == "parent" && lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
      f.parent = lua_tointeger(L, -1);
    } else {
      luaL_error(L, "jobs.list: %s = %s is not a filter (topic = NAME, state = NAME, limit = N >= 1, after = ID, "
                 "parent = ID, key = KEY)",
                 key.c_str(), luaL_tolstring(L, -1, nullptr));
    }
    lua_settop(L, lua_gettop(L) - 1);
  }
  return f;
}

int l_list(lua_State* L) {
  return guarded(L, [L] {
    push_jobs(L, checked(L, shell_context_of(L).client.list_jobs(read_filter(L, 1))));
    return 1;
  });
}

int l_dead(lua_State* L) {
  return guarded(L, [L] {
    jobs::JobFilter f;
    f.state = JobState::kDead;
    f.topic = opt_pool_arg(L, 1);
    push_jobs(L, checked(L, shell_context_of(L).client.list_jobs(f)));
    return 1;
  });
}

int l_stats(lua_State* L) {
  return guarded(L, [L] {
    const auto stats = checked(L, shell_context_of(L).client.job_stats());
    lua_createtable(L, 0, static_cast<int>(stats.size()));
    std::string view = fmt::format("{:<16} {:>7} {:>9} {:>7} {:>7} {:>7} {:>6} {:>9} {:>8}\n", "topic", "queued",
                                   "scheduled", "running", "done", "failed", "dead", "cancelled", "oldest");
    for (const auto& t : stats) {
      push_record(L, t);
      // taskqueue's queue sizes: its input queue holds what waits (retries included), its
      // work queue what runs, its dead queue what ran out of attempts.
      set_integer(L, "input_queue_size", t.queued + t.scheduled + t.failed);
      set_integer(L, "work_queue_size", t.running);
      set_integer(L, "dead_queue_size", t.dead);
      lua_setfield(L, -2, t.topic.c_str());
      view += fmt::format("{:<16} {:>7} {:>9} {:>7} {:>7} {:>7} {:>6} {:>9} {:>8}\n", t.topic, t.queued, t.scheduled,
                          t.running, t.done, t.failed, t.dead, t.cancelled,
                          t.queued ? format_age(t.oldest_age_s) : "-");
    }
    if (stats.empty()) view = "(no jobs)\n";
    view.pop_back();
    attach_view(L, view);
    return 1;
  });
}

bool is_job_event(EventKind k) {
  return k == EventKind::kJobsEnqueued || k == EventKind::kJobDone || k == EventKind::kJobRetrying ||
         k == EventKind::kJobDead || k == EventKind::kJobCancelled;
}

// "12:04:05 resize job-done: job 17 (attempt 1, 0.4s)"; failures in colour.
std::string job_event_line(const Event& e, bool color) {
  std::string line = fmt::format("{} {} {}: {}", format_timestamp(e.wall_ms).substr(11, 8), e.pool,
                                 event_kind_name(e.kind), e.text);
  if (!color) return line;
  if (e.kind == EventKind::kJobDead) return "\x1b[31m" + line + "\x1b[0m";
  if (e.kind == EventKind::kJobRetrying) return "\x1b[33m" + line + "\x1b[0m";
  return line;
}

// Follows the job events (of one topic) until Ctrl-C, as log.tail follows output; the
// Lua lock is let go while it waits, so policies and timers run meanwhile.
// "quick 3/3, slow 0/3": a host's pools as it last renewed, running/size.
std::string pools_line(const std::string& json_text) {
  const auto pools = nlohmann::json::parse(json_text, nullptr, false);
  if (!pools.is_array()) return "?";
  std::string line;
  for (const auto& p : pools) {
    if (!p.is_object()) continue;
    if (!line.empty()) line += ", ";
    line += fmt::format("{} {}/{}", p.value("name", "?"), p.value("running", 0), p.value("size", 0));
  }
  return line.empty() ? "-" : line;
}

int l_fleet(lua_State* L) {
  return guarded(L, [L] {
    const auto fleet = checked(L, shell_context_of(L).client.fleet());
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    lua_createtable(L, 0, 2);
    std::string view = fmt::format("{:<16} {:>8} {:<22} {:>7} {:>6}  {}\n", "host", "pid", "http", "running", "lease",
                                   "pools (running/size)");
    lua_createtable(L, 0, static_cast<int>(fleet.hosts.size()));
    for (const auto& h : fleet.hosts) {
      push_record(L, h);
      lua_setfield(L, -2, h.name.c_str());
      view += fmt::format("{:<16} {:>8} {:<22} {:>7} {:>6}  {}\n", h.name, h.pid, h.http.empty() ? "-" : h.http,
                          h.running_jobs,
                          h.lease_until_ms ? fmt::format("{:.1f}s", (h.lease_until_ms - now) / 1000.0) : "-",
                          pools_line(h.pools));
    }
    lua_setfield(L, -2, "hosts");
    lua_createtable(L, 0, static_cast<int>(fleet.topics.size()));
    view += fmt::format("{:<16} {:>7} {:>9} {:>7} {:>6} {:>8}\n", "topic", "queued", "scheduled", "running", "dead",
                        "oldest");
    for (const auto& t : fleet.topics) {
      push_record(L, t);
      lua_setfield(L, -2, t.topic.c_str());
      view += fmt::format("{:<16} {:>7} {:>9} {:>7} {:>6} {:>8}\n", t.topic, t.queued, t.scheduled, t.running, t.dead,
                          t.queued ? format_age(t.oldest_age_s) : "-");
    }
    lua_setfield(L, -2, "topics");
    view.pop_back();
    attach_view(L, view);
    return 1;
  });
}

int l_tail(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    const std::optional<std::string> topic = opt_pool_arg(L, 1);
    auto sub = ctx.client.subscribe(10000, {.events = true, .log_lines = false});
    fmt::print(ctx.out, "following job events{} (Ctrl-C to stop)\n", topic ? " of " + *topic : "");
    std::fflush(ctx.out);
    while (!ctx.interrupted) {
      std::optional<EngineItem> item;
      {
        LuaUnlocked waiting(ctx.lua_lock);
        item = sub->pop(std::chrono::milliseconds(100));
      }
      if (!item) {
        if (sub->closed()) break;  // the engine (or the attached drover) has gone
        continue;
      }
      const Event* e = std::get_if<Event>(&*item);
      if (!e || !is_job_event(e->kind) || (topic && e->pool != *topic)) continue;
      fmt::print(ctx.out, "{}\n", job_event_line(*e, ctx.color));
      std::fflush(ctx.out);
    }
    sub->close();
    consume_interrupt(L);
    return 0;
  });
}

int l_retry(lua_State* L) {
  return guarded(L, [L] {
    EngineClient& c = shell_context_of(L).client;
    if (lua_type(L, 1) == LUA_TSTRING && std::string(lua_tostring(L, 1)) == "all") {
      lua_pushinteger(L, static_cast<lua_Integer>(checked(L, c.retry_dead_jobs(opt_pool_arg(L, 2)))));
      return 1;
    }
    push_job(L, checked(L, c.retry_job(id_arg(L, 1))));
    return 1;
  });
}

int l_cancel(lua_State* L) {
  return guarded(L, [L] {
    push_job(L, checked(L, shell_context_of(L).client.cancel_job(id_arg(L, 1))));
    return 1;
  });
}

int l_drop(lua_State* L) {
  return guarded(L, [L] {
    check_status(L, shell_context_of(L).client.drop_job(id_arg(L, 1)));
    lua_pushboolean(L, 1);
    return 1;
  });
}

// jobs{store, durability, keep, keep_for, host, lease}: where the queue is kept and how, in
// the config (main reads it once, where the command line says nothing). Every field
// checked, an unknown one named; on a reload only the same settings again.
int l_jobs_settings(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    jobs::JobSettings s;
    auto checked_text = [L](const char* field, Status (*check)(const std::string&)) {
      std::string v = read_string(L, "jobs", field);
      if (Status st = check(v); !st) luaL_error(L, "jobs{}: %s: %s", field, st.message().c_str());
      return v;
    };
    read_options(L, 1, "jobs", nullptr,
                 {{"store", [&] { s.store = checked_text("store", jobs::check_store_url); }},
                  {"durability", [&] { s.durability = checked_text("durability", jobs::check_durability); }},
                  {"keep", [&] { s.keep = static_cast<size_t>(read_count_in(L, "jobs", "keep", 0, 100000000)); }},
                  {"keep_for", [&] { s.keep_for_s = read_number_in(L, "jobs", "keep_for", 0, 10 * 365 * 86400.0); }},
                  {"host", [&] { s.host = checked_text("host", jobs::check_host_name); }},
                  {"lease", [&] { s.lease_s = read_number_in(L, "jobs", "lease", 0.3, 3600); }}});
    if (ctx.jobs_settings_read && !(s == ctx.jobs_settings))
      luaL_error(L, "jobs{}: the job queue's settings are read once, when drover starts: restart it to change them");
    ctx.jobs_settings = s;
    return 0;
  });
}

// jobs.retry_delay(topic, fn): fn(job) returns the seconds a failed attempt of topic waits
// before its next (nil: the default backoff); jobs.retry_delay(topic, nil) removes it.
int l_retry_delay(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    const std::string topic = luaL_checkstring(L, 1);
    if (topic.empty() || topic.size() > jobs::kMaxTopicBytes) luaL_argerror(L, 1, "a topic (a jobs pool's name)");
    if (!ctx.autoscaler)
      luaL_error(L, "jobs.retry_delay: a retry delay function runs where the queue is; define it in the config of "
                    "the drover that holds it");
    if (lua_isnoneornil(L, 2)) {
      lua_pushboolean(L, ctx.autoscaler->remove_retry_delay(topic));
      return 1;
    }
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    const int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    check_status(L, ctx.autoscaler->set_retry_delay(topic, ref, ctx.loading.empty() ? "" : ctx.loading.back()));
    lua_pushboolean(L, 1);
    return 1;
  });
}

const Binding kBindings[] = {
    {"jobs", "jobs{store, durability, keep, keep_for, host, lease}",
     "drover's own job queue: where it is kept and how (in the config); jobs.* below use it", l_jobs_settings},
    {"jobs.enqueue", "jobs.enqueue(topic | {topics}, args, {priority, delay, attempts, key, ...})",
     "queue a job for the jobs pool named topic, or one for each of several (a fan-out); returns it", l_enqueue},
    {"jobs.get", "jobs.get(id)", "one job: its state, attempts, times, result or error", l_get},
    {"jobs.list", "jobs.list{topic, state, limit, after, parent, key}", "jobs oldest first, filtered, a page at a time", l_list},
    {"jobs.stats", "jobs.stats()", "per topic: queued, scheduled, running, done, failed, dead, oldest wait", l_stats},
    {"jobs.dead", "jobs.dead(topic)", "the jobs out of attempts", l_dead},
    {"jobs.retry", "jobs.retry(id | \"all\", topic)", "a dead, failed or cancelled job queued again; \"all\": every dead one",
     l_retry},
    {"jobs.cancel", "jobs.cancel(id)", "a waiting job cancelled, a running one stopped", l_cancel},
    {"jobs.drop", "jobs.drop(id)", "a finished job deleted", l_drop},
    {"jobs.retry_delay", "jobs.retry_delay(topic, function(job) return seconds end)",
     "how long the topic's failed attempts wait before the next one (nil: the default backoff)", l_retry_delay},
    {"jobs.tail", "jobs.tail(topic)", "follow job events (enqueued, done, retrying, dead, cancelled) until Ctrl-C",
     l_tail},
    {"fleet", "fleet()", "the hosts sharing the job queue: pools and sizes, running jobs, lease; queue per topic",
     l_fleet},
};

}  // namespace

std::span<const Binding> jobs_bindings() { return kBindings; }

}  // namespace drover
