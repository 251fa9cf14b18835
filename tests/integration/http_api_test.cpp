// The JSON API's routes beyond the first slice (issue 6): defining pools, changing their
// command and environment, workers and their signals, the whole snapshot, the autoscaler's
// seam, and the generic answers (405 with Allow, 413, 415). Each bad request is checked
// to have changed nothing.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "control/snapshot_json.h"
#include "tests/support/http_client.h"

using namespace drover;
using namespace drover::test;
using nlohmann::json;

namespace {

// Pool names and specs, to show that a refused request changed nothing.
std::map<std::string, PoolSpec> specs(Engine& e) {
  std::map<std::string, PoolSpec> out;
  for (const auto& p : e.snapshot().pools) out[p.spec.name] = p.spec;
  return out;
}

httplib::Result send(httplib::Client& c, const std::string& method, const std::string& path, const std::string& body,
                     const std::string& type = "application/json") {
  if (method == "POST") return c.Post(path.c_str(), body, type.c_str());
  if (method == "PATCH") return c.Patch(path.c_str(), body, type.c_str());
  if (method == "PUT") return c.Put(path.c_str(), body, type.c_str());
  if (method == "DELETE") return c.Delete(path.c_str());
  return c.Get(path.c_str());
}

struct Refused {
  std::string method, path, body;
  int code;
  std::string error, detail;  // detail: a part the answer's detail must contain
};

// Each request gets its code, error and detail, and the pools are as they were.
void check_refused(Served& s, const std::vector<Refused>& cases) {
  const auto before = specs(s.engine);
  for (const auto& c : cases) {
    INFO(c.method, " ", c.path, " ", c.body);
    auto r = send(*s.client, c.method, c.path, c.body);
    REQUIRE(r);
    CHECK(r->status == c.code);
    CHECK(r->get_header_value("Content-Type") == "application/json");
    json body = json::parse(r->body, nullptr, false);
    REQUIRE(body.is_object());
    CHECK(body["error"] == c.error);
    CHECK(body["detail"].get<std::string>().find(c.detail) != std::string::npos);
  }
  CHECK(specs(s.engine) == before);
}

}  // namespace

TEST_CASE("http api: POST /api/v1/pools defines a pool - 201 with it - 409 when it exists") {
  Served s({fake_pool("foo", 1)});
  json def{{"name", "web"},
           {"cmd", std::string(fake_worker_path()) + " env"},
           {"n", 2},
           {"cwd", s.dir.path()},
           {"env", {{"MODE", "fast"}}},
           {"queue", "q1"},
           {"stop_signal", "INT"},
           {"stop_to", "group"},
           {"grace", 1.5}};
  auto r = s.client->Post("/api/v1/pools", def.dump(), "application/json");
  REQUIRE(r);
  CHECK(r->status == 201);
  CHECK(r->get_header_value("Location") == "/api/v1/pools/web");
  json p = json::parse(r->body);
  CHECK(p["name"] == "web");
  CHECK(p["n"] == 2);
  CHECK(p["workers"].is_array());
  REQUIRE(wait_until([&] { return pool_running(s.engine, "web", 2); }, 5s));
  const PoolSpec spec = pool_of(s.engine.snapshot(), "web").spec;
  CHECK(spec.argv == std::vector<std::string>{fake_worker_path(), "env"});  // a plain line is exec'd directly
  CHECK(spec.cwd == s.dir.path());
  CHECK(spec.env == std::map<std::string, std::string>{{"MODE", "fast"}});
  CHECK(spec.queue == "q1");
  CHECK(spec.stop_signal == SIGINT);
  CHECK(spec.stop_to == StopTo::kGroup);
  CHECK(spec.grace_s == 1.5);
  for (pid_t pid : running_pids(s.engine.snapshot(), "web")) {
    CHECK(proc_env(pid, "MODE") == "fast");
    CHECK(proc_env(pid, "QUEUE") == "q1");
  }

  // An argv array, defined stopped.
  r = s.client->Post("/api/v1/pools",
                     json{{"name", "later"}, {"cmd", {fake_worker_path(), "sleep"}}, {"autostart", false}}.dump(),
                     "application/json");
  REQUIRE(r);
  CHECK(r->status == 201);
  CHECK(json::parse(r->body)["enabled"] == false);
  CHECK(pool_of(s.engine.snapshot(), "later").workers.empty());

  // The same name again: refused, the running pool untouched.
  def["n"] = 5;
  r = s.client->Post("/api/v1/pools", def.dump(), "application/json");
  REQUIRE(r);
  CHECK(r->status == 409);
  CHECK(json::parse(r->body)["error"] == "exists");
  CHECK(pool_of(s.engine.snapshot(), "web").spec.n == 2);
}

