// option_table: one reader for pool{}, defaults{}, autoscale{}, budget{} and redis{}, with
// one form of message for every table.
#include "shell/lua/option_table.h"

#include <doctest/doctest.h>

#include <tuple>

using namespace drover;

namespace {

using Out = std::tuple<double*, int*, bool*>;

int l_read(lua_State* L) {
  Out& out = *static_cast<Out*>(lua_touserdata(L, 2));
  const std::string what = "thing \"x\"";
  read_options(L, 1, what, nullptr, {
      {"every", [&] { *std::get<0>(out) = read_number_in(L, what, "every", 0.1, 60); }},
      {"max", [&] { *std::get<1>(out) = read_count(L, what, "max", 1); }},
      {"hidden", [&] { luaL_error(L, "thing \"x\": hidden is not for you"); }, false},
      {"opts", [&] {
         read_options(L, -1, what, "opts", {{"on", [&] { *std::get<2>(out) = read_boolean(L, what, "opts.on"); }}});
       }},
  });
  return 0;
}

// Runs `code` (which returns a table) through read_options with a few fields; "" when it
// reads, else the error.
std::string read(const char* code, double& every, int& max, bool& on) {
  lua_State* L = luaL_newstate();
  std::string error;
  lua_pushcfunction(L, l_read);
  REQUIRE(luaL_dostring(L, code) == LUA_OK);
  Out out{&every, &max, &on};
  lua_pushlightuserdata(L, &out);
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) error = lua_tostring(L, -1);
  lua_close(L);
  return error;
}

std::string read(const char* code) {
  double every = 0;
  int max = 0;
  bool on = false;
  return read(code, every, max, on);
}

}  // namespace

TEST_CASE("option_table: fields are read by their readers - absent ones keep what was there") {
  double every = 5;
  int max = 0;
  bool on = false;
  CHECK(read("return { max = 3, opts = { on = true } }", every, max, on) == "");
  CHECK(every == 5);
  CHECK(max == 3);
  CHECK(on);
  CHECK(read("return { every = '0.5' }", every, max, on) == "");  // a numeric string, as Lua reads it
  CHECK(every == 0.5);
}

TEST_CASE("option_table: unknown fields - keys that are no names - and nested tables say the fields") {
  CHECK(read("return { evry = 1 }") == "thing \"x\": unknown field 'evry' (fields: every, max, opts)");
  CHECK(read("return { 1 }") ==
        "thing \"x\": unexpected number key; write name = value (fields: every, max, opts)");
  CHECK(read("return { opts = 1 }") == "thing \"x\": opts must be a table, got number");
  CHECK(read("return { opts = { of = true } }") == "thing \"x\": unknown field 'of' in opts (fields: on)");
  CHECK(read("return { hidden = 1 }") == "thing \"x\": hidden is not for you");  // read, though not listed
}

TEST_CASE("option_table: each reader says what it wants and what it got") {
  CHECK(read("return { every = 0 }") == "thing \"x\": every must be in [0.1, 60], got 0");
  CHECK(read("return { every = {} }") == "thing \"x\": every must be a number, got table");
  CHECK(read("return { max = 0 }") == "thing \"x\": max must be a whole number >= 1, got 0");
  CHECK(read("return { max = 1.5 }") == "thing \"x\": max must be a whole number >= 1, got 1.5");
  CHECK(read("return { max = 1/0 }") == "thing \"x\": max must be a whole number >= 1, got inf");
  CHECK(read("return { opts = { on = 1 } }") == "thing \"x\": opts.on must be true or false, got number");
}
