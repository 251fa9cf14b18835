// Acceptance of issue 6 under load and abuse: 100 concurrent clients x 100 requests while
// workers churn, with zero errors; then a few hundred garbage requests over raw sockets
// (truncated, oversized, wrong verbs, bad JSON and numbers, random bytes, half requests
// left open), after which the server still answers and the engine is as it was.
#include <doctest/doctest.h>

#include <atomic>
#include <random>

#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"

using namespace drover;
using namespace drover::test;
using nlohmann::json;

namespace {

std::string request(const std::string& method, const std::string& path, const std::string& body = "",
                    const std::string& type = "application/json") {
  std::string r = method + " " + path + " HTTP/1.1\r\n" + kHostLine + kAuthLine;
  // Content-Length: 0 too: httplib reads a POST without one until the client closes.
  if (!body.empty()) r += "Content-Type: " + type + "\r\n";
  if (method != "GET") r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return r + "\r\n" + body;
}

// What must not change however a request is bad: each pool's spec and its workers' pids.
std::map<std::string, std::pair<PoolSpec, std::vector<pid_t>>> state(Engine& e) {
  std::map<std::string, std::pair<PoolSpec, std::vector<pid_t>>> out;
  for (const auto& p : e.snapshot().pools) out[p.spec.name] = {p.spec, running_pids(e.snapshot(), p.spec.name)};
  return out;
}

}  // namespace

TEST_CASE("http load: 100 clients x 100 requests while workers churn - zero errors - the engine healthy after") {
  PoolSpec churn = fake_pool("churn", 4, {"exit", "1", "0.05"});
  churn.backoff = {.initial_s = 0.01, .max_s = 0.02, .factor = 2, .reset_after_s = 0};
  churn.flap.max_exits = 1000000;
  Served s({churn, fake_pool("toggle", 2), fake_pool("steady", 2)});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "steady", 2) && pool_running(s.engine, "toggle", 2); }, 5s));
  const auto steady = running_pids(s.engine.snapshot(), "steady");
  const uint64_t started_before = pool_of(s.engine.snapshot(), "churn").counters.started;

  constexpr int kClients = 100, kRequests = 100;
  std::atomic<int> errors{0}, done{0};
  std::mutex mu;
  std::string first_error;
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c)
    clients.emplace_back([&, c] {
      httplib::Client cl("127.0.0.1", s.port());
      cl.set_bearer_token_auth(kTestToken);
      cl.set_keep_alive(true);
      for (int i = 0; i < kRequests; ++i) {
        const int kind = (i + c) % 4;
        const char* what = kind == 0 ? "/api/v1/pools" : kind == 1 ? "/tasks" : kind == 2 ? "/metrics" : "PATCH config";
        httplib::Result r = kind < 3 ? cl.Get(what)
                                     : cl.Patch("/api/v1/config", json{{"toggle", 2 + (i / 4) % 2}}.dump(),
                                                "application/json");
        if (!r || r->status != 200) {
          if (errors++ == 0) {
            std::lock_guard lock(mu);
            first_error = "request " + std::to_string(i) + " " + what + ": " +
                          (r ? std::to_string(r->status) + " " + r->body : httplib::to_string(r.error()));
          }
        }
        ++done;
      }
    });
  for (auto& t : clients) t.join();
  INFO(first_error);
  CHECK(errors.load() == 0);
  CHECK(done == kClients * kRequests);

  // Healthy: it answers, it still supervises, and the sizes are what was asked last.
  auto r = s.client->Patch("/api/v1/config", R"({"toggle": 2})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  REQUIRE(wait_until([&] { return pool_running(s.engine, "toggle", 2); }, 5s));
  EngineSnapshot snap = s.engine.snapshot();
  CHECK(running_pids(snap, "steady") == steady);
  CHECK(pool_of(snap, "churn").spec.n == 4);
  CHECK(pool_of(snap, "churn").counters.started > started_before + 10);  // it churned all along
  CHECK(s.http.open_streams() == 0);
}

