// Loads a drover config file written in Lua:
//
//     defaults { grace = 10, backoff = { initial = 0.1, max = 30 } }
//     pool "foo" { cmd = "python3 worker.py", n = 2, env = { MODE = "fast" } }
//     pool "bar" { cmd = { "./bar", "--fast" }, n = 2, cwd = "/srv/bar" }
//
// The file runs in a fresh Lua state whose globals are the standard library plus
// `defaults` and `pool`; every error (syntax, unknown field, wrong type, bad value,
// duplicate pool) points at the file and line. A relative cwd is taken relative to the
// config file's directory, so a config runs the same from anywhere.
#pragma once

#include <string>
#include <vector>

#include "engine/pool_spec.h"
#include "engine/status.h"

namespace drover {

struct LoadedConfig {
  std::vector<PoolSpec> pools;  // in the order the file defines them
  PoolSpec defaults;            // what `defaults{}` set, for pools created later
  // The file says no_pools(): defining no pool is meant, and a reload with it may remove
  // every running pool (without it, such a reload is refused: an emptied file is a mistake).
  bool no_pools = false;
};

Result<LoadedConfig> load_config_file(const std::string& path, const EngineLimits& limits = {});
// Same, for a chunk held in memory; chunk_name appears in errors ("=pools" style or "@file").
Result<LoadedConfig> load_config_string(const std::string& text, const std::string& chunk_name,
                                        const EngineLimits& limits = {});

}  // namespace drover
