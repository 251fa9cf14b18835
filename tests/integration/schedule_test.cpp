// Schedules through the real binary (issue 15): a config's every = "1s" schedule runs
// jobs, /api/v1/schedules shows next and last, off stops it, run_now enqueues at once,
// overlap = false skips while the previous run runs, taskmanager's schedule file loads
// with --schedule and fires, and the shell (attached) defines and lists them. Waits are on
// the store's state, read over HTTP every 100 ms; a bound separates "fires" from "does
// not" (a 1 s interval against 2.5 s without a run).
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <thread>

#include "tests/support/drover_process.h"
#include "tests/support/test_util.h"

using namespace drover::test;
using nlohmann::json;

namespace {

const std::map<std::string, std::string> kTokenEnv{{"DROVER_HTTP_TOKEN", "schedule-test-token-0123456789abcdef"}};

// "work" records each job's args in a file; "slow" holds its job until RELEASE exists.
constexpr const char* kPools = R"lua(
pool "work" { cmd = 'echo "ran $(cat)"', n = 2, jobs = true }
pool "slow" { cmd = 'touch started; while [ ! -f release ]; do sleep 0.05; done; echo released', n = 1, jobs = true, cwd = "DIR" }
)lua";

struct Host {
  TempDir dir;
  std::unique_ptr<DroverProcess> drover;
  std::unique_ptr<httplib::Client> http;

  explicit Host(const std::string& extra_config = "", std::vector<std::string> extra_args = {}) {
    std::string pools = kPools;
    pools.replace(pools.find("DIR"), 3, dir.path());
    write_file(dir.file("pools.lua"), pools + extra_config);
    args = {dir.file("pools.lua"), "--no-shell", "-q", "--http", "127.0.0.1:0", "--state", dir.file("state")};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    start("host.err");
  }
  void start(const std::string& err) {
    drover = std::make_unique<DroverProcess>(args, dir.file(err), kTokenEnv);
    const int port = drover->http_port();
    REQUIRE_MESSAGE(port > 0, read_file(dir.file(err)));
    http = std::make_unique<httplib::Client>("127.0.0.1", port);
    http->set_bearer_token_auth(kTokenEnv.at("DROVER_HTTP_TOKEN").c_str());
  }
  // Stopped as an operator stops it (TERM), then started again on the same state.
  void restart() {
    drover->signal(SIGTERM);
    REQUIRE(drover->wait_exit(30s) == 0);
    start("host2.err");
  }
  std::vector<std::string> args;
  json send(const char* method, const std::string& path, const std::string& body, int want) {
    auto r = std::string(method) == "GET"      ? http->Get(path.c_str())
             : std::string(method) == "DELETE" ? http->Delete(path.c_str())
                                               : http->Post(path.c_str(), body, "application/json");
    REQUIRE(r);
    INFO(method, " ", path, " ", body, " -> ", r->status, " ", r->body);
    CHECK(r->status == want);
    return json::parse(r->body, nullptr, false);
  }
  json get(const std::string& path, int want = 200) { return send("GET", path, "", want); }
  json post(const std::string& path, const std::string& body, int want) { return send("POST", path, body, want); }
  json schedule(const std::string& name) { return get("/api/v1/schedules/" + name); }
  // The schedule, or null while there is none: drover serves HTTP a moment before its
  // config's schedules are defined.
  json peek_schedule(const std::string& name) {
    auto r = http->Get(("/api/v1/schedules/" + name).c_str());
    return r && r->status == 200 ? json::parse(r->body, nullptr, false) : json();
  }
  int64_t runs_of(const std::string& name) {
    const json s = peek_schedule(name);
    return s.is_object() ? s.value("runs", int64_t{-1}) : -1;
  }
  json jobs_of(const std::string& topic) { return get("/api/v1/jobs?topic=" + topic + "&limit=10000")["jobs"]; }
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
};

size_t count_state(const json& jobs, const std::string& state) {
  size_t n = 0;
  for (const auto& j : jobs) n += j["state"] == state;
  return n;
}

}  // namespace