TEST_CASE("http api: POST /api/v1/pools refuses bad input - the detail names the field - nothing defined") {
  Served s({fake_pool("foo", 1)});
  const std::string P = "/api/v1/pools";
  check_refused(s, {
      {"POST", P, R"({"cmd": "x"})", 400, "bad_field", "\"name\" is required"},
      {"POST", P, R"({"name": "x"})", 400, "bad_field", "\"cmd\" is required"},
      {"POST", P, R"({"name": "x", "cmd": "  "})", 400, "bad_field", "\"cmd\""},
      {"POST", P, R"({"name": "x", "cmd": []})", 400, "bad_field", "\"cmd\""},
      {"POST", P, R"({"name": "x", "cmd": [1]})", 400, "bad_field", "\"cmd\""},
      {"POST", P, R"({"name": 7, "cmd": "a"})", 400, "bad_field", "\"name\""},
      {"POST", P, R"({"name": "x", "cmd": "a", "n": -1})", 400, "bad_field", "\"n\""},
      {"POST", P, R"({"name": "x", "cmd": "a", "n": 1e99})", 400, "bad_field", "\"n\""},
      {"POST", P, R"({"name": "x", "cmd": "a", "n": "x"})", 400, "bad_field", "\"n\""},
      {"POST", P, R"({"name": "x", "cmd": "a", "n": 1.5})", 400, "bad_field", "\"n\""},
      {"POST", P, R"({"name": "x", "cmd": "a", "n": 10001})", 400, "bad_field", "n = 10001 is out of range 0..10000"},
      {"POST", P, R"({"name": "x", "cmd": "a", "env": {"A": 1}})", 400, "bad_field", "\"env\""},
      {"POST", P, R"({"name": "x", "cmd": "a", "env": {"A=B": "1"}})", 400, "bad_field", "env key \"A=B\""},
      {"POST", P, R"({"name": "x", "cmd": "a", "env": []})", 400, "bad_field", "\"env\""},
      {"POST", P, R"({"name": "x", "cmd": "a", "stop_signal": "NOPE"})", 400, "bad_field", "\"stop_signal\""},
      {"POST", P, R"({"name": "x", "cmd": "a", "stop_signal": 99})", 400, "bad_field", "\"stop_signal\""},
      {"POST", P, R"({"name": "x", "cmd": "a", "stop_to": "pgrp"})", 400, "bad_field", "\"stop_to\""},
      {"POST", P, R"({"name": "x", "cmd": "a", "grace": -1})", 400, "bad_field", "\"grace\""},
      {"POST", P, R"({"name": "x", "cmd": "a", "autostart": "yes"})", 400, "bad_field", "\"autostart\""},
      {"POST", P, R"({"name": "two words", "cmd": "a"})", 400, "bad_field", "name may hold"},
      {"POST", P, R"({"name": "x", "cmd": "a", "colour": 1})", 400, "bad_field", "\"colour\" is not a field"},
      {"POST", P, R"({"name": "x", "cmd": "a")", 400, "bad_json", "JSON object"},
      {"POST", P, R"(["x"])", 400, "bad_json", "JSON object"},
      {"POST", P, "", 400, "bad_json", "empty"},
  });
  auto r = s.client->Post(P.c_str(), R"({"name": "x", "cmd": "a"})", "text/plain");
  REQUIRE(r);
  CHECK(r->status == 415);
  CHECK(json::parse(r->body)["error"] == "unsupported_media_type");
  r = s.client->Post(P.c_str(), "name=x&cmd=a", "application/x-www-form-urlencoded");  // curl -d without -H
  REQUIRE(r);
  CHECK(r->status == 415);
  CHECK_FALSE(s.engine.snapshot().find("x"));
}

