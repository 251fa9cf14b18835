// rewrite_pool_sizes: write_config() over a hand-written config changes the sizes only.
#include <doctest/doctest.h>

#include "shell/lua/config_sizes_rewrite.h"

using namespace drover;

TEST_CASE("sizes rewrite: only the numbers after n = change - comments, defaults, autoscale and load stay") {
  const std::string before = R"(-- my pools: do not lose this comment
defaults { grace = 5 }
load "queue_proportional"
pool "web" {
  cmd = "gunicorn app",   -- n = 99 in a comment is not the size
  n = 2,
  heartbeat = { timeout = 30, n = 7 },
}
pool 'jobs' { cmd = [[rq worker "pool \"web\" { n = 1 }"]], n = 3 }
pool("mail", { cmd = "sendmail-worker", n=1 })
autoscale "jobs" { max = 10, policy = queue_proportional{ per_worker = 20 } }
)";
  auto r = rewrite_pool_sizes(before, {{"web", 5}, {"jobs", 3}, {"mail", 0}});
  REQUIRE(r);
  CHECK(r->text == R"(-- my pools: do not lose this comment
defaults { grace = 5 }
load "queue_proportional"
pool "web" {
  cmd = "gunicorn app",   -- n = 99 in a comment is not the size
  n = 5,
  heartbeat = { timeout = 30, n = 7 },
}
pool 'jobs' { cmd = [[rq worker "pool \"web\" { n = 1 }"]], n = 3 }
pool("mail", { cmd = "sendmail-worker", n=0 })
autoscale "jobs" { max = 10, policy = queue_proportional{ per_worker = 20 } }
)");
  CHECK(r->changed == std::vector<std::string>{"web 2 -> 5", "mail 1 -> 0"});
}

TEST_CASE("sizes rewrite: what cannot be updated is refused whole, naming the pool and why") {
  const std::string text = "local k = 4\npool 'a' { cmd = 'x', n = k }\npool 'b' { cmd = 'x', n = 1 }\n"
                           "pool 'c' { cmd = 'x' }\nfor i = 1, 2 do pool('d' .. i) { cmd = 'x', n = 1 } end\n";
  auto a = rewrite_pool_sizes(text, {{"a", 2}});
  REQUIRE_FALSE(a);
  CHECK(a.error().message().find("pool \"a\": its n is not a plain number") != std::string::npos);
  auto c = rewrite_pool_sizes(text, {{"c", 2}});
  REQUIRE_FALSE(c);
  CHECK(c.error().message().find("pool \"c\" has no `n = ...`") != std::string::npos);
  auto d = rewrite_pool_sizes(text, {{"b", 2}, {"d1", 2}});
  REQUIRE_FALSE(d);
  CHECK(d.error().message().find("pool \"d1\" is not defined") != std::string::npos);
  auto twice = rewrite_pool_sizes("pool 'b' { n = 1 }\npool 'b' { n = 2 }\n", {{"b", 3}});
  REQUIRE_FALSE(twice);
  CHECK(twice.error().message().find("defined twice") != std::string::npos);
  // Pools of the file not named are left as they are.
  auto b = rewrite_pool_sizes(text, {{"b", 2}});
  REQUIRE(b);
  CHECK(b->text.find("pool 'b' { cmd = 'x', n = 2 }") != std::string::npos);
  CHECK(b->text.find("n = k") != std::string::npos);
}
