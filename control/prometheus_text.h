// The engine's state in Prometheus' text exposition format (version 0.0.4), for
// GET /metrics: per-pool targets, running workers, exits by kind, restarts, stalls,
// busy/idle, and heartbeat socket counts. Pure: a snapshot in, text out.
#pragma once

#include <string>

#include "engine/snapshot.h"

namespace drover {

std::string prometheus_text(const EngineSnapshot& snap);

}  // namespace drover