TEST_CASE("http api: PATCH cmd and env roll the workers - env replaces the overrides - bad ones change nothing") {
  PoolSpec foo = fake_pool("foo", 2);
  foo.env = {{"MODE", "fast"}, {"OLD", "1"}};
  foo.grace_s = 2;
  Served s({foo});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 2); }, 5s));
  const auto first = running_pids(s.engine.snapshot(), "foo");
  for (pid_t pid : first) REQUIRE(wait_until([&] { return catches_signal(pid, SIGTERM); }, 5s));

  auto r = s.client->Patch("/api/v1/pools/foo", R"({"env": {"MODE": "slow"}})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  auto all_new_with = [&](const std::vector<pid_t>& old, const std::string& mode) {
    auto now = running_pids(s.engine.snapshot(), "foo");
    if (now.size() != 2 || pool_of(s.engine.snapshot(), "foo").rolling) return false;
    for (pid_t p : now)
      if (std::count(old.begin(), old.end(), p) || proc_env(p, "MODE") != mode) return false;
    return true;
  };
  REQUIRE(wait_until([&] { return all_new_with(first, "slow"); }, 10s));
  CHECK(pool_of(s.engine.snapshot(), "foo").spec.env == std::map<std::string, std::string>{{"MODE", "slow"}});
  for (pid_t p : running_pids(s.engine.snapshot(), "foo")) CHECK(proc_env(p, "OLD").empty());

  const auto second = running_pids(s.engine.snapshot(), "foo");
  for (pid_t pid : second) REQUIRE(wait_until([&] { return catches_signal(pid, SIGTERM); }, 5s));
  r = s.client->Patch("/api/v1/pools/foo", json{{"cmd", {fake_worker_path(), "sleep", "3600"}}, {"n", 3}}.dump(),
                      "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(json::parse(r->body)["n"] == 3);
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 3) && !pool_of(s.engine.snapshot(), "foo").rolling; },
                     10s));
  CHECK(pool_of(s.engine.snapshot(), "foo").spec.argv == std::vector<std::string>{fake_worker_path(), "sleep", "3600"});

  const std::string P = "/api/v1/pools/foo";
  check_refused(s, {
      {"PATCH", P, R"({"cmd": " "})", 400, "bad_field", "\"cmd\""},
      {"PATCH", P, R"({"cmd": {"a": 1}})", 400, "bad_field", "\"cmd\""},
      {"PATCH", P, R"({"env": {"A": 2}})", 400, "bad_field", "\"env\""},
      {"PATCH", P, R"({"env": {"": "x"}})", 400, "bad_field", "env key"},
      {"PATCH", P, R"({"cmd": "x", "n": 10001})", 400, "bad_field", "out of range"},
      {"PATCH", P, R"({"cmd": "x", "stop_signal": "HUP"})", 400, "bad_field", "\"stop_signal\""},
      {"PATCH", P, R"({"n": -1})", 400, "bad_field", "\"n\" must be a whole number >= 0, got -1"},
      {"PATCH", P, R"({"n": "3"})", 400, "bad_field", "\"n\" must be a whole number >= 0, got \"3\""},
      {"PATCH", P, R"({"enabled": 1})", 400, "bad_field", "\"enabled\" must be true or false, got 1"},
      {"PATCH", "/api/v1/pools/nope", R"({"cmd": "x"})", 404, "not_found", "no pool named \"nope\""},
  });
}

