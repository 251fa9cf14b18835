// Worker mode end to end (the jobs issue): a real engine's pool of long-lived workers
// fetches jobs from the broker over ZeroMQ: the Python example worker (Debian's python3-zmq)
// and the shell one (`drover job next/done/fail`). Every job runs once; failures retry then
// die; a worker killed mid-job fails its job at once and gives back what it prefetched;
// a timeout or a cancel restarts the worker; scale-down stops the idle worker, not the busy one.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "tests/support/job_rig.h"
#include "tests/support/run_command.h"
#include "tests/support/test_util.h"

using namespace drover;
using namespace drover::jobs;
using namespace drover::test;

namespace {

const std::string kPythonWorker = std::string(DROVER_EXAMPLES_DIR) + "/workers/job_worker.py";
const std::string kShellWorker = std::string(DROVER_EXAMPLES_DIR) + "/workers/job_worker.sh";

PoolSpec worker_pool(const std::string& name, int n, std::vector<std::string> argv, int prefetch = 1) {
  PoolSpec p;
  p.name = name;
  p.argv = std::move(argv);
  p.n = n;
  p.jobs = true;
  p.job_mode = JobMode::kWorker;
  p.job_prefetch = prefetch;
  p.grace_s = 2;
  return p;
}

PoolSpec python_pool(const std::string& name, int n, int prefetch = 1) {
  // Debian's python3, where python3-zmq is installed (not whatever python3 PATH finds).
  return worker_pool(name, n, {"/usr/bin/python3", kPythonWorker}, prefetch);
}

JobRequest req(const std::string& topic, std::string args = "{}") { return job_request(topic, std::move(args)); }

// Worker mode's rig: the broker bound, and who is busy.
struct Rig : JobRig {
  Rig() { REQUIRE(dispatcher.open_broker()); }
  // The pid of the worker whose log says it started this job (the Python worker prints
  // nothing; these tests' jobs sleep, so the holder is the busy one in the snapshot).
  std::vector<pid_t> busy_pids(const std::string& pool) {
    std::vector<pid_t> out;
    for (const auto& p : engine.snapshot().pools)
      if (p.spec.name == pool)
        for (const auto& w : p.workers)
          if (w.busy && *w.busy) out.push_back(w.pid);
    return out;
  }
};

}  // namespace

TEST_CASE("jobs worker: Python workers fetch every job once - prefetch - results kept - a failure retried then dead") {
  Rig rig;
  REQUIRE(rig.engine.apply({python_pool("py", 3, 2)}));
  std::vector<JobRequest> rs;
  for (int i = 0; i < 200; ++i) rs.push_back(req("py", fmt::format(R"({{"n": {}}})", i)));
  JobRequest bad = req("py", R"({"fail": "boom"})");
  bad.max_attempts = 2;
  rs.push_back(bad);
  const auto jobs = rig.enqueue(rs);
  for (size_t i = 0; i < 200; ++i) REQUIRE(wait_until([&] { return rig.in_state(jobs[i].id, JobState::kDone); }, 30s));
  for (size_t i = 0; i < 200; ++i) {
    const Job j = rig.job(jobs[i].id);
    CHECK(j.attempt == 1);  // nothing ran twice
    CHECK(j.result == fmt::format(R"({{"echo": {{"n": {}}}}})", i));
    CHECK(j.host == "test-host");
    CHECK((j.worker == "py.0" || j.worker == "py.1" || j.worker == "py.2"));  // the slot whose worker ran it
  }
  const JobId bad_id = jobs.back().id;
  REQUIRE(wait_until([&] { return rig.in_state(bad_id, JobState::kDead); }, 20s));
  const Job dead = rig.job(bad_id);
  CHECK(dead.attempt == 2);
  CHECK(dead.error == "RuntimeError: asked to fail: boom");
  CHECK(wait_until([&] { return log_contains(rig.engine, fmt::format("job-dead: job {} out of attempts (2)", bad_id), "py"); }, 5s));
  // No worker exited: the lease is the process, and every process is still the first one.
  for (const auto& p : rig.engine.snapshot().pools) CHECK(p.counters.restarts == 0);
}

