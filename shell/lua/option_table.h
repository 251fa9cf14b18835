// One reader for the option tables a config and the shell take: pool{} and defaults{}
// (with their backoff, flap, heartbeat and busy tables), autoscale{}, budget{} and redis{}.
// A caller lists each field once, with how to read its value; read_options walks the table
// the user wrote and gives every such table the same behaviour and the same messages:
//
//   "<what>: unknown field 'evry' (fields: cooldown, every, max, ...)"
//   "<what>: unexpected number key in backoff; write name = value (fields: initial, ...)"
//   "<what>: backoff must be a table, got number"
//
// and the typed readers below say "<what>: <field> must be ..., got ..." the same way for
// every table. Errors are Lua errors (luaL_error), so they carry the file:line of the call.
#pragma once

#include <lua.hpp>

#include <functional>
#include <string>
#include <vector>

namespace drover {

struct Option {
  const char* name;
  std::function<void()> read;  // called with the field's value on top of the stack; leaves the stack as it was
  bool listed = true;          // named in an error's "(fields: ...)" (false: a field refused by its reader)
};

// Reads the table at idx, field by field in the table's order, each with its option's
// reader. `table` names a nested table ("backoff") in the messages; nullptr for the top one.
void read_options(lua_State* L, int idx, const std::string& what, const char* table,
                  const std::vector<Option>& options);

// Field readers: the value is on top of the stack; `what` names the place ("pool \"foo\"",
// "autoscale \"foo\""), `field` the field ("n", "backoff.max").

// A Lua number: "grace must be a number, got string".
double read_number(lua_State* L, const std::string& what, const char* field);
// A whole number >= min that fits an int: "n must be a whole number >= 0, got 2.5".
int read_count(lua_State* L, const std::string& what, const char* field, int min);
std::string read_string(lua_State* L, const std::string& what, const char* field);
bool read_boolean(lua_State* L, const std::string& what, const char* field);
// A number (or a numeric string) in [lo, hi]: "every must be in [0.1, 3600], got 0".
double read_number_in(lua_State* L, const std::string& what, const char* field, double lo, double hi);
// The same, whole: "max must be a whole number, got 2.5".
int read_count_in(lua_State* L, const std::string& what, const char* field, int lo, int hi);

}  // namespace drover
