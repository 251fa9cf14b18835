#include "engine/spec_string.h"

#include <doctest/doctest.h>

using namespace drover;

namespace {

using Argv = std::vector<std::string>;

// The error parse_spec_string gives for spec ("" when it parses).
std::string spec_error(const std::string& spec, const EngineLimits& limits = {}) {
  auto r = parse_spec_string(spec, limits);
  return r ? "" : r.error().message();
}

std::vector<PoolSpec> pools(const std::string& spec, const std::string& cmd, const PoolSpec& defaults = {}) {
  auto entries = parse_spec_string(spec);
  REQUIRE(entries);
  auto r = pools_from_spec(*entries, cmd, defaults);
  REQUIRE(r);
  return *r;
}

}  // namespace

TEST_CASE("spec string: resque-pool-dynamic's example") {
  auto r = parse_spec_string("foo=2:bar=2:baz,quux=5:*=1");
  REQUIRE(r);
  REQUIRE(r->size() == 4);
  CHECK((*r)[0].queues == "foo");
  CHECK((*r)[0].n == 2);
  CHECK((*r)[1].queues == "bar");
  CHECK((*r)[1].n == 2);
  CHECK((*r)[2].queues == "baz,quux");
  CHECK((*r)[2].n == 5);
  CHECK((*r)[3].queues == "*");
  CHECK((*r)[3].n == 1);
}

TEST_CASE("spec string: a count defaults to one, and may be zero") {
  auto r = parse_spec_string("foo:bar=0:baz=007");
  REQUIRE(r);
  REQUIRE(r->size() == 3);
  CHECK((*r)[0].n == 1);
  CHECK((*r)[1].n == 0);
  CHECK((*r)[2].n == 7);
  CHECK(spec_error("a=10000") == "");
}

TEST_CASE("spec string: errors name the entry, its text and the column of the bad token") {
  CHECK(spec_error("foo=1:bar=x") == "--workers: entry 2 'bar=x' at column 11: count 'x' is not a whole number");
  CHECK(spec_error("a=2:b=x") == "--workers: entry 2 'b=x' at column 7: count 'x' is not a whole number");
  CHECK(spec_error("foo=1::bar=2") ==
        "--workers: entry 2 '' at column 7: empty entry (two ':' in a row, or a ':' at an end)");
  CHECK(spec_error("a=1:").find("entry 2 '' at column 5") != std::string::npos);
  CHECK(spec_error(":a").find("entry 1 '' at column 1") != std::string::npos);
  CHECK(spec_error("x:a,,b=1") == "--workers: entry 2 'a,,b=1' at column 5: empty queue name in the list");
  CHECK(spec_error(",a").find("column 1: empty queue name") != std::string::npos);
  CHECK(spec_error("a,=1").find("column 2: empty queue name") != std::string::npos);
  CHECK(spec_error("ok:a b=1") == "--workers: entry 2 'a b=1' at column 5: ' ' is not allowed in a queue name");
  CHECK(spec_error("a/b").find("column 2: '/' is not allowed") != std::string::npos);
  CHECK(spec_error("a\tb").find("'\\x09' is not allowed") != std::string::npos);
  CHECK(spec_error("=5") == "--workers: entry 1 '=5' at column 1: no queue name before '='");
  CHECK(spec_error("a=").find("column 3: count '' is not a whole number") != std::string::npos);
  CHECK(spec_error("a=1.5").find("count '1.5' is not a whole number") != std::string::npos);
  CHECK(spec_error("a=1=2").find("count '1=2'") != std::string::npos);
}

TEST_CASE("spec string: counts out of range") {
  CHECK(spec_error("a=-1") == "--workers: entry 1 'a=-1' at column 3: count -1 is out of range 0..10000");
  CHECK(spec_error("a=10001").find("count 10001 is out of range 0..10000") != std::string::npos);
  CHECK(spec_error("a=99999999999999999999").find("out of range") != std::string::npos);
  EngineLimits small{.max_workers_per_pool = 10};
  CHECK(spec_error("a=10", small) == "");
  CHECK(spec_error("a=1:b=11", small) == "--workers: entry 2 'b=11' at column 7: count 11 is out of range 0..10");
}

TEST_CASE("spec string: empty specs and duplicates") {
  CHECK(spec_error("") == "--workers: the spec is empty");
  CHECK(spec_error("  ") == "--workers: the spec is empty");
  CHECK(spec_error("a=1:b=1:a=2") == "--workers: entry 3 'a=2' at column 9: pool 'a' is already given by entry 1");
  CHECK(spec_error("a,b:b,a") == "");  // two pools, even though they serve the same queues
}

TEST_CASE("spec string: pools from a command template") {
  PoolSpec defaults;
  defaults.grace_s = 3;
  defaults.env.emplace("A", "1");  // (operator= here trips a GCC 12 -Wrestrict false positive)
  auto ps = pools("foo=2:baz,quux=1", "rq worker {queue}", defaults);
  REQUIRE(ps.size() == 2);
  CHECK(ps[0].name == "foo");
  CHECK(ps[0].queue == "foo");
  CHECK(ps[0].n == 2);
  CHECK(ps[0].argv == Argv{"rq", "worker", "foo"});
  CHECK(ps[0].grace_s == 3);
  CHECK(ps[0].env == std::map<std::string, std::string>{{"A", "1"}});
  CHECK(ps[1].name == "baz,quux");
  CHECK(ps[1].queue == "baz,quux");
  CHECK(ps[1].argv == Argv{"rq", "worker", "baz,quux"});
  CHECK(ps[1].n == 1);
}