TEST_CASE("jobs worker: a worker killed mid-job fails that job at once - what it prefetched goes back unrun - all run again") {
  Rig rig;
  // One worker holding two: the first sleeps until killed, the second waits behind it.
  REQUIRE(rig.engine.apply({python_pool("victim", 1, 2)}));
  const auto jobs = rig.enqueue({req("victim", R"({"sleep": 60})"), req("victim", R"({"n": 2})")});
  REQUIRE(wait_until([&] { return rig.busy_pids("victim").size() == 1; }, 15s));
  const pid_t pid = rig.busy_pids("victim").front();
  // The first job may be running (sleep 60) in either order of claim; find it.
  REQUIRE(kill(pid, SIGKILL) == 0);
  const auto killed_at = std::chrono::steady_clock::now();
  // The sleeper failed (its attempt counted) the moment the engine saw the exit: no lease
  // to wait out. The bound separates that from waiting for anything (a lease, a restart).
  REQUIRE(wait_until([&] { return rig.job(jobs[0].id).state != JobState::kRunning; }, 10s));
  const auto took = std::chrono::steady_clock::now() - killed_at;
  CHECK(took < 2s);
  const Job first = rig.job(jobs[0].id);
  CHECK(first.attempt == 1);
  CHECK(first.error.find("its worker exited mid-job: signal 9 (KILL)") == 0);
  // The prefetched one went back without an attempt counted, and then ran in the new worker.
  REQUIRE(wait_until([&] { return rig.in_state(jobs[1].id, JobState::kDone); }, 20s));
  CHECK(rig.job(jobs[1].id).attempt == 1);
  CHECK(rig.dispatcher.counters().claimed == 0);  // exec mode's counters: untouched
}

TEST_CASE("jobs worker: a job past its timeout restarts its worker and fails - a cancelled running job restarts it too") {
  Rig rig;
  REQUIRE(rig.engine.apply({python_pool("slow", 1)}));
  JobRequest r = req("slow", R"({"sleep": 60})");
  r.timeout_s = 0.5;
  r.max_attempts = 1;
  const JobId timed = rig.enqueue({r}).front().id;
  REQUIRE(wait_until([&] { return rig.in_state(timed, JobState::kDead); }, 20s));
  CHECK(rig.job(timed).error.find("timed out after 0.5s, then ") == 0);

  const JobId sleeper = rig.enqueue({req("slow", R"({"sleep": 60})")}).front().id;
  REQUIRE(wait_until([&] { return rig.busy_pids("slow").size() == 1; }, 15s));
  const pid_t pid = rig.busy_pids("slow").front();
  REQUIRE(rig.dispatcher.cancel(sleeper));
  // Its worker is stopped (SIGTERM: the example finishes its job first... a 60 s sleep, so
  // SIGKILL at grace) and replaced; the job stays cancelled, and the next job runs.
  const JobId after = rig.enqueue({req("slow", R"({"n": 1})")}).front().id;
  REQUIRE(wait_until([&] { return rig.in_state(after, JobState::kDone); }, 20s));
  CHECK(rig.in_state(sleeper, JobState::kCancelled));
  const auto now_running = running_pids(rig.engine.snapshot(), "slow");
  CHECK(std::find(now_running.begin(), now_running.end(), pid) == now_running.end());
}

TEST_CASE("jobs worker: a shell script worker - drover job next, done and fail") {
  Rig rig;
  PoolSpec p = worker_pool("sh", 2, {"/bin/sh", kShellWorker});
  // The example calls `drover job`: the binary under test, first on PATH.
  const std::string bin = DROVER_BIN_PATH;
  p.env["PATH"] = bin.substr(0, bin.rfind('/')) + ":/usr/bin:/bin";
  REQUIRE(rig.engine.apply({p}));
  JobRequest bad = req("sh", R"({"fail": 1})");
  bad.max_attempts = 1;
  const auto jobs = rig.enqueue({req("sh", R"({"a": 1})"), req("sh", R"({"b": 2})"), bad});
  REQUIRE(wait_until([&] { return rig.in_state(jobs[0].id, JobState::kDone); }, 20s));
  REQUIRE(wait_until([&] { return rig.in_state(jobs[1].id, JobState::kDone); }, 20s));
  REQUIRE(wait_until([&] { return rig.in_state(jobs[2].id, JobState::kDead); }, 20s));
  CHECK(rig.job(jobs[0].id).result == "ok");
  CHECK(rig.job(jobs[2].id).error == "asked to fail");
  CHECK(log_contains(rig.engine, fmt::format("job {}: {{\"a\":1}}", jobs[0].id), "sh"));
}

