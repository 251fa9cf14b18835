// The engine with real processes: bring-up, replacement, live resize, stop with grace,
// flapping, floods, rolling, bad input. Every case ends with no zombie left behind.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <thread>

#include "engine/engine.h"
#include "tests/support/test_util.h"

using namespace drover;
using namespace drover::test;

namespace {

EngineOptions options_in(const TempDir& dir) {
  EngineOptions o;
  o.log_path = dir.file("drover.log");
  return o;
}

bool all_running(Engine& e, const std::string& pool, int n) {
  auto snap = e.snapshot();
  const PoolSnapshot* p = snap.find(pool);
  return p && p->running == n && static_cast<int>(p->workers.size()) == n;
}

bool log_has(Engine& e, const std::string& text, const std::optional<std::string>& pool = std::nullopt) {
  for (const auto& l : e.log_tail(100000, pool))
    if (l.text.find(text) != std::string::npos) return true;
  return false;
}

// A worker that exited a moment ago is a zombie until the loop handles its pidfd; a leak
// is one that stays.
void check_no_zombies() {
  CHECK(wait_until([] { return zombie_children_of(getpid()).empty(); }, 1s));
}

}  // namespace

TEST_CASE("three pools come up - with their environment - and go down with the engine") {
  TempDir dir;
  std::vector<pid_t> all;
  {
    Engine e(options_in(dir));
    PoolSpec a = fake_pool("alpha", 2, {"env"});
    a.cwd = dir.path();
    REQUIRE(e.apply({a, fake_pool("beta", 3), fake_pool("gamma,delta", 1, {"env"})}));
    REQUIRE(wait_until([&] { return all_running(e, "alpha", 2) && all_running(e, "beta", 3) &&
                                    all_running(e, "gamma,delta", 1); }, 5s));
    auto snap = e.snapshot();
    for (const char* p : {"alpha", "beta", "gamma,delta"})
      for (pid_t pid : running_pids(snap, p)) all.push_back(pid);
    CHECK(all.size() == 6);
    CHECK(wait_until([&] { return log_has(e, "CWD=" + dir.path(), "alpha"); }, 2s));
    CHECK(log_has(e, "DROVER_POOL=alpha", "alpha"));
    CHECK(log_has(e, "DROVER_SLOT=1", "alpha"));
    CHECK(wait_until([&] { return log_has(e, "QUEUE=gamma,delta", "gamma,delta"); }, 2s));
    CHECK(pool_of(snap, "beta").counters.started == 3);
  }
  for (pid_t pid : all) CHECK_FALSE(pid_alive(pid));
  check_no_zombies();
  // The log file holds the workers' lines, stamped and prefixed.
  std::string log = read_file(dir.file("drover.log"));
  CHECK(log.find("alpha[") != std::string::npos);
  CHECK(log.find("shutdown-finished") != std::string::npos);
}

TEST_CASE("kill -9 of workers: replaced at once - counted - reason kept") {
  TempDir dir;
  Engine e(options_in(dir));
  REQUIRE(e.apply({fake_pool("w", 3)}));
  REQUIRE(wait_until([&] { return all_running(e, "w", 3); }, 5s));
  auto before = running_pids(e.snapshot(), "w");
  kill(before[0], SIGKILL);
  kill(before[1], SIGKILL);
  REQUIRE(wait_until([&] {
    auto now = running_pids(e.snapshot(), "w");
    return now.size() == 3 && !std::count(now.begin(), now.end(), before[0]) &&
           !std::count(now.begin(), now.end(), before[1]);
  }, 2s));
  auto snap = e.snapshot();
  const auto& p = pool_of(snap, "w");
  CHECK(p.counters.exited_bad == 2);
  CHECK(p.counters.restarts == 2);
  CHECK(p.counters.started == 5);
  int with_reason = 0;
  for (const auto& w : p.workers) with_reason += w.last_exit == "signal 9 (KILL)";
  CHECK(with_reason == 2);
  auto now = running_pids(snap, "w");
  CHECK(std::count(now.begin(), now.end(), before[2]) == 1);
  check_no_zombies();
}

