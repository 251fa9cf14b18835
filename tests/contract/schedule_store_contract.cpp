// The schedule store's contract (jobs/schedule_store.h), run on each store that has
// schedules (the harness of job_store_contract.h: SQLite in unit_tests, PostgreSQL in
// pg_tests): a tick fires once across store objects on one database (hosts) racing on
// threads and across a restart, overlap = false, on/off, run_now, and bad definitions
// refused naming the field. Time is a parameter (a fake clock).
#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "jobs/schedule_store.h"
#include "tests/contract/job_store_contract.h"

using namespace drover;
using namespace drover::jobs;
using namespace drover::test;

namespace {

constexpr int64_t T0 = 1'700'000'000'000;  // a wall clock, ms

// A job store and its schedules: the half of the store these cases are about.
struct Host {
  std::unique_ptr<JobStore> jobs;
  ScheduleStore* sched = nullptr;
  ScheduleStore* operator->() { return sched; }
};

// Another store object on the harness's database: another host, or a restart. Opened on
// the test's thread: a REQUIRE failing on another thread would abort the whole run.
Host open_host(StoreHarness& h) {
  Host out{h.open()};
  out.sched = out.jobs->schedules();
  REQUIRE_MESSAGE(out.sched, "the store has no schedules");
  return out;
}

// A store on a database of its own.
struct Fresh {
  std::unique_ptr<StoreHarness> harness = make_store_harness();
  Host host = open_host(*harness);
  ScheduleStore* operator->() { return host.sched; }
  JobStore& jobs() { return *host.jobs; }
};

Schedule every_second(const std::string& name = "tick") {
  Schedule s;
  s.name = name;
  s.every = "1s";
  s.topic = "work";
  s.args = R"({"n":1})";
  return s;
}

size_t job_count(JobStore& store) {
  JobFilter f;
  f.limit = kMaxListLimit;
  auto jobs = store.list(f);
  REQUIRE(jobs);
  return jobs->size();
}

}  // namespace

TEST_CASE("schedule store: a definition is kept - listed - replaced keeping its cursor - removed") {
  Fresh store;
  auto made = store->upsert_schedule(every_second(), T0);
  REQUIRE(made);
  CHECK(made->schedule == every_second());
  CHECK(made->created_ms == T0);
  CHECK(made->last_tick_ms == T0);  // nothing before its creation is due
  REQUIRE(store->fire_schedule("tick", T0 + 1000, {}, T0 + 1000));
  Schedule changed = every_second();
  changed.every = "2s";
  changed.tz = "Europe/Berlin";
  auto replaced = store->upsert_schedule(changed, T0 + 5000);
  REQUIRE(replaced);
  CHECK(replaced->schedule.every == "2s");
  CHECK(replaced->created_ms == T0);
  CHECK(replaced->last_tick_ms == T0 + 1000);
  CHECK(replaced->runs == 1);
  REQUIRE(store->upsert_schedule(every_second("another"), T0));
  auto all = store->list_schedules();
  REQUIRE(all);
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].schedule.name == "another");
  CHECK(store->remove_schedule("another"));
  CHECK(store->remove_schedule("another").code() == Status::Code::kNotFound);
  CHECK(store->get_schedule("another").error().code() == Status::Code::kNotFound);
}

TEST_CASE("schedule store: a bad definition is refused naming the field - and changes nothing") {
  Fresh store;
  auto refused = [&](Schedule s, const std::string& needle) {
    auto r = store->upsert_schedule(s, T0);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Status::Code::kInvalidArgument);
    CHECK_MESSAGE(r.error().message().find(needle) != std::string::npos, r.error().message());
  };
  Schedule s = every_second();
  s.every = "";
  refused(s, "schedule \"tick\".cron: give exactly one of cron and every");
  s.cron = "0 3 * * *";
  s.every = "1s";
  refused(s, "give exactly one");
  s.every = "";
  s.cron = "0 3 * * * * *";
  refused(s, "schedule \"tick\".cron: cron \"0 3 * * * * *\": 7 fields");
  s.cron = "0 25 * * *";
  refused(s, "schedule \"tick\".cron: cron field 2 (hour)");
  s.cron = "0 3 * * *";
  s.tz = "Mars/Olympus";
  refused(s, "schedule \"tick\".tz: unknown time zone");
  s.tz = "";
  s.topic = "";
  refused(s, "schedule \"tick\".topic");
  s.topic = "work";
  s.args = "{not json";
  refused(s, "schedule \"tick\".args: is not JSON");
  s.args = "{}";
  s.max_attempts = 0;
  refused(s, "schedule \"tick\".attempts");
  s.max_attempts = 3;
  s.name = "a/b";
  refused(s, "schedule \"a/b\".name");
  s.name = "";
  refused(s, ".name: must be 1 to");
  s = every_second();
  s.every = "soon";
  refused(s, "schedule \"tick\".every: every \"soon\"");
  auto all = store->list_schedules();
  REQUIRE(all);
  CHECK(all->empty());
}