TEST_CASE("schedule: a config's every = 1s schedule runs jobs - next and last shown - off stops it - run_now - on") {
  Host h(R"(schedule "tick" { every = "1s", topic = "work", args = { n = 7 } })");
  REQUIRE(h.poll([&] { return count_state(h.jobs_of("work"), "done") >= 2; }, 15s));
  const json jobs = h.jobs_of("work");
  CHECK(jobs[0]["args"] == json{{"n", 7}});
  CHECK(jobs[0]["result"].get<std::string>().find("ran {\"n\":7}") != std::string::npos);

  json list = h.get("/api/v1/schedules")["schedules"];
  REQUIRE(list.size() == 1);
  json tick = list[0];
  CHECK(tick["name"] == "tick");
  CHECK(tick["every"] == "1s");
  CHECK(tick["enabled"] == true);
  CHECK(tick["runs"].get<int>() >= 2);
  CHECK(tick["next_ms"].get<int64_t>() > tick["last_run_ms"].get<int64_t>());
  CHECK(tick["last_job"].get<int64_t>() > 0);
  CHECK(tick.contains("outcome"));

  json off = h.post("/api/v1/schedules/tick/off", "", 200);
  CHECK(off["enabled"] == false);
  CHECK(off.value("next_ms", int64_t{0}) == 0);  // none while off
  const int64_t runs = off["runs"];
  // A 1 s interval would have run twice in 2.5 s; off, it runs no more.
  CHECK_FALSE(h.poll([&] { return h.schedule("tick")["runs"].get<int64_t>() > runs; }, 2500ms));

  json job = h.post("/api/v1/schedules/tick/run", "", 201);
  CHECK(job["topic"] == "work");
  CHECK(job["args"] == json{{"n", 7}});
  const int64_t id = job["id"];
  REQUIRE(h.poll([&] { return h.get(fmt::format("/api/v1/jobs/{}", id))["state"] == "done"; }, 10s));
  CHECK(h.schedule("tick")["last_job"] == id);
  CHECK(h.schedule("tick")["runs"] == runs + 1);

  CHECK(h.post("/api/v1/schedules/tick/on", "", 200)["enabled"] == true);
  CHECK(h.poll([&] { return h.schedule("tick")["runs"].get<int64_t>() > runs + 1; }, 10s));
}

TEST_CASE("schedule: a restart keeps a schedule's history and its cursor - then it fires on") {
  Host h(R"(schedule "tick" { every = "1s", topic = "work", missed = "all" })");
  REQUIRE(h.poll([&] { return h.runs_of("tick") >= 2; }, 15s));
  const json before = h.schedule("tick");
  h.restart();
  REQUIRE(h.poll([&] { return h.runs_of("tick") >= 0; }, 15s));
  // The config defines it again at start: a redefinition keeps its creation, its runs and
  // its cursor, so no tick from before the stop is due again.
  const json after = h.schedule("tick");
  CHECK(after["created_ms"] == before["created_ms"]);
  CHECK(after["runs"].get<int64_t>() >= before["runs"].get<int64_t>());
  CHECK(after["last_tick_ms"].get<int64_t>() >= before["last_tick_ms"].get<int64_t>());
  REQUIRE(h.poll([&] { return h.runs_of("tick") >= before["runs"].get<int64_t>() + 2; }, 15s));
  // Every run counted has its job, before the restart and after (there is no run_now here).
  const int64_t runs = h.schedule("tick")["runs"];
  const auto jobs = static_cast<int64_t>(h.jobs_of("work").size());
  CHECK(jobs >= runs);
  CHECK(jobs <= runs + 1);  // a tick may fire between the two reads
}

TEST_CASE("schedule: overlap = false skips the ticks while the previous run runs") {
  Host h;
  json made = h.post("/api/v1/schedules", R"({"name": "slow", "every": "1s", "topic": "slow", "overlap": false})", 201);
  CHECK(made["overlap"] == false);
  REQUIRE(h.poll([&] { return std::filesystem::exists(h.dir.file("started")); }, 10s));
  // Two more ticks pass while it runs: skipped, not queued.
  REQUIRE(h.poll([&] { return h.schedule("slow")["skipped"].get<int>() >= 2; }, 10s));
  CHECK(h.jobs_of("slow").size() == 1);
  CHECK(h.schedule("slow")["outcome"].get<std::string>().find("skipped: job") == 0);
  write_file(h.dir.file("release"), "");
  REQUIRE(h.poll([&] { return h.jobs_of("slow").size() >= 2; }, 10s));
  CHECK(count_state(h.jobs_of("slow"), "done") >= 1);
}

