// The scheduler: the missed policies as a pure plan, passes with a fake clock over two job
// queues sharing one database (two hosts: each tick fires once), and the thread waking
// at the tick rather than at its longest sleep.
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "jobs/scheduler.h"
#include "jobs/sqlite_job_store.h"

using namespace drover;
using namespace drover::jobs;

namespace {

constexpr int64_t T0 = 1'700'000'040'000;  // a whole minute, ms

struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() {
    std::string t = (std::filesystem::temp_directory_path() / "drover-scheduler-XXXXXX").string();
    REQUIRE(mkdtemp(t.data()));
    path = t;
  }
  ~ScratchDir() { std::filesystem::remove_all(path); }
};

ScheduleState state(const std::string& every, MissedPolicy missed, int64_t cursor) {
  ScheduleState s;
  s.schedule.name = "s";
  s.schedule.every = every;
  s.schedule.topic = "work";
  s.schedule.missed = missed;
  s.last_tick_ms = cursor;
  return s;
}

std::vector<PlannedTick> plan(const ScheduleState& s, int64_t now, int64_t* dropped) {
  auto expr = schedule_expr(s.schedule);
  REQUIRE(expr);
  return plan_ticks(s, *expr, nullptr, now, dropped);
}

std::unique_ptr<JobQueue> queue_on(const std::string& path, std::function<int64_t()> now) {
  auto s = SqliteJobStore::open(path, Durability::kOff);
  REQUIRE(s);
  return std::make_unique<JobQueue>(std::move(*s), std::move(now));
}

}  // namespace

