// The engine's state in Prometheus' text exposition format (version 0.0.4), for
// GET /metrics: per-pool targets, running workers, exits by kind, restarts, stalls,
// busy/idle, heartbeat socket counts, and the CPU, memory and process count of each
// pool's workers with their descendants. Pure: a snapshot and sampled totals in, text
// out (the caller runs the ProcessSampler).
#pragma once

#include <map>
#include <string>

#include "autoscale/process_sampler.h"
#include "engine/snapshot.h"

namespace drover {

// usage: pool name -> its processes' totals. A pool of the snapshot without an entry has
// no cpu/rss/processes series (unknown, not 0).
std::string prometheus_text(const EngineSnapshot& snap, const std::map<std::string, ProcessTotals>& usage = {});

}  // namespace drover
