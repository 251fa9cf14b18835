// The HTTP control plane's first slice, in-process: a real Engine with fake_worker pools,
// HttpControl on a free loopback port, and httplib's client as curl would be.
#include <doctest/doctest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "control/http_control.h"
#include "engine/engine.h"
#include "tests/support/test_util.h"

using namespace drover;
using namespace drover::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr const char* kToken = "http-test-token-0123456789";

// workerpoolmanager's routes answer only in its compatibility mode.
HttpOptions wpm_options() {
  HttpOptions o;
  o.token = kToken;
  o.wpm_compat = true;
  return o;
}

struct Served {
  TempDir dir;
  Engine engine{engine_options(dir)};
  HttpControl http{engine, wpm_options()};
  std::unique_ptr<httplib::Client> client;

  explicit Served(std::vector<PoolSpec> pools) {
    REQUIRE(engine.apply(std::move(pools)));
    REQUIRE(http.start("127.0.0.1", 0));
    REQUIRE(http.port() > 0);
    client = std::make_unique<httplib::Client>("127.0.0.1", http.port());
    client->set_bearer_token_auth(kToken);
  }
  httplib::Headers json_accept() const { return {{"Accept", "application/json"}}; }
};

}  // namespace

TEST_CASE("http: workerpoolmanager's routes - plain text as it answers") {
  Served s({fake_pool("Foo", 2), fake_pool("Bar", 1)});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "Foo", 2) && pool_running(s.engine, "Bar", 1); }, 5s));
  auto r = s.client->Get("/tasks/Foo");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body.rfind("Task name:\tFoo\nRunning:\ttrue\nStarted at:\t20", 0) == 0);
  CHECK(r->body.find("Active Workers:\t2 / 2\nDead Workers:\t0\n") != std::string::npos);
  r = s.client->Get("/list");
  REQUIRE(r);
  CHECK(r->body == "Bar\nFoo\n");

  const auto before = running_pids(s.engine.snapshot(), "Foo");
  r = s.client->Post("/tasks/Foo/set/cardinality/4");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "Changed workers cardinality\n");
  REQUIRE(wait_until([&] { return pool_running(s.engine, "Foo", 4); }, 5s));
  auto after = running_pids(s.engine.snapshot(), "Foo");
  for (pid_t p : before) CHECK(std::count(after.begin(), after.end(), p) == 1);  // live resize

  r = s.client->Delete("/tasks/Bar");
  REQUIRE(r);
  CHECK(r->body == "Stopped Bar workers\n");
  REQUIRE(wait_until([&] { return pool_of(s.engine.snapshot(), "Bar").workers.empty(); }, 5s));
  r = s.client->Get("/tasks");
  REQUIRE(r);
  CHECK(r->body.find("Task name:\tFoo") != std::string::npos);
  CHECK(r->body.find("Task name:\tBar") == std::string::npos);  // only the active ones
  r = s.client->Post("/tasks/Bar/start");
  REQUIRE(r);
  CHECK(r->body == "Started task manager\n");
  REQUIRE(wait_until([&] { return pool_running(s.engine, "Bar", 1); }, 5s));
  r = s.client->Delete("/tasks");
  REQUIRE(r);
  CHECK(r->body == "Stopped Bar workers\nStopped Foo workers\n");
  REQUIRE(wait_until([&] { return s.client->Get("/tasks")->body == "No active tasks\n"; }, 5s));
}

TEST_CASE("http: JSON with Accept application/json - errors are {error detail} with the right code") {
  Served s({fake_pool("Foo", 1)});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "Foo", 1); }, 5s));
  auto r = s.client->Get("/tasks", s.json_accept());
  REQUIRE(r);
  CHECK(r->get_header_value("Content-Type") == "application/json");
  json tasks = json::parse(r->body);
  REQUIRE(tasks.size() == 1);
  CHECK(tasks[0]["name"] == "Foo");
  CHECK(tasks[0]["active_workers"] == 1);
  CHECK(tasks[0]["running"] == true);

  struct Bad {
    std::string method, path;
    int code;
    std::string error;
  };
  for (const Bad& b : std::vector<Bad>{{"GET", "/tasks/Nope", 404, "not_found"},
                                       {"POST", "/tasks/Nope/start", 404, "start_failed"},
                                       {"POST", "/tasks/Foo/set/cardinality/x", 400, "bad_number"},
                                       {"POST", "/tasks/Foo/set/cardinality/-1", 400, "set_failed"},
                                       {"POST", "/tasks/Foo/set/cardinality/99999999999", 400, "bad_number"},
                                       {"POST", "/tasks/Foo/set/colour/3", 400, "bad_option"},
                                       {"GET", "/no/such/route", 404, "not_found"}}) {
    INFO(b.method, " ", b.path);
    auto res = b.method == "GET" ? s.client->Get(b.path.c_str(), s.json_accept())
                                 : s.client->Post(b.path.c_str(), s.json_accept(), "", "text/plain");
    REQUIRE(res);
    CHECK(res->status == b.code);
    json body = json::parse(res->body, nullptr, false);
    REQUIRE_FALSE(body.is_discarded());
    CHECK(body["error"] == b.error);
    CHECK(body["detail"].is_string());
  }
  CHECK(s.engine.snapshot().find("Foo")->spec.n == 1);  // nothing changed
}