TEST_CASE("http api: workers listed - one signalled by name or number - bad slots and signals refused") {
  PoolSpec missing = fake_pool("missing", 1);
  missing.argv = {"/nonexistent/drover-test-program"};
  Served s({fake_pool("foo", 2), missing});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 2); }, 5s));
  auto r = s.client->Get("/api/v1/pools/foo/workers");
  REQUIRE(r);
  json ws = json::parse(r->body)["workers"];
  REQUIRE(ws.size() == 2);
  CHECK(ws[0]["slot"] == 0);
  CHECK(ws[1]["state"] == "running");
  const pid_t victim = ws[0]["pid"], other = ws[1]["pid"];
  REQUIRE(wait_until([&] { return catches_signal(victim, SIGTERM); }, 5s));

  r = s.client->Post("/api/v1/pools/foo/workers/0/signal", R"({"signal": "TERM"})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(json::parse(r->body) == json{{"pool", "foo"}, {"slot", 0}, {"signal", "TERM"}});
  REQUIRE(wait_until([&] { return !pid_alive(victim) && log_contains(s.engine, "fake_worker: TERM", "foo"); }, 5s));
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 2); }, 5s));
  const auto now = running_pids(s.engine.snapshot(), "foo");
  CHECK(std::count(now.begin(), now.end(), other) == 1);  // the other slot was not touched
  r = s.client->Post("/api/v1/pools/foo/workers/1/signal", R"({"signal": 9})", "application/json");
  REQUIRE(r);
  CHECK(json::parse(r->body)["signal"] == "KILL");
  REQUIRE(wait_until([&] { return !pid_alive(other); }, 5s));
  REQUIRE(wait_until([&] { return pool_of(s.engine.snapshot(), "missing").counters.spawn_failures > 0; }, 5s));

  const std::string W = "/api/v1/pools/foo/workers/";
  check_refused(s, {
      {"POST", W + "x/signal", R"({"signal": "HUP"})", 400, "bad_number", "slot 'x'"},
      {"POST", W + "-1/signal", R"({"signal": "HUP"})", 400, "bad_number", "slot '-1'"},
      {"POST", W + "99999999999/signal", R"({"signal": "HUP"})", 400, "bad_number", "slot"},
      {"POST", W + "7/signal", R"({"signal": "HUP"})", 404, "not_found", "pool \"foo\" has no slot 7"},
      {"POST", "/api/v1/pools/nope/workers/0/signal", R"({"signal": "HUP"})", 404, "not_found", "no pool named"},
      {"POST", W + "0/signal", R"({"signal": "NOPE"})", 400, "bad_field", "\"signal\": \"NOPE\""},
      {"POST", W + "0/signal", R"({"signal": 0})", 400, "bad_field", "\"signal\": 0"},
      {"POST", W + "0/signal", R"({"signal": 65})", 400, "bad_field", "\"signal\": 65"},
      {"POST", W + "0/signal", R"({})", 400, "bad_field", "{\"signal\": NAME or NUMBER}"},
      {"POST", W + "0/signal", R"({"signal": "HUP", "x": 1})", 400, "bad_field", "nothing else"},
      {"POST", W + "0/signal", "HUP", 400, "bad_json", "JSON object"},
      {"POST", "/api/v1/pools/missing/workers/0/signal", R"({"signal": "HUP"})", 409, "no_process",
       "missing.0 has no process"},
      {"GET", "/api/v1/pools/nope/workers", "", 404, "not_found", "no pool named \"nope\""},
  });
}

TEST_CASE("http api: GET /api/v1/snapshot rebuilds the engine's snapshot") {
  PoolSpec foo = fake_pool("foo", 2);
  foo.env = {{"A", "1"}};
  foo.stop_signal = SIGQUIT;
  foo.heartbeat = {5, false};
  Served s({foo, fake_pool("bar", 0)});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 2); }, 5s));
  auto r = s.client->Get("/api/v1/snapshot");
  REQUIRE(r);
  CHECK(r->status == 200);
  auto remote = snapshot_from_json(json::parse(r->body));
  REQUIRE(remote);
  const EngineSnapshot local = s.engine.snapshot();
  CHECK(remote->pid == local.pid);
  CHECK(remote->heartbeat.worker_endpoint == local.heartbeat.worker_endpoint);
  REQUIRE(remote->pools.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(remote->pools[i].spec == local.pools[i].spec);
    CHECK(remote->pools[i].counters == local.pools[i].counters);
    CHECK(remote->pools[i].running == local.pools[i].running);
    REQUIRE(remote->pools[i].workers.size() == local.pools[i].workers.size());
    for (size_t w = 0; w < local.pools[i].workers.size(); ++w) {
      CHECK(remote->pools[i].workers[w].pid == local.pools[i].workers[w].pid);
      CHECK(remote->pools[i].workers[w].started_at_ms == local.pools[i].workers[w].started_at_ms);
    }
  }
}

