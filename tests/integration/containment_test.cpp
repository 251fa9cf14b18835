// Containment with real processes: where the stop signal goes (the worker, or its group),
// and that nothing a worker starts outlives it or drover - setsid'd children, double-forked
// daemons, a kill -9 of drover in the middle of a bring-up - in the cgroup and subreaper
// modes (and the process group mode for what stays in the group).
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <fstream>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "engine/containment.h"
#include "engine/engine.h"
#include "tests/support/drover_process.h"
#include "tests/support/redis_server.h"
#include "tests/support/test_util.h"

using namespace drover;
using namespace drover::test;

namespace {

// What a fake_worker printed as "<word> PID", by worker pid.
std::vector<pid_t> printed_pids(Engine& e, const std::string& pool, pid_t worker, const std::string& word) {
  std::vector<pid_t> out;
  for (const auto& l : e.log_tail(100000, pool))
    if (l.pid == worker && l.text.rfind(word + " ", 0) == 0) out.push_back(std::stoi(l.text.substr(word.size() + 1)));
  return out;
}

// Both escapees a worker in mode "escape" reported: its setsid'd child and its daemon.
std::vector<pid_t> escapees_of(Engine& e, const std::string& pool, pid_t worker) {
  std::vector<pid_t> out;
  REQUIRE(wait_until([&] {
    out = printed_pids(e, pool, worker, "setsid");
    auto orphan = printed_pids(e, pool, worker, "orphan");
    out.insert(out.end(), orphan.begin(), orphan.end());
    return out.size() == 2;
  }, 5s));
  return out;
}

// Live processes (not zombies: PID 1 here does not reap) whose environment says they
// belong to a pool of this name: every process of any worker tree of that pool, wherever
// it went, setsid'd and re-parented ones too.
std::vector<pid_t> live_tree_of(const std::string& pool) {
  std::vector<pid_t> out;
  const std::string needle = "DROVER_POOL=" + pool;
  DIR* dir = opendir("/proc");
  if (!dir) return out;
  while (dirent* e = readdir(dir)) {
    char* end;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end || pid <= 1 || pid == getpid()) continue;
    std::ifstream env(fmt::format("/proc/{}/environ", pid));
    for (std::string entry; std::getline(env, entry, '\0');)
      if (entry == needle) {
        if (pid_alive(static_cast<pid_t>(pid))) out.push_back(static_cast<pid_t>(pid));
        break;
      }
  }
  closedir(dir);
  return out;
}

EngineOptions contained(const TempDir& dir, ContainMode mode) {
  EngineOptions o = engine_options(dir);
  o.containment = mode;
  return o;
}

// cgroup mode needs a writable cgroup v2 tree (root here); the engine falls back to the
// subreaper and says why, which a test reports rather than fails on.
bool got_mode(Engine& e, ContainMode mode) {
  const std::string desc = e.snapshot().containment;
  const bool ok = desc.rfind(contain_mode_name(mode), 0) == 0;
  if (!ok) MESSAGE("asked for ", contain_mode_name(mode), ", running as: ", desc);
  return ok;
}

}  // namespace

TEST_CASE("containment: the stop signal reaches the worker alone by default - its job finishes - a group stop kills the job") {
  TempDir dir;
  {
    Engine e(engine_options(dir));
    PoolSpec proc = fake_pool("proc", 1, {"job", "0.3"});  // Celery prefork: TERM, warm stop
    proc.grace_s = 30;
    PoolSpec quit = fake_pool("quit", 1, {"job", "0.3"});  // resque: QUIT, the child resets it
    quit.stop_signal = SIGQUIT;
    quit.grace_s = 30;
    PoolSpec group = fake_pool("group", 1, {"job", "30"});
    group.stop_to = StopTo::kGroup;
    group.grace_s = 30;
    REQUIRE(e.apply({proc, quit, group}));
    for (const char* pool : {"proc", "quit", "group"})
      REQUIRE(wait_until([&] { return log_contains(e, "job start", std::string(pool)); }, 5s));
    REQUIRE(e.configure({{"proc", 0}, {"quit", 0}, {"group", 0}}));
    REQUIRE(wait_until([&] {
      auto snap = e.snapshot();
      return pool_of(snap, "proc").workers.empty() && pool_of(snap, "quit").workers.empty() &&
             pool_of(snap, "group").workers.empty();
    }, 10s));
    // To the process: it stops warmly, the job ends as it would have, nothing is killed.
    for (const char* pool : {"proc", "quit"}) {
      CAPTURE(pool);
      CHECK(log_contains(e, "warm stop", std::string(pool)));
      CHECK(log_contains(e, "job done", std::string(pool)));
      CHECK(pool_of(e.snapshot(), pool).counters.killed_after_grace == 0);
    }
    CHECK(log_contains(e, "to its process", std::string("proc")));
    // To the group: the job child got TERM mid-job (a 30 s job, stopped at once).
    CHECK(log_contains(e, "to its group", std::string("group")));
    CHECK(!log_contains(e, "job done", std::string("group")));
    CHECK(pool_of(e.snapshot(), "group").counters.killed_after_grace == 0);
  }
}

