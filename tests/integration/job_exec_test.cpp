// Exec mode end to end (the jobs issue): a real engine runs a shell command once per job of
// a real SQLite store, through the dispatcher: args on stdin and in the environment, n at
// a time, output kept as the result, failures retried with backoff then dead, timeouts and
// cancels stop the process, a job whose process is killed goes back to the queue, and a
// stopped pool gives its waiting tickets back unrun.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>

#include <fmt/format.h>

#include "jobs/job_service.h"
#include "tests/support/job_rig.h"
#include "tests/support/test_util.h"

using namespace drover;
using namespace drover::jobs;
using namespace drover::test;

namespace {

PoolSpec job_pool(const std::string& name, int n, const std::string& script) {
  PoolSpec p;
  p.name = name;
  p.argv = {"/bin/sh", "-c", script};
  p.n = n;
  p.jobs = true;
  p.grace_s = 2;
  return p;
}

JobRequest req(const std::string& topic, std::string args = "{}") { return job_request(topic, std::move(args)); }
using Rig = JobRig;

}  // namespace

TEST_CASE("jobs exec: every job runs once - args on stdin and in the environment - output is the result - n at a time") {
  Rig rig;
  // Each job records how many run beside it (a file per running job) and prints what it got.
  const std::string running = rig.dir.file("running");
  REQUIRE(mkdir(running.c_str(), 0700) == 0);
  const std::string script =
      "touch " + running + "/$DROVER_JOB_ID; ls " + running + " | wc -l >> " + rig.dir.file("widths") +
      "; echo \"job $DROVER_JOB_ID attempt $DROVER_JOB_ATTEMPT env $DROVER_JOB_ARGS stdin $(cat)\"; sleep 0.05; rm " +
      running + "/$DROVER_JOB_ID";
  REQUIRE(rig.engine.apply({job_pool("resize", 3, script)}));
  std::vector<JobRequest> rs;
  for (int i = 0; i < 20; ++i) rs.push_back(req("resize", fmt::format(R"({{"file": "img-{}.png"}})", i)));
  const auto jobs = rig.enqueue(rs);
  REQUIRE(jobs.size() == 20);
  for (const Job& j : jobs) REQUIRE(wait_until([&] { return rig.in_state(j.id, JobState::kDone); }, 20s));
  for (size_t i = 0; i < jobs.size(); ++i) {
    const Job j = rig.job(jobs[i].id);
    INFO(j.result);
    const std::string args = fmt::format(R"({{"file": "img-{}.png"}})", i);
    CHECK(j.result == fmt::format("job {} attempt 1 env {} stdin {}\n", j.id, args, args));
    CHECK(j.attempt == 1);
    CHECK(j.host == "test-host");
    CHECK((j.worker.size() > 7 && j.worker.rfind("resize.", 0) == 0));  // the slot whose process ran it
  }
  // Never more than n at once.
  const std::string widths = read_file(rig.dir.file("widths"));
  int widest = 0;
  for (char c : widths)
    if (c >= '0' && c <= '9') widest = std::max(widest, c - '0');
  CHECK(widest >= 1);
  CHECK(widest <= 3);
  CHECK(rig.dispatcher.counters().done == 20);
  CHECK(wait_until([&] { return log_contains(rig.engine, "resize jobs-enqueued: 20 jobs: ", "resize"); }, 5s));
  CHECK(wait_until([&] { return log_contains(rig.engine, fmt::format("job-done: job {} (attempt 1, ", jobs[0].id), "resize"); }, 5s));
  // The output went to the log as well.
  CHECK(log_contains(rig.engine, "attempt 1 env", "resize"));
}