TEST_CASE("http api: wrong verbs get 405 with Allow - unknown routes 404 - big bodies 413 - all JSON") {
  Served s({fake_pool("foo", 1)});
  struct Verb {
    std::string method, path, allow;
  };
  for (const Verb& v : std::vector<Verb>{{"PUT", "/api/v1/pools/foo", "DELETE, GET, HEAD, PATCH"},
                                         {"DELETE", "/api/v1/snapshot", "GET, HEAD"},
                                         {"POST", "/api/v1/config", "PATCH"},
                                         {"PATCH", "/api/v1/log/follow", "GET, HEAD"},
                                         {"POST", "/tasks/foo", "DELETE, GET, HEAD"},
                                         {"PATCH", "/tasks", "DELETE, GET, HEAD"}}) {
    INFO(v.method, " ", v.path);
    auto r = send(*s.client, v.method, v.path, "{}");
    REQUIRE(r);
    CHECK(r->status == 405);
    CHECK(r->get_header_value("Allow") == v.allow);
    if (v.path.rfind("/api/", 0) == 0) CHECK(json::parse(r->body)["error"] == "method_not_allowed");
    else CHECK(r->body.rfind("ERROR: ", 0) == 0);  // workerpoolmanager's routes: text unless asked for JSON
  }
  // curl -X PUT sends no Content-Length, on which httplib would wait 5 s for a body: a
  // wrong verb, a missing body and an unknown path are each answered at once.
  const auto t0 = std::chrono::steady_clock::now();
  std::string raw = raw_exchange(s.port(), "PUT /api/v1/snapshot HTTP/1.1\r\n" + kHostLine + kAuthLine + "\r\n", false);
  CHECK(raw_status(raw) == 405);
  CHECK(raw.find("Allow: GET, HEAD\r\n") != std::string::npos);
  raw = raw_exchange(s.port(), "POST /api/v1/pools HTTP/1.1\r\n" + kHostLine + kAuthLine + "\r\n", false);
  CHECK(raw_status(raw) == 400);
  CHECK(raw.find("the body must be a JSON object, and is empty") != std::string::npos);
  raw = raw_exchange(s.port(), "DELETE /nowhere HTTP/1.1\r\n" + kHostLine + kAuthLine + "\r\n", false);
  CHECK(raw_status(raw) == 404);
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
  auto r = s.client->Get("/api/v1/nope");
  REQUIRE(r);
  CHECK(r->status == 404);
  CHECK(json::parse(r->body)["error"] == "not_found");
  r = s.client->Patch("/api/v1/pools/foo", "{\"n\": " + std::string(100000, '1') + "}", "application/json");
  REQUIRE(r);
  CHECK(r->status == 413);
  CHECK(json::parse(r->body)["error"] == "too_large");
  CHECK(pool_of(s.engine.snapshot(), "foo").spec.n == 1);
}

TEST_CASE("http api: the autoscale routes answer 501 unwired - through the hooks when wired") {
  {
    Served s({fake_pool("foo", 0)});
    auto r = s.client->Get("/api/v1/autoscale");
    REQUIRE(r);
    CHECK(r->status == 501);
    r = s.client->Post("/api/v1/autoscale/foo/off", "", "text/plain");
    REQUIRE(r);
    CHECK(r->status == 501);
  }
  std::vector<std::pair<std::string, bool>> calls;
  std::mutex mu;
  Served s({fake_pool("foo", 0)}, {}, [&](HttpControl& http) {
    http.set_autoscale_hooks({[] { return Result<json>(json{{"policies", {{{"pool", "foo"}, {"enabled", true}}}}}); },
                              [&](const std::string& pool, bool on) {
                                if (pool != "foo") return Status::not_found("no autoscale policy for \"" + pool + "\"");
                                std::lock_guard lock(mu);
                                calls.emplace_back(pool, on);
                                return Status::ok();
                              }});
  });
  auto r = s.client->Get("/api/v1/autoscale");
  REQUIRE(r);
  CHECK(json::parse(r->body)["policies"][0]["pool"] == "foo");
  r = s.client->Post("/api/v1/autoscale/foo/off", "", "text/plain");
  REQUIRE(r);
  CHECK(json::parse(r->body) == json{{"pool", "foo"}, {"enabled", false}});
  r = s.client->Post("/api/v1/autoscale/bar/on", "", "text/plain");
  REQUIRE(r);
  CHECK(r->status == 404);
  CHECK(json::parse(r->body)["detail"] == "no autoscale policy for \"bar\"");
  CHECK(calls == std::vector<std::pair<std::string, bool>>{{"foo", false}});
}