TEST_CASE("http fuzz: garbage - truncated - oversized - wrong verbs - bad JSON and numbers - half requests") {
  Served s({fake_pool("foo", 2), fake_pool("bar", 1)});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 2) && pool_running(s.engine, "bar", 1); }, 5s));
  const auto before = state(s.engine);

  // Anything goes: the server may answer or just close, but never with a 5xx.
  std::vector<std::string> garbage = {
      // Truncated: a line, headers, a body shorter than its length.
      "GET /tasks HTTP/1.1\r\nHost", "GET /", "G", "\r\n\r\n", "POST /api/v1/pools HTTP/1.1\r\n",
      "PATCH /api/v1/pools/foo HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"n\": 5",
      "POST /api/v1/pools HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"na",
      // Oversized: a URI, a header, many headers, a body, a declared length, a chunked body.
      "GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n",
      "GET /tasks HTTP/1.1\r\nX-Big: " + std::string(100000, 'x') + "\r\n\r\n",
      [] {
        std::string r = "GET /tasks HTTP/1.1\r\n";
        for (int i = 0; i < 2000; ++i) r += "X-" + std::to_string(i) + ": y\r\n";
        return r + "\r\n";
      }(),
      request("PATCH", "/api/v1/pools/foo", "{\"n\": 5, \"pad\": \"" + std::string(200000, ' ') + "\"}"),
      "PATCH /api/v1/config HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n{",
      "PATCH /api/v1/config HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
      "PATCH /api/v1/config HTTP/1.1\r\nContent-Length: x\r\n\r\n",
      "POST /api/v1/pools HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n20000\r\n" + std::string(0x20000, '{') +
          "\r\n0\r\n\r\n",
      request("POST", "/tasks/foo/start", std::string(100000, 'x'), "text/plain"),
  };
  // Whole requests, each refused with a 4xx.
  std::vector<std::string> refused = {
      // Wrong verbs and versions.
      "BREW /tasks HTTP/1.1\r\n\r\n", "TRACE / HTTP/1.1\r\n\r\n", "GET /tasks HTTP/9.9\r\n\r\n",
      request("PUT", "/api/v1/snapshot", "{}"), request("DELETE", "/api/v1/config"),
      request("POST", "/api/v1/pools/foo", "{\"n\": 9}"), request("PATCH", "/tasks/foo", "{}"),
      request("OPTIONS", "/api/v1/pools"), request("CONNECT", "127.0.0.1:1"),
      // Bad JSON.
      request("PATCH", "/api/v1/pools/foo", "{"), request("PATCH", "/api/v1/pools/foo", "null"),
      request("PATCH", "/api/v1/pools/foo", "{\"n\":"), request("PATCH", "/api/v1/pools/foo", "\xff\xfe{}"),
      request("PATCH", "/api/v1/pools/foo", std::string(30000, '[') + std::string(30000, ']')),
      request("PATCH", "/api/v1/config", "{\"foo\": 9, \"foo\": 8"), request("POST", "/api/v1/pools", "[]"),
      request("PATCH", "/api/v1/pools/foo", "{\"n\": 5}", "text/plain"),
      request("PATCH", "/api/v1/pools/foo", "{\"env\": {\"A\": \"\\u0000\"}}"),
      // Paths: encoded, traversal, NUL.
      "GET /api/v1/pools/%2e%2e/%2e%2e HTTP/1.1\r\n\r\n", "GET /api/v1/pools/foo%00 HTTP/1.1\r\n\r\n",
      "GET /../../etc/passwd HTTP/1.1\r\n\r\n", "GET /api/v1/log?n=%ff%fe&pool=%00 HTTP/1.1\r\n\r\n",
  };
  // Bad numbers, everywhere a number is read.
  for (std::string n : {"-1", "1e99", "\"x\"", "10001", "1.5", "2147483648", "-2147483649", "null", "true",
                               "[]", "{}", "99999999999999999999999", "-0.5", "NaN", "Infinity", "0x10"}) {
    refused.push_back(request("PATCH", "/api/v1/pools/foo", "{\"n\": " + n + "}"));
    refused.push_back(request("PATCH", "/api/v1/config", "{\"foo\": " + n + "}"));
    refused.push_back(request("POST", "/api/v1/pools", "{\"name\": \"z\", \"cmd\": \"/bin/true\", \"n\": " + n + "}"));
    refused.push_back(request("POST", "/api/v1/pools/foo/workers/0/signal", "{\"signal\": " + n + "}"));
  }
  for (std::string n : {"-1", "1e99", "x", "10001", "99999999999999999999", "", "%20", "0x10", "+3"}) {
    refused.push_back(request("POST", "/tasks/foo/set/cardinality/" + n));
    refused.push_back(request("GET", "/api/v1/log?n=" + n));
    refused.push_back(request("POST", "/api/v1/pools/foo/workers/" + n + "/signal", "{\"signal\": \"TERM\"}"));
  }
  // Random bytes, and valid requests with random bytes flipped (fixed seed: reproducible).
  std::mt19937 rng(20240606);
  // The base asks for what already is (foo is enabled), so a flip that still parses changes nothing.
  const std::string valid = request("PATCH", "/api/v1/pools/foo", "{\"enabled\": true}");
  for (int i = 0; i < 300; ++i) {
    std::string c;
    if (i % 2) {
      c.resize(std::uniform_int_distribution<size_t>(1, 2000)(rng));
      for (char& ch : c) ch = static_cast<char>(rng());
    } else {
      c = valid;
      for (int k = 0; k < 1 + i % 5; ++k) c[rng() % c.size()] = static_cast<char>(rng());
    }
    garbage.push_back(c);
  }

  // Half requests left open meanwhile (slowloris): they hold threads, not the server.
  std::vector<int> slow;
  for (int i = 0; i < 16; ++i) {
    int fd = connect_to(s.port());
    REQUIRE(fd >= 0);
    const std::string half = "GET /tasks HTTP/1.1\r\n" + kHostLine + kAuthLine + "X-Slow: ";
    send(fd, half.data(), half.size(), MSG_NOSIGNAL);
    slow.push_back(fd);
  }
  // 505 is the one 5xx a client earns: HTTP's answer to a version it does not speak
  // (libmicrohttpd sends it for HTTP/9.9, and for a garbled "HTTP/1.x").
  auto bad_version = [](const std::string& c) {
    const size_t eol = c.find("\r\n");
    const std::string line = c.substr(0, eol);
    return line.size() >= 8 && line.find("HTTP/1.1") == std::string::npos;
  };
  for (const auto& c : garbage) {
    INFO(c.substr(0, 120));
    const int status = raw_status(raw_exchange(s.port(), c, true));
    CHECK((status < 500 || (status == 505 && bad_version(c))));
  }
  for (const auto& c : refused) {
    INFO(c.substr(0, 120));
    const std::string answer = raw_exchange(s.port(), c, false);
    INFO(answer.substr(0, 200));
    const int status = raw_status(answer);
    CHECK(status >= 400);
    CHECK((status < 500 || (status == 505 && bad_version(c))));
  }
  auto r = s.client->Get("/api/v1/pools");  // while the half requests still hang
  REQUIRE(r);
  CHECK(r->status == 200);
  for (int fd : slow) close(fd);

  r = s.client->Get("/healthz");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(state(s.engine) == before);
  CHECK(pool_running(s.engine, "foo", 2));
  CHECK(pool_running(s.engine, "bar", 1));
}