TEST_CASE("http: /metrics is Prometheus text - /healthz answers") {
  Served s({fake_pool("foo", 2)});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 2); }, 5s));
  kill(running_pids(s.engine.snapshot(), "foo")[0], SIGKILL);
  REQUIRE(wait_until([&] { return pool_of(s.engine.snapshot(), "foo").counters.exited_bad == 1 &&
                                  pool_running(s.engine, "foo", 2); }, 5s));
  auto r = s.client->Get("/metrics");
  REQUIRE(r);
  CHECK(r->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0) == 0);
  // Every line is a comment or `name{labels} value`, and each family is declared once.
  const std::regex sample(R"(^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+]+$)");
  std::set<std::string> types;
  std::istringstream in(r->body);
  for (std::string line; std::getline(in, line);) {
    INFO(line);
    if (line.rfind("# TYPE ", 0) == 0) CHECK(types.insert(line.substr(7, line.find(' ', 7) - 7)).second);
    if (line[0] != '#') CHECK(std::regex_match(line, sample));
  }
  CHECK(r->body.find("drover_pool_target{pool=\"foo\"} 2\n") != std::string::npos);
  CHECK(r->body.find("drover_pool_exits_total{pool=\"foo\",kind=\"bad\"} 1\n") != std::string::npos);
  CHECK(r->body.find("drover_pool_restarts_total{pool=\"foo\"} 1\n") != std::string::npos);
  // The pool's processes, sampled from /proc at the scrape: fake_worker sleep forks nothing.
  CHECK(r->body.find("drover_pool_processes{pool=\"foo\"} 2\n") != std::string::npos);
  std::smatch m;
  REQUIRE(std::regex_search(r->body, m, std::regex(R"(\ndrover_pool_rss_bytes\{pool="foo"\} ([0-9]+)\n)")));
  CHECK(std::stoull(m[1]) > 0);
  CHECK(std::regex_search(r->body, std::regex(R"(\ndrover_pool_cpu_cores\{pool="foo"\} [0-9]+\.[0-9]{6}\n)")));
  r = s.client->Get("/healthz");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(json::parse(r->body)["status"] == "ok");
}

TEST_CASE("http: concurrent clients while workers churn - garbage requests leave the engine healthy") {
  PoolSpec churn = fake_pool("churn", 3, {"exit", "1", "0.05"});
  churn.backoff = {.initial_s = 0.01, .max_s = 0.02, .factor = 2, .reset_after_s = 0};
  churn.flap.max_exits = 1000000;
  Served s({churn, fake_pool("steady", 2)});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "steady", 2); }, 5s));
  std::atomic<int> errors{0}, done{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 16; ++c)
    clients.emplace_back([&, c] {
      httplib::Client cl("127.0.0.1", s.http.port());
      cl.set_bearer_token_auth(kToken);
      for (int i = 0; i < 50; ++i) {
        auto r = (i + c) % 3 == 0 ? cl.Get("/metrics") : (i + c) % 3 == 1 ? cl.Get("/tasks") : cl.Get("/tasks/steady");
        if (!r || r->status != 200) ++errors;
        ++done;
      }
    });
  for (auto& t : clients) t.join();
  CHECK(errors == 0);
  CHECK(done == 16 * 50);
  // Garbage: truncated and oversized requests, wrong verbs, raw bytes. drover refuses a
  // body it does not take on the headers and closes, so the client's write of the rest
  // fails: as any HTTP client must, this one takes that as EPIPE, not a SIGPIPE death.
  signal(SIGPIPE, SIG_IGN);
  httplib::Client cl("127.0.0.1", s.http.port());
  cl.set_bearer_token_auth(kToken);
  auto big = cl.Post("/tasks/steady/start", std::string(1 << 20, 'x'), "text/plain");
  CHECK((!big || big->status >= 400));
  auto patch = cl.Patch("/tasks", "", "text/plain");
  REQUIRE(patch);
  CHECK(patch->status >= 400);
  for (const char* raw : {"GARBAGE\r\n\r\n", "GET /tasks HTTP/1.1\r\nHost", "\x16\x03\x01\x02\x00", "GET /"}) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(s.http.port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    CHECK(write(fd, raw, std::strlen(raw)) > 0);
    close(fd);
  }
  auto ok = cl.Get("/healthz");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(pool_running(s.engine, "steady", 2));
}