TEST_CASE("schedule: --schedule loads taskmanager's schedule file - which fires its template as the job's args") {
  TempDir files;
  write_file(files.file("taskscheduler.json"), R"([
  {"Id": "1", "Cron": "* * * * * *", "Topic": "work",
   "TaskMessageTemplate": {"TaskProcessorName": "InvoiceProcessor", "Payload": ["Ireland", "Italy"]}}
])");
  Host h("", {"--schedule", files.file("taskscheduler.json")});
  REQUIRE(h.poll([&] { return count_state(h.jobs_of("work"), "done") >= 1; }, 15s));
  const json job = h.jobs_of("work")[0];
  CHECK(job["args"]["TaskProcessorName"] == "InvoiceProcessor");
  CHECK(job["args"]["Payload"] == json::array({"Ireland", "Italy"}));
  json s = h.schedule("1");
  CHECK(s["cron"] == "* * * * * *");
  CHECK(s["topic"] == "work");
}

TEST_CASE("schedule: the shipped examples run as they are (schedules.lua with taskscheduler.json)") {
  TempDir dir;
  const std::string examples = DROVER_EXAMPLES_DIR;
  DroverProcess p({examples + "/schedules.lua", "--schedule", examples + "/taskscheduler.json", "--state",
                   dir.file("state"), "-q", "-e", "schedules()", "-e", "print(#schedules())"},
                  dir.file("ex.err"), kTokenEnv);
  const int rc = p.wait_exit(60s);
  const std::string out = read_file(dir.file("ex.err.out")) + read_file(dir.file("ex.err"));
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find("nightly-report") != std::string::npos);
  CHECK(out.find("0 3 * * * Europe/Berlin") != std::string::npos);
  CHECK(out.find("every 30s") != std::string::npos);
  CHECK(out.find("invoices") != std::string::npos);
  CHECK(out.find("*/10 * * * * *") != std::string::npos);
  CHECK(out.find("\n4\n") != std::string::npos);
}

TEST_CASE("schedule: an attached shell defines - lists - turns off and drops - bad input names the field") {
  Host h;
  auto attach = [&](std::vector<std::string> args) {
    auto run = run_attach(h.drover->http_port(), std::move(args), h.dir.file("attach.err"), kTokenEnv);
    return std::make_pair(run.rc, run.out);
  };
  auto [rc, out] = attach({"-e", "s = schedule 'hourly' { cron = '@hourly', topic = 'work', tz = 'Europe/Berlin' }",
                           "-e", "print('enabled=' .. tostring(s.enabled) .. ' next=' .. tostring(s.next_ms > 0))",
                           "-e", "schedules()",
                           "-e", "print('off=' .. tostring(schedule.off('hourly').enabled))",
                           "-e", "print('job=' .. schedule.run_now('hourly').topic)"});
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find("enabled=true next=true\n") != std::string::npos);
  CHECK(out.find("hourly") != std::string::npos);
  CHECK(out.find("@hourly Europe/Berlin") != std::string::npos);
  CHECK(out.find("off=false\n") != std::string::npos);
  CHECK(out.find("job=work\n") != std::string::npos);
  std::tie(rc, out) = attach({"-e", "schedule 'bad' { cron = '0 25 * * *', topic = 'work' }"});
  CHECK(rc == 1);
  CHECK(out.find("schedule \"bad\".cron: cron field 2 (hour)") != std::string::npos);
  json refused = h.post("/api/v1/schedules", R"({"name": "bad", "every": "1s", "topic": "work", "missed": "most"})", 400);
  CHECK(refused.dump().find("schedule \\\"bad\\\".missed") != std::string::npos);
  h.post("/api/v1/schedules", R"({"name": "bad", "every": "1s", "topic": "work", "colour": "red"})", 400);
  h.get("/api/v1/schedules/bad", 404);
  std::tie(rc, out) = attach({"-e", "print('dropped=' .. tostring(schedule.drop('hourly')))",
                              "-e", "print(select(2, pcall(schedule.get, 'hourly')))"});
  CHECK(rc == 0);
  CHECK(out.find("dropped=true\n") != std::string::npos);
  CHECK(out.find("no schedule \"hourly\"") != std::string::npos);
  CHECK(h.get("/api/v1/schedules")["schedules"].empty());
}