TEST_CASE("jobs exec: a failing job is retried after its backoff - then dead with its exit and output - retried from dead") {
  Rig rig;
  REQUIRE(rig.engine.apply({job_pool("flaky", 2, "echo \"boom on $DROVER_JOB_ATTEMPT\" >&2; exit 3")}));
  JobRequest r = req("flaky");
  r.max_attempts = 3;
  const JobId id = rig.enqueue({r}).front().id;
  REQUIRE(wait_until([&] { return rig.in_state(id, JobState::kDead); }, 20s));
  Job dead = rig.job(id);
  CHECK(dead.attempt == 3);
  CHECK(dead.error == "exit 3\nboom on 3\n");
  CHECK(rig.dispatcher.counters().failed == 3);
  // The log says so, each once the store has it.
  CHECK(wait_until([&] { return log_contains(rig.engine, fmt::format("flaky jobs-enqueued: job {}", id), "flaky"); }, 5s));
  CHECK(wait_until([&] { return log_contains(rig.engine, fmt::format("job-retrying: job {} attempt 1 failed: exit 3; retry in", id), "flaky"); }, 5s));
  CHECK(wait_until([&] { return log_contains(rig.engine, fmt::format("job-dead: job {} out of attempts (3): exit 3", id), "flaky"); }, 5s));
  // Back from the dead: three more runs.
  auto back = rig.queue.call<Job>([id](JobStore& s, int64_t now) { return s.retry(id, now); }).get();
  REQUIRE(back);
  rig.enqueue({req("flaky")});  // an enqueue of the topic wakes the hungry pool at once
  REQUIRE(wait_until([&] { return rig.in_state(id, JobState::kDead) && rig.dispatcher.counters().failed >= 9; }, 20s));
}

TEST_CASE("jobs exec: a job past its timeout is stopped and fails - a cancelled one is stopped and stays cancelled") {
  Rig rig;
  REQUIRE(rig.engine.apply({job_pool("slow", 2, "echo started; exec sleep 30")}));
  JobRequest timed = req("slow");
  timed.timeout_s = 0.3;
  timed.max_attempts = 1;
  JobRequest plain = req("slow");
  const auto jobs = rig.enqueue({timed, plain});
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(wait_until([&] { return rig.in_state(jobs[0].id, JobState::kDead); }, 20s));
  // Stopped by the timeout, not by its own end 30 s later.
  CHECK(std::chrono::steady_clock::now() - t0 < 10s);
  const Job t = rig.job(jobs[0].id);
  CHECK(t.error.find("timed out after 0.3s, then signal 15 (TERM)") == 0);
  CHECK(t.error.find("started") != std::string::npos);

  REQUIRE(wait_until([&] { return rig.in_state(jobs[1].id, JobState::kRunning); }, 10s));
  REQUIRE(wait_until([&] { return !running_pids(rig.engine.snapshot(), "slow").empty(); }, 10s));
  const pid_t pid = running_pids(rig.engine.snapshot(), "slow").front();
  auto c = rig.dispatcher.cancel(jobs[1].id);
  REQUIRE(c);
  CHECK(c->state == JobState::kCancelled);
  REQUIRE(wait_until([&] { return !pid_alive(pid); }, 10s));
  REQUIRE(wait_until([&] { return running_pids(rig.engine.snapshot(), "slow").empty(); }, 10s));
  CHECK(rig.job(jobs[1].id).state == JobState::kCancelled);  // its end was not recorded as a failure
  CHECK(wait_until([&] { return log_contains(rig.engine, fmt::format("job-cancelled: job {}", jobs[1].id), "slow"); }, 5s));
}

TEST_CASE("jobs exec: a job whose process is killed goes back to the queue and runs again") {
  Rig rig;
  const std::string marker = rig.dir.file("first-run-done");
  // The first attempt waits to be killed; the second finishes.
  REQUIRE(rig.engine.apply({job_pool("victim", 1,
                                     "if [ \"$DROVER_JOB_ATTEMPT\" = 1 ]; then exec sleep 30; fi; echo second run")}));
  const JobId id = rig.enqueue({req("victim")}).front().id;
  REQUIRE(wait_until([&] { return !running_pids(rig.engine.snapshot(), "victim").empty(); }, 10s));
  const pid_t pid = running_pids(rig.engine.snapshot(), "victim").front();
  REQUIRE(kill(pid, SIGKILL) == 0);
  REQUIRE(wait_until([&] { return rig.in_state(id, JobState::kDone); }, 10s));
  const Job j = rig.job(id);
  CHECK(j.attempt == 2);
  CHECK(j.result == "second run\n");
  CHECK(j.error.find("signal 9 (KILL)") == 0);  // the first attempt's end, kept
}

