// policies/queue_proportional.lua, target_tracking.lua and load_guard.lua, built from a
// configuration chunk as a user writes it and called with push_policy_metrics' table.
// schedule.lua and rebalance.lua are in policy_scripts_share_test.cpp.
#include <doctest/doctest.h>

#include "tests/support/policy_env.h"

using namespace drover;
using drover::testing::Answer;
using drover::testing::answer;
using drover::testing::rejected;
using drover::testing::PolicyEnv;
using drover::testing::queue_metrics;

namespace {

std::string qp(const std::string& opts) {
  // Not `return qp{...}`: a tail call leaves no line for the error to name.
  return "local qp = load 'queue_proportional'\nlocal p = qp" + opts + "\nreturn p";
}

}  // namespace

TEST_CASE("policy scripts: queue_proportional defaults count inflight at 100 per worker") {
  PolicyEnv env;
  REQUIRE(env.build(qp("{}")) == "");
  CHECK(answer(env, queue_metrics(640, 20)) == "7 | queue 640 + inflight 20 at 100 per worker");
  CHECK(answer(env, queue_metrics(600, 0)) == "6 | queue 600 + inflight 0 at 100 per worker");
  CHECK(answer(env, queue_metrics(0, 0)) == "0 | queue 0 + inflight 0 at 100 per worker");
  CHECK(answer(env, queue_metrics(0, 3)) == "1 | queue 0 + inflight 3 at 100 per worker");
  // An unknown queue keeps the size; unknown inflight counts the queue alone.
  CHECK(answer(env, queue_metrics(std::nullopt, 20)) == "nil | queue unknown");
  CHECK(answer(env, queue_metrics(250, std::nullopt)) == "3 | queue 250 at 100 per worker");
  // Called without options at all.
  REQUIRE(env.build("return (load 'queue_proportional')()") == "");
  CHECK(answer(env, queue_metrics(101, 0)) == "2 | queue 101 + inflight 0 at 100 per worker");
}

TEST_CASE("policy scripts: queue_proportional options") {
  PolicyEnv env;
  REQUIRE(env.build(qp("{ per_worker = 2.5, count_inflight = false }")) == "");
  CHECK(answer(env, queue_metrics(10, 50)) == "4 | queue 10 at 2.5 per worker");
  CHECK(answer(env, queue_metrics(11, 50)) == "5 | queue 11 at 2.5 per worker");
  REQUIRE(env.build(qp("{ min_when_busy = 3 }")) == "");
  CHECK(answer(env, queue_metrics(5, 0)) == "3 | queue 5 + inflight 0 at 100 per worker, at least 3 while busy");
  CHECK(answer(env, queue_metrics(0, 0)) == "0 | queue 0 + inflight 0 at 100 per worker");
  CHECK(answer(env, queue_metrics(450, 0)) == "5 | queue 450 + inflight 0 at 100 per worker");
  // The state of one policy is its own: two constructed from one script do not share.
  REQUIRE(env.build("local qp = load 'queue_proportional'\n"
                    "local a, b = qp{ per_worker = 10 }, qp{ per_worker = 1 }\n"
                    "return function(m) local x = a(m); local y = b(m); return x * 1000 + y, 'both' end") == "");
  CHECK(answer(env, queue_metrics(20, 0)) == "2020 | both");
}

TEST_CASE("policy scripts: queue_proportional rejects junk options at the config's line") {
  PolicyEnv env;
  CHECK(env.build(qp("{ per_worker = -1 }")) ==
        "pools.lua:2: queue_proportional: per_worker must be a positive number, got -1");
  CHECK(env.build(qp("{ per_worker = '10' }")) ==
        "pools.lua:2: queue_proportional: per_worker must be a positive number, got \"10\"");
  CHECK(env.build(qp("{ per_worker = 1/0 }")) ==
        "pools.lua:2: queue_proportional: per_worker must be a positive number, got inf");
  CHECK(env.build(qp("{ count_inflight = 1 }")) ==
        "pools.lua:2: queue_proportional: count_inflight must be true or false, got 1");
  CHECK(env.build(qp("{ min_when_busy = 1.5 }")) ==
        "pools.lua:2: queue_proportional: min_when_busy must be an integer >= 0, got 1.5");
  CHECK(env.build(qp("{ per_wroker = 10 }")) ==
        "pools.lua:2: queue_proportional: unknown option \"per_wroker\" "
        "(options: count_inflight, min_when_busy, per_worker)");
  CHECK(env.build(qp("(100)")) ==
        "pools.lua:2: queue_proportional: options must be a table, as in queue_proportional{ per_worker = 100 }, "
        "got 100");
}

