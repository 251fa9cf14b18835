// jobs_exec_bench: exec mode end to end (the jobs issue): no-op jobs (/bin/true) from a
// SQLite store through the dispatcher and the engine, n at a time, beside the spawn floor
// of this machine (posix_spawn + wait of /bin/true in a loop); and how soon a job whose
// process is killed mid-run is back in the queue (kill -9 to the store's "failed" commit).
//
//   build/bench/jobs_exec_bench [JOBS=2000] [KILLS=20]
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "jobs/job_dispatcher.h"
#include "bench/job_bench_support.h"

extern char** environ;

using namespace drover;
using namespace drover::jobs;
using Wall = std::chrono::steady_clock;

namespace {

double since_ms(Wall::time_point t0) { return std::chrono::duration<double, std::milli>(Wall::now() - t0).count(); }

int64_t count_done(JobQueue& q) {
  auto stats = q.stats().get();
  int64_t done = 0;
  if (stats)
    for (const auto& t : *stats) done += t.done;
  return done;
}

double spawn_floor(int n) {
  const char* argv[] = {"/bin/true", nullptr};
  auto t0 = Wall::now();
  for (int i = 0; i < n; ++i) {
    pid_t pid;
    if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, const_cast<char**>(argv), environ) != 0) return 0;
    int st;
    waitpid(pid, &st, 0);
  }
  return n / (since_ms(t0) / 1000);
}

}  // namespace

int main(int argc, char** argv) {
  const int jobs = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int kills = argc > 2 ? std::atoi(argv[2]) : 20;
  std::string tmpl = (std::filesystem::temp_directory_path() / "drover-exec-bench-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) return 1;
  const std::filesystem::path dir = tmpl;

  fmt::print("spawn floor, posix_spawn + wait of /bin/true, one at a time: {:.0f} /s\n", spawn_floor(jobs));
  for (int n : {2, 8}) {
    EngineOptions eo;
    eo.heartbeats = false;
    Engine engine(eo);
    JobQueue queue(bench::store_at(dir / fmt::format("exec-{}.db", n)));
    JobDispatcher dispatcher(engine, queue);
    if (!engine.apply({bench::jobs_pool("noop", n, {"/bin/true"})})) return 1;
    std::vector<JobRequest> rs(jobs);
    for (auto& r : rs) r.topic = "noop";
    auto t0 = Wall::now();
    if (!dispatcher.enqueue(std::move(rs)).get()) return 1;
    while (count_done(queue) < jobs) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    const double ms = since_ms(t0);
    fmt::print("exec mode, {} no-op jobs (/bin/true), n = {}: {:.0f} jobs/s ({:.2f} s, enqueue to last recorded)\n", jobs,
               n, jobs / (ms / 1000), ms / 1000);
  }
  {
    // Kill -9 of a running job's process, to its "failed" (queued for retry) commit.
    EngineOptions eo;
    eo.heartbeats = false;
    Engine engine(eo);
    JobQueue queue(bench::store_at(dir / "kill.db"));
    DispatchOptions o;
    o.backoff.base_s = 3600;  // it stays "failed" while we look
    JobDispatcher dispatcher(engine, queue, o);
    if (!engine.apply({bench::jobs_pool("victim", 1, {"/bin/sleep", "60"})})) return 1;
    std::vector<double> ms;
    for (int k = 0; k < kills; ++k) {
      JobRequest r;
      r.topic = "victim";
      const JobId id = dispatcher.enqueue({r}).get()->front().id;
      pid_t pid = 0;
      while (!pid) {
        const EngineSnapshot snap = engine.snapshot();
        for (const auto& w : snap.pools.at(0).workers)
          if (w.pid && w.state == SlotState::kRunning) pid = w.pid;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      auto t0 = Wall::now();
      kill(pid, SIGKILL);
      for (;;) {
        auto j = queue.call<Job>([id](JobStore& s, int64_t) { return s.get(id); }).get();
        if (j && j->state == JobState::kFailed) break;
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
      ms.push_back(since_ms(t0));
      (void)dispatcher.cancel(id);  // out of the way of the next one
    }
    std::sort(ms.begin(), ms.end());
    fmt::print("kill -9 of a running job to its failed commit ({} kills): p50 {:.2f} ms, max {:.2f} ms\n", kills,
               ms[ms.size() / 2], ms.back());
  }
  std::filesystem::remove_all(dir);
  return 0;
}
