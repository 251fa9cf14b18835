// call_policy and its answer check (shell/autoscale/policy_call.h): what the autoscaler,
// bench/autoscale_sim and the policy tests all call a policy through.
#include "shell/autoscale/policy_call.h"

#include <doctest/doctest.h>

#include <string>

using namespace drover;

namespace {

// A state under a memory cap holding one function, built from `return function(m) ... end`.
class Fn {
 public:
  explicit Fn(const std::string& body, size_t memory = size_t{16} << 20) : memory_(memory) {
    L_ = new_limited_state(memory_);
    luaL_openlibs(L_);
    const std::string chunk = "return function(m)\n" + body + "\nend";
    REQUIRE(luaL_loadbuffer(L_, chunk.data(), chunk.size(), "=policy") == LUA_OK);
    REQUIRE(lua_pcall(L_, 0, 1, 0) == LUA_OK);
    ref_ = luaL_ref(L_, LUA_REGISTRYINDEX);
  }
  ~Fn() { lua_close(L_); }
  Fn(const Fn&) = delete;
  Fn& operator=(const Fn&) = delete;

  PolicyCall call(double budget_s = kDefaultPolicyBudget) {
    PolicyMetrics m;
    m.name = "foo";
    m.queue = 640;
    const int top = lua_gettop(L_);
    PolicyCall c = call_policy(L_, ref_, m, budget_s, &memory_);
    CHECK(lua_gettop(L_) == top);  // the stack as it was, whatever happened
    return c;
  }
  lua_State* get() { return L_; }

 private:
  LuaMemory memory_;
  lua_State* L_ = nullptr;
  int ref_ = LUA_NOREF;
};

std::string refused(const std::string& answer) {
  Fn f("return " + answer);
  PolicyCall c = f.call();
  return c.error.value_or("(accepted)");
}

}  // namespace

TEST_CASE("call_policy: a number is a size, with the reason; the policy sees m") {
  Fn f("return m.queue / 100, 'queue ' .. m.queue");
  PolicyCall c = f.call();
  REQUIRE_FALSE(c.error);
  CHECK(c.answer.size == 6.4);
  CHECK(c.answer.reason == "queue 640");
  CHECK_FALSE(c.overran);
  CHECK(Fn("return 0").call().answer.size == 0.0);
  CHECK(Fn("return 3, 42").call().answer.reason.empty());  // a reason that is no string is none
}

TEST_CASE("call_policy: nil keeps the size - no error") {
  PolicyCall c = Fn("return nil, 'queue unknown'").call();
  CHECK_FALSE(c.error);
  CHECK_FALSE(c.answer.size);
  CHECK(c.answer.reason == "queue unknown");
  CHECK_FALSE(Fn("").call().error);  // no value at all is nil too
}

TEST_CASE("call_policy: anything but nil or a finite number >= 0 is refused, saying what came back") {
  CHECK(refused("'many'") == "returned a string, not a number of workers");
  CHECK(refused("'5'") == "returned a string, not a number of workers");  // not read as 5
  CHECK(refused("{}") == "returned a table, not a number of workers");
  CHECK(refused("true") == "returned a boolean, not a number of workers");
  CHECK(refused("-1") == "returned -1, not a number of workers (finite, >= 0)");
  CHECK(refused("math.huge") == "returned inf, not a number of workers (finite, >= 0)");
  CHECK(refused("0/0").find("not a number of workers (finite, >= 0)") != std::string::npos);
}

TEST_CASE("call_policy: an error raised is the error, with its place") {
  CHECK(Fn("error('boom')").call().error == "policy:2: boom");
}

TEST_CASE("call_policy: a loop is cut off by the time budget; a late C call is an overrun, not an error") {
  PolicyCall loop = Fn("while true do end").call(0.05);
  REQUIRE(loop.error);
  CHECK(loop.error->find("ran past its time budget of 0.05 s, interrupted") != std::string::npos);
  CHECK_FALSE(loop.overran);
  // The hook cannot reach into C: the call finishes, late, and says so.
  PolicyCall late = Fn("os.execute('sleep 0.2') return 2").call(0.05);
  CHECK_FALSE(late.error);
  CHECK(late.answer.size == 2.0);
  CHECK(late.overran);
  CHECK(late.took_s >= 0.2);
}

TEST_CASE("call_policy: past the memory cap the call fails and the state goes on") {
  Fn f("local t = {} for i = 1, 1e8 do t[i] = i end return 1", size_t{4} << 20);
  PolicyCall c = f.call(0);
  REQUIRE(c.error);
  CHECK(c.error->find("not enough memory (drover's limit for Lua is 4 MB)") != std::string::npos);
  CHECK(luaL_dostring(f.get(), "return 1 + 1") == LUA_OK);
}

TEST_CASE("check_probe_answer: a depth, or no reading") {
  Fn f("");
  lua_State* L = f.get();
  auto read = [L](const std::string& v) {
    REQUIRE(luaL_dostring(L, ("return " + v).c_str()) == LUA_OK);
    return check_probe_answer(L);
  };
  CHECK(read("12") == 12.0);
  CHECK(read("'12'") == 12.0);  // what `cat depth` would give
  CHECK_FALSE(read("nil"));
  CHECK_FALSE(read("-1"));
  CHECK_FALSE(read("0/0"));
  CHECK_FALSE(read("'many'"));
  CHECK(lua_gettop(L) == 0);
}