TEST_CASE("live resize 2 -> 5 -> 1 keeps the survivors and never signals them") {
  TempDir dir;
  Engine e(options_in(dir));
  REQUIRE(e.apply({fake_pool("w", 2)}));
  REQUIRE(wait_until([&] { return all_running(e, "w", 2); }, 5s));
  auto original = running_pids(e.snapshot(), "w");

  auto sizes = e.configure({{"w", 5}});
  REQUIRE(sizes);
  CHECK(sizes->at("w") == 5);
  REQUIRE(wait_until([&] { return all_running(e, "w", 5); }, 5s));
  auto five = running_pids(e.snapshot(), "w");
  for (pid_t pid : original) CHECK(std::count(five.begin(), five.end(), pid) == 1);

  REQUIRE(e.configure({{"w", 1}}));
  REQUIRE(wait_until([&] { return all_running(e, "w", 1); }, 5s));
  auto one = running_pids(e.snapshot(), "w");
  // Newest stopped first: the survivor is one of the two original workers.
  CHECK(std::count(original.begin(), original.end(), one[0]) == 1);
  for (pid_t pid : five)
    if (pid != one[0]) CHECK_FALSE(pid_alive(pid));
  // Stopped workers print "fake_worker: TERM"; the survivor never did.
  bool survivor_signalled = false;
  for (const auto& l : e.log_tail(100000, "w"))
    if (l.pid == one[0] && l.text.find("TERM") != std::string::npos) survivor_signalled = true;
  CHECK_FALSE(survivor_signalled);
  CHECK(pool_of(e.snapshot(), "w").counters.exited_bad == 0);
  check_no_zombies();
}

TEST_CASE("a worker that ignores the stop signal is killed at the grace deadline") {
  TempDir dir;
  Engine e(options_in(dir));
  PoolSpec p = fake_pool("stubborn", 1, {"ignore-term"});
  p.grace_s = 0.5;
  REQUIRE(e.apply({p}));
  REQUIRE(wait_until([&] { return all_running(e, "stubborn", 1) && log_has(e, "ignoring TERM"); }, 5s));
  pid_t pid = running_pids(e.snapshot(), "stubborn")[0];
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(e.stop("stubborn"));
  REQUIRE(wait_until([&] { return !pid_alive(pid); }, 3s));
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // The acceptance window is +-100 ms around the 0.5 s grace; the lower bound is firm.
  CHECK(took >= 0.5);
  CHECK(took <= 0.65);
  REQUIRE(wait_until([&] { return pool_of(e.snapshot(), "stubborn").workers.empty(); }, 2s));
  CHECK(pool_of(e.snapshot(), "stubborn").counters.killed_after_grace == 1);
  check_no_zombies();
}

TEST_CASE("a command that does not exist ends flapping - not in a spawn storm") {
  TempDir dir;
  Engine e(options_in(dir));
  PoolSpec p;
  p.name = "ghost";
  p.argv = {"/nonexistent/drover-no-such-command"};
  p.n = 1;
  p.backoff.initial_s = 0.02;
  p.flap = {.max_exits = 3, .window_s = 10, .cooldown_s = 30, .give_up_after = 0};
  REQUIRE(e.apply({p}));
  REQUIRE(wait_until([&] {
    auto s = e.snapshot();
    const auto& w = pool_of(s, "ghost").workers;
    return !w.empty() && w[0].state == SlotState::kFlapping;
  }, 5s));
  std::this_thread::sleep_for(300ms);  // a storm would keep counting here
  auto s = e.snapshot();
  const auto& pool = pool_of(s, "ghost");
  CHECK(pool.counters.spawn_failures == 4);  // max_exits + 1, then the cool-down
  CHECK(pool.workers[0].last_exit.find("No such file or directory") != std::string::npos);
  CHECK(pool.workers[0].retry_in_s > 25);
  // start() is the operator's way out: it retries now (and fails again, visibly).
  REQUIRE(e.start("ghost"));
  CHECK(wait_until([&] { return pool_of(e.snapshot(), "ghost").counters.spawn_failures == 5; }, 2s));
  check_no_zombies();
}

