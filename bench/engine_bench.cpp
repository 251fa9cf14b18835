// engine_bench: the engine in-process, without a harness scanning /proc beside it.
// Prints bring-up, restart latency after kill -9 (median, p95), idle CPU and RSS, live
// resize N -> 2N, 10 % killed at once, graceful stop, and stop of workers that ignore
// SIGTERM (grace 2 s), for N workers of /bin/sleep. Figures, not pass/fail.
//
//   build/bench/engine_bench [N=1000] [KILLS=50] [IDLE_S=5]
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"

using namespace drover;
using Wall = std::chrono::steady_clock;

namespace {

double since_ms(Wall::time_point t0) { return std::chrono::duration<double, std::milli>(Wall::now() - t0).count(); }

double cpu_s() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double rss_mb() {
  std::ifstream f("/proc/self/status");
  std::string k;
  while (f >> k)
    if (k == "VmRSS:") {
      double kb;
      f >> kb;
      return kb / 1024;
    }
  return 0;
}

std::set<pid_t> running(Engine& e) {
  std::set<pid_t> out;
  // Held: a range-for over e.snapshot().pools.at(0).workers would outlive its snapshot.
  const EngineSnapshot snap = e.snapshot();
  for (const auto& w : snap.pools.at(0).workers)
    if (w.state == SlotState::kRunning) out.insert(w.pid);
  return out;
}

void wait_running(Engine& e, size_t n) {
  while (running(e).size() < n) std::this_thread::sleep_for(std::chrono::microseconds(200));
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int kills = argc > 2 ? std::atoi(argv[2]) : 50;
  const double idle_s = argc > 3 ? std::atof(argv[3]) : 5;

  EngineOptions opts;
  opts.log_path = "/dev/null";
  // The 4th argument picks how workers' trees are held, to compare what each mode costs.
  if (argc > 4 && !contain_mode_from_name(argv[4], &opts.containment)) {
    std::fprintf(stderr, "engine_bench: containment must be auto, cgroup, subreaper or group\n");
    return 2;
  }
  Engine engine(opts);
  PoolSpec pool;
  pool.name = "w";
  pool.argv = {"/bin/sleep", "3600"};
  pool.n = n;
  pool.grace_s = 2;

  auto t0 = Wall::now();
  engine.apply({pool});
  wait_running(engine, static_cast<size_t>(n));
  double bringup_ms = since_ms(t0);
  const std::string containment = engine.snapshot().containment;

  // Restart latency: from kill(2) to the engine's spawned event for the replacement.
  auto events = engine.subscribe(100000, {.events = true, .log_lines = false});
  std::vector<double> lat;
  for (int i = 0; i < kills; ++i) {
    auto pids = running(engine);
    pid_t victim = *std::next(pids.begin(), static_cast<long>(std::rand() % pids.size()));
    while (events->pop(Duration::zero())) {
    }
    auto t = Wall::now();
    kill(victim, SIGKILL);
    while (true) {
      auto item = events->pop(std::chrono::seconds(5));
      if (!item) break;
      if (auto* ev = std::get_if<Event>(&*item); ev && ev->kind == EventKind::kWorkerSpawned) {
        lat.push_back(since_ms(t));
        break;
      }
    }
  }
  std::sort(lat.begin(), lat.end());

  double c0 = cpu_s();
  std::this_thread::sleep_for(std::chrono::duration<double>(idle_s));
  double idle_pct = 100 * (cpu_s() - c0) / idle_s;
  double rss = rss_mb();

  auto before = running(engine);
  t0 = Wall::now();
  engine.configure({{"w", 2 * n}});
  wait_running(engine, static_cast<size_t>(2 * n));
  double resize_ms = since_ms(t0);
  auto after = running(engine);
  size_t kept = 0;
  for (pid_t p : before) kept += after.count(p);

  // 10 % killed at once: until every slot runs again.
  engine.configure({{"w", n}});
  while (engine.snapshot().pools.at(0).workers.size() != static_cast<size_t>(n))
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  wait_running(engine, static_cast<size_t>(n));
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // past reset_after: no backoff due
  auto all = running(engine);
  std::vector<pid_t> victims(all.begin(), all.end());
  victims.resize(static_cast<size_t>(n / 10));
  t0 = Wall::now();
  for (pid_t v : victims) kill(v, SIGKILL);
  auto back = [&] {
    auto now = running(engine);
    if (now.size() < static_cast<size_t>(n)) return false;
    for (pid_t v : victims)
      if (now.count(v)) return false;
    return true;
  };
  while (!back()) std::this_thread::sleep_for(std::chrono::microseconds(200));
  double mass_kill_ms = since_ms(t0);

  t0 = Wall::now();
  engine.shutdown();
  engine.wait_finished(Duration::max());
  double stop_ms = since_ms(t0);

  // Workers that ignore the stop signal: stop takes the grace period, then SIGKILL.
  double stubborn_ms = 0;
  {
    Engine e2(opts);
    PoolSpec s;
    s.name = "stubborn";
    s.argv = {"/bin/sh", "-c", "trap '' TERM; exec /bin/sleep 3600"};  // SIG_IGN survives exec
    s.n = n;
    s.grace_s = 2;
    e2.apply({s});
    wait_running(e2, static_cast<size_t>(n));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let every shell exec sleep
    t0 = Wall::now();
    e2.shutdown();
    e2.wait_finished(Duration::max());
    stubborn_ms = since_ms(t0);
  }

  std::printf("engine_bench: %d workers of /bin/sleep, containment %s\n", n, containment.c_str());
  std::printf("  bring-up            %8.1f ms\n", bringup_ms);
  if (!lat.empty())
    std::printf("  restart after -9    %8.2f ms median, %.2f ms p95 (%zu kills)\n", lat[lat.size() / 2],
                lat[std::min(lat.size() - 1, lat.size() * 95 / 100)], lat.size());
  std::printf("  idle CPU            %8.2f %% of a core over %.0f s\n", idle_pct, idle_s);
  std::printf("  RSS                 %8.1f MB (engine in a test process)\n", rss);
  std::printf("  resize %d -> %d   %8.1f ms, %zu/%zu survivors\n", n, 2 * n, resize_ms, kept, before.size());
  std::printf("  kill -9 of 10%% at once, all back %6.1f ms (%zu workers)\n", mass_kill_ms, victims.size());
  std::printf("  graceful stop       %8.1f ms (%d workers)\n", stop_ms, n);
  std::printf("  stop, TERM ignored  %8.1f ms (%d workers, grace 2 s)\n", stubborn_ms, n);
  return 0;
}
