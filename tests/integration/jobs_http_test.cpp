// The job queue over HTTP and through `drover attach` (the jobs issue): the routes of
// control/job_routes.cpp against a real drover with a jobs pool, bad input refused whole,
// and an attached shell's jobs.* reaching the host's queue.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/drover_process.h"
#include "tests/support/run_command.h"
#include "tests/support/test_util.h"

using namespace drover::test;
using nlohmann::json;

namespace {

const std::map<std::string, std::string> kTokenEnv{{"DROVER_HTTP_TOKEN", "jobs-http-test-token-0123456789"}};

struct Host {
  TempDir dir;
  std::unique_ptr<DroverProcess> drover;
  std::unique_ptr<httplib::Client> http;

  Host() {
    write_file(dir.file("pools.lua"),
               "pool 'resize' { cmd = 'echo resized $(cat); test \"$DROVER_JOB_ARGS\" != \\'{\"fail\":true}\\'', "
               "n = 2, jobs = true }\n");
    drover = std::make_unique<DroverProcess>(
        std::vector<std::string>{dir.file("pools.lua"), "--no-shell", "-q", "--http", "127.0.0.1:0", "--state",
                                 dir.file("state")},
        dir.file("host.err"), kTokenEnv);
    const int port = drover->http_port();
    REQUIRE(port > 0);
    http = std::make_unique<httplib::Client>("127.0.0.1", port);
    http->set_bearer_token_auth(kTokenEnv.at("DROVER_HTTP_TOKEN").c_str());
  }
  json post(const std::string& path, const std::string& body, int want) {
    auto r = http->Post(path.c_str(), body, "application/json");
    REQUIRE(r);
    INFO(path, " ", body, " -> ", r->body);
    CHECK(r->status == want);
    return json::parse(r->body);
  }
  json get(const std::string& path, int want = 200) {
    auto r = http->Get(path.c_str());
    REQUIRE(r);
    INFO(path, " -> ", r->body);
    CHECK(r->status == want);
    return json::parse(r->body);
  }
  std::string state(long id) { return get(fmt::format("/api/v1/jobs/{}", id))["state"]; }
};

}  // namespace

TEST_CASE("jobs http: enqueue one or a batch - the pool runs them - get, list, topics, retry, cancel, drop") {
  Host h;
  json one = h.post("/api/v1/jobs", R"({"topic": "resize", "args": {"file": "a.png"}, "priority": 3})", 201);
  REQUIRE(one["jobs"].size() == 1);
  const long a = one["jobs"][0]["id"];
  CHECK(one["jobs"][0]["args"] == json{{"file", "a.png"}});  // the value, not its text
  json batch = h.post("/api/v1/jobs", R"({"jobs": [{"topic": "resize", "args": {"fail": true}, "attempts": 1},
                                                  {"topic": "resize", "delay": 3600, "key": "later"}]})", 201);
  REQUIRE(batch["jobs"].size() == 2);
  const long b = batch["jobs"][0]["id"], later = batch["jobs"][1]["id"];
  REQUIRE(wait_until([&] { return h.state(a) == "done" && h.state(b) == "dead"; }, 20s));
  CHECK(h.get(fmt::format("/api/v1/jobs/{}", a))["result"] == "resized {\"file\":\"a.png\"}\n");
  CHECK(h.get(fmt::format("/api/v1/jobs/{}", b))["error"] == "exit 1\nresized {\"fail\":true}\n");
  json topics = h.get("/api/v1/topics")["topics"];
  REQUIRE(topics.size() == 1);
  CHECK(topics[0]["topic"] == "resize");
  CHECK(topics[0]["done"] == 1);
  CHECK(topics[0]["dead"] == 1);
  CHECK(topics[0]["scheduled"] == 1);
  CHECK(h.get("/api/v1/jobs?state=dead")["jobs"].size() == 1);
  CHECK(h.get(fmt::format("/api/v1/jobs?after={}&limit=1", a))["jobs"][0]["id"] == b);
  // The same key while it waits: the same job.
  CHECK(h.post("/api/v1/jobs", R"({"topic": "resize", "key": "later"})", 201)["jobs"][0]["id"] == later);
  // Cancel the delayed one, drop it; retry the dead one (it fails again: dead once more).
  auto del = h.http->Delete(fmt::format("/api/v1/jobs/{}", later).c_str());
  REQUIRE(del);
  CHECK(json::parse(del->body)["state"] == "cancelled");
  CHECK(h.post(fmt::format("/api/v1/jobs/{}/drop", later), "", 200)["dropped"] == later);
  h.get(fmt::format("/api/v1/jobs/{}", later), 404);
  CHECK(h.post("/api/v1/jobs/retry", R"({"topic": "resize"})", 200)["retried"] == 1);
  REQUIRE(wait_until([&] { return h.state(b) == "dead"; }, 20s));
  CHECK(h.post(fmt::format("/api/v1/jobs/{}/retry", a), "", 409)["error"] == "conflict");  // done: not retried
}

