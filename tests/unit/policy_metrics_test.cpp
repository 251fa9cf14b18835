#include "shell/autoscale/policy_metrics.h"

#include <doctest/doctest.h>

#include <string>

using namespace drover;

namespace {

// Runs `return <expr>` with the table for m as the global `m` and gives the result as
// Lua's tostring would print it ("nil", "640", "0.25", "true").
class Probe {
 public:
  explicit Probe(const PolicyMetrics& m) : L_(luaL_newstate()) {
    luaL_openlibs(L_);
    push_policy_metrics(L_, m);
    lua_setglobal(L_, "m");
  }
  ~Probe() { lua_close(L_); }
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  std::string eval(const std::string& expr) {
    std::string code = "return tostring(" + expr + ")";
    if (luaL_dostring(L_, code.c_str()) != LUA_OK) {
      std::string err = lua_tostring(L_, -1);
      lua_pop(L_, 1);
      return "error: " + err;
    }
    std::string out = lua_tostring(L_, -1);
    lua_pop(L_, 1);
    return out;
  }
  lua_State* get() { return L_; }

 private:
  lua_State* L_;
};

PolicyMetrics sample_metrics() {
  PolicyMetrics m;
  m.name = "foo";
  m.now = 1764547200.25;
  m.queue = 640;
  m.queue_rate = -2.5;
  m.inflight = 20;
  m.load1 = 1.5;
  m.load5 = 1;
  m.load15 = 0.75;
  m.cpu = 0.25;
  m.cpus = 4;
  m.mem_available = 2e9;
  m.mem_total = 8e9;
  m.workers = {.target = 5, .running = 4, .busy = 3, .idle = 1, .stalled = 0};
  m.pool_cpu = 1.5;
  m.pool_rss = 3e8;
  m.pool_processes = 9;
  m.min = 1;
  m.max = 20;
  return m;
}

}  // namespace

TEST_CASE("policy_metrics: scalar fields read back with their Lua types") {
  PolicyMetrics m = sample_metrics();
  m.dt = 5;
  Probe p(m);
  CHECK(p.eval("m.name") == "foo");
  CHECK(p.eval("m.now") == "1764547200.25");
  CHECK(p.eval("m.dt") == "5");
  CHECK(p.eval("m.queue") == "640");
  CHECK(p.eval("math.type(m.queue)") == "integer");
  CHECK(p.eval("m.queue_rate") == "-2.5");
  CHECK(p.eval("m.inflight") == "20");
  CHECK(p.eval("m.load1 .. ' ' .. m.load5 .. ' ' .. m.load15") == "1.5 1 0.75");
  CHECK(p.eval("m.cpu") == "0.25");
  CHECK(p.eval("m.cpus") == "4");
  CHECK(p.eval("m.mem_available") == "2000000000");
  CHECK(p.eval("m.mem_total") == "8000000000");
  CHECK(p.eval("m.min .. '..' .. m.max") == "1..20");
  CHECK(p.eval("m.budget") == "nil");
}

TEST_CASE("policy_metrics: workers and pool are subtables") {
  Probe p(sample_metrics());
  CHECK(p.eval("m.workers.target .. m.workers.running .. m.workers.busy .. m.workers.idle .. "
               "m.workers.stalled") == "54310");
  CHECK(p.eval("m.pool.cpu") == "1.5");
  CHECK(p.eval("m.pool.rss") == "300000000");
  CHECK(p.eval("m.pool.processes") == "9");
}

TEST_CASE("policy_metrics: unknown values are nil and never 0") {
  PolicyMetrics m;  // nothing measured
  m.name = "bar";
  Probe p(m);
  for (const char* f :
       {"m.dt", "m.queue", "m.queue_rate", "m.inflight", "m.cpu", "m.mem_available", "m.mem_total", "m.budget"})
    CHECK_MESSAGE(p.eval(f) == "nil", f);
  // Known even when zero: load averages and counts.
  CHECK(p.eval("m.load1") == "0");
  CHECK(p.eval("m.workers.running") == "0");
  CHECK(p.eval("#m.history.now") == "0");
  CHECK(p.eval("next(m.pools)") == "nil");
}

TEST_CASE("policy_metrics: a budget shows as m.budget") {
  PolicyMetrics m = sample_metrics();
  m.budget = 30;
  Probe p(m);
  CHECK(p.eval("m.budget") == "30");
}

TEST_CASE("policy_metrics: history columns stay aligned with false for unknown") {
  PolicyMetrics m = sample_metrics();
  m.now = 100;
  record_history(m);
  m.now = 105;
  m.queue.reset();
  m.cpu.reset();
  m.workers.target = 6;
  record_history(m);
  Probe p(m);
  CHECK(p.eval("#m.history.now .. ' ' .. #m.history.queue .. ' ' .. #m.history.cpu") == "2 2 2");
  CHECK(p.eval("table.concat({m.history.now[1], m.history.now[2]}, ',')") == "100,105");
  CHECK(p.eval("m.history.queue[1] .. ',' .. tostring(m.history.queue[2])") == "640,false");
  CHECK(p.eval("m.history.cpu[2]") == "false");
  CHECK(p.eval("m.history.inflight[2]") == "20");
  CHECK(p.eval("m.history.target[1] .. ',' .. m.history.target[2]") == "5,6");
  CHECK(p.eval("m.history.running[2]") == "4");
  CHECK(p.eval("m.history.load1[2]") == "1.5");
}

TEST_CASE("policy_metrics: record_history keeps the last kHistory, oldest first") {
  PolicyMetrics m;
  for (size_t i = 0; i < kHistory + 5; ++i) {
    m.now = static_cast<double>(i);
    record_history(m);
  }
  REQUIRE(m.history.size() == kHistory);
  CHECK(m.history.front().now == 5);
  CHECK(m.history.back().now == static_cast<double>(kHistory + 4));
  Probe p(m);
  CHECK(p.eval("#m.history.now") == std::to_string(kHistory));
  CHECK(p.eval("m.history.now[#m.history.now]") == std::to_string(kHistory + 4));
}

TEST_CASE("policy_metrics: m.pools shows every pool by name") {
  PolicyMetrics m = sample_metrics();
  m.pools["foo"] = PoolView{.queue = 640, .inflight = 20, .workers = {.target = 5, .running = 4}, .min = 1, .max = 20};
  m.pools["bar"] = PoolView{.queue = std::nullopt, .inflight = 0, .workers = {.target = 2}, .min = 0, .max = 8};
  Probe p(m);
  CHECK(p.eval("m.pools.foo.queue .. ' ' .. m.pools.foo.inflight .. ' ' .. m.pools.foo.workers.running") == "640 20 4");
  CHECK(p.eval("m.pools.bar.queue") == "nil");
  CHECK(p.eval("m.pools.bar.workers.target .. ' ' .. m.pools.bar.min .. ' ' .. m.pools.bar.max") == "2 0 8");
  CHECK(p.eval("(function() local n = 0 for _ in pairs(m.pools) do n = n + 1 end return n end)()") == "2");
}

TEST_CASE("policy_metrics: push leaves exactly one table on the stack") {
  Probe p(sample_metrics());
  lua_State* L = p.get();
  int top = lua_gettop(L);
  push_policy_metrics(L, sample_metrics());
  CHECK(lua_gettop(L) == top + 1);
  CHECK(lua_istable(L, -1));
  lua_pop(L, 1);
}
