// The SQLite store: the store contract (tests/contract/) on a file in a scratch directory,
// and what only SQLite has: a version 1 file from before fan-outs, upgraded in place.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>

#include "jobs/sqlite_job_store.h"
#include "tests/contract/job_store_contract.h"

using namespace drover;
using namespace drover::jobs;

namespace {

constexpr int64_t T0 = 1'700'000'000'000;  // a wall clock, ms

// A directory removed with what it holds.
struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() {
    std::string t = (std::filesystem::temp_directory_path() / "drover-jobs-XXXXXX").string();
    REQUIRE(mkdtemp(t.data()));
    path = t;
  }
  ~ScratchDir() { std::filesystem::remove_all(path); }
};

// One jobs.db per harness, durability off: the contract is about semantics, not fsync.
class SqliteHarness final : public test::StoreHarness {
 public:
  std::unique_ptr<JobStore> open() override {
    auto s = SqliteJobStore::open(path_, Durability::kOff);
    if (!s) throw std::runtime_error(s.error().message());
    return std::move(*s);
  }
  void set_schema_version(int64_t version) override {
    auto db = SqliteDb::open(path_);
    REQUIRE(db);
    REQUIRE((*db)->exec(("PRAGMA user_version = " + std::to_string(version)).c_str()));
  }
  int64_t schema_version() const override { return 3; }
  std::string where() const override { return path_; }

 private:
  ScratchDir dir_;
  std::string path_ = (dir_.path / "jobs.db").string();
};

JobRequest fanout(std::vector<std::string> topics, std::string parent_topic = "deploy") {
  JobRequest r;
  r.topic = std::move(parent_topic);
  r.topics = std::move(topics);
  r.args = R"({"v": 2})";
  r.max_attempts = 1;
  return r;
}

std::vector<Job> children(JobStore& s, JobId parent) {
  auto kids = s.list({.parent = parent});
  REQUIRE(kids);
  return *kids;
}

Job claim_one(JobStore& s, const std::string& topic, int64_t now) {
  auto got = s.claim(topic, 10, now, "h", topic);
  REQUIRE(got);
  REQUIRE(got->size() == 1);
  return got->front();
}

}  // namespace

std::unique_ptr<test::StoreHarness> test::make_store_harness() { return std::make_unique<SqliteHarness>(); }

TEST_CASE("job store: a version 1 database opens and upgrades to the current version - its jobs kept and claimable") {
  ScratchDir dir;
  const std::string path = (dir.path / "jobs.db").string();
  {
    auto db = SqliteDb::open(path);
    REQUIRE(db);
    // Version 1's schema as it shipped (ec17093), with one waiting job.
    REQUIRE((*db)->exec(R"sql(
CREATE TABLE drover_jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, args TEXT NOT NULL, priority INTEGER NOT NULL,
  state TEXT NOT NULL, run_at_ms INTEGER NOT NULL, attempt INTEGER NOT NULL, max_attempts INTEGER NOT NULL,
  timeout_s REAL NOT NULL, unique_key TEXT NOT NULL, created_ms INTEGER NOT NULL, started_ms INTEGER NOT NULL,
  finished_ms INTEGER NOT NULL, host TEXT NOT NULL, worker TEXT NOT NULL, result TEXT NOT NULL, error TEXT NOT NULL);
CREATE INDEX drover_jobs_due ON drover_jobs (topic, priority DESC, run_at_ms, id) WHERE state IN ('queued', 'failed');
CREATE UNIQUE INDEX drover_jobs_key ON drover_jobs (topic, unique_key)
  WHERE unique_key <> '' AND state IN ('queued', 'failed', 'running');
CREATE INDEX drover_jobs_finished ON drover_jobs (finished_ms) WHERE state IN ('done', 'dead', 'cancelled');
CREATE INDEX drover_jobs_state ON drover_jobs (state, topic);
INSERT INTO drover_jobs (topic, args, priority, state, run_at_ms, attempt, max_attempts, timeout_s, unique_key,
  created_ms, started_ms, finished_ms, host, worker, result, error)
  VALUES ('mail', '{"to": "x"}', 0, 'queued', 1, 0, 3, 0, 'k', 1, 0, 0, '', '', '', '');
PRAGMA user_version = 1;
)sql"));
  }
  {
    auto s = SqliteJobStore::open(path, Durability::kOff);
    REQUIRE(s);
    auto old = (*s)->get(1);
    REQUIRE(old);
    CHECK(old->topic == "mail");
    CHECK(old->parent == 0);
    CHECK(old->children == 0);
    CHECK(old->key == "k");
    CHECK(claim_one(**s, "mail", T0).id == 1);
    const Job p = (*s)->enqueue({fanout({"mail"})}, T0)->front();
    CHECK(children(**s, p.id).size() == 1);
    // Version 3's schedules table is there.
    Schedule sched;
    sched.name = "nightly";
    sched.cron = "0 3 * * *";
    sched.topic = "mail";
    CHECK((*s)->upsert_schedule(sched, T0));
  }
  auto db = SqliteDb::open(path);
  REQUIRE(db);
  auto v = (*db)->prepare("PRAGMA user_version");
  REQUIRE(v);
  Status error;
  REQUIRE(v->step(&error));
  CHECK(v->int64(0) == 3);  // 2: fan-out, 3: schedules
}