TEST_CASE("containment: setsid'd and double-forked children die with their worker - at exit - after grace - with the engine") {
  for (ContainMode mode : {ContainMode::kCgroup, ContainMode::kSubreaper}) {
    const std::string mode_name = contain_mode_name(mode);
    CAPTURE(mode_name);
    TempDir dir;
    std::vector<pid_t> last;
    std::string top;  // cgroup mode: the engine's own cgroup directory
    {
      Engine e(contained(dir, mode));
      if (!got_mode(e, mode)) continue;
      if (mode == ContainMode::kCgroup) top = e.snapshot().containment.substr(7);
      PoolSpec esc = fake_pool("esc", 2, {"escape"});
      esc.grace_s = 0.2;
      REQUIRE(e.apply({esc}));
      REQUIRE(wait_until([&] { return pool_running(e, "esc", 2); }, 5s));
      const auto workers = running_pids(e.snapshot(), "esc");
      const auto first = escapees_of(e, "esc", workers[0]);
      const auto second = escapees_of(e, "esc", workers[1]);
      for (pid_t p : first) {
        CHECK(pid_alive(p));
        CHECK(getpgid(p) != workers[0]);  // out of the worker's group: a group kill misses it
      }
      // The worker dies (kill -9): what it started goes with it.
      REQUIRE(kill(workers[0], SIGKILL) == 0);
      CHECK(wait_until([&] { return all_dead(first); }, 3s));
      // A worker that ignores the stop signal is killed after grace, with its whole tree.
      REQUIRE(wait_until([&] { return pool_running(e, "esc", 2); }, 5s));
      REQUIRE(e.configure({{"esc", 0}}));
      CHECK(wait_until([&] { return all_dead(second); }, 3s));
      REQUIRE(wait_until([&] { return pool_of(e.snapshot(), "esc").workers.empty(); }, 5s));
      CHECK(pool_of(e.snapshot(), "esc").counters.killed_after_grace >= 1);
      // And with the engine itself.
      REQUIRE(e.configure({{"esc", 1}}));
      REQUIRE(wait_until([&] { return pool_running(e, "esc", 1); }, 5s));
      last = escapees_of(e, "esc", running_pids(e.snapshot(), "esc").at(0));
      CHECK(!all_dead(last));
    }
    CHECK(wait_until([&] { return all_dead(last); }, 3s));
    if (!top.empty()) CHECK(access(top.c_str(), F_OK) != 0);  // its cgroups went with the engine
    const auto zombies = zombie_children_of(getpid());
    std::string which;
    for (pid_t z : zombies) which += read_file(fmt::format("/proc/{}/stat", z)) + " ";
    CHECK_MESSAGE(zombies.empty(), which);  // subreaper: adopted orphans were reaped
  }
}

TEST_CASE("containment: pstree data - a worker's cgroup lists what left its tree") {
  TempDir dir;
  Engine e(contained(dir, ContainMode::kCgroup));
  if (!got_mode(e, ContainMode::kCgroup)) return;
  REQUIRE(e.apply({fake_pool("esc", 1, {"escape"})}));
  REQUIRE(wait_until([&] { return pool_running(e, "esc", 1); }, 5s));
  const auto snap = e.snapshot();
  const auto& w = pool_of(snap, "esc").workers.at(0);
  const auto escaped = escapees_of(e, "esc", w.pid);
  REQUIRE(!w.cgroup.empty());
  auto members = Containment::members(w.cgroup);
  CHECK(std::find(members.begin(), members.end(), w.pid) != members.end());
  for (pid_t p : escaped) CHECK(std::find(members.begin(), members.end(), p) != members.end());
}

TEST_CASE("containment: a worker's cgroup is removed once its tree is empty - a pool's with the pool") {
  TempDir dir;
  Engine e(contained(dir, ContainMode::kCgroup));
  if (!got_mode(e, ContainMode::kCgroup)) return;
  REQUIRE(e.apply({fake_pool("gone", 2, {"fork-child"})}));
  REQUIRE(wait_until([&] { return pool_running(e, "gone", 2); }, 5s));
  const auto snap = e.snapshot();
  const std::string first = pool_of(snap, "gone").workers.at(0).cgroup, second = pool_of(snap, "gone").workers.at(1).cgroup;
  const std::string pool_dir = first.substr(0, first.rfind('/'));
  REQUIRE(access(first.c_str(), F_OK) == 0);
  auto exists = [](const std::string& path) { return access(path.c_str(), F_OK) == 0; };
  REQUIRE(e.configure({{"gone", 1}}));  // the newest goes: either, as the spawns raced
  CHECK(wait_until([&] { return exists(first) != exists(second); }, 5s));
  REQUIRE(wait_until([&] { return pool_of(e.snapshot(), "gone").workers.size() == 1; }, 5s));
  CHECK(exists(pool_of(e.snapshot(), "gone").workers.at(0).cgroup));  // the one that stays keeps its own
  REQUIRE(e.remove_pool("gone"));
  CHECK(wait_until([&] { return !exists(first) && !exists(second) && !exists(pool_dir); }, 5s));
}