TEST_CASE("jobs exec: a stopped pool runs nothing - its jobs wait queued - start runs them") {
  Rig rig;
  REQUIRE(rig.engine.apply({job_pool("later", 2, "echo ran")}));
  REQUIRE(rig.engine.stop("later"));
  const auto jobs = rig.enqueue({req("later"), req("later"), req("later")});
  // A claim may have raced the stop; what it took comes back unrun.
  auto all_queued = [&] {
    auto stats = rig.queue.stats().get();
    return stats && stats->size() == 1 && stats->front().queued == 3 && stats->front().running == 0;
  };
  REQUIRE(wait_until(all_queued, 10s));
  CHECK(rig.dispatcher.counters().done == 0);
  CHECK_FALSE(log_contains(rig.engine, "ran", "later"));
  for (const Job& j : jobs) CHECK(rig.job(j.id).attempt == 0);  // a ticket given back costs no attempt
  REQUIRE(rig.engine.start("later"));
  for (const Job& j : jobs) REQUIRE(wait_until([&] { return rig.in_state(j.id, JobState::kDone); }, 10s));
}

TEST_CASE("jobs exec: a restart finds what the last run left running - queued again and run") {
  TempDir dir;
  JobId id = 0;
  {
    auto s = SqliteJobStore::open(dir.file("jobs.db"), Durability::kNormal);
    REQUIRE(s);
    JobRequest r = req("again");
    id = (*s)->enqueue({r}, 1000)->front().id;
    REQUIRE((*s)->claim("again", 1, 1000, "old-host", "again")->size() == 1);  // then drover died
  }
  Engine engine{engine_options(dir)};
  auto s = SqliteJobStore::open(dir.file("jobs.db"), Durability::kNormal);
  REQUIRE(s);
  JobQueue queue(std::move(*s));
  JobDispatcher dispatcher(engine, queue, Rig::fast_retries());
  auto recovered = dispatcher.recover();
  REQUIRE(recovered);
  REQUIRE(recovered->size() == 1);
  CHECK(recovered->front().id == id);
  REQUIRE(engine.apply({job_pool("again", 1, "echo attempt $DROVER_JOB_ATTEMPT")}));
  REQUIRE(wait_until(
      [&] {
        auto j = queue.call<Job>([id](JobStore& st, int64_t) { return st.get(id); }).get();
        return j && j->state == JobState::kDone;
      },
      10s));
  auto j = queue.call<Job>([id](JobStore& st, int64_t) { return st.get(id); }).get();
  CHECK(j->result == "attempt 2\n");
}

