// The job store's contract (jobs/job_store.h), run on each store (job_store_contract.h):
// dispatch order, delays, retries to dead and back, cancel, unique keys, what a restart
// finds running, retention, fan-outs, and bad requests refused whole. Time is a
// parameter (the fake clock is a number).
#include "tests/contract/job_store_contract.h"

#include <doctest/doctest.h>

#include <cmath>

#include <fmt/format.h>

using namespace drover;
using namespace drover::jobs;
using namespace drover::test;

namespace {

constexpr int64_t T0 = 1'700'000'000'000;  // a wall clock, ms

// A store on a database of its own, and the harness that can open it again.
struct Fresh {
  std::unique_ptr<StoreHarness> harness = make_store_harness();
  std::unique_ptr<JobStore> store = harness->open();
  JobStore* operator->() { return store.get(); }
  JobStore& operator*() { return *store; }
};

Fresh fresh_store() { return Fresh{}; }

JobRequest req(std::string topic, std::string args = "{}") {
  JobRequest r;
  r.topic = std::move(topic);
  r.args = std::move(args);
  return r;
}

JobRequest with_attempts(JobRequest r, int attempts) {
  r.max_attempts = attempts;
  return r;
}

std::vector<JobId> ids(const std::vector<Job>& jobs) {
  std::vector<JobId> out;
  for (const auto& j : jobs) out.push_back(j.id);
  return out;
}

}  // namespace

TEST_CASE("job store: enqueue keeps what was asked - claim by priority then due time then id - running with attempt 1") {
  auto store = fresh_store();
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
  auto store = fresh_store();
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
  auto store = fresh_store();
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
  auto store = fresh_store();
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
  auto store = fresh_store();
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
  auto store = fresh_store();
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
  auto store = fresh_store();
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
  auto store = fresh_store();
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
  auto harness = make_store_harness();
  JobId again = 0, last = 0, done = 0;
  {
    auto s = harness->open();
    REQUIRE(s);
    auto& store = *s;
    JobRequest one_try = req("t");
    one_try.max_attempts = 1;
    auto made = store.enqueue({req("t"), one_try, req("t")}, T0);
    again = (*made)[0].id, last = (*made)[1].id, done = (*made)[2].id;
    REQUIRE(store.claim("t", 3, T0, "h", "w")->size() == 3);
    REQUIRE(store.finish(done, {true, "ok"}, T0 + 1, 0));
  }  // drover stops here without finishing the other two
  auto s = harness->open();
  REQUIRE(s);
  auto& store = *s;
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
  auto store = fresh_store();
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
  auto store = fresh_store();
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
  auto harness = make_store_harness();
  harness->set_schema_version(99);
  CHECK_THROWS_WITH(harness->open(),
                    (harness->where() + ": the job store is at schema version 99, this drover knows up to " +
                     std::to_string(harness->schema_version()) + ": a newer drover made it")
                        .c_str());
}

// ---- fan-out (issue 14) ---------------------------------------------------------------

namespace {

JobRequest fanout(std::vector<std::string> topics, std::string parent_topic = "deploy") {
  JobRequest r;
  r.topic = std::move(parent_topic);
  r.topics = std::move(topics);
  r.args = R"({"v": 2})";
  r.max_attempts = 1;
  return r;
}

std::vector<Job> children(JobStore& s, JobId parent) {
  auto kids = s.list({.parent = parent});
  REQUIRE(kids);
  return *kids;
}

// The one due job of topic, claimed.
Job claim_one(JobStore& s, const std::string& topic, int64_t now) {
  auto got = s.claim(topic, 10, now, "h", topic);
  REQUIRE(got);
  REQUIRE(got->size() == 1);
  return got->front();
}

}  // namespace

TEST_CASE("job store: a fan-out is a parent and a child per topic - the parent is never claimed - done after all") {
  auto store = fresh_store();
  auto made = store->enqueue({fanout({"a", "b"})}, T0);
  REQUIRE(made);
  REQUIRE(made->size() == 1);
  const Job parent = made->front();
  CHECK(parent.topic == "deploy");
  CHECK(parent.children == 2);
  CHECK(parent.state == JobState::kQueued);
  CHECK(*store->get(parent.id) == parent);
  auto kids = children(*store, parent.id);
  REQUIRE(kids.size() == 2);
  CHECK(kids[0].topic == "a");
  CHECK(kids[1].topic == "b");
  for (const Job& k : kids) {
    CHECK(k.parent == parent.id);
    CHECK(k.args == R"({"v": 2})");
    CHECK(k.state == JobState::kQueued);
  }
  CHECK(store->claim("deploy", 10, T0, "h", "w")->empty());  // the parent runs nowhere
  auto stats = store->stats(T0);
  REQUIRE(stats);
  REQUIRE(stats->size() == 2);  // a and b; the parent counts in no topic
  CHECK((*stats)[0].topic == "a");

  const Job a = claim_one(*store, "a", T0 + 1);
  CHECK(store->get(parent.id)->state == JobState::kRunning);
  CHECK(store->get(parent.id)->started_ms == T0 + 1);
  REQUIRE(store->finish(a.id, {true, "a ok"}, T0 + 2, 0));
  CHECK(store->get(parent.id)->state == JobState::kRunning);  // b has not run
  const Job b = claim_one(*store, "b", T0 + 3);
  REQUIRE_FALSE(store->finish(parent.id, {true, ""}, T0 + 4, 0));  // nobody finishes a parent
  REQUIRE(store->finish(b.id, {true, "b ok"}, T0 + 4, 0));
  auto done = store->get(parent.id);
  CHECK(done->state == JobState::kDone);
  CHECK(done->finished_ms == T0 + 4);
  // A finished fan-out drops whole; one of its children alone is refused.
  CHECK_FALSE(store->drop(a.id));
  REQUIRE(store->drop(parent.id));
  CHECK(store->list({})->empty());
}

