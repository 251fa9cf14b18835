// http_router: method + path pattern to a route, with 405 + Allow for a known path and 404
// for an unknown one; HEAD served by GET.
#include <doctest/doctest.h>

#include "control/http_router.h"

using namespace drover::http;

namespace {

HttpRouter table(std::vector<std::string>& hit) {
  HttpRouter r;
  auto note = [&hit](std::string name) { return [&hit, name](const HttpRequest&, HttpResponse&) { hit.push_back(name); }; };
  r.add("GET", "/api/v1/pools", note("list"));
  r.add("POST", "/api/v1/pools", note("define"), {.takes_body = true});
  r.add("GET", R"(/api/v1/pools/([^/]+))", note("one"));
  r.add("DELETE", R"(/api/v1/pools/([^/]+))", note("remove"));
  r.add("GET", R"(/tasks/([^/]+)/set/([^/]+)/([^/]+)/?)", note("set"), {.wpm = true, .wpm_changes = true});
  return r;
}

}  // namespace

TEST_CASE("http_router: a route by verb and whole path - its groups - its traits") {
  std::vector<std::string> hit;
  HttpRouter r = table(hit);
  auto m = r.match("GET", "/api/v1/pools/foo");
  REQUIRE(m.route);
  CHECK(m.groups == std::vector<std::string>{"/api/v1/pools/foo", "foo"});
  HttpResponse res;
  m.route->handler(HttpRequest{}, res);
  CHECK(hit == std::vector<std::string>{"one"});
  m = r.match("POST", "/api/v1/pools");
  REQUIRE(m.route);
  CHECK(m.route->traits.takes_body);
  m = r.match("GET", "/tasks/web/set/cardinality/3/");
  REQUIRE(m.route);
  CHECK(m.route->traits.wpm_changes);
  CHECK(m.groups.size() == 4);
  CHECK(m.groups[3] == "3");
  m = r.match("HEAD", "/api/v1/pools");  // HEAD is GET's
  REQUIRE(m.route);
  CHECK(m.route->method == "GET");
}

TEST_CASE("http_router: a wrong verb on a known path lists the verbs it takes - an unknown path none") {
  std::vector<std::string> hit;
  HttpRouter r = table(hit);
  auto m = r.match("PATCH", "/api/v1/pools");
  CHECK_FALSE(m.route);
  CHECK(m.allow == "GET, HEAD, POST");
  m = r.match("PUT", "/api/v1/pools/foo");
  CHECK_FALSE(m.route);
  CHECK(m.allow == "DELETE, GET, HEAD");
  m = r.match("GET", "/api/v1/pools/foo/bar");  // the whole path must match
  CHECK_FALSE(m.route);
  CHECK(m.allow.empty());
  m = r.match("BREW", "/nowhere");
  CHECK_FALSE(m.route);
  CHECK(m.allow.empty());
}
