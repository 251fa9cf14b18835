// History: what the dashboard's charts, top() and the shell's history() draw: one sample a
// second of every pool (target, running, busy, restarts, queue depth, and with usage sampling
// the CPU and RSS of its workers and their descendants) and every topic of drover's
// own queue (queued, running, oldest age, done and failed per second, run time p50/p95),
// the last hour. A thread of its own (HistorySampler) reads an engine snapshot each second
// and appends it to the ring; the engine loop never waits on it.
//
// Memory is bounded: kHistorySamples per series, each series a ring of floats (4 bytes a
// sample: 14 KB a series an hour), at most kMaxHistorySeries pools and as many topics (the
// rest are left out, and `dropped` says how many). A pool or topic gone for an hour goes.
//
// Reads are columnar (one array per field), the form charts take: t_ms[i] is when the i-th
// value of every series was sampled. A series that did not exist yet, or a p50 with no run
// that second, is NaN (null in JSON, nil in Lua).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "autoscale/process_sampler.h"
#include "engine/snapshot.h"

namespace drover {

inline constexpr size_t kHistorySamples = 3600;
inline constexpr size_t kMaxHistorySeries = 256;

struct PoolHistory {
  std::string pool;
  std::vector<double> target, running, busy, restarts, queue;  // restarts: in that second
  std::vector<double> cpu, rss_bytes;  // cores over that second; resident bytes (NaN unsampled)

  bool operator==(const PoolHistory&) const = default;
};

struct TopicHistory {
  std::string topic;
  std::vector<double> queued, running, oldest_age_s, done, failed;  // done, failed: in that second
  std::vector<double> run_p50_s, run_p95_s;                         // of the runs that ended that second

  bool operator==(const TopicHistory&) const = default;
};

struct History {
  double step_s = 1;          // seconds between two points (a coarser read joins samples)
  std::vector<int64_t> t_ms;  // wall clock of each point
  std::vector<PoolHistory> pools;
  std::vector<TopicHistory> topics;
  uint64_t dropped = 0;  // pools and topics past kMaxHistorySeries, not kept

  bool operator==(const History&) const = default;
};

// The ring: appends and reads, thread-safe (one mutex; a read copies what it returns).
class HistoryRing {
 public:
  explicit HistoryRing(size_t capacity = kHistorySamples) : capacity_(capacity) {}

  // One sample: the snapshot's pools and topics at wall time t_ms, and the pools' process
  // usage when sampled (by pool name).
  void add(const EngineSnapshot& snap, int64_t t_ms, const std::map<std::string, ProcessTotals>* usage = nullptr);
  // The samples after since_ms (0: all kept), each `every`-th (1..3600: a coarser view of
  // a long span keeps the last sample of each group), for the pool and topic named (empty:
  // all).
  History read(int64_t since_ms, size_t every = 1, const std::string& only = "") const;
  // What the ring holds now, in bytes (bench/: the history's memory).
  size_t bytes() const;

 private:
  struct Series {
    std::vector<std::vector<float>> fields;  // each `capacity_` long, written at head_
    uint64_t last_seen = 0;                  // sample number when the pool/topic was last there
    // The totals at the previous sample, for per-second differences: 0 at first, as the
    // engine's and the queue's counts start at 0 with drover (a pool or topic that appears
    // between two samples brings what it did meanwhile).
    uint64_t restarts = 0, done = 0, failed = 0;
    RunHistogram runs;
  };
  Series& series(std::map<std::string, Series>& in, const std::string& name, size_t fields, bool& kept);
  void forget_gone(std::map<std::string, Series>& in);

  size_t capacity_;
  mutable std::mutex mu_;
  std::vector<int64_t> t_ms_;  // capacity_ long ring
  uint64_t count_ = 0;         // samples added in all; the latest at (count_ - 1) % capacity_
  std::map<std::string, Series> pools_, topics_;
  uint64_t dropped_ = 0;
};

// Samples an engine once a second into a ring, on a thread of its own, until destroyed.
class HistorySampler {
 public:
  using Snapshot = std::function<std::optional<EngineSnapshot>()>;  // nullopt: nothing to sample now
  // usage: also scan /proc for each pool's CPU and RSS (ProcessSampler: ~3 ms a scan with
  // 1,000 processes on the machine, on this thread).
  HistorySampler(HistoryRing& ring, Snapshot snapshot, std::chrono::milliseconds every = std::chrono::seconds(1),
                 bool usage = false);
  ~HistorySampler();
  HistorySampler(const HistorySampler&) = delete;
  HistorySampler& operator=(const HistorySampler&) = delete;

 private:
  HistoryRing& ring_;
  Snapshot snapshot_;
  std::chrono::milliseconds every_;
  std::optional<ProcessSampler> usage_;  // only the sampling thread uses it
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// The p-quantile (0..1) of the runs counted in `now` and not in `before` (same bounds), by
// linear interpolation inside the bucket; NaN when none ran between them.
double histogram_delta_quantile(const RunHistogram& before, const RunHistogram& now, double q);

}  // namespace drover
