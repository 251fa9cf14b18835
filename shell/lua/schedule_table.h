// The body of schedule "name" { cron = "0 3 * * *", topic = "reports", ... }, read from a
// Lua table into a jobs::Schedule: one reader for the config file and the shell, with the
// option tables' messages (option_table.h) and then validate_schedule's, which name the
// field. Errors are Lua errors.
#pragma once

#include <lua.hpp>

#include <string>

#include "jobs/schedule.h"

namespace drover {

// The table at idx, for the schedule `name`; luaL_error on anything wrong.
jobs::Schedule read_schedule_table(lua_State* L, int idx, const std::string& name);

}  // namespace drover
