// What a reload changed, in one line per pool, for the operator who typed reload() or
// sent HUP: "added web (n = 2)", "removed old", "resized jobs 2 -> 5", "jobs: command,
// env, cwd or queue changed (...)", "mail: settings changed". Nothing changed: "no changes".
#pragma once

#include <string>
#include <vector>

#include "engine/snapshot.h"

namespace drover {

// Lines, each ending in a newline, from the pools before and after.
std::string reload_summary(const std::vector<PoolSnapshot>& before, const std::vector<PoolSnapshot>& after);

}  // namespace drover
