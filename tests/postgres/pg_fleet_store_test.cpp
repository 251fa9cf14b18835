// The fleet in the PostgreSQL store (jobs/pg_fleet.cpp): hosts renew leases; a host whose
// lease ran out is retired by whichever peer renews next, its running jobs queued again
// with their attempt counted, exactly once however many peers renew at that moment; a
// host back under its old name takes its row over instead of counting twice.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "jobs/pg_job_store.h"
#include "tests/support/postgres_server.h"

using namespace drover;
using namespace drover::jobs;
using namespace drover::test;

namespace {

constexpr int64_t T0 = 1'700'000'000'000;
constexpr int64_t kLease = 10'000;

std::unique_ptr<PgJobStore> open_as(const std::string& url, const std::string& host) {
  auto s = PgJobStore::open(url, host);
  REQUIRE(s);
  return std::move(*s);
}

HostRecord me(const std::string& name, int64_t pid, int64_t now) {
  HostRecord h;
  h.name = name;
  h.pid = pid;
  h.http = "127.0.0.1:" + std::to_string(8000 + pid);
  h.started_ms = now;
  h.lease_until_ms = now + kLease;
  h.pools = R"([{"name": "t", "size": 2, "running": 2}])";
  return h;
}

JobRequest req(const std::string& topic) {
  JobRequest r;
  r.topic = topic;
  return r;
}

}  // namespace

TEST_CASE("pg fleet: hosts in the fleet view with their pools and running jobs - a host back under its name is one row") {
  const std::string url = PostgresServer::shared().create_database("fleet");
  auto a = open_as(url, "a"), b = open_as(url, "b");
  REQUIRE(a->renew_lease(me("a", 1, T0), T0));
  REQUIRE(b->renew_lease(me("b", 2, T0), T0));
  REQUIRE(a->enqueue({req("t"), req("t"), req("t")}, T0));
  REQUIRE(a->claim("t", 2, T0, "a", "w")->size() == 2);
  auto f = a->fleet(T0);
  REQUIRE(f);
  REQUIRE(f->hosts.size() == 2);
  CHECK(f->hosts[0].name == "a");
  CHECK(f->hosts[0].running_jobs == 2);
  CHECK(f->hosts[0].pools == R"([{"name": "t", "size": 2, "running": 2}])");
  CHECK(f->hosts[0].http == "127.0.0.1:8001");
  CHECK(f->hosts[1].running_jobs == 0);
  REQUIRE(f->topics.size() == 1);
  CHECK(f->topics[0].queued == 1);
  CHECK(f->topics[0].running == 2);

  // a restarts (a new pid): its row is taken over, its start time the new run's.
  auto again = open_as(url, "a");
  REQUIRE(again->renew_lease(me("a", 3, T0 + 500), T0 + 500));
  f = again->fleet(T0 + 500);
  REQUIRE(f->hosts.size() == 2);
  CHECK(f->hosts[0].pid == 3);
  CHECK(f->hosts[0].started_ms == T0 + 500);
  // The same run renewing keeps its start time.
  REQUIRE(again->renew_lease(me("a", 3, T0 + 900), T0 + 900));
  CHECK(again->fleet(T0 + 900)->hosts[0].started_ms == T0 + 500);
}

