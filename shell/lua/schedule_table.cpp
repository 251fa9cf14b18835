#include "shell/lua/schedule_table.h"

#include <fmt/format.h>

#include "shell/lua/lua_json.h"
#include "shell/lua/option_table.h"

namespace drover {

jobs::Schedule read_schedule_table(lua_State* L, int idx, const std::string& name) {
  idx = lua_absindex(L, idx);
  const std::string what = fmt::format("schedule \"{}\"", name);
  if (lua_type(L, idx) != LUA_TTABLE)
    luaL_error(L, "%s: expected a table, as in schedule \"%s\" { cron = \"0 3 * * *\", topic = \"reports\" }, got %s",
               what.c_str(), name.c_str(), luaL_typename(L, idx));
  jobs::Schedule s;
  s.name = name;
  read_options(L, idx, what, nullptr, {
      {"cron", [&] { s.cron = read_string(L, what, "cron"); }},
      {"every", [&] { s.every = read_string(L, what, "every"); }},
      {"tz", [&] { s.tz = read_string(L, what, "tz"); }},
      {"topic", [&] { s.topic = read_string(L, what, "topic"); }},
      {"args", [&] {
         auto json = lua_to_json(L, -1, what + ".args");
         if (!json) luaL_error(L, "%s", json.error().message().c_str());
         s.args = *json;
       }},
      {"priority", [&] { s.priority = read_count_in(L, what, "priority", -1000000, 1000000); }},
      {"attempts", [&] { s.max_attempts = read_count_in(L, what, "attempts", 1, jobs::kMaxAttempts); }},
      {"timeout", [&] { s.timeout_s = read_number_in(L, what, "timeout", 0, 1e9); }},
      {"missed", [&] {
         const std::string m = read_string(L, what, "missed");
         auto p = jobs::missed_policy_from_name(m);
         if (!p) luaL_error(L, "%s: missed must be \"skip\", \"one\" or \"all\", got '%s'", what.c_str(), m.c_str());
         s.missed = *p;
       }},
      {"overlap", [&] { s.overlap = read_boolean(L, what, "overlap"); }},
      {"enabled", [&] { s.enabled = read_boolean(L, what, "enabled"); }},
  });
  if (Status v = jobs::validate_schedule(s); !v) luaL_error(L, "%s", v.message().c_str());
  return s;
}

}  // namespace drover
