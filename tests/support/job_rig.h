// JobRig: a real engine, a SQLite job store on its thread and the dispatcher between them,
// torn down in the right order (dispatcher, engine's workers, queue): what the exec-mode
// and worker-mode tests run their pools against. Retries come fast (50 ms, no jitter) and
// every job is recorded as run on "test-host".
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "jobs/job_dispatcher.h"
#include "jobs/sqlite_job_store.h"
#include "tests/support/test_util.h"

namespace drover::test {

inline jobs::JobRequest job_request(const std::string& topic, std::string args = "{}") {
  jobs::JobRequest r;
  r.topic = topic;
  r.args = std::move(args);
  return r;
}

struct JobRig {
  TempDir dir;
  Engine engine{engine_options(dir)};
  jobs::JobQueue queue{open_store(dir)};
  jobs::JobDispatcher dispatcher{engine, queue, fast_retries()};

  static std::unique_ptr<jobs::JobStore> open_store(const TempDir& dir) {
    auto s = jobs::SqliteJobStore::open(dir.file("jobs.db"), jobs::Durability::kNormal);
    REQUIRE(s);
    return std::move(*s);
  }
  static jobs::DispatchOptions fast_retries() {
    jobs::DispatchOptions o;
    o.backoff.base_s = 0.05;
    o.backoff.jitter = 0;
    o.host = "test-host";
    return o;
  }
  jobs::Job job(jobs::JobId id) {
    auto j = queue.call<jobs::Job>([id](jobs::JobStore& s, int64_t) { return s.get(id); }).get();
    REQUIRE(j);
    return *j;
  }
  bool in_state(jobs::JobId id, jobs::JobState st) { return job(id).state == st; }
  std::vector<jobs::Job> enqueue(std::vector<jobs::JobRequest> rs) {
    auto r = dispatcher.enqueue(std::move(rs)).get();
    REQUIRE(r);
    return *r;
  }
};

}  // namespace drover::test
