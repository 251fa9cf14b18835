// The jobs issue's crash test: 10,000 jobs in worker mode and 2,000 in exec mode, drover
// kill -9'd three times while they run and started again on the same state. Every job
// ends done, none is lost, and the jobs that ran twice are counted: no more than the jobs
// each restart found running (a job that finished but whose end was not written yet when
// drover died runs again; that is at-least-once, and the only way a job runs twice).
#include <doctest/doctest.h>
#include <signal.h>

#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/drover_process.h"
#include "tests/support/postgres_server.h"
#include "tests/support/test_util.h"

using namespace drover;
using namespace drover::test;
using nlohmann::json;

namespace {

const std::map<std::string, std::string> kTokenEnv{{"DROVER_HTTP_TOKEN", "job-crash-test-token-0123456789"}};
constexpr int kWorkerJobs = 10000;
constexpr int kExecJobs = 2000;

// Each line of the file, counted: run number per job.
std::map<int, int> runs_in(const std::string& path) {
  std::map<int, int> runs;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) ++runs[std::stoi(line)];
  return runs;
}

size_t lines_in(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

// "drover: job queue PATH: N jobs the last run left running queued again" on its stderr.
size_t recovered_in(const std::string& err_path) {
  std::ifstream in(err_path);
  size_t n = 0;
  for (std::string line; std::getline(in, line);)
    if (auto at = line.find(" the last run left running queued again"); at != std::string::npos) {
      auto colon = line.rfind(": ", at);
      n += std::stoul(line.substr(colon + 2));
    }
  return n;
}

struct Run {
  std::unique_ptr<DroverProcess> drover;
  std::unique_ptr<httplib::Client> http;
};

}  // namespace

// The crash test on a store: store_args name it on drover's command line (beside --state).
void crash_test(const TempDir& dir, const std::vector<std::string>& store_args) {
  const std::string worker_runs = dir.file("worker.runs"), exec_runs = dir.file("exec.runs");
  write_file(dir.file("pools.lua"),
             fmt::format("pool 'w' {{ cmd = {{ '/usr/bin/python3', '{}' }}, n = 4, jobs = {{ mode = 'worker', prefetch = 8 }},"
                         " env = {{ RUNS_FILE = '{}' }} }}\n"
                         "pool 'x' {{ cmd = 'echo \"$DROVER_JOB_ARGS\" | sed \"s/[^0-9]//g\" >> {}', n = 4, jobs = true }}\n",
                         std::string(DROVER_SOURCE_DIR) + "/tests/support/job_runs_worker.py", worker_runs, exec_runs));
  auto start = [&](int round) {
    Run r;
    r.drover = std::make_unique<DroverProcess>(
        [&] {
          std::vector<std::string> args{dir.file("pools.lua"), "--no-shell", "-q", "--http", "127.0.0.1:0", "--state",
                                        dir.file("state")};
          args.insert(args.end(), store_args.begin(), store_args.end());
          return args;
        }(),
        dir.file(fmt::format("drover-{}.err", round)), kTokenEnv);
    const int port = r.drover->http_port();
    REQUIRE(port > 0);
    r.http = std::make_unique<httplib::Client>("127.0.0.1", port);
    r.http->set_bearer_token_auth(kTokenEnv.at("DROVER_HTTP_TOKEN").c_str());
    return r;
  };

  Run run = start(0);
  // Enqueued in batches of 1,000, attempts enough for three crashes mid-run.
  for (auto [topic, count] : {std::pair{"w", kWorkerJobs}, {"x", kExecJobs}})
    for (int first = 0; first < count; first += 1000) {
      json batch = json::array();
      for (int i = first; i < first + 1000; ++i) batch.push_back({{"topic", topic}, {"args", {{"i", i}}}, {"attempts", 10}});
      auto r = run.http->Post("/api/v1/jobs", json{{"jobs", batch}}.dump(), "application/json");
      REQUIRE(r);
      REQUIRE(r->status == 201);
    }

  // Three kills at different points of the run, each once the runs files have grown past
  // a mark (an event the test sees, not a time): early, middle, late.
  size_t recovered = 0;
  int round = 0;
  for (double mark : {0.15, 0.45, 0.75}) {
    const size_t want = static_cast<size_t>(mark * (kWorkerJobs + kExecJobs));
    REQUIRE(wait_until([&] { return lines_in(worker_runs) + lines_in(exec_runs) >= want; }, 120s));
    run.drover->signal(SIGKILL);
    REQUIRE(run.drover->wait_exit(10s) == 128 + SIGKILL);
    run.http.reset();
    run.drover.reset();
    run = start(++round);
  }

  auto done = [&](const char* topic) -> long {
    auto r = run.http->Get("/api/v1/topics");
    if (!r || r->status != 200) return -1;
    const json body = json::parse(r->body);  // not a temporary: the loop reads into it
    for (const auto& t : body["topics"])
      if (t["topic"] == topic) return t["done"].get<long>();
    return 0;
  };
  // Every job has run (the runs files, cheap to read), then its end is recorded (HTTP: a
  // poll every 2 ms for minutes would run this machine out of ephemeral ports).
  REQUIRE(wait_until([&] { return runs_in(worker_runs).size() == size_t{kWorkerJobs} && runs_in(exec_runs).size() == size_t{kExecJobs}; },
                     180s));
  const bool all_done = wait_until([&] { return done("w") == kWorkerJobs && done("x") == kExecJobs; }, 30s);
  if (!all_done) {
    auto t = run.http->Get("/api/v1/topics");
    INFO("topics: " << (t ? t->body : "?"));
    INFO("log: " << read_file(dir.file(fmt::format("drover-{}.err", round))).substr(0, 4000));
    REQUIRE(all_done);
  }

  // Each start put back what the dead one left running, and said how many.
  for (int i = 1; i <= round; ++i) recovered += recovered_in(dir.file(fmt::format("drover-{}.err", i)));
  // Every job ran; runs beyond one per job are the duplicates.
  const auto w = runs_in(worker_runs), x = runs_in(exec_runs);
  CHECK(w.size() == static_cast<size_t>(kWorkerJobs));
  CHECK(x.size() == static_cast<size_t>(kExecJobs));
  size_t duplicates = 0;
  for (const auto* runs : {&w, &x})
    for (auto [i, n] : *runs) duplicates += static_cast<size_t>(n - 1);
  MESSAGE(fmt::format("crash test: {} jobs, 3 kills, {} found running at restarts, {} ran twice", kWorkerJobs + kExecJobs,
                      recovered, duplicates));
  CHECK(recovered > 0);  // the kills came mid-run
  CHECK(duplicates <= recovered);
  // Nothing left over: no job queued, running, waiting to retry or dead.
  auto r = run.http->Get("/api/v1/topics");
  REQUIRE(r);
  const json topics = json::parse(r->body);
  for (const auto& t : topics["topics"]) {
    INFO(t.dump());
    CHECK(t["queued"] == 0);
    CHECK(t["running"] == 0);
    CHECK(t["failed"] == 0);
    CHECK(t["dead"] == 0);
  }
}

TEST_CASE("jobs crash: 10,000 worker-mode and 2,000 exec-mode jobs, drover kill -9'd three times - all done, none lost") {
  TempDir dir;
  crash_test(dir, {});
}

// Issue 15: the same on the PostgreSQL store. Each restart comes back under the same host
// name, takes its row over and puts back what its previous run left running.
TEST_CASE("jobs crash: the same on the PostgreSQL store - all done, none lost") {
  PostgresServer pg;
  TempDir dir;
  crash_test(dir, {"--jobs-store", pg.create_database("crash"), "--host-name", "crash-host"});
}
