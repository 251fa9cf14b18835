// jobs_pg_bench: issue 15's figures. Worker mode (the C++ example worker,
// build/examples/job_worker) with the PostgreSQL store, 1 and 3 hosts, beside the SQLite
// store, in one run against a throwaway PostgreSQL (tests/support/postgres_server: initdb
// and postgres in a temp dir, fsync off, synchronous_commit on):
//   1. throughput: JOBS no-op jobs enqueued at once (on host 0), time until all are done,
//      8 workers per host, prefetch 64;
//   2. enqueue-to-start latency p50/p99 at a steady rate, half the throughput measured in 1
//      (each job carries its enqueue time, CLOCK_REALTIME µs; the worker answers with when
//      it received it); with 3 hosts the enqueues go round the hosts;
//   3. cross-host start: a job enqueued on host 0, which has no pool of its topic, started
//      by host 1 or 2 (the NOTIFY path), one at a time;
//   4. host death: a real drover binary (--jobs-store, --host-lease 1) running 4 jobs,
//      kill -9'd; the time until its jobs are queued again (by a peer's lease renewal).
// A host here is an in-process Engine + JobQueue + JobDispatcher (+ HostLease and
// PgListener on PostgreSQL, as JobService wires them), each on its own store connection.
// CPU per thread / process over each phase is read from /proc, in % of one core.
//
//   build/bench/jobs_pg_bench [JOBS=50000] [WORKER=build/examples/job_worker]
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "bench/job_bench_support.h"
#include "jobs/host_lease.h"
#include "jobs/job_dispatcher.h"
#include "jobs/pg_job_store.h"
#include "jobs/pg_listener.h"
#include "jobs/topic_counters.h"
#include "tests/support/postgres_server.h"

using namespace drover;
using namespace drover::jobs;
using Wall = std::chrono::steady_clock;

extern char** environ;

namespace {

constexpr int kWorkers = 8;
constexpr int kPrefetch = 64;
constexpr double kGoalJobsS = 10000;  // 3 hosts
constexpr double kGoalCrossP50Ms = 5;
constexpr std::chrono::milliseconds kLease{2000};  // the in-process hosts': renewed every 0.67 s

double since_s(Wall::time_point t0) { return std::chrono::duration<double>(Wall::now() - t0).count(); }

int64_t now_us() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

int64_t wall_ms() { return now_us() / 1000; }

// ---- CPU from /proc: our threads by name, our child processes (workers, postgres) by name.
std::vector<std::string> split_stat(const std::string& line, std::string* comm) {
  // pid (comm) state ppid ... : comm may hold spaces; fields after ')' split by spaces.
  const auto open = line.find('('), close = line.rfind(')');
  if (comm) *comm = line.substr(open + 1, close - open - 1);
  std::istringstream in(line.substr(close + 2));
  std::vector<std::string> f;
  for (std::string s; in >> s;) f.push_back(s);
  return f;  // f[0] = state, f[1] = ppid, f[11] = utime, f[12] = stime
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

std::vector<int> dir_pids(const std::string& dir) {
  std::vector<int> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] >= '0' && e->d_name[0] <= '9') out.push_back(std::atoi(e->d_name));
    closedir(d);
  }
  return out;
}

using Ticks = std::map<std::string, long>;

Ticks cpu_ticks() {
  Ticks t;
  const int me = getpid();
  for (int tid : dir_pids("/proc/self/task")) {
    std::string comm;
    auto f = split_stat(slurp(fmt::format("/proc/self/task/{}/stat", tid)), &comm);
    if (f.size() > 12) t["bench:" + comm] += std::stol(f[11]) + std::stol(f[12]);
  }
  // Children and grandchildren (the postmaster's backends).
  std::map<int, int> ppid;
  std::map<int, std::pair<std::string, long>> info;
  for (int pid : dir_pids("/proc")) {
    std::string comm;
    const std::string line = slurp(fmt::format("/proc/{}/stat", pid));
    if (line.empty()) continue;
    auto f = split_stat(line, &comm);
    if (f.size() <= 12) continue;
    ppid[pid] = std::stoi(f[1]);
    info[pid] = {comm, std::stol(f[11]) + std::stol(f[12])};
  }
  for (auto& [pid, i] : info) {
    const int p = ppid[pid];
    const bool child = p == me, grandchild = ppid.count(p) && ppid[p] == me;
    if (child || grandchild) t[i.first] += i.second;
  }
  return t;
}

