// policies/schedule.lua (sizes by time of day) and policies/rebalance.lua (one budget
// shared by backlog), built from configuration chunks and called with m's table.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <time.h>

#include <string>
#include <vector>

#include "tests/support/policy_env.h"

using namespace drover;
using drover::testing::Answer;
using drover::testing::answer;
using drover::testing::rejected;
using drover::testing::PolicyEnv;
using drover::testing::queue_metrics;

namespace {

// Seconds since the epoch at `day` days after Monday 2024-01-01, hh:mm:ss UTC.
double at(int day, int hh, int mm, int ss = 0) { return 1704067200.0 + day * 86400 + hh * 3600 + mm * 60 + ss; }

PolicyMetrics when(double now, double queue = 0) {
  PolicyMetrics m = queue_metrics(queue);
  m.now = now;
  return m;
}

const char* kDayNight =
    "local schedule = load 'schedule'\n"
    "return schedule{ {from = '08:00', to = '18:00', n = 10}, {from = '18:00', to = '08:00', n = 2}, tz = 'utc' }";

// Sets TZ for the test's lifetime; os.date("*t") reads it through localtime_r.
class ScopedTz {
 public:
  explicit ScopedTz(const char* tz) {
    if (const char* old = getenv("TZ")) old_ = old, had_ = true;
    setenv("TZ", tz, 1);
    tzset();
  }
  ~ScopedTz() {
    if (had_)
      setenv("TZ", old_.c_str(), 1);
    else
      unsetenv("TZ");
    tzset();
  }

 private:
  std::string old_;
  bool had_ = false;
};

}  // namespace

TEST_CASE("policy scripts: schedule picks the window of the hour and crosses midnight") {
  PolicyEnv env;
  REQUIRE(env.build(kDayNight) == "");
  CHECK(answer(env, when(at(0, 9, 0))) == "10 | schedule 08:00-18:00");
  CHECK(answer(env, when(at(0, 8, 0))) == "10 | schedule 08:00-18:00");
  CHECK(answer(env, when(at(0, 17, 59, 59))) == "10 | schedule 08:00-18:00");
  CHECK(answer(env, when(at(0, 18, 0))) == "2 | schedule 18:00-08:00");
  CHECK(answer(env, when(at(0, 23, 59))) == "2 | schedule 18:00-08:00");
  CHECK(answer(env, when(at(1, 3, 0))) == "2 | schedule 18:00-08:00");
  CHECK(answer(env, when(at(1, 7, 59, 59) + 0.75)) == "2 | schedule 18:00-08:00");  // fractional now
}

TEST_CASE("policy scripts: schedule days name the day a window starts on") {
  PolicyEnv env;
  REQUIRE(env.build("return (load 'schedule'){ days = 'mon-fri', default = 1, tz = 'utc',\n"
                    "  {from = '08:00', to = '18:00', n = 10}, {from = '22:00', to = '06:00', n = 3},\n"
                    "  {from = '00:00', to = '00:00', days = {'sun'}, n = 5} }") == "");
  CHECK(answer(env, when(at(4, 12, 0))) == "10 | schedule 08:00-18:00");  // Friday
  CHECK(answer(env, when(at(5, 3, 0))) == "3 | schedule 22:00-06:00");    // Saturday, Friday's night
  CHECK(answer(env, when(at(5, 12, 0))) == "1 | schedule: outside every window, default");
  CHECK(answer(env, when(at(6, 3, 0))) == "5 | schedule 00:00-00:00");                     // Sunday, all day
  CHECK(answer(env, when(at(7, 3, 0))) == "1 | schedule: outside every window, default");  // Sunday's night
  CHECK(answer(env, when(at(7, 22, 30))) == "3 | schedule 22:00-06:00");                   // Monday night
  REQUIRE(env.build("return (load 'schedule'){ days = 'fri-mon', tz = 'utc', {from = '09:00', to = "
                    "'10:00', n = 4} }") == "");
  CHECK(answer(env, when(at(6, 9, 30))) == "4 | schedule 09:00-10:00");  // a wrapping range
  CHECK(answer(env, when(at(2, 9, 30))) == "nil | schedule: outside every window");
}

