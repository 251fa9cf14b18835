// Policy inputs: the table m of one pool's policy, assembled from what a tick has read
// (the engine's snapshot, the machine, the pools' processes, the queue readings). Kept
// apart from the Autoscaler, which does the reading (engine calls, /proc, probes) and
// owns the time, so that assembling m is plain arithmetic over values: no Lua, no clock,
// no I/O. policy_metrics.h says what each field of m means and pushes it into Lua.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>

#include "autoscale/process_sampler.h"
#include "autoscale/scale_decider.h"
#include "autoscale/system_sampler.h"
#include "engine/snapshot.h"
#include "shell/autoscale/policy_metrics.h"

namespace drover {

// What a tick read once for all its due policies.
struct TickReadings {
  EngineSnapshot snap;
  SystemSample sys;
  std::map<std::string, ProcessTotals> procs;  // per autoscaled pool: its workers and their children
};

// An autoscaled pool's queue and limits as its policy call sees them (every autoscaled
// pool's, for m.pools).
struct PoolInputs {
  ScaleLimits limits;
  std::optional<double> queue;     // nullopt: unknown (no probe, failed, stale)
  std::optional<double> inflight;  // the probe's, with a queue only
  std::optional<double> rate;      // the ProbeRunner's, with a queue only
  // A Lua fn probe keeps no rate of its own: m.queue_rate is computed from m.history.
  bool fn_probe = false;
  // Some probe is configured (a queue URL or a fn). A jobs pool without one is sized from
  // drover's own queue: m.queue, m.inflight and m.age from the snapshot's topic counts.
  bool probe = false;
};

// The m of `pool`, which r.snap and `pools` both have. now: wall seconds (m.now); dt: since
// this policy's previous call, nullopt on the first; history: its calls so far (the
// current one is appended, as m.history shows it). budget: budget{}'s cap, 0 for none.
PolicyMetrics build_policy_metrics(const std::string& pool, const TickReadings& r,
                                   const std::map<std::string, PoolInputs>& pools, double now,
                                   std::optional<double> dt, const std::deque<PolicySample>& history, int budget);

}  // namespace drover
