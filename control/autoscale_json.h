// The autoscaler's state on the wire, both ways: what GET /api/v1/autoscale sends, and
// what an attached shell (shell/remote/) reads back into the AutoscaleView its
// autoscale.list() renders as a local shell does. Pure functions, any thread.
#pragma once

#include <nlohmann/json.hpp>

#include "api/autoscale_view.h"
#include "engine/status.h"

namespace drover {

// {"policies": [{"pool", "every", "min", "max", ...}], "budget": N|null, "timers": N}
nlohmann::json autoscale_view_json(const AutoscaleView& view);
// Lenient about absent keys (an older server), strict about types: an error names the path.
Result<AutoscaleView> autoscale_view_from_json(const nlohmann::json& j);

}  // namespace drover
