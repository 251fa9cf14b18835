// ProcessSampler on the real /proc: a tree of real processes, two of them spinning; a
// fork-per-job root whose short CPU-burning children no scan ever sees.
#include "autoscale/process_sampler.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <thread>

#include "tests/support/test_util.h"

using namespace drover;
using namespace drover::test;
using namespace std::chrono_literals;

namespace {

[[noreturn]] void spin() {
  volatile unsigned long x = 0;
  for (;;) x = x + 1;
}

// root (spins) -> child (spins) -> grandchild (sleeps), in a process group of their own
// so that one kill takes them all, whatever way the test ends.
struct SpinningTree {
  pid_t root = -1;
  SpinningTree() {
    root = fork();
    REQUIRE(root >= 0);
    if (root == 0) {
      setpgid(0, 0);
      if (fork() == 0) {
        if (fork() == 0)
          for (;;) pause();
        spin();
      }
      spin();
    }
    setpgid(root, root);  // either side may win the race; both ask for the same thing
  }
  ~SpinningTree() { kill(); }
  bool grandchild_up() const {
    for (pid_t child : children_of(root))
      if (!children_of(child).empty()) return true;
    return false;
  }
  void kill() {
    if (root <= 0) return;
    ::kill(-root, SIGKILL);
    // The root is ours; the others are re-parented when it dies (to us, if this process
    // became a subreaper, else to init). Reap whatever of the group is ours.
    while (waitpid(-root, nullptr, 0) > 0 || errno == EINTR) {
    }
    root = -1;
  }
};

// A fork-per-job worker (resque's shape): every ~100 ms the root forks a child that burns
// 50 ms of CPU and exits, and reaps it; the root itself sleeps. Most children live and
// die between two samples, so their CPU reaches the sampler only as the root's cutime.
// Its own process group, as above, so one kill ends it and any child it has.
struct ForkPerJob {
  pid_t root = -1;
  ForkPerJob() {
    root = fork();
    REQUIRE(root >= 0);
    if (root == 0) {
      setpgid(0, 0);
      // Only async-signal-safe calls after fork: the test process may have threads.
      const timespec pause_50ms{0, 50'000'000};
      for (;;) {
        pid_t job = fork();
        if (job == 0) {
          // CPU time, not wall time: 50 ms of work however busy the shared machine is.
          timespec t{};
          do clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
          while (t.tv_sec == 0 && t.tv_nsec < 50'000'000);
          _exit(0);
        }
        if (job > 0)
          while (waitpid(job, nullptr, 0) < 0 && errno == EINTR) {
          }
        nanosleep(&pause_50ms, nullptr);
      }
    }
    setpgid(root, root);
  }
  ~ForkPerJob() {
    ::kill(-root, SIGKILL);
    while (waitpid(-root, nullptr, 0) > 0 || errno == EINTR) {
    }
  }
};

}  // namespace

TEST_CASE("process sampler: a real tree - CPU of two spinning processes, all three counted, RSS") {
  SpinningTree tree;
  const pid_t root = tree.root;
  REQUIRE(wait_until([&] { return tree.grandchild_up(); }, 5s));
  ProcessSampler sampler;
  auto first = sampler.sample({{"tree", {root}}});
  CHECK(first["tree"].processes == 3);
  CHECK(first["tree"].cpu == 0);
  // The measurement interval itself, not a wait for a condition.
  std::this_thread::sleep_for(500ms);
  auto second = sampler.sample({{"tree", {root}}, {"nobody", {}}});
  INFO("cpu ", second["tree"].cpu);
  // Two spinners on a shared 2-core machine: well over 0.3 cores unless starved.
  CHECK(second["tree"].cpu > 0.3);
  CHECK(second["tree"].cpu < 2.5);
  CHECK(second["tree"].processes == 3);
  CHECK(second["tree"].rss_bytes > 0);
  CHECK(second["nobody"].processes == 0);

  tree.kill();
  REQUIRE(wait_until([&] { return !pid_alive(root); }, 5s));
  auto after = sampler.sample({{"tree", {root}}});
  CHECK(after["tree"].processes == 0);
  CHECK(after["tree"].rss_bytes == 0);
  CHECK(after["tree"].cpu == 0);
}

TEST_CASE("process sampler: a real fork-per-job root - the CPU of children born and reaped between samples") {
  ForkPerJob pool;
  REQUIRE(wait_until([&] { return !children_of(pool.root).empty(); }, 5s));
  ProcessSampler sampler;
  sampler.sample({{"resque", {pool.root}}});
  // The measurement interval itself, not a wait for a condition.
  std::this_thread::sleep_for(1s);
  auto t = sampler.sample({{"resque", {pool.root}}});
  INFO("cpu ", t["resque"].cpu);
  // ~10 jobs of 50 ms CPU in 1 s: about 0.5 cores (fewer if the shared machine starves
  // them); counting only processes seen twice, it read about 0.
  CHECK(t["resque"].cpu > 0.2);
  CHECK(t["resque"].cpu < 0.8);  // a duty cycle of one half cannot reach this
  CHECK(t["resque"].processes >= 1);
}