TEST_CASE("jobs http: bad input is a 400 naming the field - a batch is all or nothing") {
  Host h;
  struct Bad {
    std::string body, detail;
  };
  const Bad cases[] = {
      {R"({"args": {}})", "topic: is required"},
      {R"({"topic": 3})", "topic: 3 must be a pool name"},
      {R"({"topic": "re size"})", "topic: \"re size\" has a space"},
      {R"({"topic": "t", "attempts": 0})", "attempts: 0 must be a whole number from 1 to 1000"},
      {R"({"topic": "t", "delay": -1})", "delay: -1 must be a number of seconds >= 0"},
      {R"({"topic": "t", "colour": 1})", "colour: is not a field this takes"},
      {R"({"jobs": [{"topic": "resize"}, {"topic": "resize", "priority": 1.5}]})", "jobs[1].priority: 1.5"},
      {R"({"jobs": []})", "a batch is {\"jobs\": [1 to 10000 jobs]}"},
  };
  for (const auto& c : cases) {
    json r = h.post("/api/v1/jobs", c.body, 400);
    INFO(c.body);
    CHECK(r["error"] == "bad_field");
    CHECK(r["detail"].get<std::string>().find(c.detail) != std::string::npos);
  }
  CHECK(h.get("/api/v1/jobs")["jobs"].empty());  // the batch's good first job was not kept
  CHECK(h.get("/api/v1/jobs?state=sleeping", 400)["error"] == "bad_field");
  CHECK(h.get("/api/v1/jobs?limit=0", 400)["error"] == "bad_number");
  CHECK(h.get("/api/v1/jobs/x", 400)["error"] == "bad_number");
  CHECK(h.get("/api/v1/jobs/99", 404)["error"] == "not_found");
}

TEST_CASE("jobs http: an attached shell's jobs.* reach the host's queue") {
  Host h;
  auto attach = [&](std::vector<std::string> args) {
    auto run = run_attach(h.drover->http_port(), std::move(args), h.dir.file("attach.err"), kTokenEnv);
    return std::make_pair(run.rc, run.out);
  };
  auto [rc, out] = attach({"-e", "j = jobs.enqueue('resize', {file = 'b.png'}, {priority = 2})",
                           "-e", "while jobs.get(j.id).state ~= 'done' do end",
                           "-e", "io.write('result=', jobs.get(j.id).result)",
                           "-e", "print('done=' .. jobs.stats().resize.done .. ' listed=' .. #jobs.list())",
                           "-e", "print(j.args.file, j.priority)"});
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find("result=resized {\"file\":\"b.png\"}\n") != std::string::npos);
  CHECK(out.find("done=1 listed=1\n") != std::string::npos);
  CHECK(out.find("b.png\t2\n") != std::string::npos);
  // Cancel, drop, and a refused retry, attached.
  std::tie(rc, out) = attach({"-e", "d = jobs.enqueue('resize', {}, {delay = 3600})",
                              "-e", "print('cancelled=' .. jobs.cancel(d.id).state)",
                              "-e", "print('dropped=' .. tostring(jobs.drop(d.id)))",
                              "-e", "print(select(2, pcall(jobs.get, d.id)))",
                              "-e", "print(select(2, pcall(jobs.retry, 1)))",
                              "-e", "print('retried=' .. jobs.retry('all'))"});
  CHECK(rc == 0);
  CHECK(out.find("cancelled=cancelled\ndropped=true\n") != std::string::npos);
  CHECK(out.find("no job 2") != std::string::npos);
  CHECK(out.find("job 1 is done: it cannot be retried") != std::string::npos);
  CHECK(out.find("retried=0\n") != std::string::npos);
  std::tie(rc, out) = attach({"-e", "jobs.enqueue('resize', {}, {attempts = 0})"});
  CHECK(rc == 1);
  CHECK(out.find("attempts: 0 must be a whole number from 1 to 1000") != std::string::npos);
}

TEST_CASE("jobs http: drover enqueue - one job from ARGS - many from stdin lines - ids printed - bad lines refused") {
  Host h;
  const std::string to = fmt::format("127.0.0.1:{}", h.drover->http_port());
  const std::string env = "DROVER_HTTP_TOKEN=" + kTokenEnv.at("DROVER_HTTP_TOKEN") + " ";
  const std::string drover = DROVER_BIN_PATH;
  auto sh = [&](const std::string& script) { return run_command({"/bin/sh", "-c", script + " 2>&1"}); };
  auto one = sh(env + drover + " enqueue --to " + to + " --priority 4 resize '{\"file\": \"one.png\"}'");
  INFO(one.out);
  CHECK(one.status == 0);
  CHECK(one.out == "1\n");
  auto many = sh("printf '{\"file\": \"a\"}\\n\\n{\"file\": \"b\"}\\n\"c\"\\n' | " + env + drover + " enqueue --to " +
                 to + " resize");
  INFO(many.out);
  CHECK(many.status == 0);
  CHECK(many.out == "2\n3\n4\n");
  REQUIRE(wait_until([&] { return h.state(4) == "done"; }, 20s));
  CHECK(h.get("/api/v1/jobs/1")["priority"] == 4);
  CHECK(h.get("/api/v1/jobs/4")["result"] == "resized \"c\"\n");
  // A line that is not JSON: nothing of its batch sent; a refused field: exit 1, named.
  auto bad = sh("printf '{\"file\": \"d\"}\\nnot json\\n' | " + env + drover + " enqueue --to " + to + " resize");
  CHECK(bad.status == 2);
  CHECK(bad.out.find("stdin line 2 is not JSON: not json") != std::string::npos);
  auto refused = sh(env + drover + " enqueue --to " + to + " --attempts 0 resize '{}'");
  CHECK(refused.status == 1);
  CHECK(refused.out.find("attempts: 0 must be a whole number from 1 to 1000") != std::string::npos);
  CHECK(h.get("/api/v1/jobs")["jobs"].size() == 4);
}

