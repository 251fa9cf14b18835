// Engine values as JSON for the HTTP API: one place that says what a pool, a worker and
// a log line look like to a client, so every route shows them the same way.
#pragma once

#include <nlohmann/json.hpp>

#include "engine/events.h"
#include "engine/snapshot.h"

namespace drover {

nlohmann::json worker_json(const WorkerSnapshot& w);
nlohmann::json pool_json(const PoolSnapshot& p, bool with_workers);
nlohmann::json log_line_json(const LogLine& line);

}  // namespace drover