// The binary, as an operator runs it: kill -9 at a random moment of a bring-up of 100
// workers, each with a child in its group, a setsid'd child and a daemon. Nothing of any
// worker tree may survive, whichever thread spawned the worker and however far it got.
TEST_CASE("containment: kill -9 of drover during a bring-up leaves no process of any worker tree") {
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> delay_ms(20, 300);
  struct Case {
    const char* contain;
    const char* mode;  // fake_worker's
  };
  // group mode holds only what stays in the group: its workers fork a plain child.
  for (Case c : {Case{"cgroup", "escape"}, Case{"subreaper", "escape"}, Case{"group", "fork-child"}}) {
    for (int attempt = 0; attempt < 4; ++attempt) {
      const std::string contain = c.contain;
      CAPTURE(contain);
      CAPTURE(attempt);
      TempDir dir;
      const std::string pool = fmt::format("k9-{}-{}-{}", c.contain, attempt, getpid());
      write_file(dir.file("pools.lua"),
                 fmt::format("pool \"{}\" {{ cmd = {{ \"{}\", \"{}\" }}, n = 100 }}\n", pool, fake_worker_path(), c.mode));
      const int ms = delay_ms(rng);
      CAPTURE(ms);
      {
        DroverProcess d({dir.file("pools.lua"), "--no-shell", "--contain", c.contain}, dir.file("err"));
        // The moment is the variable under test, not a wait for an event.
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        d.signal(SIGKILL);
        REQUIRE(d.wait_exit(5s) == 128 + SIGKILL);
      }
      std::vector<pid_t> left;
      CHECK(wait_until([&] { return (left = live_tree_of(pool)).empty(); }, 5s));
      if (!left.empty()) {
        INFO("survivors: ", left.size());
        for (pid_t p : left) kill(p, SIGKILL);
        CHECK(left.empty());
      }
    }
  }
}

namespace {

// A job for real rq workers: it writes its pid (the work horse's) to `path`, then sleeps.
constexpr const char* kRqJobs = R"(import os, time
def slow(path, seconds):
    with open(path + '.tmp', 'w') as f:
        f.write(str(os.getpid()))
    os.rename(path + '.tmp', path)
    time.sleep(seconds)
)";

void enqueue_slow(const RedisServer& redis, const TempDir& dir, const std::string& marker) {
  const std::string cmd = fmt::format(
      "cd {} && /usr/bin/python3 -c \"from redis import Redis; from rq import Queue; "
      "Queue('q', connection=Redis(port={})).enqueue('jobs.slow', '{}', 60, job_timeout=600)\"",
      dir.path(), redis.port(), dir.file(marker));
  REQUIRE(std::system(cmd.c_str()) == 0);
}

// The work horse's pid, once its job has started.
pid_t horse_of(const TempDir& dir, const std::string& marker) {
  std::string text;
  REQUIRE(wait_until([&] { return !(text = read_file(dir.file(marker))).empty(); }, 20s));
  return static_cast<pid_t>(std::stoi(text));
}

bool have_rq() { return access("/usr/bin/rq", X_OK) == 0 && access("/usr/bin/python3", X_OK) == 0; }

}  // namespace