TEST_CASE("job store: a dead child makes its fan-out dead once the rest have finished - retry reopens it") {
  auto store = fresh_store();
  const Job parent = store->enqueue({fanout({"a", "b"})}, T0)->front();
  const Job a = claim_one(*store, "a", T0);
  const Job b = claim_one(*store, "b", T0);
  REQUIRE(store->finish(a.id, {false, "exit 1"}, T0 + 1, T0 + 1000)->state == JobState::kDead);  // 1 attempt
  CHECK(store->get(parent.id)->state == JobState::kRunning);  // b still runs
  REQUIRE(store->finish(b.id, {true, ""}, T0 + 2, 0));
  auto dead = store->get(parent.id);
  CHECK(dead->state == JobState::kDead);
  CHECK(dead->error == "1 of 2 children dead");

  // Retrying the parent queues its dead child again; the done one stays done.
  auto again = store->retry(parent.id, T0 + 3);
  REQUIRE(again);
  CHECK(again->state == JobState::kRunning);
  CHECK(store->get(a.id)->state == JobState::kQueued);
  CHECK(store->get(b.id)->state == JobState::kDone);
  REQUIRE(store->finish(claim_one(*store, "a", T0 + 4).id, {true, ""}, T0 + 5, 0));
  CHECK(store->get(parent.id)->state == JobState::kDone);

  // retry_dead takes dead children and their parents follow.
  const Job p2 = store->enqueue({fanout({"a"})}, T0 + 6)->front();
  REQUIRE(store->finish(claim_one(*store, "a", T0 + 6).id, {false, "no"}, T0 + 7, 0));
  CHECK(store->get(p2.id)->state == JobState::kDead);
  CHECK(*store->retry_dead(std::nullopt, T0 + 8) == 1);  // the child, not the parent itself
  CHECK(store->get(p2.id)->state == JobState::kQueued);   // its one child waits, not begun
  CHECK(store->get(p2.id)->finished_ms == 0);
}

TEST_CASE("job store: cancelling a fan-out cancels its waiting and running children - finished ones stay") {
  auto store = fresh_store();
  const Job parent = store->enqueue({fanout({"a", "b", "c"})}, T0)->front();
  const Job a = claim_one(*store, "a", T0);
  REQUIRE(store->finish(a.id, {true, "ok"}, T0 + 1, 0));
  const Job b = claim_one(*store, "b", T0 + 1);  // running; c waits
  auto cancelled = store->cancel(parent.id, T0 + 2);
  REQUIRE(cancelled);
  CHECK(cancelled->state == JobState::kCancelled);
  auto kids = children(*store, parent.id);
  REQUIRE(kids.size() == 3);
  CHECK(kids[0].state == JobState::kDone);
  CHECK(kids[1].state == JobState::kCancelled);
  CHECK(kids[2].state == JobState::kCancelled);
  CHECK_FALSE(store->finish(b.id, {true, "late"}, T0 + 3, 0));  // its late end is refused
  CHECK(store->claim("c", 10, T0 + 3, "h", "w")->empty());
  CHECK(store->get(parent.id)->state == JobState::kCancelled);

  // A child cancelled alone: its parent ends cancelled once the rest are done.
  const Job p2 = store->enqueue({fanout({"a", "b"})}, T0 + 4)->front();
  auto k2 = children(*store, p2.id);
  REQUIRE(store->cancel(k2[0].id, T0 + 5));
  CHECK(store->get(p2.id)->state == JobState::kRunning);
  REQUIRE(store->finish(claim_one(*store, "b", T0 + 5).id, {true, ""}, T0 + 6, 0));
  CHECK(store->get(p2.id)->state == JobState::kCancelled);
}

