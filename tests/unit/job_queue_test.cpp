// The store thread: answers after the commit, the commit's failure reaches every caller of
// its group and keeps nothing, time from the injected clock, calls from many threads.
#include <doctest/doctest.h>

#include <atomic>
#include <set>
#include <thread>

#include "jobs/job_queue.h"
#include "jobs/sqlite_job_store.h"

using namespace drover;
using namespace drover::jobs;

namespace {

std::unique_ptr<SqliteJobStore> memory_store() {
  auto s = SqliteJobStore::open(":memory:", Durability::kOff);
  REQUIRE(s);
  return std::move(*s);
}

JobRequest req(std::string topic) {
  JobRequest r;
  r.topic = std::move(topic);
  return r;
}

// A store whose commits fail while `failing` is set (a full disk), rolling the group back.
class FlakyDisk final : public JobStore {
 public:
  explicit FlakyDisk(std::unique_ptr<JobStore> inner) : inner_(std::move(inner)) {}
  std::atomic<bool> failing{false};
  Status group(const std::function<Status()>& fn) override {
    return inner_->group([&] {
      if (Status s = fn(); !s) return s;
      return failing ? Status::io_error("sqlite: database or disk is full") : Status::ok();
    });
  }
  Result<std::vector<Job>> enqueue(const std::vector<JobRequest>& r, int64_t now) override { return inner_->enqueue(r, now); }
  Result<std::vector<Job>> claim(const std::string& t, size_t n, int64_t now, const std::string& h,
                                 const std::string& w) override {
    return inner_->claim(t, n, now, h, w);
  }
  Result<Job> finish(JobId id, const JobOutcome& o, int64_t now, int64_t at) override { return inner_->finish(id, o, now, at); }
  Result<Job> release(JobId id, int64_t now) override { return inner_->release(id, now); }
  Result<Job> cancel(JobId id, int64_t now) override { return inner_->cancel(id, now); }
  Result<Job> retry(JobId id, int64_t now) override { return inner_->retry(id, now); }
  Result<size_t> retry_dead(const std::optional<std::string>& t, int64_t now) override { return inner_->retry_dead(t, now); }
  Status drop(JobId id) override { return inner_->drop(id); }
  Result<Job> get(JobId id) override { return inner_->get(id); }
  Result<std::vector<Job>> list(const JobFilter& f) override { return inner_->list(f); }
  Result<std::vector<TopicStats>> stats(int64_t now) override { return inner_->stats(now); }
  Result<std::vector<Job>> requeue_running(int64_t now) override { return inner_->requeue_running(now); }
  Result<size_t> prune(const Retention& r, int64_t now) override { return inner_->prune(r, now); }

 private:
  std::unique_ptr<JobStore> inner_;
};

}  // namespace

TEST_CASE("job queue: calls from 8 threads - every one answered - ids unique - time from the injected clock") {
  std::atomic<int64_t> now{5'000};
  JobQueue q(memory_store(), [&] { return now.load(); });
  std::vector<std::thread> threads;
  std::vector<std::vector<JobId>> got(8);
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        auto r = q.enqueue({req("t")}).get();
        if (r) got[t].push_back(r->front().id);
      }
    });
  for (auto& th : threads) th.join();
  std::set<JobId> all;
  for (const auto& v : got) all.insert(v.begin(), v.end());
  CHECK(all.size() == 1600);
  const JobQueue::Counters c = q.counters();
  CHECK(c.calls == 1600);
  CHECK(c.commits >= 1);
  CHECK(c.commits <= 1600);
  auto job = q.call<Job>([&](JobStore& s, int64_t) { return s.get(*all.begin()); }).get();
  REQUIRE(job);
  CHECK(job->created_ms == 5'000);
  now = 9'000;
  auto stats = q.stats().get();
  REQUIRE(stats);
  CHECK(stats->front().queued == 1600);
  CHECK(stats->front().oldest_age_s == doctest::Approx(4.0));
}

TEST_CASE("job queue: a failed commit answers every call of its group with the error - nothing kept") {
  auto disk = std::make_unique<FlakyDisk>(memory_store());
  FlakyDisk* flaky = disk.get();
  JobQueue q(std::move(disk));
  REQUIRE(q.enqueue({req("t")}).get());
  flaky->failing = true;
  auto refused = q.enqueue({req("t"), req("t")}).get();
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message() == "sqlite: database or disk is full");
  CHECK(q.counters().failed_commits == 1);
  flaky->failing = false;
  auto stats = q.stats().get();
  REQUIRE(stats);
  CHECK(stats->front().queued == 1);  // the first job only
  // A call's own refusal is its answer, the commit of its group goes on.
  auto bad = q.enqueue({req("")}).get();
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code() == Status::Code::kInvalidArgument);
}

TEST_CASE("job queue: the destructor answers every call submitted before it") {
  std::vector<std::future<Result<std::vector<Job>>>> futures;
  {
    JobQueue q(memory_store());
    for (int i = 0; i < 50; ++i) futures.push_back(q.enqueue({req("t")}));
  }
  for (auto& f : futures) {
    REQUIRE(f.valid());
    CHECK(f.get());
  }
}
