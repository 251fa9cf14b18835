#include "engine/spec_string.h"

#include <doctest/doctest.h>

using namespace drover;

TEST_CASE("spec string: resque-pool-dynamic's example") {
  auto r = parse_spec_string("foo=2:bar=2:baz,quux=5:*=1");
  REQUIRE(r);
  REQUIRE(r->size() == 4);
  CHECK((*r)[0].queues == "foo");
  CHECK((*r)[0].n == 2);
  CHECK((*r)[2].queues == "baz,quux");
  CHECK((*r)[2].n == 5);
  CHECK((*r)[3].queues == "*");
}

TEST_CASE("spec string: a count defaults to one") {
  auto r = parse_spec_string("foo:bar=0");
  REQUIRE(r);
  CHECK((*r)[0].n == 1);
  CHECK((*r)[1].n == 0);
}

TEST_CASE("spec string: errors name the entry and the column of the bad token") {
  auto r = parse_spec_string("foo=1:bar=x");
  REQUIRE_FALSE(r);
  CHECK(r.error().message() == "--workers: entry 2 'bar=x' at column 11: count 'x' is not a whole number");
  r = parse_spec_string("foo=1::bar=2");
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("entry 2") != std::string::npos);
  CHECK(r.error().message().find("column 7") != std::string::npos);
  CHECK_FALSE(parse_spec_string(""));
  CHECK_FALSE(parse_spec_string("a,,b=1"));
  CHECK_FALSE(parse_spec_string("a=-1"));
  CHECK_FALSE(parse_spec_string("a=1:a=2"));
  CHECK_FALSE(parse_spec_string("a b=1"));
  CHECK_FALSE(parse_spec_string("a=1:"));
  EngineLimits small{.max_workers_per_pool = 10};
  auto over = parse_spec_string("a=11", small);
  REQUIRE_FALSE(over);
  CHECK(over.error().message().find("over the cap of 10") != std::string::npos);
}

TEST_CASE("spec string: pools from a command template") {
  auto entries = parse_spec_string("foo=2:baz,quux=1");
  REQUIRE(entries);
  PoolSpec defaults;
  defaults.grace_s = 3;
  auto pools = pools_from_spec(*entries, "rq worker {queue}", defaults);
  REQUIRE(pools);
  REQUIRE(pools->size() == 2);
  CHECK((*pools)[1].name == "baz,quux");
  CHECK((*pools)[1].queue == "baz,quux");
  CHECK((*pools)[1].argv == std::vector<std::string>{"rq", "worker", "baz,quux"});
  CHECK((*pools)[0].n == 2);
  CHECK((*pools)[0].grace_s == 3);
  auto none = pools_from_spec(*entries, "  ");
  REQUIRE_FALSE(none);
  CHECK(none.error().message().find("--cmd is required") != std::string::npos);
}
