// The PostgreSQL store: the store contract (tests/contract/) on a real server, a database
// per test, and what sharing adds: hosts claiming at once never get one job twice, a
// restart puts back only its own host's jobs, and a server that went away is reached
// again without a restart of drover.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "jobs/pg_job_store.h"
#include "jobs/pg_listener.h"
#include "tests/contract/job_store_contract.h"
#include "tests/support/postgres_server.h"

using namespace drover;
using namespace drover::jobs;
using namespace drover::test;

namespace {

constexpr int64_t T0 = 1'700'000'000'000;

class PgHarness final : public StoreHarness {
 public:
  std::unique_ptr<JobStore> open() override { return open_as("h"); }
  std::unique_ptr<PgJobStore> open_as(const std::string& host) {
    auto s = PgJobStore::open(url_, host);
    if (!s) throw std::runtime_error(s.error().message());
    return std::move(*s);
  }
  void set_schema_version(int64_t version) override {
    PostgresServer::shared().query("CREATE TABLE drover_schema (version INTEGER NOT NULL); INSERT INTO drover_schema "
                                   "VALUES (" + std::to_string(version) + ")",
                                   db());
  }
  int64_t schema_version() const override { return PgJobStore::schema_version(); }
  std::string where() const override { return url_; }
  std::string db() const { return url_.substr(url_.rfind('/') + 1); }
  const std::string& url() const { return url_; }

 private:
  std::string url_ = PostgresServer::shared().create_database("store");
};

JobRequest req(std::string topic) {
  JobRequest r;
  r.topic = std::move(topic);
  return r;
}

}  // namespace

std::unique_ptr<StoreHarness> test::make_store_harness() { return std::make_unique<PgHarness>(); }

TEST_CASE("pg store: hosts claiming at once never get the same job - every job claimed once") {
  PgHarness h;
  constexpr int kJobs = 4000, kHosts = 4;
  {
    auto s = h.open_as("seed");
    std::vector<JobRequest> many(kJobs, req("t"));
    REQUIRE(s->enqueue(many, T0));
  }
  std::vector<std::vector<JobId>> got(kHosts);
  std::vector<std::string> errors(kHosts);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kHosts; ++i)
    threads.emplace_back([&, i] {
      auto s = h.open_as("host" + std::to_string(i));
      ready++;
      while (ready.load() < kHosts) std::this_thread::yield();  // all connected, then all claim
      for (;;) {
        // Small claims inside groups, as the store thread makes them.
        bool empty = false;
        Status st = s->group([&] {
          auto c = s->claim("t", 7, T0, s->host(), "w");
          if (!c) return c.error();
          for (const Job& j : *c) got[i].push_back(j.id);
          empty = c->empty();
          return Status::ok();
        });
        if (!st) {
          errors[i] = st.message();
          return;
        }
        if (empty) return;
      }
    });
  for (auto& t : threads) t.join();
  std::multiset<JobId> all;
  for (int i = 0; i < kHosts; ++i) {
    CHECK(errors[i] == "");
    all.insert(got[i].begin(), got[i].end());
  }
  CHECK(all.size() == kJobs);
  CHECK(std::set<JobId>(all.begin(), all.end()).size() == kJobs);  // no job twice
  int hosts_that_claimed = 0;
  for (auto& g : got) hosts_that_claimed += !g.empty();
  CHECK(hosts_that_claimed > 1);  // they really ran side by side
  auto s = h.open_as("seed");
  auto stats = s->stats(T0);
  REQUIRE(stats);
  REQUIRE(stats->size() == 1);
  CHECK(stats->front().running == kJobs);
  CHECK(stats->front().queued == 0);
}

TEST_CASE("pg store: a restart puts back only its own host's running jobs - another host's stay running") {
  PgHarness h;
  auto a = h.open_as("a");
  auto b = h.open_as("b");
  REQUIRE(a->enqueue({req("t"), req("t")}, T0));
  const Job on_a = a->claim("t", 1, T0, "a", "w")->front();
  const Job on_b = b->claim("t", 1, T0, "b", "w")->front();
  a.reset();
  auto again = h.open_as("a");
  auto back = again->requeue_running(T0 + 1);
  REQUIRE(back);
  REQUIRE(back->size() == 1);
  CHECK(back->front().id == on_a.id);
  CHECK(again->get(on_b.id)->state == JobState::kRunning);
  CHECK(again->get(on_b.id)->host == "b");
}

