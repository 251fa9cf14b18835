// Fan-out and tasker's API against a real drover over HTTP (issue 14): a fan-out through
// two exec-mode pools, done when both are; tasker's POST /TYPE and GET /TYPE/IDENT with
// --tasker-compat, its status names, bad input refused whole; off without the option.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/drover_process.h"
#include "tests/support/test_util.h"

using namespace drover::test;
using nlohmann::json;

namespace {

const std::map<std::string, std::string> kTokenEnv{{"DROVER_HTTP_TOKEN", "tasker-http-test-token-0123456789"}};

// lb1 answers JSON; lb2 too, unless the payload says fail; backup echoes the payload.
constexpr const char* kPools = R"lua(
pool 'lb1' { cmd = [[cat >/dev/null; echo '{"host": "lb1"}']], n = 1, jobs = true }
pool 'lb2' { cmd = [[a=$(cat); case "$a" in *fail*) echo broken; exit 3;; esac; echo '{"host": "lb2"}']],
             n = 1, jobs = true }
pool 'backup' { cmd = 'cat', n = 1, jobs = true }
)lua";

struct Host {
  TempDir dir;
  std::unique_ptr<DroverProcess> drover;
  std::unique_ptr<httplib::Client> http;

  explicit Host(bool tasker = true) {
    write_file(dir.file("pools.lua"), kPools);
    std::vector<std::string> args{dir.file("pools.lua"), "--no-shell", "-q", "--http", "127.0.0.1:0",
                                  "--state", dir.file("state")};
    if (tasker) args.push_back("--tasker-compat");
    drover = std::make_unique<DroverProcess>(args, dir.file("host.err"), kTokenEnv);
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
    return json::parse(r->body, nullptr, false);
  }
  json get(const std::string& path, int want = 200) {
    auto r = http->Get(path.c_str());
    REQUIRE(r);
    INFO(path, " -> ", r->body);
    CHECK(r->status == want);
    return json::parse(r->body, nullptr, false);
  }
  std::string state(long id) { return get(fmt::format("/api/v1/jobs/{}", id))["state"]; }
};

}  // namespace

TEST_CASE("fan-out http: one job through two exec-mode pools - done when both are - a dead child makes it dead") {
  Host h;
  json made = h.post("/api/v1/jobs", R"({"topic": "deploy", "topics": ["lb1", "lb2"], "args": {"v": 1}})", 201);
  REQUIRE(made["jobs"].size() == 1);
  const json parent = made["jobs"][0];
  CHECK(parent["topic"] == "deploy");
  CHECK(parent["children"] == 2);
  const long id = parent["id"];
  REQUIRE(wait_until([&] { return h.state(id) == "done"; }, 20s));
  json kids = h.get(fmt::format("/api/v1/jobs?parent={}", id))["jobs"];
  REQUIRE(kids.size() == 2);
  CHECK(kids[0]["topic"] == "lb1");
  CHECK(kids[0]["parent"] == id);
  CHECK(kids[0]["result"] == "{\"host\": \"lb1\"}\n");
  CHECK(kids[1]["topic"] == "lb2");
  CHECK(kids[1]["result"] == "{\"host\": \"lb2\"}\n");
  // The parent counts in no topic; each child in its pool's.
  json topics = h.get("/api/v1/topics")["topics"];
  REQUIRE(topics.size() == 2);
  CHECK(topics[0]["topic"] == "lb1");
  CHECK(topics[0]["done"] == 1);

  const long bad = h.post("/api/v1/jobs", R"({"topics": ["lb1", "lb2"], "args": {"fail": 1}, "attempts": 1})",
                          201)["jobs"][0]["id"];
  REQUIRE(wait_until([&] { return h.state(bad) == "dead"; }, 20s));
  json dead = h.get(fmt::format("/api/v1/jobs/{}", bad));
  CHECK(dead["topic"] == "fanout");
  CHECK(dead["error"] == "1 of 2 children dead");
  // Bad fan-outs: 400 naming the field, nothing made.
  CHECK(h.post("/api/v1/jobs", R"({"topics": ["lb1", "lb1"]})", 400)["detail"] == "topics[1]: \"lb1\" is named twice");
  CHECK(h.post("/api/v1/jobs", R"({"topics": "lb1"})", 400)["detail"] == "topics: \"lb1\" must be a list of pool names");
  CHECK(h.get("/api/v1/jobs")["jobs"].size() == 6);
}

