// The token (issue 6, Security), in-process and through the real binary: 401 without it
// or with a wrong one, 200 with it, /healthz open; beyond loopback only with a token; the
// token file's mode checked; DROVER_HTTP_TOKEN kept from the workers and out of every log.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>


#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "control/http_auth.h"
#include "tests/support/drover_process.h"
#include "tests/support/http_client.h"


using namespace drover;
using namespace drover::test;
using nlohmann::json;

namespace {

const std::string kToken = "t0ken-for-tests-5f2c9a0e4b7d1c3a";

httplib::Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }


}  // namespace

TEST_CASE("http auth: with a token - 401 without it or wrong - 200 with it - /healthz open - 0.0.0.0 allowed") {
  HttpOptions options;
  options.token = kToken;
  Served s({fake_pool("foo", 1)}, options, {}, "0.0.0.0");
  s.client = std::make_unique<httplib::Client>("127.0.0.1", s.port());  // one that sends no token of its own
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 1); }, 5s));
  for (const httplib::Headers& h : {httplib::Headers{}, bearer("wrong-token-but-long-enough"), bearer(kToken + "x"),
                                    bearer(kToken.substr(0, kToken.size() - 1)), bearer(""),
                                    httplib::Headers{{"Authorization", "Basic " + kToken}},
                                    httplib::Headers{{"Authorization", kToken}}}) {
    for (const char* path : {"/tasks", "/api/v1/pools", "/metrics", "/api/v1/snapshot", "/api/v1/events"}) {
      INFO(path, " ", h.empty() ? "(none)" : h.begin()->second);
      auto r = s.client->Get(path, h);
      REQUIRE(r);
      CHECK(r->status == 401);
      CHECK(r->get_header_value("WWW-Authenticate").rfind("Bearer", 0) == 0);
      json body = json::parse(r->body);
      CHECK(body["error"] == "unauthorized");
      CHECK(r->body.find(kToken) == std::string::npos);
    }
  }
  // A refused request changes nothing, and its body is not even read.
  auto r = s.client->Post("/api/v1/pools", json{{"name", "evil"}, {"cmd", "/bin/true"}}.dump(), "application/json");
  REQUIRE(r);
  CHECK(r->status == 401);
  r = s.client->Patch("/api/v1/config", R"({"foo": 5})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK_FALSE(s.engine.snapshot().find("evil"));
  CHECK(pool_of(s.engine.snapshot(), "foo").spec.n == 1);

  for (const char* path : {"/tasks", "/api/v1/pools", "/metrics", "/api/v1/snapshot"}) {
    r = s.client->Get(path, bearer(kToken));
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  r = s.client->Get("/tasks", {{"Authorization", "bearer " + kToken}});  // the scheme is case-insensitive
  REQUIRE(r);
  CHECK(r->status == 200);
  r = s.client->Patch("/api/v1/config", bearer(kToken), R"({"foo": 2})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  r = s.client->Get("/healthz");
  REQUIRE(r);
  CHECK(r->status == 200);
  {
    SseReader follow(s.port(), "/api/v1/log/follow", bearer(kToken));
    REQUIRE(wait_until([&] { return follow.status() == 200; }, 3s));
  }
  for (const auto& l : s.engine.log_tail(100000)) CHECK(l.text.find(kToken) == std::string::npos);
}

TEST_CASE("http auth: drover --http needs a token - a token file others can read is refused") {
  TempDir dir;
  write_file(dir.file("pools.lua"),
             "pool \"w\" { cmd = { \"" + std::string(fake_worker_path()) + "\", \"sleep\" }, n = 1 }\n");
  {
    DroverProcess d({dir.file("pools.lua"), "--no-shell", "-q", "--http", "0.0.0.0:0"}, dir.file("err1"));
    CHECK(d.wait_exit(10s) == 1);
    CHECK(read_file(dir.file("err1")) ==
          "drover: --http 0.0.0.0: the HTTP listener needs a token, loopback included (--http-token-file PATH "
          "or DROVER_HTTP_TOKEN); a unix socket needs none\n");
  }
  write_file(dir.file("token"), kToken + "\n");
  chmod(dir.file("token").c_str(), 0644);
  {
    DroverProcess d({dir.file("pools.lua"), "--no-shell", "-q", "--http", "0.0.0.0:0", "--http-token-file",
                     dir.file("token")},
                    dir.file("err2"));
    CHECK(d.wait_exit(10s) == 1);
    const std::string err = read_file(dir.file("err2"));
    CHECK(err == "drover: --http-token-file " + dir.file("token") + ": mode 0644 lets group or others read it; chmod 600 " +
                     dir.file("token") + "\n");
  }
  chmod(dir.file("token").c_str(), 0600);
  DroverProcess d({dir.file("pools.lua"), "--no-shell", "-q", "--http", "0.0.0.0:0", "--http-token-file",
                   dir.file("token")},
                  dir.file("err3"));
  const int port = d.http_port();
  REQUIRE(port > 0);
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get("/api/v1/pools");
  REQUIRE(r);
  CHECK(r->status == 401);
  r = c.Get("/api/v1/pools", bearer(kToken));
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(read_file(dir.file("err3")).find(kToken) == std::string::npos);
}

TEST_CASE("http auth: DROVER_HTTP_TOKEN - taken by drover - never seen by its workers - never logged") {
  TempDir dir;
  write_file(dir.file("pools.lua"),
             "pool \"w\" { cmd = { \"" + std::string(fake_worker_path()) + "\", \"env\" }, n = 2 }\n");
  // `--http` alone means 127.0.0.1:8010, when that port is free on this machine.
  std::vector<std::string> http{"--http", "127.0.0.1:0"};
  if (int probe = connect_to(8010); probe >= 0) {
    close(probe);
    MESSAGE("127.0.0.1:8010 is taken: --http without an address is not checked");
  } else {
    http = {"--http"};
  }
  std::vector<std::string> args{"--no-shell", "--log", dir.file("drover.log")};
  args.insert(args.end(), http.begin(), http.end());
  args.push_back(dir.file("pools.lua"));  // after a bare --http: the config, not an address
  DroverProcess d(args, dir.file("err"), {{kHttpTokenEnv, kToken}});
  const int port = d.http_port();
  REQUIRE(port > 0);
  if (http.size() == 1) CHECK(port == 8010);
  httplib::Client c("127.0.0.1", port);
  // drover serves HTTP a moment before it has applied the config: until then the pool is a
  // 404 (seen on a loaded machine). The token is taken either way.
  REQUIRE(wait_until([&] {
    auto workers = c.Get("/api/v1/pools/w/workers", bearer(kToken));
    return workers && workers->status == 200;
  }, 10s));
  httplib::Result r = c.Get("/api/v1/pools/w", bearer(kToken));
  REQUIRE(wait_until([&] {
    r = c.Get("/api/v1/pools/w", bearer(kToken));
    return r && json::parse(r->body)["running"] == 2;
  }, 5s));
  const json pool = json::parse(r->body);  // held: a range over a temporary's element would dangle
  for (const auto& w : pool["workers"]) {
    const pid_t pid = w["pid"];
    CHECK_FALSE(proc_env(pid, "DROVER_POOL").empty());  // the environment is readable ...
    CHECK(proc_env(pid, kHttpTokenEnv).empty());         // ... and holds no token
  }
  // Nor does drover's own environment block, which /proc shows as the kernel set it up.
  const std::string own_env = read_file(fmt::format("/proc/{}/environ", d.pid()));
  REQUIRE(own_env.find("PATH=") != std::string::npos);  // read whole: the other variables are there
  CHECK(own_env.find(kToken) == std::string::npos);
  r = c.Get("/tasks");
  REQUIRE(r);
  CHECK(r->status == 401);
  d.signal(SIGTERM);
  CHECK(d.wait_exit(10s) == 0);
  CHECK(read_file(dir.file("err")).find(kToken) == std::string::npos);
  CHECK(read_file(dir.file("drover.log")).find(kToken) == std::string::npos);
}
