#include "shell/lua/pretty.h"

#include <doctest/doctest.h>

using namespace drover;

namespace {
std::string eval_pretty(const char* code) {
  lua_State* L = luaL_newstate();
  luaL_openlibs(L);
  REQUIRE(luaL_dostring(L, code) == LUA_OK);
  std::string s = pretty_value(L, -1);
  lua_close(L);
  return s;
}
}  // namespace

TEST_CASE("pretty: scalars print as Lua would write them") {
  CHECK(eval_pretty("return 42") == "42");
  CHECK(eval_pretty("return 0.5") == "0.5");
  CHECK(eval_pretty("return 'a\"b\\n'") == "\"a\\\"b\\n\"");
  CHECK(eval_pretty("return nil") == "nil");
  CHECK(eval_pretty("return true") == "true");
}

TEST_CASE("pretty: tables have the array part first - then sorted keys") {
  CHECK(eval_pretty("return {foo = 2, bar = 4}") == "{ bar = 4, foo = 2 }");
  CHECK(eval_pretty("return {'x', 'y', z = 1}") == "{ \"x\", \"y\", z = 1 }");
  CHECK(eval_pretty("return {['no such'] = 1, [10] = true}") == "{ [10] = true, [\"no such\"] = 1 }");
  CHECK(eval_pretty("return {}") == "{}");
}

TEST_CASE("pretty: cycles are marked - not followed") {
  CHECK(eval_pretty("local t = {}; t.self = t; return t") == "{ self = <cycle> }");
}

TEST_CASE("pretty: long tables break over lines with indentation") {
  std::string s = eval_pretty("return {alpha = string.rep('a', 40), beta = string.rep('b', 40)}");
  CHECK(s == "{\n  alpha = \"" + std::string(40, 'a') + "\",\n  beta = \"" + std::string(40, 'b') + "\",\n}");
}

TEST_CASE("pretty: __tostring views win over the data") {
  CHECK(eval_pretty("return setmetatable({a = 1}, {__tostring = function() return 'VIEW' end})") == "VIEW");
}