TEST_CASE("policy scripts: schedule delegates to a policy inside a window") {
  PolicyEnv env;
  REQUIRE(env.build("local qp = load 'queue_proportional'\n"
                    "return (load 'schedule'){ tz = 'utc',\n"
                    "  {from = '08:00', to = '18:00', policy = qp{ per_worker = 10 }} }") == "");
  CHECK(answer(env, when(at(0, 10, 0), 55)) == "6 | schedule 08:00-18:00: queue 55 + inflight 0 at 10 per worker");
  CHECK(answer(env, when(at(0, 19, 0), 55)) == "nil | schedule: outside every window");
  PolicyMetrics unknown = when(at(0, 10, 0));
  unknown.queue.reset();
  CHECK(answer(env, unknown) == "nil | schedule 08:00-18:00: queue unknown");
}

TEST_CASE("policy scripts: schedule in local time follows TZ") {
  ScopedTz tz("XST-2");  // two hours east of UTC, no tzdata needed
  PolicyEnv env;
  REQUIRE(env.build("return (load 'schedule'){ {from = '08:00', to = '18:00', n = 10}, default = 0 }") ==
          "");
  CHECK(answer(env, when(at(0, 7, 0))) == "10 | schedule 08:00-18:00");                      // 09:00 local
  CHECK(answer(env, when(at(0, 16, 30))) == "0 | schedule: outside every window, default");  // 18:30 local
}

TEST_CASE("policy scripts: schedule rejects junk windows") {
  PolicyEnv env;
  const std::string s = "local schedule = load 'schedule'\nlocal p = schedule";
  CHECK(rejected(env, s, "{}") ==
        "pools.lua:2: schedule: expected a list of windows, as in schedule{ {from = \"08:00\", to = \"18:00\", "
        "n = 10} }, got a table");
  CHECK(rejected(env, s, "{ {from = '8am', to = '18:00', n = 1} }") ==
        "pools.lua:2: schedule: window 1: from must be a time \"HH:MM\" from 00:00 to 24:00, got \"8am\"");
  CHECK(rejected(env, s, "{ {from = '08:00', to = '24:30', n = 1} }") ==
        "pools.lua:2: schedule: window 1: to must be a time \"HH:MM\" from 00:00 to 24:00, got \"24:30\"");
  CHECK(rejected(env, s, "{ {from = '08:00', to = '09:00', n = 1, policy = print} }") ==
        "pools.lua:2: schedule: window 1 needs exactly one of n and policy");
  CHECK(rejected(env, s, "{ {from = '08:00', to = '09:00'} }") ==
        "pools.lua:2: schedule: window 1 needs exactly one of n and policy");
  CHECK(rejected(env, s, "{ {from = '08:00', to = '09:00', n = -2} }") ==
        "pools.lua:2: schedule: window 1: n must be an integer >= 0, got -2");
  CHECK(rejected(env, s, "{ days = 'mnday', {from = '08:00', to = '09:00', n = 1} }") ==
        "pools.lua:2: schedule: days: unknown day \"mnday\" (days: mon, tue, wed, thu, fri, sat, sun, or a range "
        "mon-fri)");
  CHECK(rejected(env, s, "{ tz = 'EST', {from = '08:00', to = '09:00', n = 1} }") ==
        "pools.lua:2: schedule: tz must be \"local\" or \"utc\", got \"EST\"");
  CHECK(rejected(env, s, "{ {from = '08:00', to = '09:00', n = 1, size = 3} }") ==
        "pools.lua:2: schedule: window 1: unknown field \"size\" (fields: days, from, n, policy, to)");
  CHECK(rejected(env, s, "{ {from = '08:00', to = '09:00', n = 1}, defualt = 2 }") ==
        "pools.lua:2: schedule: unknown option \"defualt\" (options: days, default, tz, and the windows)");
}