TEST_CASE("policy scripts: target_tracking follows the HPA formula on backlog per worker") {
  PolicyEnv env;
  REQUIRE(env.build("return (load 'target_tracking'){}") == "");
  CHECK(answer(env, queue_metrics(600, 0, 4)) == "6 | backlog 600 over 4 workers vs target 100 (ratio 1.50)");
  CHECK(answer(env, queue_metrics(150, 50, 4)) == "2 | backlog 200 over 4 workers vs target 100 (ratio 0.50)");
  CHECK(answer(env, queue_metrics(0, 0, 4)) == "0 | backlog 0 over 4 workers vs target 100 (ratio 0.00)");
  // Within 10 %: the current target stands (here 5, one still starting), edges included.
  CHECK(answer(env, queue_metrics(420, 0, 4, 5)) ==
        "5 | backlog 420 over 4 workers vs target 100 (ratio 1.05) within tolerance 0.1");
  CHECK(answer(env, queue_metrics(440, 0, 4, 5)) ==
        "5 | backlog 440 over 4 workers vs target 100 (ratio 1.10) within tolerance 0.1");
  CHECK(answer(env, queue_metrics(360, 0, 4)) ==
        "4 | backlog 360 over 4 workers vs target 100 (ratio 0.90) within tolerance 0.1");
  CHECK(answer(env, queue_metrics(445, 0, 4)) == "5 | backlog 445 over 4 workers vs target 100 (ratio 1.11)");
  CHECK(answer(env, queue_metrics(std::nullopt, 0, 4)) == "nil | queue unknown");
}

TEST_CASE("policy scripts: target_tracking from zero workers") {
  PolicyEnv env;
  REQUIRE(env.build("return (load 'target_tracking'){ target = 100 }") == "");
  CHECK(answer(env, queue_metrics(250, 0, 0)) == "3 | backlog 250 over 0 workers vs target 100: starting from 0");
  CHECK(answer(env, queue_metrics(5, 0, 0)) == "1 | backlog 5 over 0 workers vs target 100: starting from 0");
  CHECK(answer(env, queue_metrics(0, 0, 0)) == "0 | backlog 0 over 0 workers vs target 100: idle");
}

TEST_CASE("policy scripts: target_tracking with a custom metric") {
  PolicyEnv env;
  REQUIRE(env.build("return (load 'target_tracking'){ target = 0.8, tolerance = 0.2,\n"
                    "  metric = function(m) return m.pool.cpu / math.max(m.workers.running, 1) end }") == "");
  PolicyMetrics m = queue_metrics(std::nullopt, std::nullopt, 4);
  m.pool_cpu = 4.8;  // 1.2 cores per worker
  CHECK(answer(env, m) == "6 | metric 1.2 vs target 0.8 (ratio 1.50)");
  m.pool_cpu = 3.6;  // ratio 1.125: within 0.2
  CHECK(answer(env, m) == "4 | metric 0.9 vs target 0.8 (ratio 1.12) within tolerance 0.2");

  REQUIRE(env.build("return (load 'target_tracking'){ target = 1,\n"
                    "  metric = function(m) return m.cpu end }") == "");
  CHECK(answer(env, m) == "nil | metric unknown");
  REQUIRE(env.build("return (load 'target_tracking'){ target = 1, metric = function() return 'x' end }") ==
          "");
  CHECK(answer(env, m).find("target_tracking: metric returned \"x\", expected a number or nil") != std::string::npos);
}

TEST_CASE("policy scripts: target_tracking rejects junk options") {
  PolicyEnv env;
  const std::string tt = "local tt = load 'target_tracking'\nlocal p = tt";
  CHECK(rejected(env, tt, "{ metric = function(m) return 1 end }") ==
        "pools.lua:2: target_tracking: target is required with a custom metric (the metric's wanted value per worker)");
  CHECK(rejected(env, tt, "{ target = 0 }") == "pools.lua:2: target_tracking: target must be a positive number, got 0");
  CHECK(rejected(env, tt, "{ tolerance = 1 }") ==
        "pools.lua:2: target_tracking: tolerance must be a number in [0, 1), got 1");
  CHECK(rejected(env, tt, "{ metric = 'cpu', target = 1 }") ==
        "pools.lua:2: target_tracking: metric must be a function(m) returning a number per worker, got \"cpu\"");
  CHECK(rejected(env, tt, "{ targte = 5 }") ==
        "pools.lua:2: target_tracking: unknown option \"targte\" (options: metric, target, tolerance)");
}