std::string cpu_line(const Ticks& before, const Ticks& after, double seconds) {
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::vector<std::pair<double, std::string>> rows;
  double total = 0;
  for (const auto& [name, v] : after) {
    const long b = before.count(name) ? before.at(name) : 0;
    const double pct = (v - b) / hz / seconds * 100;
    total += pct;
    if (pct >= 2) rows.push_back({pct, name});
  }
  std::sort(rows.rbegin(), rows.rend());
  std::string s = fmt::format("    cpu (% of one core, {:.0f}% in all):", total);
  for (const auto& [pct, name] : rows) s += fmt::format(" {} {:.0f}%,", name, pct);
  s.pop_back();
  return s;
}

// ---- A host: one engine, one store connection, its dispatcher (and lease + listener on PG).
struct Host {
  std::string name;
  std::unique_ptr<Engine> engine;
  TopicCounters counters;
  std::unique_ptr<JobQueue> queue;
  std::unique_ptr<HostLease> lease;
  std::unique_ptr<JobDispatcher> dispatcher;
  std::unique_ptr<PgListener> listener;
  bool shared = false;
  std::vector<PoolSpec> specs;

  ~Host() {
    listener.reset();
    lease.reset();
    dispatcher.reset();
    if (shared && queue)
      (void)queue->call<int>([h = name](JobStore& s, int64_t now) -> Result<int> {
                    if (Status st = s.leave(h, now); !st) return st;
                    return 0;
                  }).get();
    queue.reset();
    engine.reset();
  }

  uint64_t done(const std::string& topic) const {
    for (const auto& g : counters.gauges(wall_ms()))
      if (g.topic == topic) return g.done_total;
    return 0;
  }
};

void die(const std::string& what, const Status& s) {
  fmt::print(stderr, "{}: {}\n", what, s.message());
  std::exit(1);
}

// url empty: SQLite at db.
std::unique_ptr<Host> make_host(const std::string& name, const std::string& url, const std::string& db) {
  auto h = std::make_unique<Host>();
  h->name = name;
  EngineOptions eo;
  eo.heartbeats = false;
  h->engine = std::make_unique<Engine>(eo);
  std::unique_ptr<JobStore> store;
  if (url.empty()) {
    store = bench::store_at(db);
  } else {
    auto pg = PgJobStore::open(url, name);
    if (!pg) die(url, pg.error());
    store = std::move(*pg);
    h->shared = true;
  }
  h->queue = std::make_unique<JobQueue>(std::move(store));
  if (h->shared) {
    HostLeaseOptions lo;
    lo.lease = kLease;
    const int64_t started = wall_ms();
    lo.describe = [name, started] {
      HostRecord me;
      me.name = name;
      me.pid = getpid();
      me.started_ms = started;
      return me;
    };
    lo.on_renewal = [hp = h.get()](const LeaseRenewal& r) {
      if (!r.requeued.empty() && hp->dispatcher) hp->dispatcher->poke(std::nullopt);
    };
    lo.warn = [name](const std::string& m) { fmt::print(stderr, "{}: {}\n", name, m); };
    auto lease = HostLease::start(*h->queue, std::move(lo));
    if (!lease) die("lease", lease.error());
    h->lease = std::move(*lease);
  }
  DispatchOptions o;
  o.host = name;
  o.counters = &h->counters;
  h->dispatcher = std::make_unique<JobDispatcher>(*h->engine, *h->queue, o);
  if (Status s = h->dispatcher->open_broker(); !s) die("broker", s);
  if (h->shared)
    h->listener = std::make_unique<PgListener>(
        url,
        [d = h->dispatcher.get()](const std::string& topic) {
          d->poke(topic.empty() ? std::nullopt : std::optional<std::string>(topic));
        },
        [name](const std::string& m) { fmt::print(stderr, "{} listener: {}\n", name, m); });
  return h;
}

using Hosts = std::vector<std::unique_ptr<Host>>;

uint64_t done_total(const Hosts& hs, const std::string& topic) {
  uint64_t n = 0;
  for (const auto& h : hs) n += h->done(topic);
  return n;
}