TEST_CASE("schedule store: two hosts on one database fire each tick once") {
  auto harness = make_store_harness();
  Host a = open_host(*harness), b = open_host(*harness);
  REQUIRE(a->upsert_schedule(every_second(), T0));
  int fired_a = 0, fired_b = 0;
  for (int i = 1; i <= 20; ++i) {
    const int64_t tick = T0 + i * 1000;
    // Alternate who asks first: either may win, never both.
    ScheduleStore* first = i % 2 ? a.sched : b.sched;
    ScheduleStore* second = i % 2 ? b.sched : a.sched;
    auto r1 = first->fire_schedule("tick", tick, {}, tick);
    auto r2 = second->fire_schedule("tick", tick, {}, tick + 5);
    REQUIRE(r1);
    REQUIRE(r2);
    CHECK(r1->kind == TickResult::Kind::kFired);
    CHECK(r2->kind == TickResult::Kind::kTaken);
    CHECK_FALSE(r2->job.has_value());
    (first == a.sched ? fired_a : fired_b) += 1;
    // A late or repeated call for an older tick is taken too.
    auto again = second->fire_schedule("tick", tick - 1000, {}, tick + 6);
    REQUIRE(again);
    CHECK(again->kind == TickResult::Kind::kTaken);
  }
  CHECK(fired_a == 10);
  CHECK(fired_b == 10);
  CHECK(job_count(*a.jobs) == 20);
  auto row = b->get_schedule("tick");
  REQUIRE(row);
  CHECK(row->runs == 20);
  CHECK(row->last_tick_ms == T0 + 20'000);
  CHECK(row->last_job_state == JobState::kQueued);
}

TEST_CASE("schedule store: three hosts racing on threads still fire each tick once") {
  auto harness = make_store_harness();
  {
    Host setup = open_host(*harness);
    REQUIRE(setup->upsert_schedule(every_second(), T0));
  }
  constexpr int kTicks = 100;
  constexpr int kHosts = 3;
  std::atomic<int> fired{0}, taken{0}, errors{0};
  // Opened here: a REQUIRE failing on a thread would abort the whole run.
  std::vector<Host> hosts;
  for (int i = 0; i < kHosts; ++i) hosts.push_back(open_host(*harness));
  auto host = [&](ScheduleStore* store) {
    for (int i = 1; i <= kTicks; ++i) {
      auto r = store->fire_schedule("tick", T0 + i * 1000, {}, T0 + i * 1000);
      if (!r) ++errors;
      else if (r->kind == TickResult::Kind::kFired) ++fired;
      else ++taken;
    }
  };
  std::vector<std::thread> threads;
  for (Host& h : hosts) threads.emplace_back(host, h.sched);
  for (std::thread& t : threads) t.join();
  CHECK(errors == 0);
  CHECK(fired == kTicks);
  CHECK(taken == (kHosts - 1) * kTicks);
  Host check = open_host(*harness);
  CHECK(job_count(*check.jobs) == kTicks);
  auto row = check->get_schedule("tick");
  REQUIRE(row);
  CHECK(row->runs == kTicks);
  CHECK(row->last_tick_ms == T0 + kTicks * 1000);
}

TEST_CASE("schedule store: a restart does not fire a tick again") {
  auto harness = make_store_harness();
  {
    Host before = open_host(*harness);
    REQUIRE(before->upsert_schedule(every_second(), T0));
    auto r = before->fire_schedule("tick", T0 + 1000, {}, T0 + 1000);
    REQUIRE(r);
    CHECK(r->kind == TickResult::Kind::kFired);
  }
  Host after = open_host(*harness);
  auto r = after->fire_schedule("tick", T0 + 1000, {}, T0 + 1500);
  REQUIRE(r);
  CHECK(r->kind == TickResult::Kind::kTaken);
  CHECK(job_count(*after.jobs) == 1);
  auto row = after->get_schedule("tick");
  REQUIRE(row);
  CHECK(row->runs == 1);
}

TEST_CASE("schedule store: overlap = false skips a tick while the previous run waits or runs") {
  Fresh store;
  Schedule s = every_second();
  s.overlap = false;
  REQUIRE(store->upsert_schedule(s, T0));
  auto first = store->fire_schedule("tick", T0 + 1000, {}, T0 + 1000);
  REQUIRE(first);
  REQUIRE(first->kind == TickResult::Kind::kFired);
  auto queued = store->fire_schedule("tick", T0 + 2000, {}, T0 + 2000);
  REQUIRE(queued);
  CHECK(queued->kind == TickResult::Kind::kSkipped);
  CHECK(queued->note == "job " + std::to_string(first->job->id) + " still queued");
  auto claimed = store.jobs().claim("work", 1, T0 + 2100, "h", "w");
  REQUIRE(claimed);
  REQUIRE(claimed->size() == 1);
  auto running = store->fire_schedule("tick", T0 + 3000, {}, T0 + 3000);
  REQUIRE(running);
  CHECK(running->kind == TickResult::Kind::kSkipped);
  CHECK(running->note.find("still running") != std::string::npos);
  auto row = store->get_schedule("tick");
  REQUIRE(row);
  CHECK(row->skipped == 2);
  CHECK(row->last_tick_ms == T0 + 3000);  // the skipped ticks are consumed
  CHECK(schedule_outcome(*row).find("skipped: job") == 0);
  REQUIRE(store.jobs().finish(first->job->id, {true, "ok"}, T0 + 3500, 0));
  auto next = store->fire_schedule("tick", T0 + 4000, {}, T0 + 4000);
  REQUIRE(next);
  CHECK(next->kind == TickResult::Kind::kFired);
  CHECK(job_count(store.jobs()) == 2);
  // With overlap allowed (the default) a waiting run does not stop the next.
  REQUIRE(store->upsert_schedule(every_second(), T0 + 4100));
  auto overlapping = store->fire_schedule("tick", T0 + 5000, {}, T0 + 5000);
  REQUIRE(overlapping);
  CHECK(overlapping->kind == TickResult::Kind::kFired);
}

TEST_CASE("schedule store: off fires nothing - on again does not run the ticks it missed") {
  Fresh store;
  REQUIRE(store->upsert_schedule(every_second(), T0));
  auto off = store->set_schedule_enabled("tick", false, T0 + 500);
  REQUIRE(off);
  CHECK_FALSE(off->schedule.enabled);
  auto r = store->fire_schedule("tick", T0 + 1000, {}, T0 + 1000);
  REQUIRE(r);
  CHECK(r->kind == TickResult::Kind::kTaken);
  auto on = store->set_schedule_enabled("tick", true, T0 + 60'000);
  REQUIRE(on);
  CHECK(on->last_tick_ms == T0 + 60'000);
  auto old = store->fire_schedule("tick", T0 + 30'000, {}, T0 + 60'000);
  REQUIRE(old);
  CHECK(old->kind == TickResult::Kind::kTaken);
  CHECK(store->set_schedule_enabled("nope", true, T0).error().code() == Status::Code::kNotFound);
  CHECK(job_count(store.jobs()) == 0);
}

TEST_CASE("schedule store: run_now enqueues at once - off or not - and leaves the cursor") {
  Fresh store;
  Schedule s = every_second();
  s.priority = 7;
  s.max_attempts = 2;
  s.timeout_s = 9;
  REQUIRE(store->upsert_schedule(s, T0));
  REQUIRE(store->set_schedule_enabled("tick", false, T0));
  auto job = store->run_schedule_now("tick", T0 + 10);
  REQUIRE(job);
  CHECK(job->topic == "work");
  CHECK(job->args == R"({"n":1})");
  CHECK(job->priority == 7);
  CHECK(job->max_attempts == 2);
  CHECK(job->timeout_s == 9);
  auto row = store->get_schedule("tick");
  REQUIRE(row);
  CHECK(row->last_job == job->id);
  CHECK(row->last_run_ms == T0 + 10);
  CHECK(row->last_tick_ms == T0);
  CHECK(schedule_outcome(*row) == "queued");
  CHECK(store->run_schedule_now("nope", T0).error().code() == Status::Code::kNotFound);
}

TEST_CASE("schedule store: a plan that does not run consumes the tick and counts the skips") {
  Fresh store;
  REQUIRE(store->upsert_schedule(every_second(), T0));
  auto r = store->fire_schedule("tick", T0 + 5000, TickPlan{false, 4, "5 missed ticks not run"}, T0 + 50'000);
  REQUIRE(r);
  CHECK(r->kind == TickResult::Kind::kSkipped);
  auto row = store->get_schedule("tick");
  REQUIRE(row);
  CHECK(row->skipped == 5);
  CHECK(row->last_tick_ms == T0 + 5000);
  CHECK(schedule_outcome(*row) == "skipped: 5 missed ticks not run");
  CHECK(job_count(store.jobs()) == 0);
}