TEST_CASE("jobs service: one drover owns a store - a second is told whose it is - the owner's leftovers come back") {
  TempDir dir;
  Engine engine{engine_options(dir)};
  JobServiceOptions o;
  o.state_dir = dir.file("state/deep");
  o.dispatch = Rig::fast_retries();
  // A jobs pool older than the service: the service hears of its room all the same.
  REQUIRE(engine.apply({job_pool("early", 1, "echo early")}));
  auto first = JobService::open(engine, o);
  REQUIRE(first);
  CHECK((*first)->path() == dir.file("state/deep/jobs.db"));
  struct stat st {};
  REQUIRE(stat(dir.file("state/deep").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  auto second = JobService::open(engine, o);
  REQUIRE_FALSE(second);
  CHECK(second.error().message() == fmt::format("the job store {} is in use by another drover (pid {}); give this one "
                                                "its own --state DIR",
                                                dir.file("state/deep/jobs.db"), getpid()));
  auto early = (*first)->enqueue({req("early")});
  REQUIRE(early);
  REQUIRE(wait_until([&] { return (*first)->get(early->front().id)->state == JobState::kDone; }, 10s));
  // Jobs for a pool that is not there yet wait; the pool, once defined, runs them.
  auto made = (*first)->enqueue({req("late"), req("late")});
  REQUIRE(made);
  REQUIRE(engine.apply({job_pool("late", 1, "echo $DROVER_JOB_ID")}));
  for (const Job& j : *made)
    REQUIRE(wait_until([&] { return (*first)->get(j.id)->state == JobState::kDone; }, 10s));
  auto listed = (*first)->list({.topic = std::string("late")});
  REQUIRE(listed);
  CHECK(listed->size() == 2);
  first->reset();  // the lock goes with it
  auto again = JobService::open(engine, o);
  REQUIRE(again);
  CHECK((*again)->recovered() == 0);
}

TEST_CASE("jobs exec: a fan-out runs once in each of two pools - cancelled, its running child's process is stopped") {
  Rig rig;
  REQUIRE(rig.engine.apply({job_pool("lb1", 1, "echo lb1 $(cat)"),
                            job_pool("lb2", 1, "a=$(cat); echo lb2 $a; case $a in *slow*) exec sleep 30;; esac")}));
  auto children = [&](JobId parent) {
    JobFilter f;
    f.parent = parent;
    auto kids = rig.queue.call<std::vector<Job>>([f](JobStore& s, int64_t) { return s.list(f); }).get();
    REQUIRE(kids);
    return *kids;
  };
  JobRequest r;
  r.topics = {"lb1", "lb2"};
  r.args = R"({"v":1})";
  const Job parent = rig.enqueue({r}).front();
  CHECK(parent.topic == kFanoutTopic);
  REQUIRE(wait_until([&] { return rig.in_state(parent.id, JobState::kDone); }, 20s));
  auto kids = children(parent.id);
  REQUIRE(kids.size() == 2);
  CHECK(kids[0].result == "lb1 {\"v\":1}\n");
  CHECK(kids[1].result == "lb2 {\"v\":1}\n");

  r.args = R"({"slow":1})";
  const Job slow = rig.enqueue({r}).front();
  kids = children(slow.id);
  REQUIRE(wait_until([&] { return rig.in_state(kids[0].id, JobState::kDone); }, 20s));
  REQUIRE(wait_until([&] { return rig.in_state(kids[1].id, JobState::kRunning); }, 10s));
  REQUIRE(wait_until([&] { return !running_pids(rig.engine.snapshot(), "lb2").empty(); }, 10s));
  const pid_t pid = running_pids(rig.engine.snapshot(), "lb2").front();
  CHECK(rig.job(slow.id).state == JobState::kRunning);
  auto c = rig.dispatcher.cancel(slow.id);
  REQUIRE(c);
  CHECK(c->state == JobState::kCancelled);
  // Stopped by the cascade, not by its own end 30 s later.
  REQUIRE(wait_until([&] { return !pid_alive(pid); }, 10s));
  CHECK(rig.job(kids[1].id).state == JobState::kCancelled);
  CHECK(rig.job(kids[0].id).state == JobState::kDone);
}

TEST_CASE("jobs service: the retention is kept while drover runs - finished jobs past the count are deleted") {
  TempDir dir;
  Engine engine{engine_options(dir)};
  JobServiceOptions o;
  o.state_dir = dir.file("state");
  o.retention.max_finished = 2;
  o.prune_every = 50ms;
  REQUIRE(engine.apply({job_pool("kept", 2, "echo $DROVER_JOB_ID")}));
  auto svc = JobService::open(engine, o);
  REQUIRE(svc);
  auto made = (*svc)->enqueue({req("kept"), req("kept"), req("kept"), req("kept"), req("kept")});
  REQUIRE(made);
  // Done, then pruned to the newest two by the service's own timer (not at an open).
  REQUIRE(wait_until(
      [&] {
        auto all = (*svc)->list({.topic = std::string("kept")});
        return all && all->size() == 2 && all->at(0).state == JobState::kDone && all->at(1).state == JobState::kDone;
      },
      20s));
  auto left = (*svc)->list({.topic = std::string("kept")});
  REQUIRE(left);
  // The newest by finish time are kept; every one of them finished.
  for (const Job& j : *left) CHECK(j.finished_ms > 0);
}
