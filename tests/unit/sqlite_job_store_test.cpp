// The SQLite job store's semantics, with time as a parameter (the fake clock is a number):
// dispatch order, delays, retries to dead and back, cancel, unique keys, what a restart
// finds running, retention, and bad requests refused whole.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

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

JobRequest req(std::string topic, std::string args = "{}") {
  JobRequest r;
  r.topic = std::move(topic);
  r.args = std::move(args);
  return r;
}

std::vector<JobId> ids(const std::vector<Job>& jobs) {
  std::vector<JobId> out;
  for (const auto& j : jobs) out.push_back(j.id);
  return out;
}

// A directory removed with what it holds.
struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() {
    std::string t = (std::filesystem::temp_directory_path() / "drover-jobs-XXXXXX").string();
    REQUIRE(mkdtemp(t.data()));
    path = t;
  }
  ~ScratchDir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST_CASE("job store: enqueue keeps what was asked - claim by priority then due time then id - running with attempt 1") {
  auto store = memory_store();
  JobRequest urgent = req("resize", R"({"file": "b.png"})");
  urgent.priority = 5;
  JobRequest later = req("resize");
  later.delay_s = 10;
  later.priority = 9;  // the highest priority, but not due yet
  auto made = store->enqueue({req("resize", R"({"file": "a.png"})"), urgent, later, req("mail")}, T0);
  REQUIRE(made);
  REQUIRE(made->size() == 4);
  CHECK((*made)[0].state == JobState::kQueued);
  CHECK((*made)[0].args == R"({"file": "a.png"})");
  CHECK((*made)[0].created_ms == T0);
  CHECK((*made)[2].run_at_ms == T0 + 10'000);
  CHECK((*made)[1].id > (*made)[0].id);
  for (const Job& j : *made) CHECK(*store->get(j.id) == j);  // what enqueue answers is what is stored

  auto claimed = store->claim("resize", 10, T0 + 1, "host1", "resize.0");
  REQUIRE(claimed);
  CHECK(ids(*claimed) == std::vector<JobId>{(*made)[1].id, (*made)[0].id});  // priority 5 first; `later` not due
  CHECK((*claimed)[0].state == JobState::kRunning);
  CHECK((*claimed)[0].attempt == 1);
  CHECK((*claimed)[0].started_ms == T0 + 1);
  CHECK((*claimed)[0].host == "host1");
  CHECK((*claimed)[0].worker == "resize.0");
  CHECK(store->claim("resize", 10, T0 + 2, "h", "w")->empty());  // claimed jobs are not handed out twice
  auto due = store->claim("resize", 10, T0 + 10'000, "h", "w");
  REQUIRE(due);
  CHECK(ids(*due) == std::vector<JobId>{(*made)[2].id});
  CHECK(ids(*store->claim("mail", 1, T0, "h", "w")) == std::vector<JobId>{(*made)[3].id});
}

TEST_CASE("job store: a failure retries at the time given - out of attempts it is dead - retry brings it back") {
  auto store = memory_store();
  JobRequest r = req("t");
  r.max_attempts = 2;
  const JobId id = store->enqueue({r}, T0)->front().id;
  REQUIRE(store->claim("t", 1, T0, "h", "w")->size() == 1);

  auto failed = store->finish(id, {false, "exit 1: boom"}, T0 + 5, T0 + 2'000);
  REQUIRE(failed);
  CHECK(failed->state == JobState::kFailed);
  CHECK(failed->error == "exit 1: boom");
  CHECK(failed->run_at_ms == T0 + 2'000);
  CHECK(store->claim("t", 1, T0 + 1'999, "h", "w")->empty());  // the backoff is kept
  auto again = store->claim("t", 1, T0 + 2'000, "h", "w");
  REQUIRE(again->size() == 1);
  CHECK(again->front().attempt == 2);

  auto dead = store->finish(id, {false, "exit 1: boom again"}, T0 + 2'100, T0 + 9'000);
  REQUIRE(dead);
  CHECK(dead->state == JobState::kDead);
  CHECK(dead->finished_ms == T0 + 2'100);
  CHECK(store->claim("t", 1, T0 + 99'000, "h", "w")->empty());

  auto back = store->retry(id, T0 + 3'000);
  REQUIRE(back);
  CHECK(back->state == JobState::kQueued);
  CHECK(back->attempt == 0);
  auto run = store->claim("t", 1, T0 + 3'000, "h", "w");
  REQUIRE(run->size() == 1);
  auto done = store->finish(id, {true, "resized"}, T0 + 3'500, 0);
  REQUIRE(done);
  CHECK(done->state == JobState::kDone);
  CHECK(done->result == "resized");
  CHECK(done->error == "exit 1: boom again");  // the last failure stays readable
  // A finished job is not finished again, and a done one is not retried.
  CHECK(store->finish(id, {true, ""}, T0 + 4'000, 0).error().message() == "job " + std::to_string(id) +
                                                                            " is done: it cannot be finished");
  CHECK(store->retry(id, T0).error().code() == Status::Code::kInvalidArgument);
}

TEST_CASE("job store: retry_dead requeues every dead job of a topic - counts them") {
  auto store = memory_store();
  JobRequest once = req("a");
  once.max_attempts = 1;
  JobRequest other = once;
  other.topic = "b";
  auto made = store->enqueue({once, once, other}, T0);
  REQUIRE(made);
  for (const char* topic : {"a", "b"}) {
    auto claimed = store->claim(topic, 5, T0, "h", "w");
    REQUIRE(claimed);
    for (const auto& j : *claimed) REQUIRE(store->finish(j.id, {false, "x"}, T0, T0));
  }
  CHECK(store->list({.state = JobState::kDead})->size() == 3);
  CHECK(*store->retry_dead(std::string("a"), T0 + 1) == 2);
  CHECK(store->list({.state = JobState::kDead})->size() == 1);
  CHECK(*store->retry_dead(std::nullopt, T0 + 1) == 1);
  CHECK(store->claim("a", 5, T0 + 1, "h", "w")->size() == 2);
}

TEST_CASE("job store: cancel a waiting or a running job - its late outcome is refused - drop only finished jobs") {
  auto store = memory_store();
  auto made = store->enqueue({req("t"), req("t")}, T0);
  const JobId waiting = (*made)[0].id, running = (*made)[1].id;
  REQUIRE(store->claim("t", 1, T0, "h", "w")->front().id == waiting);  // claims the first; cancel it as running
  CHECK(store->cancel(waiting, T0 + 1)->state == JobState::kCancelled);
  CHECK(store->cancel(running, T0 + 1)->state == JobState::kCancelled);
  CHECK(store->claim("t", 5, T0 + 2, "h", "w")->empty());
  auto late = store->finish(waiting, {true, "done anyway"}, T0 + 3, 0);
  REQUIRE_FALSE(late);
  CHECK(late.error().message().find("is cancelled") != std::string::npos);
  CHECK(store->cancel(waiting, T0).error().message().find("cannot be cancelled") != std::string::npos);

  const JobId queued = store->enqueue({req("t")}, T0)->front().id;
  CHECK(store->drop(queued).message().find("cancel it first") != std::string::npos);
  CHECK(store->drop(waiting));
  CHECK(store->get(waiting).error().code() == Status::Code::kNotFound);
  CHECK(store->drop(424242).code() == Status::Code::kNotFound);
}

TEST_CASE("job store: a unique key names one waiting or running job per topic - free again once it finished") {
  auto store = memory_store();
  JobRequest k = req("resize", R"({"file": "a.png"})");
  k.key = "a.png";
  auto first = store->enqueue({k, k}, T0);  // twice in one batch: one job
  REQUIRE(first);
  CHECK((*first)[0].id == (*first)[1].id);
  JobRequest elsewhere = k;
  elsewhere.topic = "thumbs";
  CHECK(store->enqueue({elsewhere}, T0)->front().id != (*first)[0].id);  // keys are per topic
  REQUIRE(store->claim("resize", 1, T0, "h", "w")->size() == 1);
  CHECK(store->enqueue({k}, T0)->front().id == (*first)[0].id);  // running: still that one
  REQUIRE(store->finish((*first)[0].id, {true, ""}, T0, 0));
  const JobId second = store->enqueue({k}, T0)->front().id;
  CHECK(second != (*first)[0].id);
  // Retrying the done job while the second holds the key is refused, nothing changed.
  REQUIRE(store->cancel(second, T0));
  const JobId third = store->enqueue({k}, T0)->front().id;
  auto refused = store->retry(second, T0);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == Status::Code::kAlreadyExists);
  CHECK(store->get(second)->state == JobState::kCancelled);
  CHECK(store->get(third)->state == JobState::kQueued);
}

TEST_CASE("job store: bad requests refuse the whole batch - the message names the field") {
  auto store = memory_store();
  struct Bad {
    JobRequest r;
    std::string detail;
  };
  JobRequest no_topic = req("");
  JobRequest spaced = req("re size");
  JobRequest not_json = req("t", "{file: a.png}");
  JobRequest negative = req("t");
  negative.delay_s = -1;
  JobRequest zero = req("t");
  zero.max_attempts = 0;
  JobRequest nan_timeout = req("t");
  nan_timeout.timeout_s = std::nan("");
  const Bad cases[] = {
      {no_topic, "jobs[1].topic: must be a pool name"}, {spaced, "jobs[1].topic: \"re size\" has a space"},
      {not_json, "jobs[1].args: is not JSON text"},     {negative, "jobs[1].delay: -1 must be seconds"},
      {zero, "jobs[1].attempts: 0 must be 1 to 1000"},  {nan_timeout, "jobs[1].timeout: nan must be seconds"},
  };
  for (const auto& c : cases) {
    INFO(c.detail);
    auto r = store->enqueue({req("t"), c.r}, T0);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Status::Code::kInvalidArgument);
    CHECK(r.error().message().find(c.detail) != std::string::npos);
  }
  CHECK(store->list({})->empty());  // the good first request of each batch was not kept
  CHECK(store->list({.limit = 0}).error().message() == "limit 0 must be 1 to 10000");
}

TEST_CASE("job store: stats per topic - due and scheduled apart - the oldest due job's age") {
  auto store = memory_store();
  JobRequest later = req("a");
  later.delay_s = 60;
  REQUIRE(store->enqueue({req("a"), req("a"), later, req("b")}, T0));
  REQUIRE(store->enqueue({req("a")}, T0 + 4'000));
  REQUIRE(store->claim("b", 1, T0 + 5'000, "h", "w"));
  auto stats = store->stats(T0 + 10'000);
  REQUIRE(stats);
  REQUIRE(stats->size() == 2);
  const TopicStats& a = (*stats)[0];
  CHECK(a.topic == "a");
  CHECK(a.queued == 3);
  CHECK(a.scheduled == 1);
  CHECK(a.oldest_age_s == doctest::Approx(10.0));
  CHECK((*stats)[1].running == 1);
  CHECK((*stats)[1].queued == 0);
  CHECK((*stats)[1].oldest_age_s == 0);
}

TEST_CASE("job store: list pages by id - filters by topic and state") {
  auto store = memory_store();
  std::vector<JobRequest> many;
  for (int i = 0; i < 25; ++i) many.push_back(req(i % 2 ? "odd" : "even"));
  auto made = store->enqueue(many, T0);
  REQUIRE(made);
  auto page1 = store->list({.topic = std::string("odd"), .limit = 5});
  REQUIRE(page1->size() == 5);
  auto page2 = store->list({.topic = std::string("odd"), .after = page1->back().id, .limit = 100});
  CHECK(page2->size() == 7);
  CHECK(page2->front().id > page1->back().id);
  for (const auto& j : *page2) CHECK(j.topic == "odd");
}

TEST_CASE("job store: on disk - a restart finds running jobs and queues them again - last attempts become dead") {
  ScratchDir dir;
  const std::string path = (dir.path / "jobs.db").string();
  JobId again = 0, last = 0, done = 0;
  {
    auto s = SqliteJobStore::open(path, Durability::kFull);
    REQUIRE(s);
    auto& store = **s;
    JobRequest one_try = req("t");
    one_try.max_attempts = 1;
    auto made = store.enqueue({req("t"), one_try, req("t")}, T0);
    again = (*made)[0].id, last = (*made)[1].id, done = (*made)[2].id;
    REQUIRE(store.claim("t", 3, T0, "h", "w")->size() == 3);
    REQUIRE(store.finish(done, {true, "ok"}, T0 + 1, 0));
  }  // drover stops here without finishing the other two
  auto s = SqliteJobStore::open(path, Durability::kFull);
  REQUIRE(s);
  auto& store = **s;
  CHECK(store.get(done)->state == JobState::kDone);
  auto requeued = store.requeue_running(T0 + 5'000);
  REQUIRE(requeued);
  REQUIRE(requeued->size() == 2);
  CHECK((*requeued)[0].id == again);
  CHECK((*requeued)[0].state == JobState::kQueued);
  CHECK((*requeued)[0].attempt == 1);  // counted: it may have run
  CHECK((*requeued)[1].id == last);
  CHECK((*requeued)[1].state == JobState::kDead);
  CHECK((*requeued)[1].error == "drover stopped while its last attempt ran");
  auto run = store.claim("t", 5, T0 + 5'000, "h", "w");
  REQUIRE(run->size() == 1);
  CHECK(run->front().attempt == 2);
  CHECK(store.requeue_running(T0)->size() == 1);  // only what runs now
}

TEST_CASE("job store: group commits many calls at once - a failing call inside undoes only itself") {
  auto store = memory_store();
  JobId kept = 0;
  Status s = store->group([&] {
    kept = store->enqueue({req("t")}, T0)->front().id;
    CHECK_FALSE(store->enqueue({req("t"), req("")}, T0));  // refused whole, the group goes on
    CHECK(store->claim("t", 1, T0, "h", "w")->size() == 1);
    return Status::ok();
  });
  CHECK(s);
  CHECK(store->list({})->size() == 1);
  CHECK(store->get(kept)->state == JobState::kRunning);
  // A group whose function fails keeps nothing of it.
  s = store->group([&] {
    REQUIRE(store->enqueue({req("t"), req("t")}, T0));
    return Status::invalid("changed my mind");
  });
  CHECK(s.message() == "changed my mind");
  CHECK(store->list({})->size() == 1);
}

TEST_CASE("job store: retention drops finished jobs past the age or the count - never waiting or running ones") {
  auto store = memory_store();
  std::vector<JobRequest> six(6, req("t"));
  auto made = store->enqueue(six, T0);
  auto running = store->claim("t", 5, T0, "h", "w");
  REQUIRE(running->size() == 5);
  for (int i = 0; i < 4; ++i) REQUIRE(store->finish((*running)[i].id, {true, ""}, T0 + i * 1'000, 0));
  // Finished at +0, +1, +2, +3 s; at +3.5 s keep 2 at most, none finished over 2.5 s ago:
  // +0 goes for its age and the count, +1 for the count.
  auto n = store->prune({.max_finished = 2, .max_age_s = 2.5}, T0 + 3'500);
  REQUIRE(n);
  CHECK(*n == 2);
  CHECK(store->list({.state = JobState::kDone})->size() == 2);
  CHECK(store->list({.state = JobState::kRunning})->size() == 1);
  CHECK(store->list({.state = JobState::kQueued})->size() == 1);
  CHECK(*store->prune({.max_finished = 0, .max_age_s = 1e9}, T0) == 2);
  CHECK(store->list({})->size() == 2);
}

TEST_CASE("job store: a database from a newer drover is refused with a clear error") {
  ScratchDir dir;
  const std::string path = (dir.path / "jobs.db").string();
  {
    auto db = SqliteDb::open(path);
    REQUIRE(db);
    REQUIRE((*db)->exec("PRAGMA user_version = 99"));
  }
  auto s = SqliteJobStore::open(path);
  REQUIRE_FALSE(s);
  CHECK(s.error().message() == path + ": the job store is at schema version 99, this drover knows up to 1: "
                                      "a newer drover made it");
}
