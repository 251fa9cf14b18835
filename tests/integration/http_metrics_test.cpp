// /metrics' per-pool usage series (the ProcessSampler behind HttpControl): rendered
// exactly from given totals, and a live scrape read back by the Prometheus project's own
// parser (Debian's python3-prometheus-client).
#include <doctest/doctest.h>
#include <httplib.h>

#include <cstdio>
#include <map>
#include <sstream>

#include "control/http_control.h"
#include "control/prometheus_text.h"
#include "engine/engine.h"
#include "tests/support/http_client.h"
#include "tests/support/test_util.h"

using namespace drover;
using namespace drover::test;
using namespace std::chrono_literals;

namespace {

PoolSnapshot pool_named(const std::string& name) {
  PoolSnapshot p;
  p.spec.name = name;
  return p;
}

// Runs a shell command line; its stdout and stderr, and the exit code.
std::pair<std::string, int> run_shell(const std::string& line) {
  FILE* f = popen((line + " 2>&1").c_str(), "r");
  REQUIRE(f != nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  return {out, pclose(f)};
}

// Prints each sample the parser found as "family type sample labels value", labels as
// k=v,k=v sorted ("-" for none); exits non-zero (with the parser's complaint) on text it rejects.
constexpr const char* kParse = R"(import sys
from prometheus_client.parser import text_string_to_metric_families
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in f.samples:
        labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items())) or "-"
        print(f.name, f.type, s.name, labels, repr(float(s.value)))
)";

}  // namespace

TEST_CASE("http: prometheus_text renders the sampled usage - pools without totals have no usage series") {
  EngineSnapshot snap;
  snap.pools = {pool_named("bar"), pool_named("foo")};
  std::map<std::string, ProcessTotals> usage;
  usage["foo"] = ProcessTotals{.cpu = 1.5, .rss_bytes = 123456789012, .processes = 3};
  usage["gone"] = ProcessTotals{.cpu = 9, .rss_bytes = 9, .processes = 9};  // not in the snapshot
  const std::string text = prometheus_text(snap, usage);
  CHECK(text.find("# HELP drover_pool_cpu_cores ") != std::string::npos);
  CHECK(text.find("# TYPE drover_pool_cpu_cores gauge\n") != std::string::npos);
  CHECK(text.find("# TYPE drover_pool_rss_bytes gauge\n") != std::string::npos);
  CHECK(text.find("# TYPE drover_pool_processes gauge\n") != std::string::npos);
  CHECK(text.find("drover_pool_cpu_cores{pool=\"foo\"} 1.500000\n") != std::string::npos);
  CHECK(text.find("drover_pool_rss_bytes{pool=\"foo\"} 123456789012\n") != std::string::npos);
  CHECK(text.find("drover_pool_processes{pool=\"foo\"} 3\n") != std::string::npos);
  CHECK(text.find("drover_pool_cpu_cores{pool=\"bar\"}") == std::string::npos);
  CHECK(text.find("gone") == std::string::npos);
  // Tiny rates stay fixed-point.
  usage["foo"].cpu = 0.00001;
  CHECK(prometheus_text(snap, usage).find("drover_pool_cpu_cores{pool=\"foo\"} 0.000010\n") != std::string::npos);
  // Without totals the families are still declared, with no samples.
  CHECK(prometheus_text(snap).find("# TYPE drover_pool_processes gauge\n# HELP") != std::string::npos);
}

TEST_CASE("http: prometheus_text renders the job topics - a histogram's buckets cumulative - none before a run") {
  EngineSnapshot snap;
  TopicGauge t;
  t.topic = "re\"size";
  t.queued = 7;
  t.oldest_age_s = 2.5;
  t.done_total = 3;
  t.run_time = {.bounds = {1, 10}, .counts = {2, 0, 1}, .sum = 31.5, .count = 3};
  TopicGauge idle;
  idle.topic = "idle";
  snap.jobs = {idle, t};
  const std::string text = prometheus_text(snap);
  INFO(text);
  CHECK(text.find("# TYPE drover_jobs gauge\n") != std::string::npos);
  CHECK(text.find("drover_jobs{topic=\"re\\\"size\",state=\"queued\"} 7\n") != std::string::npos);
  CHECK(text.find("drover_jobs_oldest_age_seconds{topic=\"re\\\"size\"} 2.500\n") != std::string::npos);
  CHECK(text.find("# TYPE drover_jobs_done_total counter\n") != std::string::npos);
  CHECK(text.find("# TYPE drover_job_run_seconds histogram\n"
                  "drover_job_run_seconds_bucket{topic=\"re\\\"size\",le=\"1\"} 2\n"
                  "drover_job_run_seconds_bucket{topic=\"re\\\"size\",le=\"10\"} 2\n"
                  "drover_job_run_seconds_bucket{topic=\"re\\\"size\",le=\"+Inf\"} 3\n"
                  "drover_job_run_seconds_sum{topic=\"re\\\"size\"} 31.5\n"
                  "drover_job_run_seconds_count{topic=\"re\\\"size\"} 3\n") != std::string::npos);
  CHECK(text.find("drover_job_run_seconds_bucket{topic=\"idle\"") == std::string::npos);  // no runs, no buckets
  CHECK(text.find("drover_jobs{topic=\"idle\",state=\"queued\"} 0\n") != std::string::npos);
  // Without a job queue the families are declared all the same.
  CHECK(prometheus_text(EngineSnapshot{}).find("# TYPE drover_job_run_seconds histogram\n") != std::string::npos);
}