TEST_CASE("job store: a fan-out's key names its parent - enqueued again it answers that fan-out, no new children") {
  auto store = fresh_store();
  JobRequest r = fanout({"a", "b"});
  r.key = "release-7";
  const Job first = store->enqueue({r}, T0)->front();
  const Job again = store->enqueue({r}, T0 + 1)->front();
  CHECK(again.id == first.id);
  CHECK(again.children == 2);
  CHECK(store->list({})->size() == 3);
  for (const Job& k : children(*store, first.id)) CHECK(k.key.empty());
  // Bad fan-outs are refused whole, naming the field.
  auto twice = store->enqueue({req("x"), fanout({"a", "a"})}, T0);
  REQUIRE_FALSE(twice);
  CHECK(twice.error().message() == "jobs[1].topics[1]: \"a\" is named twice");
  auto blank = store->enqueue({fanout({"a", "b c"})}, T0);
  REQUIRE_FALSE(blank);
  CHECK(blank.error().message() == "jobs[0].topics[1]: \"b c\" has a space or control character");
  CHECK(store->list({})->size() == 3);
  // Unnamed, the parent is of kFanoutTopic.
  CHECK(store->enqueue({fanout({"a"}, "")}, T0)->front().topic == kFanoutTopic);
}

TEST_CASE("job store: a restart requeues running children - not their parent - and prune keeps a fan-out whole") {
  auto store = fresh_store();
  const Job parent = store->enqueue({fanout({"a", "b"})}, T0)->front();
  const Job p2 = store->enqueue({fanout({"c", "d"})}, T0)->front();
  claim_one(*store, "a", T0);  // on its last attempt
  auto left = store->requeue_running(T0 + 1);
  REQUIRE(left);
  REQUIRE(left->size() == 1);  // the child only
  CHECK(left->front().state == JobState::kDead);
  CHECK(store->get(parent.id)->state == JobState::kRunning);  // b still waits
  REQUIRE(store->finish(claim_one(*store, "b", T0 + 2).id, {true, ""}, T0 + 3, 0));
  CHECK(store->get(parent.id)->state == JobState::kDead);
  // p2 waits, p1 is finished with its children: the count bounds fan-outs, not their rows.
  CHECK(*store->prune({.max_finished = 0, .max_age_s = 1e9}, T0 + 4) == 3);
  CHECK(ids(*store->list({})) == std::vector<JobId>{p2.id, p2.id + 1, p2.id + 2});
}

TEST_CASE("job store: finish_all records done, failed to retry, dead, a fan-out child, a job not running - each as finish() says") {
  auto store = fresh_store();
  JobRequest fan = req("fanout");
  fan.topics = {"resize"};
  auto made = store->enqueue({req("resize"), req("resize"), with_attempts(req("resize"), 1), fan, req("resize")}, T0);
  REQUIRE(made);
  auto claimed = store->claim("resize", 10, T0, "h", "resize");
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
                                {child, {true, "child ok", "resize.3"}},
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
  CHECK(out[3]->worker == "resize.3");  // the runner's slot, where it knows one
  CHECK(out[0]->worker == "resize");    // else the claim's
  CHECK(store->get(parent)->state == JobState::kDone);  // the parent settled with its only child
  CHECK_FALSE(out[4]);
  CHECK(out[4].error().message().find("cancelled") != std::string::npos);
  CHECK(store->get(unclaimed)->state == JobState::kCancelled);
  CHECK(store->get(done)->result == "ok");  // what the answers say is what the store holds
}

TEST_CASE("job store: reschedule moves a failed job's retry for the attempt it names - refused once the job has moved on") {
  auto store = fresh_store();
  const JobId id = store->enqueue({req("resize")}, T0)->front().id;
  REQUIRE(store->claim("resize", 1, T0, "h", "resize"));
  REQUIRE(store->finish(id, {false, "boom"}, T0 + 10, T0 + 1000)->run_at_ms == T0 + 1000);
  auto moved = store->reschedule(id, 1, T0 + 30000);
  REQUIRE(moved);
  CHECK(moved->run_at_ms == T0 + 30000);
  CHECK(moved->state == JobState::kFailed);
  CHECK(store->get(id)->run_at_ms == T0 + 30000);
  CHECK(store->claim("resize", 1, T0 + 29999, "h", "resize")->empty());  // not due before the new time
  // Another attempt's answer, or one for a job that ran again meanwhile, changes nothing.
  auto wrong_attempt = store->reschedule(id, 2, T0 + 5);
  CHECK_FALSE(wrong_attempt);
  CHECK(wrong_attempt.error().message() == fmt::format("job {} no longer waits to retry attempt 2: it is failed at attempt 1", id));
  REQUIRE(store->claim("resize", 1, T0 + 30000, "h", "resize")->size() == 1);
  CHECK_FALSE(store->reschedule(id, 1, T0 + 5));
  CHECK(store->get(id)->state == JobState::kRunning);
  CHECK(store->reschedule(999, 1, T0).error().code() == Status::Code::kNotFound);
}