TEST_CASE("tasker http: POST /TYPE makes a task over its endpoints - GET /TYPE/IDENT answers it with a response each") {
  Host h;
  json task = h.post("/deploy", R"({"identifier": "rel-7", "payload": {"version": 7}, "endpoints": ["lb1", "lb2"]})",
                     200);
  CHECK(task["identifier"] == "rel-7");
  CHECK(task["type"] == "deploy");
  CHECK(task["status"] == "CREATED");
  CHECK(task["endpoints"] == json{"lb1", "lb2"});
  CHECK(task["payload"] == json{{"version", 7}});
  const long id = task["id"];
  json got;
  REQUIRE(wait_until([&] { return (got = h.get("/deploy/rel-7"))["task"]["status"] == "DONE"; }, 20s));
  CHECK(got["task"]["id"] == id);
  CHECK(got["task"]["state"] == "done");
  json responses = got["taskResponseList"];
  REQUIRE(responses.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    const std::string endpoint = i == 0 ? "lb1" : "lb2";
    INFO(responses[i].dump());
    CHECK(responses[i]["endpoint"] == endpoint);
    CHECK(responses[i]["task_id"] == id);
    CHECK(responses[i]["status"] == "FINISHED");
    CHECK(responses[i]["errnr"] == 0);
    CHECK(responses[i]["payload"] == json{{"host", endpoint}});  // the endpoint's output, as JSON
  }
  CHECK(h.get(fmt::format("/deploy/{}", id))["task"]["identifier"] == "rel-7");  // by id, as tasker did
  CHECK(h.get("/deploy/rel-8", 404)["error"] == "not_found");
  CHECK(h.get("/backup/rel-7", 404)["error"] == "not_found");  // identifiers are per type

  // No endpoints: the pool named TYPE runs it. An endpoint that fails makes the task INCOMPLETE.
  CHECK(h.post("/backup", R"({"identifier": "b-1", "payload": {"db": "main"}})", 200)["endpoints"] == json{"backup"});
  h.post("/deploy", R"({"identifier": "rel-9", "payload": {"fail": true}, "endpoints": ["lb1", "lb2"]})", 200);
  REQUIRE(wait_until([&] { return h.get("/backup/b-1")["task"]["status"] == "DONE"; }, 20s));
  CHECK(h.get("/backup/b-1")["taskResponseList"][0]["payload"] == json{{"db", "main"}});
  // Three attempts with backoff (1 s, 2 s) before lb2's child is dead.
  REQUIRE(wait_until([&] { return (got = h.get("/deploy/rel-9"))["task"]["status"] == "INCOMPLETE"; }, 30s));
  CHECK(got["task"]["state"] == "dead");
  CHECK(got["taskResponseList"][0]["errnr"] == 0);
  CHECK(got["taskResponseList"][1]["errnr"] == 1);
  CHECK(got["taskResponseList"][1]["errmsg"].get<std::string>().find("exit 3") == 0);

  // An identifier names one waiting task: posted again it answers that one (no pool: it waits).
  const long waiting = h.post("/sync", R"({"identifier": "s-1", "endpoints": ["nopool"]})", 200)["id"];
  CHECK(h.post("/sync", R"({"identifier": "s-1", "endpoints": ["nopool"]})", 200)["id"] == waiting);
  got = h.get("/sync/s-1");
  CHECK(got["task"]["status"] == "CREATED");
  CHECK(got["taskResponseList"][0]["status"] == "CREATED");
  CHECK(got["taskResponseList"][0]["state"] == "queued");
}

TEST_CASE("tasker http: bad input is a 400 naming the field and changes nothing - the token rules hold - off by default") {
  Host h;
  struct Bad {
    std::string path, body, detail;
  };
  const Bad cases[] = {
      {"/deploy", R"({"payload": {}})", "identifier: is required"},
      {"/deploy", R"({"identifier": 7})", "identifier: 7 must be a non-empty string"},
      {"/deploy", R"({"identifier": ""})", "identifier: \"\" must be a non-empty string"},
      {"/deploy", R"({"identifier": "x", "endpoints": "lb1"})", "endpoints: \"lb1\" must be a list"},
      {"/deploy", R"({"identifier": "x", "endpoints": ["lb1", 2]})", "endpoints[1]: 2 must be a pool name"},
      {"/deploy", R"({"identifier": "x", "endpoints": ["lb1", "lb1"]})", "endpoints[1]: \"lb1\" is named twice"},
      {"/deploy", R"({"identifier": "x", "endpoints": ["l b"]})", "endpoints[0]: \"l b\" has a space"},
      {"/deploy", R"({"identifier": "x", "colour": 1})", "colour: is not a field a task takes"},
  };
  for (const auto& c : cases) {
    json r = h.post(c.path, c.body, 400);
    INFO(c.body);
    CHECK(r["error"] == "bad_field");
    CHECK(r["detail"].get<std::string>().find(c.detail) == 0);
  }
  auto list = h.http->Post("/deploy", "[1]", "application/json");
  REQUIRE(list);
  CHECK(list->status == 400);
  CHECK(h.get("/api/v1/jobs")["jobs"].empty());
  // drover's own paths are not task types.
  CHECK(h.post("/api", R"({"identifier": "x"})", 404)["error"] == "not_found");
  // The token, as on every route.
  httplib::Client anonymous("127.0.0.1", h.drover->http_port());
  auto r = anonymous.Post("/deploy", R"({"identifier": "x"})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK(h.get("/api/v1/jobs")["jobs"].empty());

  Host plain(false);
  auto off = plain.http->Post("/deploy", R"({"identifier": "x"})", "application/json");
  REQUIRE(off);
  CHECK(off->status == 404);
  CHECK(plain.get("/api/v1/jobs")["jobs"].empty());
}
