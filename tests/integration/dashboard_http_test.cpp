// The dashboard's files and the one route added for it (issue 16), in-process: the page
// and its assets answer without the token (they hold no data) and with headers that keep
// the page to itself; everything they read still needs the token; the pool usage route.
// The browser tests (tests/browser/) drive the page itself in chromium.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "control/web_assets.h"
#include "tests/support/http_client.h"

using namespace drover;
using namespace drover::test;
using nlohmann::json;

TEST_CASE("dashboard: the page and its files are served without the token - their data needs it") {
  Served s({fake_pool("foo", 2)});
  httplib::Client anon("127.0.0.1", s.port());  // sends no token
  auto page = anon.Get("/");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->get_header_value("Content-Type").rfind("text/html", 0) == 0);
  CHECK(page->body.find("/ui/app.js") != std::string::npos);
  // No inline script may run, no other site may frame it, it connects only here.
  const std::string csp = page->get_header_value("Content-Security-Policy");
  CHECK(csp.find("script-src 'self'") != std::string::npos);
  CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
  CHECK(csp.find("connect-src 'self'") != std::string::npos);
  CHECK(page->get_header_value("X-Frame-Options") == "DENY");
  CHECK(page->body.find("<script>") == std::string::npos);

  for (const char* file : {"/ui/app.js", "/ui/app.css"}) {
    INFO(file);
    auto r = anon.Get(file);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body.size() > 1000);
  }
  CHECK(anon.Get("/ui/app.js")->get_header_value("Content-Type").rfind("text/javascript", 0) == 0);
  auto missing = anon.Get("/ui/nope.js");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  // The files are open; what they show is not.
  for (const char* path : {"/api/v1/pools", "/api/v1/pools/foo/usage", "/api/v1/history"}) {
    INFO(path);
    auto r = anon.Get(path);
    REQUIRE(r);
    CHECK(r->status == 401);
  }
  // Only GET is open: a POST to the page's path is not a way around the token.
  auto post = anon.Post("/", "{}", "application/json");
  REQUIRE(post);
  CHECK(post->status == 401);
  // A page of another site cannot read it through the browser either (Origin refused).
  auto foreign = anon.Get("/", {{"Origin", "http://evil.example"}});
  REQUIRE(foreign);
  CHECK(foreign->status == 403);
}

TEST_CASE("dashboard: the whole page set stays under 300 KB") {
  size_t total = 0;
  for (const auto& a : web_assets()) total += a.body.size();
  CHECK(total > 10000);  // the page, its script and its style are there
  CHECK(total < 300 * 1024);
}

TEST_CASE("dashboard: GET /api/v1/pools/NAME/usage - the pool's and each worker's CPU and RSS") {
  Served s({fake_pool("foo", 2)});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 2); }, 5s));
  auto r = s.client->Get("/api/v1/pools/foo/usage");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  json u = json::parse(r->body);
  CHECK(u["pool"] == "foo");
  REQUIRE(u["workers"].size() == 2);
  uint64_t rss = 0;
  for (const auto& w : u["workers"]) {
    CHECK(w["pid"].get<int>() > 0);
    CHECK(w["rss_bytes"].get<uint64_t>() > 0);  // a live process has resident pages
    CHECK(w["processes"] == 1);
    rss += w["rss_bytes"].get<uint64_t>();
  }
  CHECK(u["rss_bytes"].get<uint64_t>() == rss);
  CHECK(u["processes"] == 2);
  auto none = s.client->Get("/api/v1/pools/nope/usage");
  REQUIRE(none);
  CHECK(none->status == 404);
}
