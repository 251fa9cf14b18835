// The history ring through the real binary: GET /api/v1/history fills a point a second,
// follows a resize, carries a jobs topic's done per second, refuses bad parameters, and an
// attached shell's history() reads the same points and prints them as sparklines.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/drover_process.h"
#include "tests/support/test_util.h"

using namespace drover::test;
using nlohmann::json;

namespace {

const std::map<std::string, std::string> kTokenEnv{{"DROVER_HTTP_TOKEN", "history-test-token-0123456789abc"}};

// The last point of a pool's (or topic's) series, or null before there is one.
json last_of(const json& h, const char* group, const char* name_key, const std::string& name, const char* field) {
  for (const auto& s : h[group])
    if (s[name_key] == name && !s[field].empty()) return s[field].back();
  return nullptr;
}

}  // namespace

TEST_CASE("history: a point a second per pool and topic - follows a resize - jobs done per second - bad params 400") {
  TempDir dir;
  write_file(dir.file("pools.lua"), "pool 'web' { cmd = 'sleep 600', n = 2 }\npool 'resize' { cmd = 'true', n = 2, jobs = true }\n");
  DroverProcess p({dir.file("pools.lua"), "--no-shell", "-q", "--http", "127.0.0.1:0", "--state", dir.file("state")},
                  dir.file("host.err"), kTokenEnv);
  const int port = p.http_port();
  REQUIRE(port > 0);
  httplib::Client http("127.0.0.1", port);
  http.set_bearer_token_auth(kTokenEnv.at("DROVER_HTTP_TOKEN").c_str());
  auto history = [&](const std::string& query = "") {
    auto r = http.Get(("/api/v1/history" + query).c_str());
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 200);
    return json::parse(r->body);
  };
  json h;
  CHECK(wait_until([&] { h = history(); return last_of(h, "pools", "pool", "web", "running") == 2; }, 20s));
  CHECK(h["step"] == 1);
  CHECK(h["t_ms"].size() == h["pools"][0]["target"].size());  // columns, one value a point
  auto r = http.Patch("/api/v1/pools", R"({"web": 3})", "application/json");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  CHECK(wait_until([&] { return last_of(history("?pool=web"), "pools", "pool", "web", "target") == 3; }, 20s));
  CHECK(history("?pool=web")["pools"].size() == 1);
  // Two jobs done: the topic's done/s column counts them.
  r = http.Post("/api/v1/jobs", R"({"jobs": [)" + std::string(R"({"topic": "resize"},)") + R"({"topic": "resize"}]})",
                "application/json");
  REQUIRE(r);
  REQUIRE(r->status == 201);
  json topics;
  CHECK(wait_until(
      [&] {
        double done = 0;
        topics = history()["topics"];
        for (const auto& t : topics)
          if (t["topic"] == "resize")
            for (const auto& v : t["done"]) done += v.is_number() ? v.get<double>() : 0;
        return done == 2;
      },
      20s));
  INFO(topics.dump());
  for (const char* bad : {"?every=0", "?every=x", "?since=-1"}) {
    auto b = http.Get((std::string("/api/v1/history") + bad).c_str());
    REQUIRE(b);
    INFO(bad, " -> ", b->body);
    CHECK(b->status == 400);
    CHECK(b->body.find("must be a whole number") != std::string::npos);
  }
  // Attached: the same points, printed as sparklines, and read as a table.
  DroverProcess a({"attach", fmt::format("127.0.0.1:{}", port), "-e", "print(history())", "-e",
                   "local h = history{pool = 'web'}; print('points', #h.t_ms == #h.pools[1].target, h.pools[1].target[#h.t_ms])",
                   "-e", "print(pcall(history, {minutes = 0}))"},
                  dir.file("attach.err"), kTokenEnv);
  REQUIRE(a.wait_exit(60s) == 0);
  const std::string out = read_file(dir.file("attach.err.out"));
  INFO(out);
  CHECK(out.find("web\n  running  ") != std::string::npos);
  CHECK(out.find("jobs resize\n  done/s   ") != std::string::npos);
  CHECK(out.find("points\ttrue\t3.0\n") != std::string::npos);
  CHECK(out.find("minutes must be in [0.1, 60]") != std::string::npos);
}
