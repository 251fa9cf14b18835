// The history ring (api/history.h): its memory full (an hour of one sample a second) for
// 1 to 256 pools and as many topics, what one sample costs the sampler thread, and what
// the dashboard's hour-long read (every 30th point) costs the HTTP thread and the wire.
//
//   build/bench/history_bench
#include <chrono>
#include <cstdio>

#include "api/history.h"
#include "api/records.h"
#include "control/json_writer.h"
#include "control/record_json.h"

using namespace drover;
using Steady = std::chrono::steady_clock;

namespace {

EngineSnapshot snapshot_of(size_t pools, size_t topics, uint64_t tick) {
  EngineSnapshot s;
  for (size_t i = 0; i < pools; ++i) {
    PoolSnapshot& p = s.pools.emplace_back();
    p.spec.name = "pool-" + std::to_string(i);
    p.target = p.running = static_cast<int>(4 + tick % 7);
    p.busy = static_cast<int>(tick % 5);
    p.counters.restarts = tick / 60;
    p.queue.depth = static_cast<int64_t>(tick % 100);
  }
  for (size_t i = 0; i < topics; ++i) {
    TopicGauge& t = s.jobs.emplace_back();
    t.topic = "topic-" + std::to_string(i);
    t.queued = static_cast<int64_t>(tick % 1000);
    t.done_total = tick * 50;
    t.run_time.bounds = {0.01, 0.1, 1, 10};
    t.run_time.counts = {tick * 10, tick * 30, tick * 10, 0, 0};
    t.run_time.count = tick * 50;
  }
  return s;
}

double ms_since(Steady::time_point t) { return std::chrono::duration<double, std::milli>(Steady::now() - t).count(); }

}  // namespace

int main() {
  std::printf("%-8s %-8s %12s %14s %14s %14s\n", "pools", "topics", "memory", "add/sample", "read 1h/30", "JSON 1h/30");
  for (size_t n : {1, 10, 100, 256}) {
    HistoryRing ring;
    std::map<std::string, ProcessTotals> usage;
    for (size_t i = 0; i < n; ++i) usage["pool-" + std::to_string(i)] = ProcessTotals{0.5, 64u << 20, 3};
    // Snapshots made beforehand: only add() is timed.
    std::vector<EngineSnapshot> snaps;
    for (uint64_t k = 0; k < 60; ++k) snaps.push_back(snapshot_of(n, n, k));
    const int64_t t0 = 1'700'000'000'000;
    const auto start = Steady::now();
    for (uint64_t k = 0; k < kHistorySamples; ++k) ring.add(snaps[k % snaps.size()], t0 + static_cast<int64_t>(k) * 1000, &usage);
    const double add_ms = ms_since(start) / static_cast<double>(kHistorySamples);
    const auto read_start = Steady::now();
    constexpr int kReads = 5;
    size_t json_bytes = 0;
    for (int r = 0; r < kReads; ++r) {
      History h = ring.read(0, 30);  // the dashboard's hour: every 30th point
      JsonWriter w;
      records::write_json(w, h);
      json_bytes = w.text().size();
    }
    const double read_ms = ms_since(read_start) / kReads;
    std::printf("%-8zu %-8zu %9.2f MB %11.3f ms %11.2f ms %11.1f KB\n", n, n, static_cast<double>(ring.bytes()) / (1 << 20),
                add_ms, read_ms, static_cast<double>(json_bytes) / 1024);
  }
}
