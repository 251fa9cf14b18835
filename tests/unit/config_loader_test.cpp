#include "shell/lua/config_loader.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace drover;

TEST_CASE("config: the issue's example loads, with defaults inherited") {
  auto r = load_config_string(R"(
    defaults { grace = 10, backoff = { initial = 0.1, max = 30 }, env = { A = "1" } }
    pool "foo" { cmd = "python3 worker.py", n = 2, env = { MODE = "fast" } }
    pool "bar" { cmd = { "./bar", "--fast" }, n = 2, cwd = "/srv/bar", stop_signal = "QUIT" }
  )", "=pools");
  REQUIRE(r);
  REQUIRE(r->pools.size() == 2);
  const PoolSpec& foo = r->pools[0];
  CHECK(foo.name == "foo");
  CHECK(foo.argv == std::vector<std::string>{"python3", "worker.py"});
  CHECK(foo.n == 2);
  CHECK(foo.grace_s == 10);
  CHECK(foo.env.at("MODE") == "fast");
  CHECK(foo.env.at("A") == "1");  // merged over the defaults
  const PoolSpec& bar = r->pools[1];
  CHECK(bar.argv == std::vector<std::string>{"./bar", "--fast"});
  CHECK(bar.cwd == "/srv/bar");
  CHECK(bar.stop_signal == SIGQUIT);
  CHECK(bar.backoff.max_s == 30);
}

TEST_CASE("config: errors point at the line") {
  auto unknown = load_config_string("pool \"a\" { cmd = 'x', n = 1 }\npool \"b\" { cmd = 'x', nn = 2 }\n", "@pools.lua");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message().find("pools.lua:2:") == 0);
  CHECK(unknown.error().message().find("unknown field 'nn'") != std::string::npos);

  auto type = load_config_string("\n\npool \"a\" { cmd = 'x', n = 'many' }", "@pools.lua");
  REQUIRE_FALSE(type);
  CHECK(type.error().message().find("pools.lua:3:") == 0);
  CHECK(type.error().message().find("n must be a whole number") != std::string::npos);

  auto syntax = load_config_string("pool \"a\" {\n cmd = 'x' n = 1 }", "@pools.lua");
  REQUIRE_FALSE(syntax);
  CHECK(syntax.error().message().find("pools.lua:2:") == 0);

  auto dup = load_config_string("pool \"a\" { cmd = 'x' }\npool \"a\" { cmd = 'y' }", "@pools.lua");
  REQUIRE_FALSE(dup);
  CHECK(dup.error().message().find("pools.lua:2:") == 0);
  CHECK(dup.error().message().find("defined twice") != std::string::npos);

  auto nocmd = load_config_string("pool \"a\" { n = 1 }", "@pools.lua");
  REQUIRE_FALSE(nocmd);
  CHECK(nocmd.error().message().find("cmd is missing") != std::string::npos);

  auto badsig = load_config_string("pool \"a\" { cmd = 'x', stop_signal = 'NOPE' }", "@pools.lua");
  REQUIRE_FALSE(badsig);
  CHECK(badsig.error().message().find("stop_signal 'NOPE'") != std::string::npos);

  auto range = load_config_string("pool \"a\" { cmd = 'x', n = 20000 }", "@pools.lua");
  REQUIRE_FALSE(range);
  CHECK(range.error().message().find("pools.lua:1:") == 0);
  CHECK(range.error().message().find("out of range") != std::string::npos);

  auto runtime = load_config_string("error('custom failure')", "@pools.lua");
  REQUIRE_FALSE(runtime);
  CHECK(runtime.error().message().find("custom failure") != std::string::npos);
}

TEST_CASE("config file: relative cwd and the default cwd are the file's directory") {
  char tmpl[] = "/tmp/drover-config-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::ofstream(dir + "/pools.lua") << "pool \"a\" { cmd = 'x', cwd = 'sub' }\npool \"b\" { cmd = 'x' }\n";
  auto r = load_config_file(dir + "/pools.lua");
  REQUIRE(r);
  CHECK(r->pools[0].cwd == dir + "/sub");
  CHECK(r->pools[1].cwd == dir);
  auto missing = load_config_file(dir + "/nope.lua");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message().find("cannot open") != std::string::npos);
  std::filesystem::remove_all(dir);
}
