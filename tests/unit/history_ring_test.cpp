// The history ring (api/history.h): a sample a second of each pool and topic, columnar
// reads, per-second differences of counters, NaN where a series had no value, coarser
// reads, bounded series, and the run-time quantiles of the runs between two samples.
#include <doctest/doctest.h>

#include <cmath>

#include "api/history.h"

using namespace drover;

namespace {

constexpr int64_t T0 = 1'700'000'000'000;

EngineSnapshot snap_with(int target, int running, uint64_t restarts) {
  EngineSnapshot s;
  PoolSnapshot p;
  p.spec.name = "web";
  p.target = target;
  p.running = running;
  p.busy = 1;
  p.counters.restarts = restarts;
  p.queue.depth = 7;
  s.pools.push_back(p);
  return s;
}

RunHistogram runs(std::vector<uint64_t> counts) {
  RunHistogram h;
  h.bounds = {0.1, 1, 10};
  h.counts = std::move(counts);
  for (auto c : h.counts) h.count += c;
  return h;
}

}  // namespace

TEST_CASE("history ring: columns per pool - restarts per second - a pool that came later is NaN before") {
  HistoryRing ring(10);
  ring.add(snap_with(2, 1, 5), T0);
  ring.add(snap_with(3, 3, 7), T0 + 1000);
  EngineSnapshot later = snap_with(3, 3, 7);
  PoolSnapshot batch;
  batch.spec.name = "batch";
  batch.target = 4;
  later.pools.push_back(batch);
  ring.add(later, T0 + 2000);

  History h = ring.read(0);
  CHECK(h.t_ms == std::vector<int64_t>{T0, T0 + 1000, T0 + 2000});
  REQUIRE(h.pools.size() == 2);
  const PoolHistory& web = h.pools[1];
  CHECK(web.pool == "web");
  CHECK(web.target == std::vector<double>{2, 3, 3});
  CHECK(web.running == std::vector<double>{1, 3, 3});
  CHECK(web.restarts == std::vector<double>{5, 2, 0});  // counts start at 0 with drover
  CHECK(web.queue == std::vector<double>{7, 7, 7});
  const PoolHistory& b = h.pools[0];
  CHECK(b.pool == "batch");
  CHECK(std::isnan(b.target[0]));
  CHECK(std::isnan(b.target[1]));
  CHECK(b.target[2] == 4);
  CHECK(std::isnan(b.queue[2]));  // no probe, no jobs: no queue reading
  // since: only what came after; only: one pool.
  History tail = ring.read(T0 + 1000, 1, "web");
  CHECK(tail.t_ms == std::vector<int64_t>{T0 + 2000});
  REQUIRE(tail.pools.size() == 1);
  CHECK(tail.pools[0].target == std::vector<double>{3});
}

TEST_CASE("history ring: wraps at its capacity - a coarser read keeps the last of each group - a pool gone that long goes") {
  HistoryRing ring(4);
  for (int i = 0; i < 6; ++i) ring.add(snap_with(i, i, 0), T0 + i * 1000);
  History h = ring.read(0);
  CHECK(h.t_ms == std::vector<int64_t>{T0 + 2000, T0 + 3000, T0 + 4000, T0 + 5000});
  CHECK(h.pools.at(0).target == std::vector<double>{2, 3, 4, 5});
  History coarse = ring.read(0, 3);
  CHECK(coarse.step_s == 3);
  CHECK(coarse.t_ms == std::vector<int64_t>{T0 + 2000, T0 + 5000});  // groups end at the newest
  for (int i = 6; i < 11; ++i) ring.add(EngineSnapshot{}, T0 + i * 1000);
  CHECK(ring.read(0).pools.empty());  // absent for more than the ring's span
}

TEST_CASE("history ring: at most kMaxHistorySeries pools - the rest counted as dropped - memory bounded by it") {
  HistoryRing ring(8);
  EngineSnapshot s;
  for (size_t i = 0; i < kMaxHistorySeries + 5; ++i) {
    PoolSnapshot p;
    p.spec.name = "p" + std::to_string(i);
    s.pools.push_back(p);
  }
  ring.add(s, T0);
  History h = ring.read(0);
  CHECK(h.pools.size() == kMaxHistorySeries);
  CHECK(h.dropped == 5);
  CHECK(ring.bytes() < kMaxHistorySeries * (8 * 5 * sizeof(float) + 300) + 1000);
}

TEST_CASE("history ring: a topic's done and failed per second - run time p50/p95 of that second's runs") {
  HistoryRing ring(10);
  auto topic = [](uint64_t done, uint64_t failed, RunHistogram h) {
    EngineSnapshot s;
    TopicGauge t;
    t.topic = "resize";
    t.queued = 40;
    t.done_total = done;
    t.failed_total = failed;
    t.run_time = std::move(h);
    s.jobs.push_back(t);
    return s;
  };
  ring.add(topic(100, 1, runs({50, 50, 1, 0})), T0);
  ring.add(topic(110, 3, runs({50, 60, 1, 0})), T0 + 1000);  // 10 runs, all in (0.1, 1]
  ring.add(topic(110, 3, runs({50, 60, 1, 0})), T0 + 2000);  // none
  History h = ring.read(0);
  REQUIRE(h.topics.size() == 1);
  const TopicHistory& t = h.topics[0];
  CHECK(t.queued == std::vector<double>{40, 40, 40});
  CHECK(t.done == std::vector<double>{100, 10, 0});
  CHECK(t.failed == std::vector<double>{1, 2, 0});
  CHECK(t.run_p50_s[0] == doctest::Approx(0.109));  // rank 50.5 of 101: just into the (0.1, 1] bucket
  CHECK(t.run_p50_s[1] == doctest::Approx(0.55));  // halfway through the (0.1, 1] bucket
  CHECK(t.run_p95_s[1] == doctest::Approx(0.1 + 0.9 * 0.95));
  CHECK(std::isnan(t.run_p50_s[2]));
  CHECK(std::isnan(histogram_delta_quantile(runs({1, 0, 0, 0}), runs({1, 0, 0, 0}), 0.5)));
  CHECK(histogram_delta_quantile(runs({0, 0, 0, 0}), runs({0, 0, 0, 4}), 0.5) == 10);  // past the last bound
}