namespace {

// Two or more pools as m.pools shows them; m is foo's (or `name`'s) view.
struct PoolIn {
  const char* name;
  std::optional<double> queue;
  double inflight = 0;
  int target = 0, max = 100, min = 0;
};

PolicyMetrics group(const std::vector<PoolIn>& pools, const std::string& name) {
  PolicyMetrics m = queue_metrics(0);
  m.name = name;
  for (const PoolIn& p : pools) {
    PoolView v;
    v.queue = p.queue;
    v.inflight = p.inflight;
    v.workers.target = p.target;
    v.min = p.min;
    v.max = p.max;
    m.pools[p.name] = v;
    if (name == p.name) m.queue = p.queue;
  }
  return m;
}

// Every pool's answer, "foo=9 bar=1" in the order given.
std::string shares(PolicyEnv& env, const std::vector<PoolIn>& pools) {
  std::string out;
  for (const PoolIn& p : pools) {
    Answer a = env.call(group(pools, p.name));
    out += (out.empty() ? "" : " ") + std::string(p.name) + "=" + (a.error.empty() ? a.n : "error: " + a.error);
  }
  return out;
}

}  // namespace

TEST_CASE("policy scripts: rebalance shares the budget by backlog") {
  PolicyEnv env;
  REQUIRE(env.build("return (load 'rebalance'){ budget = 10, pools = {'foo', 'bar'} }") == "");
  CHECK(shares(env, {{"foo", 900}, {"bar", 100}}) == "foo=9 bar=1");
  CHECK(answer(env, group({{"foo", 600, 0}, {"bar", 300, 100}}, "foo")) ==
        "6 | rebalance: 6 of budget 10 (backlog 600 of 1000 in 2 pools)");
  CHECK(shares(env, {{"foo", 1000}, {"bar", 1}}) == "foo=9 bar=1");  // a busy pool gets one at least
  CHECK(shares(env, {{"foo", 300}, {"bar", 0}}) == "foo=10 bar=0");
  CHECK(shares(env, {{"foo", 0}, {"bar", 0}}) == "foo=0 bar=0");
  // Equal remainders go to the first name.
  REQUIRE(env.build("return (load 'rebalance'){ budget = 5 }") == "");
  CHECK(shares(env, {{"c", 10}, {"b", 10}, {"a", 10}}) == "c=1 b=2 a=2");
  // Short of one worker per busy pool: the busiest first.
  REQUIRE(env.build("return (load 'rebalance'){ budget = 1 }") == "");
  CHECK(shares(env, {{"foo", 5}, {"bar", 10}}) == "foo=0 bar=1");
}

TEST_CASE("policy scripts: rebalance min, per_worker and the pools' own limits") {
  PolicyEnv env;
  REQUIRE(env.build("return (load 'rebalance'){ budget = 10, min = 2 }") == "");
  CHECK(shares(env, {{"foo", 300}, {"bar", 0}}) == "foo=8 bar=2");
  // A pool's own max caps its share and what it leaves goes to the other.
  CHECK(shares(env, {{"foo", 900, 0, 0, 3}, {"bar", 100}}) == "foo=3 bar=7");
  // A pool's own min is a floor like `min`.
  CHECK(shares(env, {{"foo", 900}, {"bar", 0, 0, 0, 100, 4}}) == "foo=6 bar=4");

  REQUIRE(env.build("return (load 'rebalance'){ budget = 20, per_worker = 10 }") == "");
  CHECK(shares(env, {{"foo", 500, 0, 0, 10}, {"bar", 50}}) == "foo=10 bar=5");  // both capped: 15 of 20
  CHECK(shares(env, {{"foo", 50}, {"bar", 500}}) == "foo=2 bar=18");
  CHECK(shares(env, {{"foo", 30}, {"bar", 20}}) == "foo=3 bar=2");
}