TEST_CASE("jobs worker: `drover job` outside a worker says what is missing - a done for a job not held is refused") {
  TempDir dir;
  auto run = [&](const std::string& env, const std::string& args) {
    return run_command({"/bin/sh", "-c", fmt::format("env -i {} {} job {} 2>&1; echo \"rc=$?\"", env, DROVER_BIN_PATH, args)}).out;
  };
  CHECK(run("", "next").find("DROVER_JOBS is not set") != std::string::npos);
  CHECK(run("", "next").find("rc=1") != std::string::npos);
  CHECK(run("", "done").find("rc=2") != std::string::npos);  // ID is required
  CHECK(run("", "bogus").find("rc=2") != std::string::npos);

  Rig rig;
  REQUIRE(rig.engine.apply({python_pool("held", 1)}));
  const std::string env =
      fmt::format("DROVER_JOBS={} DROVER_POOL=held DROVER_SLOT=0", rig.engine.jobs_endpoint());
  const std::string out = run(env, "done 12345 x");
  CHECK(out.find("job 12345 is not held by held.0") != std::string::npos);
  CHECK(out.find("rc=1") != std::string::npos);
}

TEST_CASE("jobs worker: scale-down stops the idle worker and lets the busy one finish its job") {
  Rig rig;
  REQUIRE(rig.engine.apply({python_pool("scale", 2)}));
  const JobId long_job = rig.enqueue({req("scale", R"({"sleep": 1.5})")}).front().id;
  REQUIRE(wait_until([&] { return rig.busy_pids("scale").size() == 1; }, 15s));
  const pid_t busy = rig.busy_pids("scale").front();
  // The broker tells the engine who is busy: the idle worker must be known idle too.
  REQUIRE(wait_until(
      [&] {
        for (const auto& p : rig.engine.snapshot().pools)
          for (const auto& w : p.workers)
            if (w.pid != busy && w.busy && !*w.busy) return true;
        return false;
      },
      10s));
  REQUIRE(rig.engine.configure({{"scale", 1}}));
  REQUIRE(wait_until([&] { return rig.in_state(long_job, JobState::kDone); }, 20s));
  const auto left = running_pids(rig.engine.snapshot(), "scale");
  REQUIRE(left.size() == 1);
  CHECK(left.front() == busy);
  CHECK(rig.job(long_job).attempt == 1);
}

TEST_CASE("jobs worker: examples/jobs.lua runs as it is - exec, Python and shell workers each finish a job") {
  TempDir dir;
  const std::string bin = DROVER_BIN_PATH;
  const std::string lua = R"(
    local ids = { jobs.enqueue("thumbs", {file = "a.png"}).id, jobs.enqueue("py", {sleep = 0.01}).id,
                  jobs.enqueue("sh", {n = 1}).id }
    local t = os.time()
    for _, id in ipairs(ids) do
      while jobs.get(id).state ~= "done" and os.time() - t < 60 do end
      print(id, jobs.get(id).topic, jobs.get(id).state)
    end)";
  const std::string cmd = fmt::format("cd {} && PATH={}:$PATH {} examples/jobs.lua --state {} -q -e '{}' 2>&1",
                                      DROVER_SOURCE_DIR, bin.substr(0, bin.rfind('/')), bin, dir.file("state"), lua);
  const std::string out = run_command({"/bin/sh", "-c", cmd}).out;
  INFO(out);
  CHECK(out.find("1\tthumbs\tdone") != std::string::npos);
  CHECK(out.find("2\tpy\tdone") != std::string::npos);
  CHECK(out.find("3\tsh\tdone") != std::string::npos);
}