namespace {

const char* kGuarded =
    "local qp = load 'queue_proportional'\n"
    "local guard = load 'load_guard'\n"
    "return guard{ policy = qp{ per_worker = 10 } }";

PolicyMetrics loaded(double queue, double load1, int running = 4) {
  PolicyMetrics m = queue_metrics(queue, 0, running);
  m.load1 = load1;  // m.cpus is 4
  return m;
}

}  // namespace

TEST_CASE("policy scripts: load_guard passes the inner answer on a healthy machine") {
  PolicyEnv env;
  REQUIRE(env.build(kGuarded) == "");
  CHECK(answer(env, loaded(100, 2)) == "10 | queue 100 + inflight 0 at 10 per worker");
  CHECK(answer(env, loaded(100, 6)) == "10 | queue 100 + inflight 0 at 10 per worker");  // exactly 1.5
}

TEST_CASE("policy scripts: load_guard holds over the load limit and sheds over 1.25 x") {
  PolicyEnv env;
  REQUIRE(env.build(kGuarded) == "");
  CHECK(answer(env, loaded(100, 6.4)) ==
        "4 | load guard: load 1.6 per cpu over 1.5, holding at 4 running "
        "(policy: 10, queue 100 + inflight 0 at 10 per worker)");
  CHECK(answer(env, loaded(100, 8)) ==
        "3 | load guard: load 2 per cpu over 1.25 x 1.5, shedding 1 of 4 running "
        "(policy: 10, queue 100 + inflight 0 at 10 per worker)");
  // A smaller answer than the cap stands as the inner policy gave it.
  CHECK(answer(env, loaded(20, 8)) == "2 | queue 20 + inflight 0 at 10 per worker");
  CHECK(answer(env, loaded(100, 8, 0)).substr(0, 4) == "0 | ");  // nothing left to shed
}

TEST_CASE("policy scripts: load_guard memory guard and unknown readings") {
  PolicyEnv env;
  REQUIRE(env.build(kGuarded) == "");
  PolicyMetrics m = loaded(100, 1);
  m.mem_available = 256.0 * (1 << 20);
  CHECK(answer(env, m) ==
        "4 | memory guard: 256 MB available under 512 MB, holding at 4 running "
        "(policy: 10, queue 100 + inflight 0 at 10 per worker)");
  m.load1 = 8;
  CHECK(answer(env, m) ==
        "3 | load guard: load 2 per cpu over 1.25 x 1.5, shedding 1 of 4 running; "
        "memory guard: 256 MB available under 512 MB, holding at 4 running "
        "(policy: 10, queue 100 + inflight 0 at 10 per worker)");
  m.load1 = 1;
  m.mem_total = 0;  // memory never read: m.mem_available is nil, the guard stays quiet
  CHECK(answer(env, m) == "10 | queue 100 + inflight 0 at 10 per worker");
}

TEST_CASE("policy scripts: load_guard caps an inner keep and honours its options") {
  PolicyEnv env;
  REQUIRE(env.build("return (load 'load_guard'){ step_down = 0, max_load_per_cpu = 2,\n"
                    "  min_mem_available = 0, policy = function(m) return nil, 'queue unknown' end }") == "");
  PolicyMetrics m = loaded(0, 4);  // 1 per cpu: fine
  m.workers.target = 6;
  CHECK(answer(env, m) == "nil | queue unknown");
  m.load1 = 40;  // 10 per cpu: shedding 0
  CHECK(answer(env, m) ==
        "4 | load guard: load 10 per cpu over 1.25 x 2, shedding 0 of 4 running (policy: keep 6, queue unknown)");
  m.load1 = 9;
  m.workers.target = 4;  // nothing to cut
  CHECK(answer(env, m) == "nil | queue unknown");
}

TEST_CASE("policy scripts: load_guard rejects junk options") {
  PolicyEnv env;
  const std::string g = "local guard = load 'load_guard'\nlocal p = guard";
  CHECK(rejected(env, g, "{}") ==
        "pools.lua:2: load_guard: policy must be a function(m) (the policy to guard), got nil");
  CHECK(rejected(env, g, "{ policy = print, max_load_per_cpu = 0 }") ==
        "pools.lua:2: load_guard: max_load_per_cpu must be a positive number, got 0");
  CHECK(rejected(env, g, "{ policy = print, min_mem_available = '1G' }") ==
        "pools.lua:2: load_guard: min_mem_available must be a number of bytes >= 0, got \"1G\"");
  CHECK(rejected(env, g, "{ policy = print, step_down = -1 }") ==
        "pools.lua:2: load_guard: step_down must be an integer >= 0, got -1");
  CHECK(rejected(env, g, "{ policy = print, max_load = 2 }") ==
        "pools.lua:2: load_guard: unknown option \"max_load\" "
        "(options: max_load_per_cpu, min_mem_available, policy, step_down)");
  CHECK(rejected(env, g, "(print)") ==
        "pools.lua:2: load_guard: options must be a table, as in load_guard{ policy = p }, got a function");
}