TEST_CASE("http: listen addresses - TCP only with a token, loopback included") {
  CHECK(parse_listen_address("127.0.0.1:8010").value() == std::make_pair(std::string("127.0.0.1"), 8010));
  CHECK(parse_listen_address(":9000").value() == std::make_pair(std::string("127.0.0.1"), 9000));
  CHECK(parse_listen_address("9001").value() == std::make_pair(std::string("127.0.0.1"), 9001));
  CHECK_FALSE(parse_listen_address("host:port"));
  CHECK_FALSE(parse_listen_address("127.0.0.1:70000"));
  CHECK_FALSE(parse_listen_address(""));
  TempDir dir;
  Engine e(engine_options(dir));
  HttpControl http(e);
  for (const char* host : {"0.0.0.0", "127.0.0.1"}) {
    Status s = http.start(host, 0);
    CHECK_FALSE(s);
    CHECK(s.message() == std::string("--http ") + host +
                             ": the HTTP listener needs a token, loopback included (--http-token-file PATH or "
                             "DROVER_HTTP_TOKEN); a unix socket needs none");
  }
  CHECK(parse_listen_address("[::1]:8010").value() == std::make_pair(std::string("::1"), 8010));
  // A port in use is an error, never shared (httplib's default SO_REUSEPORT would share it).
  HttpControl first(e, wpm_options());
  REQUIRE(first.start("127.0.0.1", 0));
  HttpControl second(e, wpm_options());
  Status taken = second.start("127.0.0.1", first.port());
  CHECK_FALSE(taken);
  CHECK(taken.message() == "--http: cannot listen on 127.0.0.1:" + std::to_string(first.port()));
}

TEST_CASE("http: the JSON API - pools listed - patched live - removed - config merged - log tailed") {
  Served s({fake_pool("foo", 2), fake_pool("bar", 1), fake_pool("baz", 1)});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 2) && pool_running(s.engine, "bar", 1); }, 5s));
  auto r = s.client->Get("/api/v1/pools");
  REQUIRE(r);
  json pools = json::parse(r->body)["pools"];
  REQUIRE(pools.size() == 3);
  CHECK(pools[1]["name"] == "baz");
  r = s.client->Get("/api/v1/pools/foo");
  REQUIRE(r);
  json foo = json::parse(r->body);
  CHECK(foo["running"] == 2);
  CHECK(foo["workers"].size() == 2);
  CHECK(foo["workers"][0]["state"] == "running");

  const auto before = running_pids(s.engine.snapshot(), "foo");
  r = s.client->Patch("/api/v1/pools/foo", R"({"n": 3})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(json::parse(r->body)["n"] == 3);
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 3); }, 5s));
  auto after = running_pids(s.engine.snapshot(), "foo");
  for (pid_t p : before) CHECK(std::count(after.begin(), after.end(), p) == 1);

  r = s.client->Patch("/api/v1/pools/bar", R"({"enabled": false})", "application/json");
  REQUIRE(r);
  CHECK(json::parse(r->body)["enabled"] == false);
  REQUIRE(wait_until([&] { return pool_of(s.engine.snapshot(), "bar").workers.empty(); }, 5s));

  r = s.client->Patch("/api/v1/config", R"({"foo": 1, "baz": 0})", "application/json");
  REQUIRE(r);
  CHECK(json::parse(r->body)["pools"] == json{{"bar", 1}, {"foo", 1}});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 1) && !s.engine.snapshot().find("baz"); }, 5s));

  r = s.client->Delete("/api/v1/pools/bar");
  REQUIRE(r);
  CHECK(json::parse(r->body)["removed"] == "bar");
  REQUIRE(wait_until([&] { return !s.engine.snapshot().find("bar"); }, 5s));

  r = s.client->Get("/api/v1/log?n=5&pool=foo");
  REQUIRE(r);
  json lines = json::parse(r->body)["lines"];
  CHECK(lines.size() == 5);
  for (const auto& l : lines) CHECK(l["pool"] == "foo");
}

