// jobs_worker_bench: worker mode end to end (the jobs issue). No-op jobs from a SQLite
// store through the broker to long-lived C++ workers (examples/workers/job_worker.cpp) and
// back, recorded as done:
//   1. throughput: one batch enqueued, then every job run and recorded, for several worker
//      counts and prefetches;
//   2. enqueue-to-start latency at a steady rate (half the measured throughput, as the goal
//      says): each job carries the time it was enqueued (CLOCK_REALTIME, µs), the worker
//      answers with when it received it;
//   3. a worker killed mid-job (kill -9) to its job's "failed" commit.
//
//   build/bench/jobs_worker_bench [JOBS=100000] [WORKER=build/examples/job_worker] [throughput|kill]
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "jobs/job_dispatcher.h"
#include "bench/job_bench_support.h"

using namespace drover;
using namespace drover::jobs;
using Wall = std::chrono::steady_clock;

namespace {

PoolSpec worker_pool(const std::string& name, int n, const std::string& worker, int prefetch) {
  return bench::jobs_pool(name, n, {worker}, JobMode::kWorker, prefetch);
}

double since_s(Wall::time_point t0) { return std::chrono::duration<double>(Wall::now() - t0).count(); }

int64_t now_us() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

// Jobs not finished yet (waiting, running, to retry): the store's cheap count, which
// reads no done rows. stats() would scan them all, and at 100,000 done that scan, every
// few ms, is what the store thread would spend its time on.
int64_t count_open(JobQueue& q) {
  auto stats = q.call<std::vector<TopicStats>>([](JobStore& s, int64_t now) { return s.live_stats(now); }).get();
  int64_t open = 0;
  if (stats)
    for (const auto& t : *stats) open += t.queued + t.scheduled + t.running + t.failed;
  return open;
}

void wait_all_done(JobQueue& q) {
  while (count_open(q) > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

struct Rig {
  Engine engine;
  JobQueue queue;
  JobDispatcher dispatcher;
  Rig(const std::filesystem::path& db, DispatchOptions o = {})
      : engine(options()), queue(bench::store_at(db)), dispatcher(engine, queue, std::move(o)) {
    if (!dispatcher.open_broker()) std::exit(1);
  }
  static EngineOptions options() {
    EngineOptions eo;
    eo.heartbeats = false;
    return eo;
  }
  // All n workers have connected and said ready (one job each went through).
  void warm(const std::string& pool, int n) {
    std::vector<JobRequest> rs(static_cast<size_t>(n) * 4);
    for (auto& r : rs) r.topic = pool;
    if (!dispatcher.enqueue(std::move(rs)).get()) std::exit(1);
    wait_all_done(queue);
  }
};

double throughput(const std::filesystem::path& dir, const std::string& worker, int jobs, int n, int prefetch) {
  Rig rig(dir / fmt::format("tp-{}-{}.db", n, prefetch));
  if (!rig.engine.apply({worker_pool("noop", n, worker, prefetch)})) std::exit(1);
  rig.warm("noop", n);
  std::vector<JobRequest> rs(static_cast<size_t>(jobs));
  for (auto& r : rs) r.topic = "noop";
  auto t0 = Wall::now();
  if (!rig.dispatcher.enqueue(std::move(rs)).get()) std::exit(1);
  const double enq = since_s(t0);
  wait_all_done(rig.queue);
  const double s = since_s(t0);
  const auto qc = rig.queue.counters();
  fmt::print("worker mode, {} no-op jobs, {} workers, prefetch {}: {:.0f} jobs/s ({:.2f} s, of which enqueue {:.2f} s; "
             "{} commits for {} store calls)\n",
             jobs, n, prefetch, jobs / s, s, enq, qc.commits, qc.calls);
  return jobs / s;
}

void latency(const std::filesystem::path& dir, const std::string& worker, int n, int prefetch, double rate, int jobs) {
  Rig rig(dir / "latency.db");
  if (!rig.engine.apply({worker_pool("lat", n, worker, prefetch)})) std::exit(1);
  rig.warm("lat", n);
  // Batches of 10 every 10/rate seconds: a steady rate without a syscall per job.
  const int batch = 10;
  const auto gap = std::chrono::duration<double>(batch / rate);
  std::vector<JobId> ids;
  auto next = Wall::now();
  for (int sent = 0; sent < jobs; sent += batch) {
    std::this_thread::sleep_until(next);
    next += std::chrono::duration_cast<Wall::duration>(gap);
    std::vector<JobRequest> rs(batch);
    for (auto& r : rs) {
      r.topic = "lat";
      r.args = fmt::format(R"({{"t": {}}})", now_us());
    }
    // Not waiting for the answer: the enqueue's own commit is part of the latency.
    (void)rig.dispatcher.enqueue(std::move(rs));
  }
  wait_all_done(rig.queue);
  JobFilter f;
  f.topic = "lat";
  f.state = JobState::kDone;
  f.limit = kMaxListLimit;
  std::vector<double> ms;
  for (JobId after = 0;;) {
    f.after = after;
    auto page = rig.queue.call<std::vector<Job>>([f](JobStore& s, int64_t) { return s.list(f); }).get();
    if (!page || page->empty()) break;
    for (const Job& j : *page) {
      after = j.id;
      auto t = j.args.find("\"t\": ");
      if (t == std::string::npos) continue;
      const int64_t sent = std::atoll(j.args.c_str() + t + 5);
      ms.push_back((std::atoll(j.result.c_str()) - sent) / 1000.0);
    }
  }
  std::sort(ms.begin(), ms.end());
  if (ms.empty()) return;
  fmt::print("enqueue-to-start latency at {:.0f} jobs/s, {} workers, prefetch {}, {} jobs: p50 {:.2f} ms, p99 {:.2f} ms, max {:.2f} ms\n",
             rate, n, prefetch, ms.size(), ms[ms.size() / 2], ms[ms.size() * 99 / 100], ms.back());
}

void kill_to_failed(const std::filesystem::path& dir, int kills) {
  DispatchOptions o;
  o.backoff.base_s = 3600;  // it stays "failed" while we look
  Rig rig(dir / "kill.db", o);
  // The Python example: {"sleep": 60} keeps it busy until killed.
  PoolSpec p = worker_pool("victim", 1, "/usr/bin/python3", 1);
  p.argv = {"/usr/bin/python3", std::string(DROVER_EXAMPLES) + "/workers/job_worker.py"};
  p.flap.max_exits = 1000;  // twenty kills in a row are the bench, not a flapping worker
  p.backoff.initial_s = 0.01;  // and its replacement starts at once, every time
  p.backoff.max_s = 0.01;
  if (!rig.engine.apply({p})) std::exit(1);
  std::vector<double> ms;
  for (int k = 0; k < kills; ++k) {
    JobRequest r;
    r.topic = "victim";
    r.args = R"({"sleep": 60})";
    const JobId id = rig.dispatcher.enqueue({r}).get()->front().id;
    pid_t pid = 0;
    while (!pid) {
      const EngineSnapshot snap = rig.engine.snapshot();  // not a temporary: the loop reads into it
      for (const auto& w : snap.pools.at(0).workers)
        if (w.pid && w.busy && *w.busy) pid = w.pid;
      std::this_thread::sleep_for(std::chrono::microseconds(500));



    }
    auto t0 = Wall::now();
    kill(pid, SIGKILL);
    for (;;) {
      auto j = rig.queue.call<Job>([id](JobStore& s, int64_t) { return s.get(id); }).get();
      if (j && j->state == JobState::kFailed) break;
      std::this_thread::sleep_for(std::chrono::microseconds(100));

    }
    ms.push_back(since_s(t0) * 1000);
    (void)rig.dispatcher.cancel(id);
    // The busy state of the dead worker must be gone before the next round looks for one.
    while (true) {
      bool any = false;
      const EngineSnapshot snap = rig.engine.snapshot();
      for (const auto& w : snap.pools.at(0).workers) any |= w.pid == pid;
      if (!any) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  std::sort(ms.begin(), ms.end());
  fmt::print("worker mode: kill -9 of a worker mid-job to its job's failed commit ({} kills): p50 {:.2f} ms, max {:.2f} ms\n",
             kills, ms[ms.size() / 2], ms.back());
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);  // figures appear as they come, through a pipe too
  const int jobs = argc > 1 ? std::atoi(argv[1]) : 100000;
  const std::string worker = argc > 2 ? argv[2] : std::string(DROVER_BUILD_DIR) + "/examples/job_worker";
  std::string tmpl = (std::filesystem::temp_directory_path() / "drover-worker-bench-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) return 1;
  const std::filesystem::path dir = tmpl;
  const std::string only = argc > 3 ? argv[3] : "";
  if (only.empty() || only == "throughput" || only == "latency") {
    double best = 0;
    int best_n = 4, best_prefetch = 16;
    for (auto [n, prefetch] : {std::pair{2, 1}, {2, 16}, {4, 16}, {8, 64}}) {
      const double r = throughput(dir, worker, jobs, n, prefetch);
      if (r > best) std::tie(best, best_n, best_prefetch) = std::tuple{r, n, prefetch};
    }
    latency(dir, worker, best_n, best_prefetch, best / 2, std::min(jobs, 50000));
  }
  if (only.empty() || only == "kill") kill_to_failed(dir, 20);
  std::filesystem::remove_all(dir);
  return 0;
}
