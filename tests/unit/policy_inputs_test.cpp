// build_policy_metrics (shell/autoscale/policy_inputs.h): the table m from what a tick
// read, without an engine, probes or Lua.
#include "shell/autoscale/policy_inputs.h"

#include <doctest/doctest.h>

using namespace drover;

namespace {

PoolSnapshot pool(const std::string& name, int target, int running, int busy) {
  PoolSnapshot ps;
  ps.spec.name = name;
  ps.spec.n = target;
  ps.target = target;
  ps.running = running;
  ps.busy = busy;
  ps.idle = running - busy;
  return ps;
}

TickReadings readings() {
  TickReadings r;
  r.snap.pools = {pool("foo", 3, 2, 1), pool("bar", 5, 5, 5)};
  r.sys.load1 = 1.5;
  r.sys.cpus = 4;
  r.sys.cpu = 0.25;
  r.sys.mem_total_bytes = 8ull << 30;
  r.procs["foo"] = ProcessTotals{.cpu = 1.5, .rss_bytes = 1000, .processes = 3};
  return r;
}

}  // namespace

TEST_CASE("policy inputs: m carries the pool, the machine, the limits, the budget and every autoscaled pool") {
  std::map<std::string, PoolInputs> pools;
  pools["foo"] = {.limits = {.min = 1, .max = 9}, .queue = 40, .inflight = 2, .rate = -3};
  pools["bar"] = {.limits = {.min = 0, .max = 20}, .queue = std::nullopt, .inflight = 7};
  const PolicyMetrics m = build_policy_metrics("foo", readings(), pools, 1704067200.5, 0.2, {}, 12);
  CHECK(m.name == "foo");
  CHECK(m.now == 1704067200.5);
  CHECK(m.dt == 0.2);
  CHECK(m.queue == 40.0);
  CHECK(m.inflight == 2.0);
  CHECK(m.queue_rate == -3.0);
  CHECK(m.workers.target == 3);
  CHECK(m.workers.busy == 1);
  CHECK(m.workers.idle == 1);
  CHECK(m.load1 == 1.5);
  CHECK(m.cpu == 0.25);
  CHECK(m.cpus == 4);
  CHECK(m.pool_cpu == 1.5);
  CHECK(m.pool_processes == 3);
  CHECK(m.min == 1);
  CHECK(m.max == 9);
  CHECK(m.budget == 12);
  REQUIRE(m.pools.size() == 2);
  CHECK(m.pools.at("bar").workers.running == 5);
  CHECK(m.pools.at("bar").max == 20);
  CHECK_FALSE(m.pools.at("bar").inflight);  // no queue, so no inflight either
  REQUIRE(m.history.size() == 1);           // this call, appended
  CHECK(m.history.back().queue == 40.0);
}

TEST_CASE("policy inputs: unknown stays unknown - no queue, no rate or inflight; no budget, nil") {
  std::map<std::string, PoolInputs> pools;
  pools["foo"] = {.limits = {.min = 1, .max = 9}, .queue = std::nullopt, .inflight = 2, .rate = 1};
  TickReadings r = readings();
  r.sys.cpu = -1;  // no interval yet
  const PolicyMetrics m = build_policy_metrics("foo", r, pools, 0, std::nullopt, {}, 0);
  CHECK_FALSE(m.queue);
  CHECK_FALSE(m.queue_rate);
  CHECK_FALSE(m.inflight);
  CHECK_FALSE(m.dt);
  CHECK_FALSE(m.cpu);
  CHECK_FALSE(m.budget);
}

TEST_CASE("policy inputs: a Lua fn probe's rate comes from the history") {
  std::map<std::string, PoolInputs> pools;
  pools["foo"] = {.limits = {.max = 9}, .queue = 30, .fn_probe = true};
  std::deque<PolicySample> history{PolicySample{.now = 1, .queue = 10}};
  const PolicyMetrics m = build_policy_metrics("foo", readings(), pools, 5, 4, history, 0);
  CHECK(m.queue_rate == 5.0);  // (30 - 10) / 4 s
  CHECK(m.history.size() == 2);
  // The first call has no dt, so no rate.
  CHECK_FALSE(build_policy_metrics("foo", readings(), pools, 5, std::nullopt, history, 0).queue_rate);
}

TEST_CASE("policy inputs: a jobs pool without a probe is sized from drover's own queue - m.age, m.run_time") {
  TickReadings r = readings();
  r.snap.pools[1].spec.jobs = true;  // bar
  TopicGauge t;
  t.topic = "bar";
  t.queued = 40;
  t.scheduled = 7;  // delayed: not in m.queue
  t.running = 5;
  t.oldest_age_s = 12.5;
  t.run_time.sum = 20;
  t.run_time.count = 10;
  r.snap.jobs = {t};
  std::map<std::string, PoolInputs> pools;
  pools["foo"] = {.limits = {.min = 1, .max = 9}};
  pools["bar"] = {.limits = {.min = 0, .max = 20}};
  PolicyMetrics m = build_policy_metrics("bar", r, pools, 1000, std::nullopt, {}, 0);
  CHECK(m.queue == 40.0);
  CHECK(m.inflight == 5.0);
  CHECK(m.age == 12.5);
  CHECK(m.run_time == 2.0);  // since start: no earlier call to measure from
  CHECK_FALSE(m.queue_rate);
  CHECK(m.pools.at("bar").age == 12.5);
  CHECK(m.pools.at("bar").queue == 40.0);
  CHECK_FALSE(m.pools.at("foo").queue);  // not a jobs pool: nothing from the queue
  CHECK_FALSE(m.pools.at("foo").age);
  // The next call: the queue's rate, and the run time of the attempts that ended since.
  r.snap.jobs[0].queued = 30;
  r.snap.jobs[0].run_time.sum = 50;  // 5 more runs of 6 s
  r.snap.jobs[0].run_time.count = 15;
  m = build_policy_metrics("bar", r, pools, 1002, 2.0, m.history, 0);
  CHECK(m.queue_rate == -5.0);
  CHECK(m.run_time == 6.0);
  REQUIRE(m.history.size() == 2);
  CHECK(m.history.back().age == 12.5);
  // A job claimed since the refresh: the pool's own job processes count, so that a policy
  // never sizes below a job that has just begun.
  r.snap.jobs[0].running = 0;
  r.snap.pools[1].running = 4;
  r.snap.pools[1].starting = 2;
  CHECK(build_policy_metrics("bar", r, pools, 1006, 2.0, {}, 0).inflight == 6.0);
  // With a probe configured the probe is the queue, whatever the job queue says.
  pools["bar"].probe = true;
  pools["bar"].queue = 3;
  m = build_policy_metrics("bar", r, pools, 1004, 2.0, {}, 0);
  CHECK(m.queue == 3.0);
  CHECK_FALSE(m.age);
  CHECK_FALSE(m.run_time);
}