TEST_CASE("pg fleet: a host whose lease ran out - its running jobs queued again, attempt counted - it leaves the fleet") {
  const std::string url = PostgresServer::shared().create_database("fleet");
  auto a = open_as(url, "a"), b = open_as(url, "b");
  REQUIRE(a->renew_lease(me("a", 1, T0), T0));
  REQUIRE(b->renew_lease(me("b", 2, T0), T0));
  JobRequest last = req("t");
  last.max_attempts = 1;
  REQUIRE(a->enqueue({req("t"), last, req("u")}, T0));
  REQUIRE(b->claim("t", 5, T0, "b", "w")->size() == 2);  // b runs both; then b goes silent
  REQUIRE(a->claim("u", 5, T0, "a", "w")->size() == 1);

  // Within the lease nothing happens.
  auto early = a->renew_lease(me("a", 1, T0 + kLease - 1), T0 + kLease - 1);
  REQUIRE(early);
  CHECK(early->expired.empty());
  CHECK(early->requeued.empty());
  // Past it, a's renewal retires b.
  const int64_t t1 = T0 + kLease + 1;
  auto late = a->renew_lease(me("a", 1, t1), t1);
  REQUIRE(late);
  CHECK(late->expired == std::vector<std::string>{"b"});
  REQUIRE(late->requeued.size() == 2);
  CHECK(late->requeued[0].state == JobState::kQueued);
  CHECK(late->requeued[0].attempt == 1);  // counted: it may have run
  CHECK(late->requeued[1].state == JobState::kDead);
  CHECK(late->requeued[1].error == "host b went silent while its last attempt ran");
  auto f = a->fleet(t1);
  REQUIRE(f->hosts.size() == 1);
  CHECK(f->hosts[0].name == "a");
  CHECK(f->hosts[0].running_jobs == 1);  // a's own job is untouched
  // The job b ran is a's to claim now; attempt 2.
  auto claimed = a->claim("t", 5, t1, "a", "w");
  REQUIRE(claimed->size() == 1);
  CHECK(claimed->front().attempt == 2);
  // Nothing is retired twice.
  CHECK(a->renew_lease(me("a", 1, t1 + 1), t1 + 1)->expired.empty());
  // b comes back, cut off rather than dead, with the result of its first run: fenced off,
  // so a's run of that job is not ended by it.
  auto late_result = b->finish(claimed->front().id, {true, "from b"}, t1 + 2, 0);
  REQUIRE_FALSE(late_result);
  CHECK(late_result.error().message().find("now runs on host a: the result from b comes too late") != std::string::npos);
  CHECK(a->get(claimed->front().id)->state == JobState::kRunning);
  CHECK(a->finish(claimed->front().id, {true, "from a"}, t1 + 3, 0)->result == "from a");
}

TEST_CASE("pg fleet: peers renewing at the same moment retire a silent host once - its jobs counted once") {
  const std::string url = PostgresServer::shared().create_database("fleet");
  constexpr int kJobs = 300, kPeers = 4;
  {
    auto gone = open_as(url, "gone");
    REQUIRE(gone->renew_lease(me("gone", 99, T0), T0));
    std::vector<JobRequest> many(kJobs, req("t"));
    REQUIRE(gone->enqueue(many, T0));
    REQUIRE(gone->claim("t", kJobs, T0, "gone", "w")->size() == kJobs);
  }
  std::vector<std::unique_ptr<PgJobStore>> peers;
  for (int i = 0; i < kPeers; ++i) peers.push_back(open_as(url, "p" + std::to_string(i)));
  std::vector<LeaseRenewal> got(kPeers);
  std::vector<std::string> errors(kPeers);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  const int64_t t1 = T0 + kLease + 1;
  for (int i = 0; i < kPeers; ++i)
    threads.emplace_back([&, i] {
      ready++;
      while (ready.load() < kPeers) std::this_thread::yield();
      auto r = peers[i]->renew_lease(me(peers[i]->host(), i, t1), t1);
      if (r) got[i] = *r;
      else errors[i] = r.error().message();
    });
  for (auto& t : threads) t.join();
  size_t retired = 0, requeued = 0;
  for (int i = 0; i < kPeers; ++i) {
    CHECK(errors[i] == "");
    retired += got[i].expired.size();
    requeued += got[i].requeued.size();
  }
  CHECK(retired == 1);
  CHECK(requeued == kJobs);
  auto stats = peers[0]->stats(t1);
  REQUIRE(stats->size() == 1);
  CHECK(stats->front().queued == kJobs);
  CHECK(stats->front().running == 0);
  auto all = peers[0]->list({.limit = kJobs});  // kept: the loop must not read a temporary's insides
  REQUIRE(all);
  REQUIRE(all->size() == kJobs);
  for (const Job& j : *all) CHECK(j.attempt == 1);  // counted once, not per peer
}

TEST_CASE("pg fleet: a host leaving puts its running jobs back and leaves the fleet") {
  const std::string url = PostgresServer::shared().create_database("fleet");
  auto a = open_as(url, "a");
  REQUIRE(a->renew_lease(me("a", 1, T0), T0));
  REQUIRE(a->enqueue({req("t")}, T0));
  REQUIRE(a->claim("t", 1, T0, "a", "w")->size() == 1);
  REQUIRE(a->leave("a", T0 + 1));
  auto f = a->fleet(T0 + 1);
  CHECK(f->hosts.empty());
  CHECK(f->topics.front().queued == 1);
  CHECK(f->topics.front().running == 0);
}
