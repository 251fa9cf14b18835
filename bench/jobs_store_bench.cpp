// The job store's own speed, before any process runs a job (the jobs issue's enqueue and
// memory goals): batched enqueue into SQLite, one job per call from 8 threads (group
// commit at work), claim+finish cycles (the store's ceiling for worker mode), and drover's
// RSS with 1,000,000 queued jobs. A file store in a temporary directory, durability
// "normal" unless said.
//
//   jobs_store_bench [--jobs N]   (default 1,000,000 for the memory figure)
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "jobs/job_queue.h"
#include "bench/job_bench_support.h"

using namespace drover;
using namespace drover::jobs;
using Wall = std::chrono::steady_clock;

namespace {

double seconds_since(Wall::time_point t) { return std::chrono::duration<double>(Wall::now() - t).count(); }

long rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

JobRequest request(int i) {
  JobRequest r;
  r.topic = i % 2 ? "resize" : "mail";
  r.args = fmt::format(R"({{"file": "img-{}.png"}})", i);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  int total = 1'000'000;
  for (int i = 1; i + 1 < argc; ++i)
    if (!std::strcmp(argv[i], "--jobs")) total = std::atoi(argv[i + 1]);
  std::string tmpl = (std::filesystem::temp_directory_path() / "drover-jobs-bench-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) return 1;
  const std::filesystem::path dir = tmpl;
  const long rss_start = rss_kb();

  // 1. Batched enqueue, 1,000 a call, through the store thread.
  {
    JobQueue q(bench::store_at((dir / "batched.db").string(), Durability::kNormal));
    const int n = 100'000;
    auto t = Wall::now();
    for (int b = 0; b < n / 1000; ++b) {
      std::vector<JobRequest> batch;
      for (int i = 0; i < 1000; ++i) batch.push_back(request(b * 1000 + i));
      if (!q.enqueue(std::move(batch)).get()) return 1;
    }
    fmt::print("enqueue, batches of 1000:            {:>9.0f} jobs/s ({} jobs in {:.2f} s)\n", n / seconds_since(t), n,
               seconds_since(t));
  }
  // 2. One job a call from 8 threads: what group commit buys, under both durabilities.
  for (Durability d : {Durability::kNormal, Durability::kFull}) {
    const char* name = d == Durability::kFull ? "full" : "normal";
    JobQueue q(bench::store_at((dir / fmt::format("single-{}.db", name)).string(), d));
    const int per_thread = d == Durability::kFull ? 1'000 : 5'000;
    auto t = Wall::now();
    std::vector<std::thread> threads;
    for (int k = 0; k < 8; ++k)
      threads.emplace_back([&, k] {
        for (int i = 0; i < per_thread; ++i)
          if (!q.enqueue({request(k * per_thread + i)}).get()) std::exit(1);
      });
    for (auto& th : threads) th.join();
    const double s = seconds_since(t);
    const auto c = q.counters();
    fmt::print("enqueue, 1 per call, 8 threads, {:<6} {:>9.0f} jobs/s ({} commits for {} calls: {:.1f} a commit)\n",
               name, 8 * per_thread / s, c.commits, c.calls, double(c.calls) / double(c.commits));
  }
  // 3. Claim 100, finish them, on the store thread: the store's ceiling for worker mode.
  //    finish() one by one, then finish_all() for the lot (what the worker broker does).
  {
    JobQueue q(bench::store_at((dir / "cycle.db").string(), Durability::kNormal));
    const int n = 100'000;
    for (int b = 0; b < n / 1000; ++b) {
      std::vector<JobRequest> batch;
      for (int i = 0; i < 1000; ++i) batch.push_back(request(b * 1000 + i));
      if (!q.enqueue(std::move(batch)).get()) return 1;
    }
    const RetryAt no_retry = [](int, int64_t now) { return now; };
    for (bool all : {false, true}) {
      if (all)
        for (int b = 0; b < n / 1000; ++b) {
          std::vector<JobRequest> batch;
          for (int i = 0; i < 1000; ++i) batch.push_back(request(b * 1000 + i));
          if (!q.enqueue(std::move(batch)).get()) return 1;
        }
      auto t = Wall::now();
      int done = 0;
      while (done < n) {
        auto r = q.call<int>([all, &no_retry](JobStore& s, int64_t now) -> Result<int> {
                    int count = 0;
                    for (const char* topic : {"resize", "mail"}) {
                      auto jobs = s.claim(topic, 50, now, "bench", "w");
                      if (!jobs) return jobs.error();
                      std::vector<JobEnd> ends;
                      for (const Job& j : *jobs) {
                        if (all) ends.push_back({j.id, {true, ""}});
                        else if (auto f = s.finish(j.id, {true, ""}, now, 0); f) ++count;
                      }
                      for (const auto& f : s.finish_all(ends, now, no_retry)) count += f ? 1 : 0;
                    }
                    return count;
                  }).get();
        if (!r || *r == 0) return 1;
        done += *r;
      }
      fmt::print("claim + {:<10}, 100 a commit:  {:>9.0f} jobs/s ({} jobs in {:.2f} s)\n",
                 all ? "finish_all" : "finish", n / seconds_since(t), n, seconds_since(t));
    }
    // 3b. What TopicCounters' refresh costs each second against stats()' scan, with the
    // 100,000 done jobs a retained table holds and 1,000 waiting.
    std::vector<JobRequest> batch;
    for (int i = 0; i < 1000; ++i) batch.push_back(request(i));
    if (!q.enqueue(std::move(batch)).get()) return 1;
    for (bool live : {false, true}) {
      auto t2 = Wall::now();
      for (int i = 0; i < 20; ++i)
        if (!q.call<std::vector<TopicStats>>([live](JobStore& s, int64_t now) {
                return live ? s.live_stats(now) : s.stats(now);
              }).get())
          return 1;
      fmt::print("{}, 100,000 done + 1,000 waiting: {:>7.2f} ms a call\n", live ? "live_stats" : "stats     ",
                 seconds_since(t2) / 20 * 1000);
    }
  }
  // 4. RSS with `total` queued jobs (the store keeps them on disk, SQLite a bounded cache).
  {
    const std::string path = (dir / "million.db").string();
    JobQueue q(bench::store_at(path, Durability::kNormal));
    auto t = Wall::now();
    for (int b = 0; b < total / 10'000; ++b) {
      std::vector<JobRequest> batch;
      for (int i = 0; i < 10'000; ++i) batch.push_back(request(b * 10'000 + i));
      if (!q.enqueue(std::move(batch)).get()) return 1;
    }
    const double s = seconds_since(t);
    auto stats = q.stats().get();
    long queued = 0;
    if (stats)
      for (const auto& ts : *stats) queued += ts.queued;
    fmt::print("{} queued (batches of 10000, {:.0f} jobs/s): RSS {:.1f} MB (started at {:.1f} MB), file {:.0f} MB\n",
               queued, total / s, rss_kb() / 1024.0, rss_start / 1024.0,
               std::filesystem::file_size(path) / 1048576.0);
    auto t2 = Wall::now();
    if (!q.call<std::vector<TopicStats>>([](JobStore& st, int64_t now) { return st.live_stats(now); }).get()) return 1;
    fmt::print("live_stats with {} queued: {:.0f} ms (the refresh, once a second)\n", queued, seconds_since(t2) * 1000);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
