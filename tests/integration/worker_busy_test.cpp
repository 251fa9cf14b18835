// Engine::set_worker_busy (issue 11, point 4): busy states from a job queue's records of
// its workers, matched to slots by pid (the worker's, or a descendant's), shown in
// snapshots, forgotten after kBusyReportMisses reports without the worker and at each
// spawn, and followed by scale-down: idle first, unknown next, busy last.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>

#include "engine/engine.h"
#include "tests/support/test_util.h"

using namespace drover;
using namespace drover::test;

namespace {

const WorkerSnapshot* worker_with_pid(const EngineSnapshot& snap, const std::string& pool, pid_t pid) {
  for (const auto& w : pool_of(snap, pool).workers)
    if (w.pid == pid) return &w;
  return nullptr;
}

// The worker's only child (fake_worker fork-child's grandchild), once it is there.
pid_t child_of(pid_t worker) {
  std::vector<pid_t> kids;
  REQUIRE(wait_until([&] { return (kids = children_of(worker)).size() == 1; }, 5000ms));
  return kids[0];
}

}  // namespace

TEST_CASE("worker busy: a registry's idle worker is retired before busy ones even when it is the oldest") {
  TempDir dir;
  {
    Engine e(engine_options(dir));
    // The oldest first, alone: newest-first scale-down would keep it.
    REQUIRE(e.define_pool(fake_pool("w", 1, {"fork-child"})));
    REQUIRE(wait_until([&] { return pool_running(e, "w", 1); }, 5000ms));
    const pid_t oldest = running_pids(e.snapshot(), "w").at(0);
    REQUIRE(e.configure({{"w", 3}}));
    REQUIRE(wait_until([&] { return pool_running(e, "w", 3); }, 5000ms));
    std::vector<pid_t> pids = running_pids(e.snapshot(), "w");
    std::vector<pid_t> newer;
    for (pid_t p : pids)
      if (p != oldest) newer.push_back(p);
    REQUIRE(newer.size() == 2);
    // One newer worker is named by its own pid, the other by its child's (a horse, a
    // `sh -c` line's command); a stranger's pid is ignored.
    e.set_worker_busy("w", "rq",
                      {{oldest, false}, {newer[0], true}, {child_of(newer[1]), true}, {getpid(), false}});
    EngineSnapshot snap = e.snapshot();  // after the post: the inbox keeps order
    CHECK(pool_of(snap, "w").busy == 2);
    CHECK(pool_of(snap, "w").idle == 1);
    CHECK(worker_with_pid(snap, "w", oldest)->busy == std::optional<bool>(false));
    CHECK(worker_with_pid(snap, "w", oldest)->busy_from == "rq");
    CHECK(worker_with_pid(snap, "w", newer[1])->busy == std::optional<bool>(true));

    REQUIRE(e.configure({{"w", 2}}));
    REQUIRE(wait_until([&] { return !pid_alive(oldest); }, 5000ms));
    CHECK(pid_alive(newer[0]));
    CHECK(pid_alive(newer[1]));
    CHECK(running_pids(e.snapshot(), "w").size() == 2);
  }
  CHECK(zombie_children_of(getpid()).empty());
}

TEST_CASE("worker busy: forgotten after 3 reports without the worker and at its respawn") {
  TempDir dir;
  Engine e(engine_options(dir));
  REQUIRE(e.define_pool(fake_pool("w", 2)));
  REQUIRE(wait_until([&] { return pool_running(e, "w", 2); }, 5000ms));
  const std::vector<pid_t> pids = running_pids(e.snapshot(), "w");
  e.set_worker_busy("w", "sidekiq", {{pids[0], true}, {pids[1], true}});
  for (int i = 0; i < kBusyReportMisses - 1; ++i) e.set_worker_busy("w", "sidekiq", {{pids[1], true}});
  EngineSnapshot snap = e.snapshot();
  CHECK(worker_with_pid(snap, "w", pids[0])->busy == std::optional<bool>(true));  // 2 misses: kept
  e.set_worker_busy("w", "sidekiq", {{pids[1], true}});
  snap = e.snapshot();
  CHECK_FALSE(worker_with_pid(snap, "w", pids[0])->busy.has_value());  // 3 misses: unknown
  CHECK(worker_with_pid(snap, "w", pids[0])->busy_from.empty());
  CHECK(worker_with_pid(snap, "w", pids[1])->busy == std::optional<bool>(true));

  // A new process in the slot starts unknown: the old one's state is not its.
  REQUIRE(kill(pids[1], SIGKILL) == 0);
  pid_t fresh = 0;
  REQUIRE(wait_until([&] {
    auto now = running_pids(e.snapshot(), "w");
    for (pid_t p : now)
      if (p != pids[0] && p != pids[1]) fresh = p;
    return fresh != 0;
  }, 5000ms));
  CHECK_FALSE(worker_with_pid(e.snapshot(), "w", fresh)->busy.has_value());
  // A report for a pool that does not exist changes nothing and fails nothing.
  e.set_worker_busy("nosuch", "rq", {{pids[0], true}});
  CHECK(e.snapshot().pools.size() == 1);
}
