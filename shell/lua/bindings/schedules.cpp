// schedule "name" {...}, schedule.on/off/run_now/drop, schedules(): drover's schedules
// (help/schedule.md, help/schedules.md), through the EngineClient like every command, so
// `drover attach` runs them against the remote drover. A schedule is a table (its fields
// as the HTTP API names them) that prints as a line; schedules() prints a table.
#include <fmt/format.h>

#include "engine/log_file.h"
#include "shell/lua/binding.h"
#include "shell/lua/record_lua.h"
#include "shell/lua/schedule_table.h"
#include "shell/lua/shell_context.h"
#include "shell/lua/view.h"

namespace drover {

namespace {

using jobs::ScheduleState;

// "2026-12-04 03:00:00" (UTC, as the log's stamps), or "-".
std::string when_text(int64_t ms) { return ms > 0 ? format_timestamp(ms).substr(0, 19).replace(10, 1, " ") : "-"; }

std::string schedule_line(const ScheduleState& s) {
  std::string line = fmt::format("{} ({}) -> {}, {}", s.schedule.name, jobs::schedule_when(s.schedule),
                                 s.schedule.topic, s.schedule.enabled ? "on" : "off");
  if (s.next_ms) line += ", next " + when_text(s.next_ms);
  if (s.last_run_ms) line += fmt::format(", last {} job {} {}", when_text(s.last_run_ms), s.last_job, s.outcome);
  else if (!s.outcome.empty()) line += ", " + s.outcome;
  return line;
}

void push_schedule(lua_State* L, const ScheduleState& s) {
  push_record(L, s);
  attach_view(L, schedule_line(s));
}

std::string schedules_table(const std::vector<ScheduleState>& list) {
  if (list.empty()) return "(no schedules)";
  constexpr const char* kRow = "{:<20} {:<24} {:<12} {:<19} {:<19} {:<24} {}\n";
  std::string out = fmt::format(kRow, "name", "when", "topic", "next (UTC)", "last (UTC)", "last outcome", "on");
  for (const ScheduleState& s : list) {
    std::string outcome = s.outcome;
    if (s.last_job && s.note.empty()) outcome = fmt::format("#{} {}", s.last_job, s.outcome);
    out += fmt::format(kRow, s.schedule.name, jobs::schedule_when(s.schedule), s.schedule.topic, when_text(s.next_ms),
                       when_text(s.last_run_ms), outcome.empty() ? "-" : outcome, s.schedule.enabled ? "on" : "off");
  }
  out.pop_back();
  return out;
}

std::string name_arg(lua_State* L, int arg) { return luaL_checkstring(L, arg); }

// schedule "name" { ... }: the body's call defines it (or replaces it) and returns it.
int l_schedule_body(lua_State* L) {
  return guarded(L, [L] {
    const std::string name = lua_tostring(L, lua_upvalueindex(1));
    jobs::Schedule s = read_schedule_table(L, 1, name);
    push_schedule(L, checked(L, shell_context_of(L).client.define_schedule(s)));
    return 1;
  });
}

int l_schedule(lua_State* L) {
  if (lua_type(L, 1) != LUA_TSTRING)
    return luaL_error(L, "schedule: expected a name, as in schedule \"nightly\" { cron = \"0 3 * * *\", topic = "
                         "\"reports\" }, got %s", luaL_typename(L, 1));
  lua_pushvalue(L, 1);
  lua_pushcclosure(L, l_schedule_body, 1);
  return 1;
}

int l_schedules(lua_State* L) {
  return guarded(L, [L] {
    auto list = checked(L, shell_context_of(L).client.schedules());
    lua_createtable(L, static_cast<int>(list.size()), 0);
    for (size_t i = 0; i < list.size(); ++i) {
      push_schedule(L, list[i]);
      lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
    }
    attach_view(L, schedules_table(list));
    return 1;
  });
}

int l_on(lua_State* L) {
  return guarded(L, [L] {
    push_schedule(L, checked(L, shell_context_of(L).client.set_schedule_enabled(name_arg(L, 1), true)));
    return 1;
  });
}

int l_off(lua_State* L) {
  return guarded(L, [L] {
    push_schedule(L, checked(L, shell_context_of(L).client.set_schedule_enabled(name_arg(L, 1), false)));
    return 1;
  });
}

int l_get(lua_State* L) {
  return guarded(L, [L] {
    push_schedule(L, checked(L, shell_context_of(L).client.schedule(name_arg(L, 1))));
    return 1;
  });
}

int l_run_now(lua_State* L) {
  return guarded(L, [L] {
    auto job = checked(L, shell_context_of(L).client.run_schedule(name_arg(L, 1)));
    push_record(L, job);
    attach_view(L, fmt::format("#{} {} {}", job.id, job.topic, jobs::job_state_name(job.state)));
    return 1;
  });
}

int l_drop(lua_State* L) {
  return guarded(L, [L] {
    check_status(L, shell_context_of(L).client.drop_schedule(name_arg(L, 1)));
    lua_pushboolean(L, 1);
    return 1;
  });
}

// "schedule" comes before its fields: install_bindings makes it a callable table.
const Binding kBindings[] = {
    {"schedule", "schedule \"name\" { cron | every, topic, args, tz, missed, overlap, ... }",
     "enqueue a job at each tick of a cron expression or an interval", l_schedule},
    {"schedule.get", "schedule.get(name)", "one schedule: its definition, next tick, last run and outcome", l_get},
    {"schedule.on", "schedule.on(name)", "turn a schedule back on (the ticks missed while off never run)", l_on},
    {"schedule.off", "schedule.off(name)", "stop a schedule's ticks; it is kept", l_off},
    {"schedule.run_now", "schedule.run_now(name)", "enqueue the schedule's job now, outside its ticks", l_run_now},
    {"schedule.drop", "schedule.drop(name)", "remove a schedule", l_drop},
    {"schedules", "schedules()", "the schedules: when, topic, next and last run, last outcome, on or off",
     l_schedules},
};

}  // namespace

std::span<const Binding> schedule_bindings() { return kBindings; }

}  // namespace drover