TEST_CASE("policy scripts: rebalance keeps a pool whose queue is unknown") {
  PolicyEnv env;
  REQUIRE(env.build("return (load 'rebalance'){ budget = 10 }") == "");
  std::vector<PoolIn> pools{{"foo", std::nullopt, 0, 4}, {"bar", 100}};
  CHECK(shares(env, pools) == "foo=4 bar=6");
  CHECK(answer(env, group(pools, "foo")) == "4 | rebalance: queue unknown, keeping 4 of budget 10");
  CHECK(shares(env, {{"foo", std::nullopt, 0, 40}, {"bar", 100}}) == "foo=10 bar=0");
}

TEST_CASE("policy scripts: rebalance budget from m.budget and pools from m.pools") {
  PolicyEnv env;
  REQUIRE(env.build("return (load 'rebalance')()") == "");
  PolicyMetrics m = group({{"foo", 30}, {"bar", 10}}, "foo");
  CHECK(answer(env, m) == "nil | rebalance: no budget (set budget = N, or budget{max_workers = N})");
  m.budget = 8;
  CHECK(answer(env, m) == "6 | rebalance: 6 of budget 8 (backlog 30 of 40 in 2 pools)");
  REQUIRE(env.build("return (load 'rebalance'){ budget = 8, pools = {'bar', 'baz'} }") == "");
  CHECK(answer(env, m) == "nil | rebalance: pool \"foo\" is not in the group");
  m.name = "bar";  // baz is listed but has no metrics: it holds 0
  CHECK(answer(env, m) == "8 | rebalance: 8 of budget 8 (backlog 10 of 10 in 2 pools)");
}

TEST_CASE("policy scripts: rebalance never hands out more than the budget") {
  PolicyEnv env;
  REQUIRE(env.build("return (load 'rebalance'){ pools = {'a', 'b', 'c'} }") == "");
  const double backlogs[] = {0, 1, 3, 7, 250};
  int checked = 0;
  for (int budget = 0; budget <= 12; ++budget)
    for (double qa : backlogs)
      for (double qb : backlogs)
        for (double qc : backlogs) {
          std::vector<PoolIn> pools{{"a", qa}, {"b", qb}, {"c", qc}};
          int sum = 0, busy = 0, busy_served = 0;
          for (const PoolIn& p : pools) {
            PolicyMetrics m = group(pools, p.name);
            m.budget = budget;
            Answer a = env.call(m);
            REQUIRE(a.error.empty());
            int n = std::stoi(a.n);
            sum += n;
            if (*p.queue > 0) ++busy, busy_served += n > 0;
          }
          CHECK(sum <= budget);
          if (busy > 0) CHECK(sum == budget);  // no caps: the whole budget is shared
          CHECK(busy_served == std::min(busy, budget));
          ++checked;
        }
  CHECK(checked == 13 * 125);
}

TEST_CASE("policy scripts: rebalance rejects junk options") {
  PolicyEnv env;
  const std::string r = "local rebalance = load 'rebalance'\nlocal p = rebalance";
  CHECK(rejected(env, r, "{ budget = -1 }") == "pools.lua:2: rebalance: budget must be an integer >= 0, got -1");
  CHECK(rejected(env, r, "{ budget = 2.5 }") == "pools.lua:2: rebalance: budget must be an integer >= 0, got 2.5");
  CHECK(rejected(env, r, "{ pools = 'foo' }") ==
        "pools.lua:2: rebalance: pools must be a list of pool names, got \"foo\"");
  CHECK(rejected(env, r, "{ pools = {'foo', 3} }") == "pools.lua:2: rebalance: pools[2] must be a pool name, got 3");
  CHECK(rejected(env, r, "{ min = 1.5 }") == "pools.lua:2: rebalance: min must be an integer >= 0, got 1.5");
  CHECK(rejected(env, r, "{ per_worker = 0 }") ==
        "pools.lua:2: rebalance: per_worker must be a positive number, got 0");
  CHECK(rejected(env, r, "{ budegt = 3 }") ==
        "pools.lua:2: rebalance: unknown option \"budegt\" (options: budget, min, per_worker, pools)");
}
