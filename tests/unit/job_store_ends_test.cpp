// How runs end in the store, beyond finish(): finish_all, the burst path of worker mode
// (each end recorded as finish() would record it, whichever way the store takes: SQLite's
// one-UPDATE path for a plain done job, the general one for failures, fan-out children and
// refusals; the answers in order), and reschedule, a retry delay function's late answer.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include "jobs/sqlite_job_store.h"

using namespace drover;
using namespace drover::jobs;

namespace {

constexpr int64_t T0 = 1'700'000'000'000;  // a wall clock, ms

std::unique_ptr<SqliteJobStore> memory_store() {
  auto s = SqliteJobStore::open(":memory:", Durability::kOff);
  REQUIRE(s);
  return std::move(*s);
}

JobRequest req(std::string topic, int attempts = 3) {
  JobRequest r;
  r.topic = std::move(topic);
  r.max_attempts = attempts;
  return r;
}

}  // namespace

TEST_CASE("finish_all: done, failed to retry, dead, a fan-out child, and a job not running - each as finish() says, in order") {
  auto store = memory_store();
  JobRequest fan = req("");
  fan.topics = {"resize"};
  auto made = store->enqueue({req("resize"), req("resize"), req("resize", 1), fan, req("resize")}, T0);
  REQUIRE(made);
  auto claimed = store->claim("resize", 10, T0, "h", "w");
  REQUIRE(claimed);
  REQUIRE(claimed->size() == 5);  // four plain jobs and the fan-out's child
  const JobId done = (*made)[0].id, retried = (*made)[1].id, dead = (*made)[2].id, parent = (*made)[3].id;
  const JobId unclaimed = (*made)[4].id;
  JobId child = 0;
  for (const Job& j : *claimed)
    if (j.parent == parent) child = j.id;
  REQUIRE(child != 0);
  REQUIRE(store->cancel(unclaimed, T0));  // no longer running: its end is refused

  std::vector<int> attempts_seen;
  const RetryAt retry_at = [&](int attempt, int64_t now) {
    attempts_seen.push_back(attempt);
    return now + 5000;
  };
  auto out = store->finish_all({{done, {true, "ok"}},
                                {retried, {false, "boom"}},
                                {dead, {false, "last"}},
                                {child, {true, "child ok"}},
                                {unclaimed, {true, "late"}}},
                               T0 + 100, retry_at);
  REQUIRE(out.size() == 5);
  REQUIRE(out[0]);
  CHECK(out[0]->state == JobState::kDone);
  CHECK(out[0]->result == "ok");
  CHECK(out[0]->finished_ms == T0 + 100);
  REQUIRE(out[1]);
  CHECK(out[1]->state == JobState::kFailed);
  CHECK(out[1]->error == "boom");
  CHECK(out[1]->run_at_ms == T0 + 100 + 5000);
  REQUIRE(out[2]);
  CHECK(out[2]->state == JobState::kDead);
  CHECK(attempts_seen == std::vector<int>{1, 1});  // asked for both failures, with the attempt that failed
  REQUIRE(out[3]);
  CHECK(out[3]->state == JobState::kDone);
  CHECK(store->get(parent)->state == JobState::kDone);  // the parent settled with its only child
  CHECK_FALSE(out[4]);
  CHECK(out[4].error().message().find("cancelled") != std::string::npos);
  CHECK(store->get(unclaimed)->state == JobState::kCancelled);
  CHECK(store->get(done)->result == "ok");  // what the answers say is what the store holds
}

TEST_CASE("reschedule: moves a failed job's retry for the attempt it names - refused once the job has moved on") {
  auto store = memory_store();
  const JobId id = store->enqueue({req("resize")}, T0)->front().id;
  REQUIRE(store->claim("resize", 1, T0, "h", "w"));
  REQUIRE(store->finish(id, {false, "boom"}, T0 + 10, T0 + 1000)->run_at_ms == T0 + 1000);
  auto moved = store->reschedule(id, 1, T0 + 30000);
  REQUIRE(moved);
  CHECK(moved->run_at_ms == T0 + 30000);
  CHECK(moved->state == JobState::kFailed);
  CHECK(store->get(id)->run_at_ms == T0 + 30000);
  CHECK(store->claim("resize", 1, T0 + 29999, "h", "w")->empty());  // not due before the new time
  // Another attempt's answer, or one for a job that ran again meanwhile, changes nothing.
  auto wrong_attempt = store->reschedule(id, 2, T0 + 5);
  CHECK_FALSE(wrong_attempt);
  CHECK(wrong_attempt.error().message() == fmt::format("job {} no longer waits to retry attempt 2: it is failed at attempt 1", id));
  REQUIRE(store->claim("resize", 1, T0 + 30000, "h", "w")->size() == 1);
  CHECK_FALSE(store->reschedule(id, 1, T0 + 5));
  CHECK(store->get(id)->state == JobState::kRunning);
  CHECK(store->reschedule(999, 1, T0).error().code() == Status::Code::kNotFound);
}