TEST_CASE("a flooding worker leaves the engine responsive and memory bounded") {
  TempDir dir;
  EngineOptions o = options_in(dir);
  o.ring_bytes = 1 << 20;
  o.log_max_bytes = 8 << 20;
  o.log_keep = 1;
  Engine e(o);
  REQUIRE(e.apply({fake_pool("flood", 1, {"flood"}), fake_pool("calm", 1)}));
  REQUIRE(wait_until([&] { return all_running(e, "calm", 1) && all_running(e, "flood", 1); }, 5s));
  long rss0 = self_rss_kb();
  auto end = std::chrono::steady_clock::now() + 1500ms;
  double worst_ms = 0;
  pid_t calm = running_pids(e.snapshot(), "calm")[0];
  kill(calm, SIGKILL);
  bool replaced = false;
  while (std::chrono::steady_clock::now() < end) {
    auto t0 = std::chrono::steady_clock::now();
    auto snap = e.snapshot();
    worst_ms = std::max(worst_ms, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    auto pids = running_pids(snap, "calm");
    if (pids.size() == 1 && pids[0] != calm) replaced = true;
    std::this_thread::sleep_for(10ms);
  }
  CHECK(replaced);
  CHECK(worst_ms < 100);
  CHECK(self_rss_kb() - rss0 < 64 * 1024);
  CHECK(log_has(e, "flood ", "flood"));
  check_no_zombies();
}

TEST_CASE("a worker's last bytes - without a newline - are never lost - stderr is marked") {
  TempDir dir;
  Engine e(options_in(dir));
  PoolSpec p = fake_pool("tail", 1, {"print-exit", "partial-tail"});
  p.backoff.initial_s = 5;  // one run is enough
  REQUIRE(e.apply({p, fake_pool("err", 1, {"stderr", "to-stderr"})}));
  REQUIRE(wait_until([&] { return log_has(e, "partial-tail", "tail"); }, 3s));
  REQUIRE(wait_until([&] { return log_has(e, "to-stderr", "err"); }, 3s));
  for (const auto& l : e.log_tail(1000, "err"))
    if (l.text == "to-stderr") CHECK(l.stream == LogStream::kStderr);
  auto s = e.snapshot();
  CHECK(pool_of(s, "tail").workers[0].last_exit == "exit 3");
  check_no_zombies();
}

TEST_CASE("stop and start a pool - remove a pool") {
  TempDir dir;
  Engine e(options_in(dir));
  REQUIRE(e.apply({fake_pool("a", 2), fake_pool("b", 1)}));
  REQUIRE(wait_until([&] { return all_running(e, "a", 2) && all_running(e, "b", 1); }, 5s));
  auto a_pids = running_pids(e.snapshot(), "a");
  REQUIRE(e.stop("a"));
  REQUIRE(wait_until([&] { return pool_of(e.snapshot(), "a").workers.empty(); }, 5s));
  for (pid_t pid : a_pids) CHECK_FALSE(pid_alive(pid));
  CHECK_FALSE(pool_of(e.snapshot(), "a").enabled);
  CHECK(pool_of(e.snapshot(), "a").counters.exited_bad == 0);
  REQUIRE(e.start("a"));
  REQUIRE(wait_until([&] { return all_running(e, "a", 2); }, 5s));
  pid_t b = running_pids(e.snapshot(), "b")[0];
  REQUIRE(e.remove_pool("b"));
  REQUIRE(wait_until([&] { return e.snapshot().find("b") == nullptr; }, 5s));
  CHECK_FALSE(pid_alive(b));
  CHECK(e.stop("b").code() == Status::Code::kNotFound);
  check_no_zombies();
}

TEST_CASE("a changed command rolls the pool one worker at a time") {
  TempDir dir;
  Engine e(options_in(dir));
  PoolSpec p = fake_pool("roll", 3);
  REQUIRE(e.apply({p}));
  REQUIRE(wait_until([&] { return all_running(e, "roll", 3); }, 5s));
  auto old = running_pids(e.snapshot(), "roll");
  auto events = e.subscribe(10000, {.events = true, .log_lines = false});
  p.argv = {fake_worker_path(), "sleep", "3600"};
  REQUIRE(e.apply({p}));
  REQUIRE(wait_until([&] {
    auto now = running_pids(e.snapshot(), "roll");
    if (now.size() != 3) return false;
    for (pid_t pid : now)
      if (std::count(old.begin(), old.end(), pid)) return false;
    return true;
  }, 10s));
  // Never two stopping at once: every stop is followed by its exit before the next stop.
  int stopping = 0, max_stopping = 0, stops = 0;
  while (auto item = events->pop(Duration::zero())) {
    const Event* ev = std::get_if<Event>(&*item);
    if (!ev || ev->pool != "roll") continue;
    if (ev->kind == EventKind::kWorkerStopping) max_stopping = std::max(max_stopping, ++stopping), ++stops;
    if (ev->kind == EventKind::kWorkerExited) --stopping;
  }
  CHECK(stops == 3);
  CHECK(max_stopping == 1);
  CHECK_FALSE(pool_of(e.snapshot(), "roll").rolling);
  check_no_zombies();
}

TEST_CASE("bad input is refused whole and changes nothing") {
  TempDir dir;
  Engine e(options_in(dir));
  REQUIRE(e.apply({fake_pool("a", 1)}));
  REQUIRE(wait_until([&] { return all_running(e, "a", 1); }, 5s));
  auto r = e.configure({{"a", 3}, {"nosuch", 1}});
  CHECK_FALSE(r);
  CHECK(r.error().message().find("nosuch") != std::string::npos);
  CHECK_FALSE(e.configure({{"a", -1}}));
  CHECK_FALSE(e.configure({{"a", kDefaultMaxWorkers + 1}}));
  PoolSpec empty = fake_pool("b", 1);
  empty.argv.clear();
  Status s = e.apply({fake_pool("c", 1), empty});
  CHECK_FALSE(s);
  CHECK(s.message().find("\"b\"") != std::string::npos);
  CHECK_FALSE(e.apply({fake_pool("d", 1), fake_pool("d", 2)}));
  auto snap = e.snapshot();
  CHECK(snap.pools.size() == 1);
  CHECK(pool_of(snap, "a").spec.n == 1);
  CHECK(running_pids(snap, "a").size() == 1);
  check_no_zombies();
}

TEST_CASE("a worker's children go with it") {
  TempDir dir;
  Engine e(options_in(dir));
  REQUIRE(e.apply({fake_pool("parent", 1, {"fork-child"})}));
  pid_t child = 0;
  REQUIRE(wait_until([&] {
    for (const auto& l : e.log_tail(100, "parent"))
      if (l.text.rfind("child ", 0) == 0) child = std::stoi(l.text.substr(6));
    return child > 0;
  }, 5s));
  CHECK(pid_alive(child));
  pid_t worker = running_pids(e.snapshot(), "parent")[0];
  kill(worker, SIGKILL);
  // Orphans are reparented to init (which reaps them), so "gone" is: not alive.
  CHECK(wait_until([&] { return !pid_alive(child); }, 1s));
  check_no_zombies();
}

TEST_CASE("TTIN/TTOU semantics: every pool grows and shrinks by one") {
  TempDir dir;
  Engine e(options_in(dir));
  REQUIRE(e.apply({fake_pool("a", 1), fake_pool("b", 0)}));
  e.resize_all_by(+1);
  REQUIRE(wait_until([&] { return all_running(e, "a", 2) && all_running(e, "b", 1); }, 5s));
  e.resize_all_by(-1);
  e.resize_all_by(-1);
  REQUIRE(wait_until([&] { return all_running(e, "a", 0) && all_running(e, "b", 0); }, 5s));
  CHECK(pool_of(e.snapshot(), "b").spec.n == 0);  // clamped, not negative
  check_no_zombies();
}
