// The job queue's per-topic numbers in memory: the store's counts from live_stats (equal to
// stats() for what both give, done and cancelled rows left unread), the oldest age growing
// between refreshes, totals and the run-time histogram from what the dispatcher reports.
#include <doctest/doctest.h>

#include "jobs/sqlite_job_store.h"
#include "jobs/topic_counters.h"

using namespace drover;
using namespace drover::jobs;

namespace {

std::unique_ptr<SqliteJobStore> memory_store() {
  auto s = SqliteJobStore::open(":memory:", Durability::kOff);
  REQUIRE(s);
  return std::move(*s);
}

JobRequest req(std::string topic, double delay_s = 0, int attempts = 3) {
  JobRequest r;
  r.topic = std::move(topic);
  r.delay_s = delay_s;
  r.max_attempts = attempts;
  return r;
}

const TopicGauge* find(const std::vector<TopicGauge>& gs, const std::string& topic) {
  for (const auto& g : gs)
    if (g.topic == topic) return &g;
  return nullptr;
}

}  // namespace

TEST_CASE("topic counters: live_stats gives stats() without the finished rows") {
  auto store = memory_store();
  const int64_t t0 = 1'000'000;
  REQUIRE(store->enqueue({req("a"), req("a"), req("a"), req("a", 60), req("b", 0, 1), req("b")}, t0));
  auto claimed = store->claim("a", 2, t0 + 1000, "h", "w");
  REQUIRE(claimed);
  REQUIRE(claimed->size() == 2);
  REQUIRE(store->finish((*claimed)[0].id, {true, "ok"}, t0 + 2000, 0));
  REQUIRE(store->finish((*claimed)[1].id, {false, "boom"}, t0 + 2000, t0 + 9000));  // failed, retry later
  auto b = store->claim("b", 1, t0 + 1000, "h", "w");
  REQUIRE(b);
  REQUIRE(store->finish((*b)[0].id, {false, "boom"}, t0 + 2000, 0));  // its only attempt: dead
  auto full = store->stats(t0 + 3000);
  auto live = store->live_stats(t0 + 3000);
  REQUIRE(full);
  REQUIRE(live);
  REQUIRE(full->size() == 2);
  REQUIRE(live->size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    TopicStats want = (*full)[i];
    want.done = want.cancelled = 0;
    CHECK((*live)[i] == want);
  }
  CHECK((*full)[0].done == 1);
  CHECK((*live)[0].queued == 1);
  CHECK((*live)[0].scheduled == 1);
  CHECK((*live)[0].failed == 1);
  CHECK((*live)[0].oldest_age_s == doctest::Approx(3.0));
  CHECK((*live)[1].dead == 1);
  CHECK((*live)[1].queued == 1);
}

TEST_CASE("topic counters: a refresh sets the store's counts - the oldest age grows until the next") {
  TopicCounters c;
  TopicStats a;
  a.topic = "a";
  a.queued = 3;
  a.scheduled = 1;
  a.running = 2;
  a.failed = 1;
  a.dead = 4;
  a.oldest_age_s = 2.5;
  c.refresh({a}, 10'000);
  CHECK(c.refreshed_ms() == 10'000);
  auto g = c.gauges(10'000);
  REQUIRE(g.size() == 1);
  CHECK(g[0].topic == "a");
  CHECK(g[0].queued == 3);
  CHECK(g[0].scheduled == 1);
  CHECK(g[0].running == 2);
  CHECK(g[0].retrying == 1);
  CHECK(g[0].dead == 4);
  CHECK(g[0].oldest_age_s == doctest::Approx(2.5));
  CHECK(c.gauges(11'500)[0].oldest_age_s == doctest::Approx(4.0));
  // Claimed since: nothing waits, no age, until the next refresh says otherwise.
  c.on_started("a", 4);
  CHECK(c.gauges(11'500)[0].oldest_age_s == 0);
  // Emptied: the topic stays, its counts 0, no age.
  c.refresh({}, 12'000);
  g = c.gauges(13'000);
  REQUIRE(g.size() == 1);
  CHECK(g[0].queued == 0);
  CHECK(g[0].running == 0);
  CHECK(g[0].oldest_age_s == 0);
}

TEST_CASE("topic counters: enqueues, starts and ends move the counts until the next refresh makes them exact") {
  TopicCounters c;
  c.on_enqueued("a", 3, 1);
  auto g = c.gauges(0);
  REQUIRE(g.size() == 1);
  CHECK(g[0].queued == 3);
  CHECK(g[0].scheduled == 1);
  c.on_started("a", 2);
  c.on_end("a", JobState::kFailed, 1);
  g = c.gauges(0);
  CHECK(g[0].queued == 1);
  CHECK(g[0].running == 1);
  CHECK(g[0].retrying == 1);
  c.on_started("a", 1);  // the last queued one
  c.on_started("a", 1);  // then the retry
  g = c.gauges(0);
  CHECK(g[0].queued == 0);
  CHECK(g[0].retrying == 0);
  CHECK(g[0].running == 3);
  c.on_started("a", 5);  // more than it knew of: never below 0
  CHECK(c.gauges(0)[0].queued == 0);
  TopicStats exact;
  exact.topic = "a";
  exact.queued = 7;
  c.refresh({exact}, 1000);
  g = c.gauges(1000);
  CHECK(g[0].queued == 7);
  CHECK(g[0].running == 0);
  CHECK(g[0].enqueued_total == 4);  // totals are not the refresh's
}

TEST_CASE("topic counters: totals and the run-time histogram count what is reported") {
  TopicCounters c({1, 10});
  c.on_enqueued("a", 5);
  c.on_started("a", 4);
  c.on_end("a", JobState::kDone, 0.5);
  c.on_end("a", JobState::kDone, 1.0);  // le="1": at most a second
  c.on_end("a", JobState::kFailed, 3);
  c.on_end("a", JobState::kDead, 20);
  c.on_end("a", JobState::kCancelled, 0);
  c.on_enqueued("b", 1);
  auto g = c.gauges(0);
  REQUIRE(g.size() == 2);
  const TopicGauge* a = find(g, "a");
  REQUIRE(a);
  CHECK(a->enqueued_total == 5);
  CHECK(a->started_total == 4);
  CHECK(a->done_total == 2);
  CHECK(a->failed_total == 2);
  CHECK(a->dead_total == 1);
  CHECK(a->cancelled_total == 1);
  CHECK(a->run_time.bounds == std::vector<double>{1, 10});
  CHECK(a->run_time.counts == std::vector<uint64_t>{2, 1, 1});
  CHECK(a->run_time.count == 4);
  CHECK(a->run_time.sum == doctest::Approx(24.5));
  const TopicGauge* b = find(g, "b");
  REQUIRE(b);
  CHECK(b->enqueued_total == 1);
  CHECK(b->run_time.count == 0);
}