// rq's work horse calls setsid: it leaves the worker's group, and nothing a group kill does
// reaches it. With real rq 1.13: a horse mid-job is killed with its worker after grace,
// and drover's exit and kill -9 leave nothing of any worker tree, in both modes.
TEST_CASE("containment: real rq - a horse mid-job dies after grace - exit and kill -9 of drover leave no process") {
  if (!have_rq()) {
    MESSAGE("no /usr/bin/rq (python3-rq): skipped");
    return;
  }
  for (ContainMode mode : {ContainMode::kCgroup, ContainMode::kSubreaper}) {
    const std::string mode_name = contain_mode_name(mode);
    CAPTURE(mode_name);
    TempDir dir;
    RedisServer redis;
    write_file(dir.file("jobs.py"), kRqJobs);
    const std::vector<std::string> rq = {"/usr/bin/rq", "worker", "q", "--url", redis.url(), "--path", dir.path()};
    {
      // Grace: rq's warm shutdown waits for its horse; SIGKILL after grace takes the horse too.
      Engine e(contained(dir, mode));
      if (!got_mode(e, mode)) continue;
      PoolSpec pool;
      pool.name = "rq-grace";
      pool.argv = rq;
      pool.grace_s = 0.5;
      REQUIRE(e.apply({pool}));
      enqueue_slow(redis, dir, "grace.pid");
      const pid_t horse = horse_of(dir, "grace.pid");
      const pid_t worker = running_pids(e.snapshot(), "rq-grace").at(0);
      CHECK(getpgid(horse) != worker);  // rq's horse left the worker's group
      REQUIRE(e.configure({{"rq-grace", 0}}));
      CHECK(wait_until([&] { return !pid_alive(horse); }, 5s));
      CHECK(wait_until([&] { return live_tree_of("rq-grace").empty(); }, 5s));
      // Counted when the engine has handled the worker's exit, which may come a moment later.
      REQUIRE(wait_until([&] { return pool_of(e.snapshot(), "rq-grace").workers.empty(); }, 5s));
      CHECK(pool_of(e.snapshot(), "rq-grace").counters.killed_after_grace == 1);
    }
    for (bool kill9 : {false, true}) {
      CAPTURE(kill9);
      const std::string name = fmt::format("rq-{}-{}-{}", contain_mode_name(mode), kill9 ? "kill9" : "exit", getpid());
      std::string argv;
      for (const auto& a : rq) argv += fmt::format("\"{}\", ", a);
      write_file(dir.file("pools.lua"), fmt::format("pool \"{}\" {{ cmd = {{ {} }}, n = 2, grace = 0.5 }}\n", name, argv));
      const std::string marker = name + ".pid";
      DroverProcess d({dir.file("pools.lua"), "--no-shell", "--contain", contain_mode_name(mode)}, dir.file("err"));
      enqueue_slow(redis, dir, marker);
      const pid_t horse = horse_of(dir, marker);
      CHECK(live_tree_of(name).size() >= 3);  // two workers and a horse (and whatever rq forks)
      d.signal(kill9 ? SIGKILL : SIGTERM);
      CHECK(d.wait_exit(10s) == (kill9 ? 128 + SIGKILL : 0));
      CHECK(wait_until([&] { return !pid_alive(horse) && live_tree_of(name).empty(); }, 5s));
    }
  }
}

namespace {

constexpr const char* kCeleryTasks = R"(import os, time
from celery import Celery
app = Celery('tasks', broker=os.environ['BROKER'], backend=os.environ['BROKER'])
@app.task
def slow(path, seconds):
    open(path + '.start', 'w').write(str(os.getpid()))
    time.sleep(seconds)
    open(path + '.done', 'w').write('ok')
    return 'ok'
)";

bool have_celery() { return std::system("/usr/bin/python3 -c 'import celery' 2>/dev/null") == 0; }

}  // namespace

// The bug this default fixes: a stop signal to the whole group reaches Celery's prefork
// child mid-task ("Worker exited prematurely: signal 15"). To the worker process alone,
// Celery's warm shutdown lets the task finish. Real Celery 5.2, Redis broker.
TEST_CASE("containment: real Celery - a scale-down lets the running task finish") {
  if (!have_celery()) {
    MESSAGE("no python3-celery: skipped");
    return;
  }
  TempDir dir;
  RedisServer redis;
  write_file(dir.file("tasks.py"), kCeleryTasks);
  Engine e(engine_options(dir));
  PoolSpec pool;
  pool.name = "celery";
  pool.argv = {"/usr/bin/python3", "-m", "celery", "-A", "tasks", "worker", "--pool", "prefork", "-c", "1", "--loglevel", "info"};
  pool.cwd = dir.path();
  pool.env = {{"BROKER", redis.url()}};
  pool.grace_s = 30;  // longer than the task
  REQUIRE(e.apply({pool}));
  REQUIRE(wait_until([&] { return log_contains(e, "ready.", std::string("celery")); }, 30s));
  const std::string enqueue = fmt::format(
      "cd {} && BROKER='{}' /usr/bin/python3 -c \"import tasks; tasks.slow.delay('{}', 1.5)\"", dir.path(),
      redis.url(), dir.file("job"));
  REQUIRE(std::system(enqueue.c_str()) == 0);
  REQUIRE(wait_until([&] { return !read_file(dir.file("job.start")).empty(); }, 20s));
  REQUIRE(e.configure({{"celery", 0}}));
  REQUIRE(wait_until([&] { return pool_of(e.snapshot(), "celery").workers.empty(); }, 30s));
  CHECK(read_file(dir.file("job.done")) == "ok");
  CHECK(!log_contains(e, "exited prematurely", std::string("celery")));
  CHECK(pool_of(e.snapshot(), "celery").counters.killed_after_grace == 0);
}
