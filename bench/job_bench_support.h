// What the job benchmarks share: a SQLite store in their scratch directory (or the
// benchmark ends, saying why) and a jobs pool's spec.
#pragma once

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "engine/pool_spec.h"
#include "jobs/sqlite_job_store.h"

namespace drover::bench {

inline std::unique_ptr<jobs::JobStore> store_at(const std::string& path,
                                                jobs::Durability d = jobs::Durability::kNormal) {
  auto s = jobs::SqliteJobStore::open(path, d);
  if (!s) {
    fmt::print(stderr, "{}: {}\n", path, s.error().message());
    std::exit(1);
  }
  return std::move(*s);
}

// n at a time (exec mode), or n workers fetching prefetch jobs each (worker mode).
inline PoolSpec jobs_pool(const std::string& name, int n, std::vector<std::string> argv,
                          JobMode mode = JobMode::kExec, int prefetch = 1) {
  PoolSpec p;
  p.name = name;
  p.argv = std::move(argv);
  p.n = n;
  p.jobs = true;
  p.job_mode = mode;
  p.job_prefetch = prefetch;
  p.grace_s = 2;
  return p;
}

}  // namespace drover::bench
