// jobs.retry_delay through the real binary: a function in the config decides how long a
// topic's failed attempts wait, on the autoscaler's thread; its answer moves the retry the
// store recorded with the default backoff. An error or a bad answer is logged and the
// default holds; attached shells are told where such a function belongs.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/drover_process.h"
#include "tests/support/test_util.h"

using namespace drover::test;
using nlohmann::json;

namespace {

const std::map<std::string, std::string> kTokenEnv{{"DROVER_HTTP_TOKEN", "retry-delay-test-token-0123456789"}};

struct Host {
  TempDir dir;
  std::unique_ptr<DroverProcess> drover;
  std::unique_ptr<httplib::Client> http;

  explicit Host(const std::string& config) {
    write_file(dir.file("pools.lua"), config);
    drover = std::make_unique<DroverProcess>(
        std::vector<std::string>{dir.file("pools.lua"), "--no-shell", "-q", "--http", "127.0.0.1:0", "--state",
                                 dir.file("state")},
        dir.file("host.err"), kTokenEnv);
    const int port = drover->http_port();
    REQUIRE(port > 0);
    http = std::make_unique<httplib::Client>("127.0.0.1", port);
    http->set_bearer_token_auth(kTokenEnv.at("DROVER_HTTP_TOKEN").c_str());
  }
  long enqueue(const std::string& topic, int attempts) {
    auto r = http->Post("/api/v1/jobs", fmt::format(R"({{"topic": "{}", "attempts": {}}})", topic, attempts),
                        "application/json");
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 201);
    return json::parse(r->body)["jobs"][0]["id"].get<long>();
  }
  json job(long id) {
    auto r = http->Get(fmt::format("/api/v1/jobs/{}", id).c_str());
    REQUIRE(r);
    REQUIRE(r->status == 200);
    return json::parse(r->body);
  }
  std::string log() {
    auto r = http->Get("/api/v1/log?n=500");
    REQUIRE(r);
    return r->body;
  }
};

}  // namespace

TEST_CASE("jobs retry_delay: the config's function moves a failed attempt's retry - per topic - attempt in hand") {
  Host h("pool 'slow' { cmd = 'exit 3', n = 1, jobs = true }\n"
         "pool 'plain' { cmd = 'exit 3', n = 1, jobs = true }\n"
         "jobs.retry_delay('slow', function(job) return 30 * job.attempt end)\n");
  const long slow = h.enqueue("slow", 3);
  const long plain = h.enqueue("plain", 2);
  // The default backoff says 1 s (+-25 %) after the first attempt; the function says 30 s.
  json j;
  CHECK(wait_until(
      [&] {
        j = h.job(slow);
        return j["state"] == "failed" && j["attempt"] == 1 &&
               j["run_at_ms"].get<int64_t>() - j["started_ms"].get<int64_t>() >= 25000;
      },
      20s));
  INFO(j.dump());
  CHECK(j["run_at_ms"].get<int64_t>() - j["started_ms"].get<int64_t>() < 40000);
  // A topic without a function keeps the default: retried after about a second, then dead.
  CHECK(wait_until([&] { return h.job(plain)["state"] == "dead"; }, 20s));
  CHECK(h.job(slow)["state"] == "failed");  // still waiting out its 30 s
}

TEST_CASE("jobs retry_delay: an error or a bad answer is logged and the default backoff holds - nil keeps it quietly") {
  Host h("pool 'odd' { cmd = 'exit 3', n = 1, jobs = true }\n"
         "jobs.retry_delay('odd', function(job)\n"
         "  if job.attempt == 1 then error('no answer today') end\n"
         "  if job.attempt == 2 then return 'soon' end\n"
         "  return nil\n"
         "end)\n");
  const long id = h.enqueue("odd", 4);
  // Attempts 1, 2 and 3 fail and are retried after the default's 1, 2 and 4 s; the fourth is the last.
  CHECK(wait_until([&] { return h.job(id)["state"] == "dead"; }, 30s));
  const std::string log = h.log();
  INFO(log);
  CHECK(log.find(fmt::format("retry_delay for job {} (attempt 1): ", id)) != std::string::npos);
  CHECK(log.find("no answer today") != std::string::npos);
  CHECK(log.find(fmt::format("retry_delay for job {} (attempt 2) returned soon, not a number of seconds", id)) !=
        std::string::npos);
  CHECK(log.find(fmt::format("retry_delay for job {} (attempt 3)", id)) == std::string::npos);  // nil: nothing to say
}

TEST_CASE("jobs retry_delay: bad arguments are refused - in an attached shell it says where it belongs") {
  TempDir dir;
  write_file(dir.file("pools.lua"), "pool 'a' { cmd = 'exit 0', n = 1, jobs = true }\n");
  DroverProcess p({dir.file("pools.lua"), "-q", "--state", dir.file("state"), "-e",
                   "print(pcall(jobs.retry_delay, 'a', 5))", "-e", "print(pcall(jobs.retry_delay, '', print))", "-e",
                   "print(jobs.retry_delay('a', function() end), jobs.retry_delay('a', nil), jobs.retry_delay('a', nil))"},
                  dir.file("run.err"));
  REQUIRE(p.wait_exit(60s) == 0);
  const std::string out = read_file(dir.file("run.err.out"));
  INFO(out);
  CHECK(out.find("false\t") != std::string::npos);
  CHECK(out.find("function expected, got number") != std::string::npos);
  CHECK(out.find("a topic (a jobs pool's name)") != std::string::npos);
  CHECK(out.find("true\ttrue\tfalse\n") != std::string::npos);  // set; removed; nothing left to remove
}