TEST_CASE("pg store: enqueue sends NOTIFY drover_jobs with the topic at commit - a fan-out its children's") {
  PgHarness h;
  auto listener = PgDb::connect(h.url());
  REQUIRE(listener);
  REQUIRE((*listener)->exec("LISTEN drover_jobs"));
  auto s = h.open_as("a");
  JobRequest fan;
  fan.topics = {"x", "y"};
  REQUIRE(s->group([&] {
    REQUIRE(s->enqueue({req("t"), fan}, T0));
    // Not before the commit: a host that claims at once must find the job.
    auto early = (*listener)->notifications();
    REQUIRE(early);
    CHECK(early->empty());
    return Status::ok();
  }));
  std::set<std::string> heard;
  REQUIRE(wait_until(
      [&] {
        auto n = (*listener)->notifications();
        REQUIRE(n);
        heard.insert(n->begin(), n->end());
        return heard.size() >= 3;
      },
      std::chrono::milliseconds(5000)));
  CHECK(heard == std::set<std::string>{"t", "x", "y"});
}

TEST_CASE("pg store: a server down - calls fail unavailable, nothing kept - back up, the next call reconnects") {
  PostgresServer pg;  // its own: this test stops it
  const std::string url = pg.create_database("restart");
  auto s = PgJobStore::open(url, "h");
  REQUIRE(s);
  REQUIRE((*s)->enqueue({req("t")}, T0));
  pg.stop();
  auto down = (*s)->enqueue({req("t")}, T0);
  REQUIRE_FALSE(down);
  CHECK(down.error().code() == Status::Code::kUnavailable);
  pg.start();
  auto up = (*s)->enqueue({req("t")}, T0);
  REQUIRE(up);
  CHECK((*s)->list({})->size() == 2);  // the one refused while down was not kept
  // Restarted between two calls: the next one finds its connection broken at BEGIN,
  // reconnects and goes on; no call fails.
  pg.stop();
  pg.start();
  REQUIRE((*s)->enqueue({req("t")}, T0));
  CHECK((*s)->list({})->size() == 3);
}

TEST_CASE("pg store: a URL nobody answers is refused as unavailable - the password never shown") {
  const int port = free_port();
  auto s = PgJobStore::open("postgresql://drover:s3cret@127.0.0.1:" + std::to_string(port) + "/jobs", "h");
  REQUIRE_FALSE(s);
  CHECK(s.error().code() == Status::Code::kUnavailable);
  CHECK(s.error().message().find("postgresql://drover:***@127.0.0.1:") == 0);
  CHECK(s.error().message().find("s3cret") == std::string::npos);
  CHECK_FALSE(PgJobStore::open(PostgresServer::shared().url(), ""));  // no host name: refused
}

TEST_CASE("pg store: PgListener hears another host's enqueue - the topic, at commit - and again after the server restarts") {
  PostgresServer pg;  // its own: this test restarts it
  const std::string url = pg.create_database("listen");
  auto store = PgJobStore::open(url, "a");
  REQUIRE(store);
  std::mutex mu;
  std::vector<std::string> heard;
  auto heard_has = [&](const std::string& t) {
    std::lock_guard lock(mu);
    return std::find(heard.begin(), heard.end(), t) != heard.end();
  };
  PgListener listener(
      url,
      [&](const std::string& topic) {
        std::lock_guard lock(mu);
        heard.push_back(topic);
      },
      [](const std::string&) {});
  // Connected and listening: it says so with "" (every pool may look now).
  REQUIRE(wait_until([&] { return heard_has(""); }, std::chrono::milliseconds(5000)));
  REQUIRE((*store)->enqueue({req("resize")}, T0));
  REQUIRE(wait_until([&] { return heard_has("resize"); }, std::chrono::milliseconds(5000)));

  pg.stop();
  pg.start();
  {
    std::lock_guard lock(mu);
    heard.clear();
  }
  // It reconnects by itself (within a second or so) and says so; then hears again.
  REQUIRE(wait_until([&] { return heard_has(""); }, std::chrono::milliseconds(10000)));
  REQUIRE((*store)->enqueue({req("mail")}, T0));
  REQUIRE(wait_until([&] { return heard_has("mail"); }, std::chrono::milliseconds(5000)));
}
