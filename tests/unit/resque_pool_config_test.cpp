#include "config/resque_pool_config.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>

using namespace drover;

namespace {

class YamlFile {
 public:
  explicit YamlFile(const std::string& text) {
    char tmpl[] = "/tmp/drover-resque-XXXXXX.yml";
    int fd = mkstemps(tmpl, 4);
    REQUIRE(fd >= 0);
    close(fd);
    path_ = tmpl;
    std::ofstream(path_) << text;
  }
  ~YamlFile() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::map<std::string, int> sizes(const std::string& text, const std::string& env) {
  YamlFile f(text);
  auto r = load_resque_pool_config(f.path(), env, "rq worker {queue}");
  if (!r) FAIL(r.error().message());
  std::map<std::string, int> out;
  for (const auto& p : *r) out[p.name] = p.n;
  return out;
}

std::string error_of(const std::string& text, const std::string& env = "") {
  YamlFile f(text);
  auto r = load_resque_pool_config(f.path(), env, "");
  return r ? "" : r.error().message().substr(f.path().size());
}

constexpr const char* kExample = R"(foo: 1
"foo,bar": 2
baz: 0
production:
  "foo,bar": 4
  baz: 1
  quux: 3
development:
  foo: 5
)";

}  // namespace

TEST_CASE("resque-pool config: top-level entries - an environment section merged over them") {
  CHECK(sizes(kExample, "") == std::map<std::string, int>{{"foo", 1}, {"foo,bar", 2}, {"baz", 0}});
  CHECK(sizes(kExample, "production") ==
        std::map<std::string, int>{{"foo", 1}, {"foo,bar", 4}, {"baz", 1}, {"quux", 3}});
  CHECK(sizes(kExample, "development") == std::map<std::string, int>{{"foo", 5}, {"foo,bar", 2}, {"baz", 0}});
  CHECK(sizes(kExample, "staging") == sizes(kExample, ""));  // no such section: the defaults
}

TEST_CASE("resque-pool config: queue lists and the command template") {
  YamlFile f("\"foo,bar\": 2\n");
  auto r = load_resque_pool_config(f.path(), "", "rq worker {queue}");
  REQUIRE(r);
  REQUIRE(r->size() == 1);
  CHECK((*r)[0].queue == "foo,bar");
  CHECK((*r)[0].argv == std::vector<std::string>{"rq", "worker", "foo,bar"});
  auto plain = load_resque_pool_config(f.path(), "", "");
  REQUIRE(plain);
  CHECK((*plain)[0].argv == std::vector<std::string>{"rake", "resque:work"});  // reads QUEUES or QUEUE
  // QUEUES too: resque prefers it, so one inherited from drover's environment must not win.
  CHECK((*plain)[0].env.at("QUEUES") == "foo,bar");
  CHECK((*plain)[0].queue == "foo,bar");  // the engine's QUEUE
}

TEST_CASE("resque-pool config: a Lua config's defaults reach every pool") {
  YamlFile f("foo: 2\n");
  PoolSpec defaults;
  defaults.grace_s = 3;
  defaults.env = {{"MODE", "fast"}};
  auto r = load_resque_pool_config(f.path(), "", "", defaults);
  REQUIRE(r);
  CHECK((*r)[0].grace_s == 3);
  CHECK((*r)[0].env == std::map<std::string, std::string>{{"MODE", "fast"}, {"QUEUES", "foo"}});
}

TEST_CASE("resque-pool config: the environment comes from RACK_ENV - RAILS_ENV - RESQUE_ENV in that order") {
  unsetenv("RACK_ENV");
  unsetenv("RAILS_ENV");
  setenv("RESQUE_ENV", "c", 1);
  CHECK(resque_environment() == "c");
  setenv("RAILS_ENV", "b", 1);
  CHECK(resque_environment() == "b");
  setenv("RACK_ENV", "a", 1);
  CHECK(resque_environment() == "a");
  unsetenv("RACK_ENV");
  unsetenv("RAILS_ENV");
  unsetenv("RESQUE_ENV");
  CHECK(resque_environment() == "");
}

TEST_CASE("resque-pool config: errors name the line") {
  CHECK(error_of("foo: 1\nbar: x\n") == ":2: \"bar\": count 'x' must be a whole number >= 0");
  CHECK(error_of("foo: -2\n") == ":1: \"foo\": count '-2' must be a whole number >= 0");
  CHECK(error_of("foo: 1.5\n") == ":1: \"foo\": count '1.5' must be a whole number >= 0");
  CHECK(error_of("foo: [1, 2]\n") == ":1: \"foo\": expected a worker count");
  CHECK(error_of("production:\n  foo: nope\n", "production") == ":2: \"foo\": count 'nope' must be a whole number >= 0");
  CHECK(error_of("") == ": empty: no queues to run");
  CHECK(error_of("- foo\n- bar\n") == ":1: expected a mapping of \"queues\": count");
  CHECK(error_of("foo: 1\n  bar: [\n").find(":2:") == 0);  // a YAML syntax error
  CHECK(error_of("production:\n  foo: 1\n") == ": no queues for environment \"(none)\"");
  CHECK(error_of("\"a b\": 1\n").find("a b") != std::string::npos);  // not a pool name
}

TEST_CASE("resque-pool config: nested junk is refused in the chosen section only") {
  const std::string text = "foo: 1\nproduction:\n  bar:\n    baz: 1\nstaging:\n  what: [1]\n";
  CHECK(error_of(text, "production") == ":4: \"bar\": expected a worker count");
  // Not the chosen section: resque-pool never reads it, nor do we.
  CHECK(error_of(text, "") == "");
  CHECK(error_of(text, "development") == "");
  // A list as a section is a queue list without a count.
  CHECK(error_of("foo: 1\nstaging:\n  - what\n") == ":3: \"staging\": expected a worker count");
  // Keys that are not text name nothing.
  CHECK(error_of("? [a, b]\n: 1\n") == ":1: expected a queue list (\"foo,bar\") or an environment name as the key");
  CHECK(error_of("foo: 1\n~: 2\n").find(":2: expected a queue list") == 0);
  CHECK(error_of("production:\n  ? {a: 1}\n  : 2\n", "production").find(":2: expected a queue list") == 0);
}

TEST_CASE("resque-pool config: an empty file or one of comments only runs nothing and says so") {
  CHECK(error_of("") == ": empty: no queues to run");
  CHECK(error_of("# nothing yet\n\n") == ": empty: no queues to run");
  CHECK(error_of("production:\n  foo: 0\n", "production") == "");  // 0 is a count: a pool, stopped at 0
}

TEST_CASE("resque-pool config: the shipped example loads") {
  auto r = load_resque_pool_config(std::string(DROVER_SOURCE_DIR) + "/examples/resque-pool.yml", "production", "");
  REQUIRE(r);
  CHECK(r->size() == 3);
}

TEST_CASE("resque-pool config: a key given twice in one mapping is refused with the key and both lines") {
  CHECK(error_of("foo: 1\nbar: 2\nfoo: 3\n") == ":3: duplicate key \"foo\" (first at line 1); keep one");
  CHECK(error_of("foo: 1\nproduction:\n  bar: 2\n  bar: 4\n", "production") ==
        ":4: duplicate key \"bar\" (first at line 3); keep one");
  CHECK(error_of("production:\n  bar: 2\nproduction:\n  bar: 4\n", "production") ==
        ":3: duplicate key \"production\" (first at line 1); keep one");
  // A section's entry overriding the top level's is resque-pool's rule, not a duplicate.
  CHECK(error_of("foo: 1\nproduction:\n  foo: 4\n", "production").empty());
}