TEST_CASE("scheduler: an on-time tick runs under every policy") {
  for (MissedPolicy p : {MissedPolicy::kSkip, MissedPolicy::kOne, MissedPolicy::kAll}) {
    int64_t dropped = -1;
    auto ticks = plan(state("1m", p, T0), T0 + 60'000 + 200, &dropped);
    REQUIRE(ticks.size() == 1);
    CHECK(ticks[0].tick_ms == T0 + 60'000);
    CHECK(ticks[0].plan.run);
    CHECK(ticks[0].plan.skipped == 0);
    CHECK(dropped == 0);
  }
  int64_t dropped = 0;
  CHECK(plan(state("1m", MissedPolicy::kSkip, T0), T0 + 59'999, &dropped).empty());
  ScheduleState off = state("1m", MissedPolicy::kAll, T0);
  off.schedule.enabled = false;
  CHECK(plan(off, T0 + 600'000, &dropped).empty());
}

TEST_CASE("scheduler: missed = skip runs no catch-up") {
  int64_t dropped = 0;
  // Ten ticks due, the latest 5 s late: it runs, the nine before are counted skipped.
  auto late = plan(state("1m", MissedPolicy::kSkip, T0), T0 + 600'000 + 5'000, &dropped);
  REQUIRE(late.size() == 1);
  CHECK(late[0].tick_ms == T0 + 600'000);
  CHECK(late[0].plan.run);
  CHECK(late[0].plan.skipped == 9);
  // The latest past the grace: none runs, all ten consumed.
  auto missed = plan(state("1m", MissedPolicy::kSkip, T0), T0 + 600'000 + kMissedGraceMs + 1, &dropped);
  REQUIRE(missed.size() == 1);
  CHECK(missed[0].tick_ms == T0 + 600'000);
  CHECK_FALSE(missed[0].plan.run);
  CHECK(missed[0].plan.skipped == 9);
  CHECK(missed[0].plan.note == "10 missed ticks not run (missed = \"skip\")");
}

TEST_CASE("scheduler: missed = one runs once for all the missed ticks") {
  int64_t dropped = 0;
  auto ticks = plan(state("1m", MissedPolicy::kOne, T0), T0 + 3'600'000 + kMissedGraceMs + 1, &dropped);
  REQUIRE(ticks.size() == 1);
  CHECK(ticks[0].tick_ms == T0 + 3'600'000);
  CHECK(ticks[0].plan.run);
  CHECK(ticks[0].plan.skipped == 59);
}

TEST_CASE("scheduler: missed = all runs each missed tick - the latest kMaxCatchUp") {
  int64_t dropped = 0;
  auto some = plan(state("1m", MissedPolicy::kAll, T0), T0 + 600'000 + 40'000, &dropped);
  REQUIRE(some.size() == 10);
  for (size_t i = 0; i < some.size(); ++i) {
    CHECK(some[i].tick_ms == T0 + 60'000 * static_cast<int64_t>(i + 1));
    CHECK(some[i].plan.run);
  }
  CHECK(dropped == 0);
  auto capped = plan(state("1m", MissedPolicy::kAll, T0), T0 + 1000 * 60'000, &dropped);
  REQUIRE(capped.size() == static_cast<size_t>(kMaxCatchUp));
  CHECK(dropped == 900);
  CHECK(capped.front().tick_ms == T0 + 901 * 60'000);
  CHECK(capped.front().plan.skipped == 900);
  CHECK(capped.back().tick_ms == T0 + 1000 * 60'000);
  // Every second for a week: bounded work (a walk of kMaxTickWalk, then the last
  // minute), the latest ticks still exact.
  auto week = plan(state("1s", MissedPolicy::kAll, T0), T0 + 7 * 86'400'000LL, &dropped);
  REQUIRE(week.size() >= 60);
  REQUIRE(week.size() <= static_cast<size_t>(kMaxCatchUp));
  CHECK(week.back().tick_ms == T0 + 7 * 86'400'000LL);
  CHECK(week[week.size() - 60].tick_ms == T0 + 7 * 86'400'000LL - 59'000);
  CHECK(dropped >= kMaxTickWalk - kMaxCatchUp);
}

TEST_CASE("scheduler: two hosts' passes with a fake clock fire each tick once") {
  ScratchDir dir;
  const std::string path = (dir.path / "jobs.db").string();
  std::atomic<int64_t> now{T0};
  auto clock = [&now] { return now.load(); };
  auto qa = queue_on(path, clock);
  auto qb = queue_on(path, clock);
  Scheduler::Options o;
  o.now = clock;
  o.run_thread = false;
  Scheduler a(*qa, o), b(*qb, o);
  Schedule s;
  s.name = "every-2s";
  s.every = "2s";
  s.topic = "work";
  REQUIRE(qa->call<ScheduleState>([&](JobStore& st, int64_t t) { return st.schedules()->upsert_schedule(s, t); })
              .get());
  size_t fired = 0;
  for (int step = 1; step <= 40; ++step) {
    now += 500;  // four passes per tick, alternating hosts, each tick seen by both
    auto ra = (step % 2 ? a : b).pass(now);
    auto rb = (step % 2 ? b : a).pass(now);
    REQUIRE(ra);
    REQUIRE(rb);
    fired += ra->fired.size() + rb->fired.size();
    CHECK(ra->next_ms > now.load());
    CHECK(ra->next_ms <= now.load() + 2000);
  }
  CHECK(fired == 10);  // 20 s of a 2 s interval
  auto jobs = qa->call<std::vector<Job>>([](JobStore& st, int64_t) { return st.list(JobFilter{}); }).get();
  REQUIRE(jobs);
  CHECK(jobs->size() == 10);
  CHECK(a.counters().fired + b.counters().fired == 10);
  // A restart of both: the same clock fires nothing more.
  qb.reset();
  auto qc = queue_on(path, clock);
  Scheduler c(*qc, o);
  auto rc = c.pass(now);
  REQUIRE(rc);
  CHECK(rc->fired.empty());
}

TEST_CASE("scheduler: the thread wakes at the tick - not at its longest sleep") {
  ScratchDir dir;
  auto q = queue_on((dir.path / "jobs.db").string(), nullptr);
  Schedule s;
  s.name = "fast";
  s.every = "1s";
  s.topic = "work";
  REQUIRE(q->call<ScheduleState>([&](JobStore& st, int64_t t) { return st.schedules()->upsert_schedule(s, t); })
              .get());
  std::mutex mu;
  std::condition_variable cv;
  int fired = 0;
  Scheduler::Options o;
  o.max_sleep_ms = 60'000;  // a scheduler that slept this long would miss the bound below
  o.fired = [&](const std::string& name, const Job& job) {
    CHECK(name == "fast");
    CHECK(job.topic == "work");
    std::lock_guard lock(mu);
    ++fired;
    cv.notify_all();
  };
  Scheduler sched(*q, o);
  std::unique_lock lock(mu);
  // Three ticks of a 1 s interval come within 4 s.
  CHECK(cv.wait_for(lock, std::chrono::seconds(10), [&] { return fired >= 3; }));
}