TEST_CASE("jobs http: /metrics per topic from memory - counts by state, totals, run times - status() attached") {
  Host h;
  h.post("/api/v1/jobs", R"({"jobs": [{"topic": "resize", "args": {"file": "a"}}, {"topic": "resize", "args": {}},
                                       {"topic": "resize", "args": {"fail": true}, "attempts": 1},
                                       {"topic": "resize", "args": {}, "delay": 3600}]})",
         201);
  // The totals are counted as the ends are recorded; the counts by state come with the next
  // refresh (each second): wait for both.
  std::string text;
  REQUIRE(wait_until([&] {
    auto r = h.http->Get("/metrics");
    text = r ? r->body : "";
    return text.find("drover_jobs_done_total{topic=\"resize\"} 2\n") != std::string::npos &&
           text.find("drover_jobs_dead_total{topic=\"resize\"} 1\n") != std::string::npos &&
           text.find("drover_jobs{topic=\"resize\",state=\"dead\"} 1\n") != std::string::npos;
  }, 20s));
  INFO(text);
  CHECK(text.find("# TYPE drover_jobs gauge\n") != std::string::npos);
  CHECK(text.find("drover_jobs{topic=\"resize\",state=\"scheduled\"} 1\n") != std::string::npos);
  CHECK(text.find("drover_jobs{topic=\"resize\",state=\"queued\"} 0\n") != std::string::npos);
  CHECK(text.find("drover_jobs{topic=\"resize\",state=\"running\"} 0\n") != std::string::npos);
  CHECK(text.find("drover_jobs_oldest_age_seconds{topic=\"resize\"} 0.000\n") != std::string::npos);
  CHECK(text.find("drover_jobs_enqueued_total{topic=\"resize\"} 4\n") != std::string::npos);
  CHECK(text.find("drover_jobs_started_total{topic=\"resize\"} 3\n") != std::string::npos);
  CHECK(text.find("drover_jobs_failed_total{topic=\"resize\"} 1\n") != std::string::npos);
  CHECK(text.find("# TYPE drover_job_run_seconds histogram\n") != std::string::npos);
  CHECK(text.find("drover_job_run_seconds_bucket{topic=\"resize\",le=\"+Inf\"} 3\n") != std::string::npos);
  CHECK(text.find("drover_job_run_seconds_count{topic=\"resize\"} 3\n") != std::string::npos);

  // Prometheus' own parser takes it: the histogram's buckets, sum and count in one family.
  const std::string python = "/usr/bin/python3";
  INFO("Debian's python3 with prometheus_client (apt-get install python3-prometheus-client)");
  write_file(h.dir.file("metrics.txt"), text);
  write_file(h.dir.file("parse.py"), R"(import sys
from prometheus_client.parser import text_string_to_metric_families
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    if f.name == "drover_job_run_seconds":
        print(f.type, len(f.samples), [s.value for s in f.samples if s.name.endswith("_count")])
)");
  auto parsed = run_command({python, h.dir.file("parse.py"), h.dir.file("metrics.txt")});
  INFO(parsed.out);
  CHECK(parsed.status == 0);
  CHECK(parsed.out == "histogram 18 [3.0]\n");  // 15 bounds + Inf, sum, count

  // status() attached: the topic's row under the pools, and its table.
  DroverProcess p({"attach", fmt::format("127.0.0.1:{}", h.drover->http_port()), "-e", "print(status())",
                   "-e", "local j = status().jobs.resize "
                         "print('t=' .. j.scheduled .. j.dead .. j.done_total .. j.run_time.count)"},
                  h.dir.file("attach.err"), kTokenEnv);
  CHECK(p.wait_exit(30s) == 0);
  const std::string out = read_file(h.dir.file("attach.err.out")) + read_file(h.dir.file("attach.err"));
  INFO(out);
  CHECK(out.find("jobs   queued sched   run retry  dead  oldest    done failed\n") != std::string::npos);
  CHECK(out.find("resize      0     1     0     0     1       -       2      1\n") != std::string::npos);
  CHECK(out.find("t=1123\n") != std::string::npos);
}
