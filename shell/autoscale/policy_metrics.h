// PolicyMetrics: what an autoscale policy sees, as plain data, and the Lua table it
// becomes (the `m` in `policy = function(m) ... end`). The live autoscaler fills it from
// the engine's snapshot, the probes and /proc; bench/autoscale_sim fills it from a
// simulated queue, so both call the same policies with the same table.
//
// The table (fields that are unknown are nil, never 0):
//   m.name                  the pool's name
//   m.now                   wall clock, seconds since the epoch (fractional)
//   m.dt                    seconds since this policy's previous call; nil on the first
//   m.queue, m.queue_rate   depth from the pool's probe, its change per second
//   m.inflight              jobs already running, from the queue's own bookkeeping
//   m.age                   seconds the oldest due job has waited; a jobs pool without a
//                           probe only, which gets m.queue (due jobs) and m.inflight
//                           (running) from drover's own queue too
//   m.run_time              mean seconds a job ran, over the attempts that ended within
//                           m.history (else since drover started); nil before the first.
//                           A jobs pool without a probe only, as m.age
//   m.load1/load5/load15    load averages;  m.cpu  busy share of all CPUs (0..1);  m.cpus
//   m.mem_available, m.mem_total   bytes
//   m.workers  {target, running, busy, idle, stalled}   busy/idle from heartbeats
//   m.pool     {cpu, rss, processes}   summed over the pool's workers and their children
//                                      (cpu in cores: 1.5 = one and a half CPUs busy)
//   m.min, m.max            the pool's autoscale limits;  m.budget  budget{max_workers} or nil
//   m.history  {now = {...}, queue = {...}, inflight = {...}, age = {...}, target = {...},
//               running = {...}, load1 = {...}, cpu = {...}}   this policy's last kHistory calls, oldest first
//               (the current one last); an unknown value is stored as false, keeping indexes aligned
//   m.pools    {NAME = {queue, inflight, age, workers = {...}, min, max}}  every autoscaled pool,
//              this one included (rebalance policies share one budget among them)
//
// A policy returns the pool's wanted size (a number; 2.1 means 3), optionally followed
// by a reason string for the log ("queue 640"); nil keeps the current size.
#pragma once

#include <lua.hpp>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>

namespace drover {

inline constexpr size_t kHistory = 60;

struct WorkerCounts {
  int target = 0, running = 0, busy = 0, idle = 0, stalled = 0;
};

// One call's values (what goes into the history too).
struct PolicySample {
  double now = 0;
  std::optional<double> queue, inflight, age, load1, cpu;
  int target = 0, running = 0;
  double run_sum = 0;      // the topic's run-time histogram's sum and count then (m.run_time)
  uint64_t run_count = 0;
};

struct PoolView {  // a pool as m.pools shows it
  std::optional<double> queue, inflight, age;
  WorkerCounts workers;
  int min = 0, max = 0;
};

struct PolicyMetrics {
  std::string name;
  double now = 0;
  std::optional<double> dt;
  std::optional<double> queue, queue_rate, inflight, age, run_time;
  double run_sum = 0;  // what m.run_time is computed from, kept in the history
  uint64_t run_count = 0;
  double load1 = 0, load5 = 0, load15 = 0;
  std::optional<double> cpu;
  int cpus = 1;
  double mem_available = 0, mem_total = 0;
  WorkerCounts workers;
  double pool_cpu = 0, pool_rss = 0;
  int pool_processes = 0;
  int min = 0, max = 0;
  std::optional<int> budget;
  std::deque<PolicySample> history;  // oldest first, at most kHistory, the current one last
  std::map<std::string, PoolView> pools;
};

// Pushes m as a new table on L's stack. Any thread that holds L.
void push_policy_metrics(lua_State* L, const PolicyMetrics& m);

// Appends the current values of m to its history, dropping the oldest past kHistory.
void record_history(PolicyMetrics& m);

}  // namespace drover