TEST_CASE("spec string: {pool} and {queue} both become the entry's text, wherever they are") {
  auto ps = pools("a,b", "run --pool={pool} --q '{queue}' {queue}{pool}");
  CHECK(ps[0].argv == Argv{"run", "--pool=a,b", "--q", "a,b", "a,ba,b"});
  ps = pools("a", "fixed command");  // no placeholder at all
  CHECK(ps[0].argv == Argv{"fixed", "command"});
}

TEST_CASE("spec string: '*' reaches the worker as '*', never as a glob") {
  // A plain template stays plain: the queue name goes into argv after the split.
  auto ps = pools("*=1:foo", "rq worker {queue}");
  CHECK(ps[0].argv == Argv{"rq", "worker", "*"});
  CHECK(ps[1].argv == Argv{"rq", "worker", "foo"});
  // A shell template: the name is quoted for where it lands.
  ps = pools("*=1:foo", "rq worker {queue} 2>&1");
  CHECK(ps[0].argv == Argv{"/bin/sh", "-c", "rq worker '*' 2>&1"});
  CHECK(ps[1].argv == Argv{"/bin/sh", "-c", "rq worker foo 2>&1"});
  ps = pools("*", "echo \"q={queue}\" 'p={pool}' | cat");
  CHECK(ps[0].argv == Argv{"/bin/sh", "-c", "echo \"q=*\" 'p=*' | cat"});
}

TEST_CASE("spec string: a shell template quotes odd names built by hand") {
  std::vector<SpecEntry> entries{{"it's $x", 1}};
  auto r = pools_from_spec(entries, "a {queue} \"{queue}\" '{queue}'; b");
  REQUIRE(r);
  CHECK((*r)[0].argv[2] == "a 'it'\\''s $x' \"it's \\$x\" 'it'\\''s $x'; b");
  // A name holding a placeholder is not substituted again.
  entries = {{"{queue}", 1}};
  r = pools_from_spec(entries, "w {queue}");
  REQUIRE(r);
  CHECK((*r)[0].argv == Argv{"w", "{queue}"});
}

TEST_CASE("spec string: the template is required") {
  auto entries = parse_spec_string("foo=2");
  REQUIRE(entries);
  auto none = pools_from_spec(*entries, "  ");
  REQUIRE_FALSE(none);
  CHECK(none.error().message() == "--cmd is required with --workers (for example --cmd 'rq worker {queues}')");
  CHECK_FALSE(pools_from_spec(*entries, ""));
  CHECK_FALSE(pools_from_spec(*entries, "w \x1f"));
  CHECK(pools_from_spec(*entries, "w \x1e").error().message() == "--cmd holds a control character (\\x1e)");
}

TEST_CASE("spec string: {queues} is one argument per queue - {queue} the list as one word") {
  // rq takes each queue as an argument of its own; resque's QUEUE and Celery's -Q take the list.
  auto ps = pools("foo=2:baz,quux=5", "rq worker {queues}");
  CHECK(ps[0].argv == Argv{"rq", "worker", "foo"});
  CHECK(ps[1].argv == Argv{"rq", "worker", "baz", "quux"});
  CHECK(ps[1].queue == "baz,quux");  // QUEUE stays the list
  ps = pools("a,b,c", "celery -A app worker -Q {queue} -n {pool}@%h --x {queues} --y");
  CHECK(ps[0].argv == Argv{"celery", "-A", "app", "worker", "-Q", "a,b,c", "-n", "a,b,c@%h", "--x", "a", "b", "c", "--y"});
  ps = pools("a,b", "{queues}");
  CHECK(ps[0].argv == Argv{"a", "b"});
}

TEST_CASE("spec string: {queues} in a shell template - each queue a quoted word") {
  auto ps = pools("baz,quux", "rq worker {queues} 2>&1");
  CHECK(ps[0].argv == Argv{"/bin/sh", "-c", "rq worker baz quux 2>&1"});
  ps = pools("a,b", "exec rq worker {queues}>log; echo \"{queue}\"|cat");
  CHECK(ps[0].argv == Argv{"/bin/sh", "-c", "exec rq worker a b>log; echo \"a,b\"|cat"});
  // Names built by hand (resque-pool's YAML goes through the same rules): quoted one by one.
  std::vector<SpecEntry> entries{{"it's,$x,ok", 1}};
  auto r = pools_from_spec(entries, "w {queues} | cat");
  REQUIRE(r);
  CHECK((*r)[0].argv[2] == "w 'it'\\''s' '$x' ok | cat");
}

TEST_CASE("spec string: {queues} must stand alone - and refuses '*' naming the pool") {
  auto entries = parse_spec_string("foo=2:baz,quux=5:*=1");
  REQUIRE(entries);
  auto star = pools_from_spec(*entries, "rq worker {queues}");
  REQUIRE_FALSE(star);
  CHECK(star.error().message() ==
        "--cmd: pool '*': {queues} cannot pass on '*' (rq and Celery have no name for every queue); list the "
        "queues instead (--workers 'foo,bar=1'), or use {queue} where '*' means every queue (resque's QUEUE)");
  entries = parse_spec_string("a,*");
  REQUIRE(entries);
  CHECK(pools_from_spec(*entries, "rq worker {queues}").error().message().find("pool 'a,*'") != std::string::npos);
  CHECK(pools_from_spec(*entries, "w {queue}"));  // QUEUE=a,* is resque's business

  entries = parse_spec_string("a,b");
  REQUIRE(entries);
  const std::string alone =
      "--cmd: {queues} must be a word of its own, outside quotes (it becomes one argument per queue); use {queue} "
      "for the list as one word";
  for (const char* bad : {"w --q={queues}", "w '{queues}'", "w \"{queues}\" | cat", "w {queues}x", "w x{queues}",
                          "w {queues}{queues}", "w \\{queues}; b"}) {
    INFO(bad);
    auto r = pools_from_spec(*entries, bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().message() == alone);
  }
}