TEST_CASE("http: PATCH /api/v1/config is one batch - a bad name applies none of it - a resize with a removal answers its sizes") {
  Served s({fake_pool("foo", 1), fake_pool("bar", 1), fake_pool("baz", 1)});
  REQUIRE(wait_until([&] {
    return pool_running(s.engine, "foo", 1) && pool_running(s.engine, "bar", 1) && pool_running(s.engine, "baz", 1);
  }, 5s));
  auto events = s.engine.subscribe(1000, {.events = true, .log_lines = false});

  // A removal beside an unknown pool: refused, and bar is not touched.
  auto r = s.client->Patch("/api/v1/config", R"({"foo": 2, "bar": false, "nope": 1})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 404);
  CHECK(r->body.find("nope") != std::string::npos);
  {
    const EngineSnapshot snap = s.engine.snapshot();
    CHECK(pool_of(snap, "foo").spec.n == 1);
    REQUIRE(snap.find("bar") != nullptr);
    CHECK_FALSE(pool_of(snap, "bar").removing);
  }
  while (auto item = events->pop(Duration::zero()))
    if (const Event* ev = std::get_if<Event>(&*item))
      CHECK((ev->kind != EventKind::kPoolResized && ev->kind != EventKind::kPoolRemoved));

  // The same without the bad name: one request resizes foo and removes bar, answering the
  // sizes it produced (bar left out); a removal of what is not there is already done.
  r = s.client->Patch("/api/v1/config", R"({"foo": 2, "bar": false, "ghost": 0})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  const json answer = json::parse(r->body);
  CHECK(answer["pools"] == json{{"baz", 1}, {"foo", 2}});
  bool removed = false;
  while (!removed)
    if (auto item = events->pop(5s); !item) break;
    else if (const Event* ev = std::get_if<Event>(&*item)) removed = ev->kind == EventKind::kPoolRemoved && ev->pool == "bar";
  CHECK(removed);
  CHECK(wait_until([&] { return pool_running(s.engine, "foo", 2); }, 5s));
}

TEST_CASE("http: the JSON API refuses bad input whole and changes nothing") {
  Served s({fake_pool("foo", 2)});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 2); }, 5s));
  struct Bad {
    std::string method, path, body;
    int code;
    std::string error;
  };
  for (const Bad& b : std::vector<Bad>{
           {"PATCH", "/api/v1/pools/foo", "{\"n\": -1}", 400, "bad_field"},
           {"PATCH", "/api/v1/pools/foo", "{\"n\": \"3\"}", 400, "bad_field"},
           {"PATCH", "/api/v1/pools/foo", "{\"n\": 1e99}", 400, "bad_field"},
           {"PATCH", "/api/v1/pools/foo", "{\"colour\": 1}", 400, "bad_field"},
           {"PATCH", "/api/v1/pools/foo", "{\"n\": 99999}", 400, "bad_size"},
           {"PATCH", "/api/v1/pools/foo", "[1]", 400, "bad_json"},
           {"PATCH", "/api/v1/pools/foo", "{\"n\": 3", 400, "bad_json"},
           {"PATCH", "/api/v1/pools/nope", "{\"n\": 3}", 404, "not_found"},
           {"PATCH", "/api/v1/config", "{\"foo\": 3, \"nope\": 1}", 404, "not_found"},
           {"PATCH", "/api/v1/config", "{\"foo\": 3.5}", 400, "bad_size"},
           {"PATCH", "/api/v1/config", "not json", 400, "bad_json"},
           {"DELETE", "/api/v1/pools/nope", "", 404, "not_found"},
           {"GET", "/api/v1/log?n=0", "", 400, "bad_number"},
           {"GET", "/api/v1/log?n=abc", "", 400, "bad_number"},
           {"GET", "/api/v1/pools/nope", "", 404, "not_found"},
       }) {
    INFO(b.method, " ", b.path, " ", b.body);
    auto res = b.method == "GET"      ? s.client->Get(b.path.c_str())
               : b.method == "DELETE" ? s.client->Delete(b.path.c_str())
                                      : s.client->Patch(b.path.c_str(), b.body, "application/json");
    REQUIRE(res);
    CHECK(res->status == b.code);
    json body = json::parse(res->body, nullptr, false);
    REQUIRE_FALSE(body.is_discarded());
    CHECK(body["error"] == b.error);
  }
  CHECK(s.engine.snapshot().find("foo")->spec.n == 2);
  CHECK(pool_running(s.engine, "foo", 2));
}
