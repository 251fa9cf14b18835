// Engine values as the JSON API's routes show them: one place that says what a pool and a
// worker look like in /api/v1/pools, so every route shows them the same way. These are
// views (names a person reads, absent fields left out); the lossless forms a client
// parses back are in control/snapshot_json.h.
#pragma once

#include <nlohmann/json.hpp>

#include "engine/events.h"
#include "engine/snapshot.h"

namespace drover {

nlohmann::json worker_json(const WorkerSnapshot& w);
nlohmann::json pool_json(const PoolSnapshot& p, bool with_workers);

}  // namespace drover