namespace {

std::string slo(const std::string& opts) {
  return "local slo = load 'latency_slo'\nlocal p = slo" + opts + "\nreturn p";
}

// A jobs pool's m: its queue, running jobs, oldest age and mean run time.
PolicyMetrics jobs_metrics(double queue, double inflight, std::optional<double> age, std::optional<double> run_time) {
  PolicyMetrics m = queue_metrics(queue, inflight);
  m.age = age;
  m.run_time = run_time;
  return m;
}

}  // namespace

TEST_CASE("policy scripts: latency_slo lets the queue wait up to its plan - the oldest within what it has left") {
  PolicyEnv env;
  REQUIRE(env.build(slo("{ max_age = 30 }")) == "");
  // 24 s planned (headroom 0.8): 400 jobs x 2 s must start within it.
  CHECK(answer(env, jobs_metrics(400, 10, 12, 2)) ==
        "34 | queue 400, 10 running, oldest 12 s, run time 2 s, 12 s left of 30: by queue");
  // One job, old: it must start within the 4 s it has left.
  CHECK(answer(env, jobs_metrics(1, 0, 20, 2)) ==
        "1 | queue 1, 0 running, oldest 20 s, run time 2 s, 4 s left of 30: by oldest");
  // Past the plan: a run time for the oldest at most; the queue's term restores the waits.
  CHECK(answer(env, jobs_metrics(10, 0, 40, 2)) ==
        "1 | queue 10, 0 running, oldest 40 s, run time 2 s, 0 s left of 30: by oldest");
  // Nothing waits: the running jobs keep their slots (an idle pool shrinks as they end).
  CHECK(answer(env, jobs_metrics(0, 3, 0, 2)) ==
        "3 | queue 0, 3 running, oldest 0 s, run time 2 s, 24 s left of 30: by running");
  CHECK(answer(env, jobs_metrics(0, 0, 0, 2)).starts_with("0 | "));
  CHECK(answer(env, jobs_metrics(3, 0, 0, 0)).starts_with("1 | "));  // jobs of no measurable run time
  // No run time yet: one more worker than the busy ones while jobs wait, to learn it.
  CHECK(answer(env, jobs_metrics(5, 0, std::nullopt, std::nullopt)) ==
        "1 | queue 5, 0 running, oldest 0 s, run time not known yet");
  CHECK(answer(env, queue_metrics(std::nullopt, 3)) == "nil | queue unknown");
  // The queue's growth over the window's history: 10 jobs/s, 20 more within a run time.
  PolicyMetrics m = jobs_metrics(200, 2, 5, 2);
  m.history = {PolicySample{.now = m.now - 10, .queue = 100}, PolicySample{.now = m.now - 5, .queue = 150},
               PolicySample{.now = m.now, .queue = 200}};
  CHECK(answer(env, m).starts_with("19 | "));  // (200 + 20) x 2 / 24 = 18.3
  m.history.clear();
  CHECK(answer(env, m).starts_with("17 | "));  // 200 x 2 / 24 = 16.7
  // run_time given (a probe's pool without m.run_time); long-lived workers let go.
  REQUIRE(env.build(slo("{ max_age = 10, headroom = 1, run_time = 0.5, keep_running = false }")) == "");
  CHECK(answer(env, jobs_metrics(100, 0, std::nullopt, std::nullopt)).starts_with("5 | "));  // 100 x 0.5 / 10
  CHECK(answer(env, jobs_metrics(0, 3, 0, std::nullopt)).starts_with("0 | "));
}

TEST_CASE("policy scripts: latency_slo rejects junk options at the config's line") {
  PolicyEnv env;
  CHECK(env.build(slo("{ max_age = 0 }")) ==
        "pools.lua:2: latency_slo: max_age must be a positive number of seconds, got 0");
  CHECK(env.build(slo("{ headroom = 1.5 }")) == "pools.lua:2: latency_slo: headroom must be a number in (0, 1], got 1.5");
  CHECK(env.build(slo("{ keep_running = 1 }")) == "pools.lua:2: latency_slo: keep_running must be true or false, got 1");
  CHECK(env.build(slo("{ max_wait = 30 }")) ==
        "pools.lua:2: latency_slo: unknown option \"max_wait\" "
        "(options: headroom, keep_running, max_age, run_time, window)");
  REQUIRE(env.build("return (load 'latency_slo')()") == "");
  CHECK(answer(env, jobs_metrics(0, 1, 0, 1)).find("24 s left of 30") != std::string::npos);
}