TEST_CASE("http api: PATCH /api/v1/pools resizes several pools at once - 0 keeps the pool - all or nothing") {
  Served s({fake_pool("foo", 1), fake_pool("bar", 1)});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 1) && pool_running(s.engine, "bar", 1); }, 5s));
  auto r = s.client->Patch("/api/v1/pools", R"({"foo": 3, "bar": 0})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(json::parse(r->body) == json{{"pools", {{"bar", 0}, {"foo", 3}}}});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 3); }, 5s));
  REQUIRE(wait_until([&] { return running_pids(s.engine.snapshot(), "bar").empty(); }, 5s));
  CHECK(s.engine.snapshot().find("bar"));  // 0 here is a size, not a removal

  // A bad entry anywhere refuses the whole batch: foo stays at 3.
  check_refused(s, {
      {"PATCH", "/api/v1/pools", R"({"foo": 1, "nope": 2})", 404, "not_found", "nope"},
      {"PATCH", "/api/v1/pools", R"({"foo": 1, "bar": -1})", 400, "bad_size", "\"bar\": -1 must be a whole number >= 0"},
      {"PATCH", "/api/v1/pools", R"({"foo": 1, "bar": false})", 400, "bad_size", "\"bar\": false"},
      {"PATCH", "/api/v1/pools", R"({"foo": 1.5})", 400, "bad_size", "\"foo\": 1.5"},
      {"PATCH", "/api/v1/pools", R"([1])", 400, "bad_json", "JSON object"},
  });
  CHECK(pool_of(s.engine.snapshot(), "foo").target == 3);
  // PATCH /api/v1/config is the one where 0 and false remove.
  r = s.client->Patch("/api/v1/config", R"({"foo": 2, "bar": false})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(json::parse(r->body) == json{{"pools", {{"foo", 2}}}});
  REQUIRE(wait_until([&] { return !s.engine.snapshot().find("bar"); }, 5s));
}

TEST_CASE("http api: POST /api/v1/start and /stop - one pool or all - bad input refused, nothing changed") {
  Served s({fake_pool("foo", 2), fake_pool("bar", 1)});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 2) && pool_running(s.engine, "bar", 1); }, 5s));
  auto r = s.client->Post("/api/v1/stop", R"({"pool": "foo"})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(json::parse(r->body) == json{{"stopped", "foo"}});
  REQUIRE(wait_until([&] { return running_pids(s.engine.snapshot(), "foo").empty(); }, 5s));
  CHECK_FALSE(pool_of(s.engine.snapshot(), "foo").enabled);
  CHECK(pool_running(s.engine, "bar", 1));  // the other pool untouched

  r = s.client->Post("/api/v1/stop", "{}", "application/json");
  REQUIRE(r);
  CHECK(json::parse(r->body) == json{{"stopped", "all"}});
  REQUIRE(wait_until([&] { return running_pids(s.engine.snapshot(), "bar").empty(); }, 5s));
  r = s.client->Post("/api/v1/start", R"({"pool": "bar"})", "application/json");
  REQUIRE(r);
  CHECK(json::parse(r->body) == json{{"started", "bar"}});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "bar", 1); }, 5s));
  CHECK_FALSE(pool_of(s.engine.snapshot(), "foo").enabled);
  r = s.client->Post("/api/v1/start", "{}", "application/json");
  REQUIRE(r);
  CHECK(json::parse(r->body) == json{{"started", "all"}});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 2); }, 5s));

  check_refused(s, {
      {"POST", "/api/v1/stop", R"({"pool": "nope"})", 404, "not_found", "nope"},
      {"POST", "/api/v1/start", R"({"pool": 3})", 400, "bad_field", "\"pool\": 3 must be a string"},
      {"POST", "/api/v1/stop", R"({"pools": "foo"})", 400, "bad_field", "\"pools\" is not a field this takes"},
      {"POST", "/api/v1/stop", "foo", 400, "bad_json", "JSON object"},
  });
  CHECK(pool_running(s.engine, "foo", 2));  // the refused stops stopped nothing
  CHECK(pool_of(s.engine.snapshot(), "foo").enabled);
}