TEST_CASE("http: /metrics parses with prometheus_client - workers and their children counted per pool") {
  TempDir dir;
  Engine engine{engine_options(dir)};
  HttpControl http{engine, [] {
    HttpOptions o;
    o.token = kTestToken;
    return o;
  }()};
  // Each forking worker has a sleeping grandchild: 2 workers are 4 processes.
  REQUIRE(engine.apply({fake_pool("forking", 2, {"fork-child"}), fake_pool("plain", 1)}));
  REQUIRE(http.start("127.0.0.1", 0));
  REQUIRE(wait_until([&] {
    if (!pool_running(engine, "forking", 2) || !pool_running(engine, "plain", 1)) return false;
    for (pid_t w : running_pids(engine.snapshot(), "forking"))
      if (children_of(w).empty()) return false;
    return true;
  }, 5s));
  httplib::Client client("127.0.0.1", http.port());
  client.set_bearer_token_auth(kTestToken);
  REQUIRE(client.Get("/metrics"));  // the first scrape starts the CPU history
  auto r = client.Get("/metrics");
  REQUIRE(r);
  REQUIRE(r->status == 200);

  const std::string python = "/usr/bin/python3";
  INFO("Debian's python3 with prometheus_client (apt-get install python3-prometheus-client)");
  REQUIRE(run_shell(python + " -c 'import prometheus_client'").second == 0);
  write_file(dir.file("metrics.txt"), r->body);
  write_file(dir.file("parse.py"), kParse);
  auto [out, code] = run_shell(python + " " + dir.file("parse.py") + " " + dir.file("metrics.txt"));
  INFO(out);
  REQUIRE(code == 0);

  // "sample labels" -> value, and family -> type.
  std::map<std::string, double> value;
  std::map<std::string, std::string> type;
  std::istringstream in(out);
  for (std::string family, kind, sample, labels, v; in >> family >> kind >> sample >> labels >> v;) {
    type[family] = kind;
    value[sample + " " + labels] = std::stod(v);
  }
  CHECK(type["drover_pool_cpu_cores"] == "gauge");
  CHECK(type["drover_pool_rss_bytes"] == "gauge");
  CHECK(type["drover_pool_processes"] == "gauge");
  CHECK(type["drover_pool_exits"] == "counter");  // the parser names counters without _total
  CHECK(value.at("drover_pool_processes pool=forking") == 4);
  CHECK(value.at("drover_pool_processes pool=plain") == 1);
  CHECK(value.at("drover_pool_rss_bytes pool=forking") > 0);
  CHECK(value.at("drover_pool_rss_bytes pool=plain") > 0);
  CHECK(value.at("drover_pool_cpu_cores pool=forking") >= 0);
  CHECK(value.at("drover_pool_target pool=forking") == 2);
  CHECK(value.at("drover_up -") == 1);
  // The loop's lag: present, and a plausible number of seconds (under a second here).
  CHECK(type["drover_engine_loop_lag_seconds"] == "gauge");
  CHECK(type["drover_engine_loop_busy_max_seconds"] == "gauge");
  CHECK(value.at("drover_engine_loop_lag_seconds -") >= 0);
  CHECK(value.at("drover_engine_loop_lag_seconds -") < 1);
  CHECK(value.at("drover_engine_loop_busy_max_seconds -") > 0);  // the scrape itself took a wake-up
  CHECK(value.at("drover_engine_loop_busy_max_seconds -") < 1);
}
