// Schedules in a fleet (jobs/pg_schedules.cpp): three real drover processes share one
// PostgreSQL store and define the same every = "1s" schedule in their configs. Each tick
// is consumed once in the whole fleet: the jobs the schedule made number its runs, and
// runs and skipped ticks together never exceed the ticks that passed. A tick fired by two
// hosts would make a job more than there were ticks.
#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <map>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/drover_process.h"
#include "tests/support/postgres_server.h"
#include "tests/support/test_util.h"

using namespace drover::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::map<std::string, std::string> kTokenEnv{
    {"DROVER_HTTP_TOKEN", "pg-schedule-fleet-test-token-0123456789abcdef"}};

constexpr const char* kConfig = R"lua(
pool "work" { cmd = 'echo "ran $(cat)"', n = 2, jobs = true }
schedule "tick" { every = "1s", topic = "work" }
)lua";

struct Host {
  std::unique_ptr<DroverProcess> drover;
  std::unique_ptr<httplib::Client> http;
};

Host start_host(const TempDir& dir, const std::string& name, const std::string& url) {
  Host h;
  write_file(dir.file(name + ".lua"), kConfig);
  h.drover = std::make_unique<DroverProcess>(
      std::vector<std::string>{dir.file(name + ".lua"), "--no-shell", "-q", "--http", "127.0.0.1:0", "--state",
                               dir.file(name + ".state"), "--jobs-store", url, "--host-name", name},
      dir.file(name + ".err"), kTokenEnv);
  const int port = h.drover->http_port();
  REQUIRE_MESSAGE(port > 0, read_file(dir.file(name + ".err")));
  h.http = std::make_unique<httplib::Client>("127.0.0.1", port);
  h.http->set_bearer_token_auth(kTokenEnv.at("DROVER_HTTP_TOKEN").c_str());
  return h;
}

// GET path's body, or null when it did not answer 200 (drover serves HTTP a moment
// before its config's schedules are defined).
json get(Host& h, const std::string& path) {
  auto r = h.http->Get(path.c_str());
  return r && r->status == 200 ? json::parse(r->body, nullptr, false) : json();
}

int64_t runs_of(Host& h) {
  const json s = get(h, "/api/v1/schedules/tick");
  return s.is_object() ? s.value("runs", int64_t{-1}) : -1;
}

// The store read every 100 ms until pred holds or the deadline passes.
bool poll(const std::function<bool()>& pred, std::chrono::milliseconds deadline) {
  return wait_until(
      [&] {
        if (pred()) return true;
        std::this_thread::sleep_for(100ms);
        return false;
      },
      deadline);
}

}  // namespace

TEST_CASE("pg schedule fleet: three drovers with one every = 1s schedule - each tick fires once in the fleet") {
  PostgresServer pg;
  const std::string url = pg.create_database("sched");
  TempDir dir;
  std::vector<Host> hosts;
  for (const char* name : {"h0", "h1", "h2"}) hosts.push_back(start_host(dir, name, url));

  // Every host defined it (the same row) and all three fire: six ticks in the fleet.
  constexpr int64_t kRuns = 6;
  REQUIRE(poll([&] { return runs_of(hosts[0]) >= kRuns; }, 30s));
  // Off in the shared row: no host fires after this answers (a claim in flight waits on
  // the row and then finds it off), so the counts below hold still.
  auto off = hosts[1].http->Post("/api/v1/schedules/tick/off", "", "application/json");
  REQUIRE(off);
  REQUIRE_MESSAGE(off->status == 200, off->body);

  const json jobs = get(hosts[2], "/api/v1/jobs?topic=work&limit=10000");
  REQUIRE(jobs.is_object());
  const json s = get(hosts[0], "/api/v1/schedules/tick");
  REQUIRE(s.is_object());
  const int64_t runs = s["runs"].get<int64_t>();
  const int64_t skipped = s["skipped"].get<int64_t>();
  // Ticks are aligned to the epoch: those in (created_ms, last_tick_ms] are the ones
  // that passed while it was on.
  const int64_t ticks = s["last_tick_ms"].get<int64_t>() / 1000 - s["created_ms"].get<int64_t>() / 1000;
  INFO("schedule: ", s.dump(), " jobs: ", jobs["jobs"].size());
  CHECK(runs >= kRuns);
  CHECK(static_cast<int64_t>(jobs["jobs"].size()) == runs);
  CHECK(runs + skipped <= ticks);
  CHECK(s["enabled"] == false);
  // Every host reads the one row.
  CHECK(runs_of(hosts[1]) == runs);
  CHECK(runs_of(hosts[2]) == runs);
}