TEST_CASE("http api: POST /api/v1/signal - to one pool's workers or all - bad signals refused") {
  Served s({fake_pool("foo", 2), fake_pool("bar", 1)});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 2) && pool_running(s.engine, "bar", 1); }, 5s));
  const auto foo = running_pids(s.engine.snapshot(), "foo");
  const pid_t bar = running_pids(s.engine.snapshot(), "bar")[0];
  for (pid_t pid : foo) REQUIRE(wait_until([&] { return catches_signal(pid, SIGTERM); }, 5s));
  REQUIRE(wait_until([&] { return catches_signal(bar, SIGTERM); }, 5s));

  // fake_worker exits on TERM (and the engine restarts it): who died shows who got it.
  auto r = s.client->Post("/api/v1/signal", R"({"signal": "TERM", "pool": "foo"})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(json::parse(r->body) == json{{"signal", "TERM"}, {"pool", "foo"}});
  for (pid_t pid : foo) CHECK(wait_until([&] { return !pid_alive(pid); }, 5s));
  CHECK(pid_alive(bar));
  r = s.client->Post("/api/v1/signal", R"({"signal": 15})", "application/json");
  REQUIRE(r);
  CHECK(json::parse(r->body) == json{{"signal", "TERM"}, {"pool", "all"}});
  CHECK(wait_until([&] { return !pid_alive(bar); }, 5s));
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 2) && pool_running(s.engine, "bar", 1); }, 5s));

  check_refused(s, {
      {"POST", "/api/v1/signal", R"({"pool": "foo"})", 400, "bad_field", "\"signal\" is required"},
      {"POST", "/api/v1/signal", R"({"signal": "NOPE"})", 400, "bad_field", "\"signal\": \"NOPE\""},
      {"POST", "/api/v1/signal", R"({"signal": 0})", 400, "bad_field", "\"signal\": 0"},
      {"POST", "/api/v1/signal", R"({"signal": "HUP", "pool": "nope"})", 404, "not_found", "nope"},
      {"POST", "/api/v1/signal", R"({"signal": "HUP", "slot": 1})", 400, "bad_field", "\"slot\" is not a field"},
  });
}

TEST_CASE("http api: a shut-down engine - control routes answer 503 unavailable - signals still go out - reads answer") {
  Served s({fake_pool("foo", 1)});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 1); }, 5s));
  s.engine.shutdown();
  REQUIRE(s.engine.wait_finished(5s));
  // Shutting down, or its loop ended too ("the engine has finished"): either way nothing
  // it answers may claim a change.
  check_refused(s, {
      {"PATCH", "/api/v1/pools", R"({"foo": 2})", 503, "unavailable", "engine"},
      {"PATCH", "/api/v1/config", R"({"foo": 2})", 503, "unavailable", "engine"},
      {"POST", "/api/v1/start", "{}", 503, "unavailable", "engine"},
      {"POST", "/api/v1/stop", R"({"pool": "foo"})", 503, "unavailable", "engine"},
      {"DELETE", "/api/v1/pools/foo", "", 503, "unavailable", "engine"},
      {"POST", "/api/v1/pools", R"({"name": "bar", "cmd": "true"})", 503, "unavailable", "engine"},
  });
  // A signal is still taken (a SIGKILL for a stuck worker is what an operator sends then).
  auto r = s.client->Post("/api/v1/signal", R"({"signal": "KILL"})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  r = s.client->Get("/api/v1/snapshot");  // a read answers with the last state
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(json::parse(r->body)["shutting_down"] == true);
}