void wait_done(const Hosts& hs, const std::string& topic, uint64_t target, double timeout_s = 600) {
  const auto t0 = Wall::now();
  while (done_total(hs, topic) < target) {
    if (since_s(t0) > timeout_s) {
      fmt::print(stderr, "{}: {} of {} done after {} s; giving up\n", topic, done_total(hs, topic), target, timeout_s);
      std::exit(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void add_pool(Host& h, const std::string& pool, int n, int prefetch, const std::string& worker) {
  h.specs.push_back(bench::jobs_pool(pool, n, {worker}, JobMode::kWorker, prefetch));
  if (!h.engine->apply(h.specs)) {
    fmt::print(stderr, "{}: cannot apply pool {}\n", h.name, pool);
    std::exit(1);
  }
}

// Every host's pool has its workers up, and n*4 jobs per host went through.
void warm(const Hosts& hs, const std::string& pool, int n) {
  for (const auto& h : hs)
    while (true) {
      int running = 0;
      for (const auto& p : h->engine->snapshot().pools)
        if (p.spec.name == pool) running = p.running;
      if (running >= n) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  const uint64_t before = done_total(hs, pool);
  std::vector<JobRequest> rs(hs.size() * n * 4);
  for (auto& r : rs) r.topic = pool;
  if (!hs[0]->dispatcher->enqueue(std::move(rs)).get()) std::exit(1);
  wait_done(hs, pool, before + hs.size() * n * 4);
}

double throughput(const std::string& label, const Hosts& hs, int jobs) {
  const uint64_t before = done_total(hs, "noop");
  std::vector<JobRequest> rs(static_cast<size_t>(jobs));
  for (auto& r : rs) r.topic = "noop";
  const Ticks c0 = cpu_ticks();
  auto t0 = Wall::now();
  if (auto r = hs[0]->dispatcher->enqueue(std::move(rs)).get(); !r) die("enqueue", r.error());
  const double enq = since_s(t0);
  wait_done(hs, "noop", before + jobs);
  const double s = since_s(t0);
  const Ticks c1 = cpu_ticks();
  std::string per_host;
  for (const auto& h : hs) per_host += fmt::format(" {}", h->done("noop"));
  fmt::print("{}: throughput, {} no-op jobs, {} workers/host, prefetch {}: {:.0f} jobs/s ({:.2f} s, of which enqueue "
             "{:.2f} s; done per host incl. warm-up:{})\n",
             label, jobs, kWorkers, kPrefetch, jobs / s, s, enq, per_host);
  fmt::print("{}\n", cpu_line(c0, c1, s));
  return jobs / s;
}

// The done jobs of topic: result - enqueue stamp, ms, sorted.
std::vector<double> start_latencies(Host& h, const std::string& topic) {
  JobFilter f;
  f.topic = topic;
  f.state = JobState::kDone;
  f.limit = kMaxListLimit;
  std::vector<double> ms;
  for (JobId after = 0;;) {
    f.after = after;
    auto page = h.queue->call<std::vector<Job>>([f](JobStore& s, int64_t) { return s.list(f); }).get();
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
  return ms;
}

void latency(const std::string& label, const Hosts& hs, double rate, int jobs) {
  const std::string topic = "lat";
  const uint64_t before = done_total(hs, topic);
  // Batches of 10 every 10/rate seconds, round the hosts; answers not waited for (the
  // enqueue's own commit is part of the latency).
  const int batch = 10;
  const auto gap = std::chrono::duration_cast<Wall::duration>(std::chrono::duration<double>(batch / rate));
  const Ticks c0 = cpu_ticks();
  const auto t0 = Wall::now();
  auto next = t0;
  size_t k = 0;
  for (int sent = 0; sent < jobs; sent += batch) {
    std::this_thread::sleep_until(next);
    next += gap;
    std::vector<JobRequest> rs(batch);
    for (auto& r : rs) {
      r.topic = topic;
      r.args = fmt::format(R"({{"t": {}}})", now_us());
    }
    (void)hs[k++ % hs.size()]->dispatcher->enqueue(std::move(rs));
  }
  const double sending = since_s(t0);
  wait_done(hs, topic, before + jobs);
  const double s = since_s(t0);
  const Ticks c1 = cpu_ticks();
  auto ms = start_latencies(*hs[0], topic);
  if (ms.empty()) return;
  fmt::print("{}: enqueue-to-start latency at {:.0f} jobs/s (sent at {:.0f}/s), {} jobs: p50 {:.2f} ms, p99 {:.2f} ms, "
             "max {:.2f} ms\n",
             label, rate, jobs / sending, ms.size(), ms[ms.size() / 2], ms[ms.size() * 99 / 100], ms.back());
  fmt::print("{}\n", cpu_line(c0, c1, s));
}

// Host 0 has no pool of the topic; hosts 1 and 2 have idle workers.
void cross_host(const Hosts& hs, const std::string& worker, int n) {
  const std::string topic = "cross";
  for (size_t i = 1; i < hs.size(); ++i) add_pool(*hs[i], topic, 2, 1, worker);
  // Warm through the same path: each enqueued on host 0.
  for (int i = 0; i < 20; ++i) {
    const uint64_t before = done_total(hs, topic);
    JobRequest r;
    r.topic = topic;
    (void)hs[0]->dispatcher->enqueue({r}).get();
    wait_done(hs, topic, before + 1, 30);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  for (int i = 0; i < n; ++i) {
    const uint64_t before = done_total(hs, topic);
    JobRequest r;
    r.topic = topic;
    r.args = fmt::format(R"({{"t": {}}})", now_us());
    (void)hs[0]->dispatcher->enqueue({r});
    wait_done(hs, topic, before + 1, 30);
    // Idle again, hungry, between jobs: a few ms apart, off the poll's beat.
    std::this_thread::sleep_for(std::chrono::microseconds(3000 + (i * 7919) % 5000));
  }
  const auto ms = start_latencies(*hs[0], topic);
  std::string per_host;
  for (const auto& h : hs) per_host += fmt::format(" {}", h->done(topic));
  fmt::print("PostgreSQL, 3 hosts: cross-host start (enqueued on h0, no pool there; run on h1/h2), {} jobs one at a "
             "time: p50 {:.2f} ms ({:.2f}x the 5 ms goal), p99 {:.2f} ms, max {:.2f} ms (done per host:{})\n",
             ms.size(), ms[ms.size() / 2], ms[ms.size() / 2] / kGoalCrossP50Ms, ms[ms.size() * 99 / 100], ms.back(),
             per_host);
}

// A real drover (exec-mode pool of `sleep 60`, lease 1 s) kill -9'd with 4 jobs running:
// until a peer's renewal has queued them again.
void host_death(const Hosts& hs, const std::string& url, const std::filesystem::path& dir) {
  const double lease_s = 1;
  const std::string cfg = (dir / "dead.lua").string();
  std::ofstream(cfg) << "pool 'slow' { cmd = 'sleep 60', n = 4, jobs = true }\n";
  const std::string err = (dir / "dead.err").string();
  std::vector<std::string> args = {DROVER_BIN, cfg, "--no-shell", "-q", "--state", (dir / "dead-state").string(),
                                   "--jobs-store", url, "--host-name", "dead", "--host-lease", fmt::format("{}", lease_s)};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) {
    fmt::print(stderr, "cannot start {}\n", DROVER_BIN);
    return;
  }
  posix_spawn_file_actions_destroy(&fa);
  auto slow = [&](int64_t* queued, int64_t* running) {
    auto st = hs[0]->queue->call<std::vector<TopicStats>>([](JobStore& s, int64_t now) { return s.live_stats(now); }).get();
    *queued = *running = 0;
    if (st)
      for (const auto& t : *st)
        if (t.topic == "slow") *queued = t.queued, *running = t.running;
  };
  // It is in the fleet once it has room; then 4 jobs, which only it can run.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  std::vector<JobRequest> rs(4);
  for (auto& r : rs) r.topic = "slow";
  (void)hs[0]->dispatcher->enqueue(std::move(rs)).get();
  int64_t q = 0, run = 0;
  const auto w0 = Wall::now();
  for (slow(&q, &run); run < 4; slow(&q, &run)) {
    if (since_s(w0) > 20) {
      fmt::print(stderr, "host death: the drover binary never ran the 4 jobs (see {})\n", err);
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // mid-lease, not right after a renewal
  kill(pid, SIGKILL);
  const auto t0 = Wall::now();
  waitpid(pid, nullptr, 0);
  for (slow(&q, &run); q < 4; slow(&q, &run)) {
    if (since_s(t0) > 30) {
      fmt::print(stderr, "host death: jobs not requeued after 30 s\n");
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const double s = since_s(t0);
  fmt::print("PostgreSQL: host death (drover binary kill -9'd, lease {} s, peers renew every {:.2f} s) to its 4 running "
             "jobs queued again: {:.2f} s (goal: lease + at most 1 s = {:.1f} s: {})\n",
             lease_s, kLease.count() / 3000.0, s, lease_s + 1, s <= lease_s + 1 ? "met" : "NOT met");
  // Out of the way: nobody runs "slow".
  auto ids = hs[0]->queue->call<std::vector<Job>>([](JobStore& st, int64_t) {
                           JobFilter f;
                           f.topic = "slow";
                           return st.list(f);
                         }).get();
  if (ids)
    for (const Job& j : *ids) (void)hs[0]->dispatcher->cancel(j.id);
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  const int jobs = argc > 1 ? std::atoi(argv[1]) : 50000;
  const std::string worker = argc > 2 ? argv[2] : std::string(DROVER_BUILD_DIR) + "/examples/job_worker";
  const int lat_jobs = std::max(1000, jobs / 5);
  std::string tmpl = (std::filesystem::temp_directory_path() / "drover-pg-bench-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) return 1;
  const std::filesystem::path dir = tmpl;
  fmt::print("jobs_pg_bench: {} jobs, {} workers/host, prefetch {}, latency runs of {} jobs; nproc {}\n", jobs,
             kWorkers, kPrefetch, lat_jobs, std::thread::hardware_concurrency());
  std::unique_ptr<test::PostgresServer> pg;
  try {
    pg = std::make_unique<test::PostgresServer>();
  } catch (const std::exception& e) {
    fmt::print(stderr, "PostgreSQL: {}\n", e.what());
    return 1;
  }

  double sqlite_tp = 0, pg1_tp = 0, pg3_tp = 0;
  {
    Hosts hs;
    hs.push_back(make_host("sqlite", "", (dir / "jobs.db").string()));
    add_pool(*hs[0], "noop", kWorkers, kPrefetch, worker);
    add_pool(*hs[0], "lat", kWorkers, kPrefetch, worker);
    warm(hs, "noop", kWorkers);
    warm(hs, "lat", kWorkers);
    sqlite_tp = throughput("SQLite, 1 host", hs, jobs);
    latency("SQLite, 1 host", hs, sqlite_tp / 2, lat_jobs);
  }
  {
    const std::string url = pg->create_database("one");
    Hosts hs;
    hs.push_back(make_host("h0", url, ""));
    add_pool(*hs[0], "noop", kWorkers, kPrefetch, worker);
    add_pool(*hs[0], "lat", kWorkers, kPrefetch, worker);
    warm(hs, "noop", kWorkers);
    warm(hs, "lat", kWorkers);
    pg1_tp = throughput("PostgreSQL, 1 host", hs, jobs);
    fmt::print("    {:.2f}x SQLite's\n", pg1_tp / sqlite_tp);
    latency("PostgreSQL, 1 host", hs, pg1_tp / 2, lat_jobs);
  }
  {
    const std::string url = pg->create_database("three");
    Hosts hs;
    for (const char* n : {"h0", "h1", "h2"}) hs.push_back(make_host(n, url, ""));
    for (auto& h : hs) {
      add_pool(*h, "noop", kWorkers, kPrefetch, worker);
      add_pool(*h, "lat", kWorkers, kPrefetch, worker);
    }
    warm(hs, "noop", kWorkers);
    warm(hs, "lat", kWorkers);
    pg3_tp = throughput("PostgreSQL, 3 hosts", hs, jobs);
    fmt::print("    {:.2f}x the goal of {:.0f} jobs/s; {:.2f}x SQLite's, {:.2f}x PostgreSQL 1 host's\n",
               pg3_tp / kGoalJobsS, kGoalJobsS, pg3_tp / sqlite_tp, pg3_tp / pg1_tp);
    latency("PostgreSQL, 3 hosts", hs, pg3_tp / 2, lat_jobs);
    cross_host(hs, worker, 200);
    host_death(hs, url, dir);
  }
  pg.reset();
  std::filesystem::remove_all(dir);
  return 0;
}
