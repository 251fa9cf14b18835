#include "shell/lua/config_loader.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

using namespace drover;

namespace {

using Argv = std::vector<std::string>;

// The error load_config_string gives for a chunk named pools.lua ("" when it loads).
std::string config_error(const std::string& text, const EngineLimits& limits = {}) {
  auto r = load_config_string(text, "@pools.lua", limits);
  return r ? "" : r.error().message();
}

LoadedConfig config(const std::string& text) {
  auto r = load_config_string(text, "@pools.lua");
  if (!r) FAIL("config did not load: " << r.error().message());
  return *r;
}

// A fresh directory for config files, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/drover-config-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string write(const std::string& name, const std::string& text) const {
    std::string file = path_ + "/" + name;
    std::ofstream(file) << text;
    return file;
  }

 private:
  std::string path_;
};

constexpr const char* kAllFields = "(fields: cmd, n, cwd, env, queue, stop_signal, stop_to, grace, backoff, flap, heartbeat, busy, jobs)";

}  // namespace

TEST_CASE("config: the header's example loads, with defaults inherited") {
  LoadedConfig c = config(R"(
    defaults { grace = 10, backoff = { initial = 0.1, max = 30 }, env = { A = "1" } }
    pool "foo" { cmd = "python3 worker.py", n = 2, env = { MODE = "fast" } }
    pool "bar" { cmd = { "./bar", "--fast" }, n = 2, cwd = "/srv/bar", stop_signal = "QUIT", stop_to = "group" }
  )");
  REQUIRE(c.pools.size() == 2);
  const PoolSpec& foo = c.pools[0];
  CHECK(foo.name == "foo");
  CHECK(foo.argv == Argv{"python3", "worker.py"});
  CHECK(foo.n == 2);
  CHECK(foo.grace_s == 10);
  CHECK(foo.env == std::map<std::string, std::string>{{"A", "1"}, {"MODE", "fast"}});
  CHECK(foo.stop_signal == SIGTERM);
  CHECK(foo.stop_to == StopTo::kAuto);  // by default ...
  CHECK(effective_stop_to(foo) == StopTo::kProcess);  // ... the worker alone, when drover execs it
  CHECK(foo.queue == "");  // the engine falls back to the name
  const PoolSpec& bar = c.pools[1];
  CHECK(bar.argv == Argv{"./bar", "--fast"});
  CHECK(bar.cwd == "/srv/bar");
  CHECK(bar.stop_signal == SIGQUIT);
  CHECK(bar.stop_to == StopTo::kGroup);
  CHECK(bar.backoff.initial_s == 0.1);
  CHECK(bar.backoff.max_s == 30);
  CHECK(bar.backoff.factor == 2.0);  // untouched by the defaults
  CHECK(c.defaults.grace_s == 10);
}

TEST_CASE("config: every field is read") {
  LoadedConfig c = config(R"(pool "w" {
    cmd = { "sleep", 5 }, n = 3, cwd = "rel", env = { PORT = 8080, X = "y" }, queue = "high,low",
    stop_signal = 2, grace = 2.5,
    backoff = { initial = 0.5, max = 8, factor = 3, reset_after = 4 },
    flap = { max_exits = 7, window = 20, cooldown = 60, give_up_after = 2 },
    heartbeat = { timeout = 12.5, require = true },
  })");
  REQUIRE(c.pools.size() == 1);
  const PoolSpec& w = c.pools[0];
  CHECK(w.argv == Argv{"sleep", "5"});
  CHECK(w.n == 3);
  CHECK(w.cwd == "rel");  // a string chunk has no directory to resolve against
  CHECK(w.env == std::map<std::string, std::string>{{"PORT", "8080"}, {"X", "y"}});
  CHECK(w.queue == "high,low");
  CHECK(w.stop_signal == SIGINT);
  CHECK(w.grace_s == 2.5);
  CHECK(w.backoff.initial_s == 0.5);
  CHECK(w.backoff.max_s == 8);
  CHECK(w.backoff.factor == 3);
  CHECK(w.backoff.reset_after_s == 4);
  CHECK(w.flap.max_exits == 7);
  CHECK(w.flap.window_s == 20);
  CHECK(w.flap.cooldown_s == 60);
  CHECK(w.flap.give_up_after == 2);
  CHECK(w.heartbeat == HeartbeatPolicy{.timeout_s = 12.5, .require = true});
}

TEST_CASE("config: defaults apply to the pools after them, merged field by field") {
  LoadedConfig c = config(R"(
    pool "early" { cmd = "a" }
    defaults { n = 4, stop_signal = "INT", env = { A = "1", B = "2" }, flap = { window = 99 } }
    pool "late" { cmd = "b", env = { B = "own" }, flap = { max_exits = 9 } }
    defaults { grace = 1 }
    pool "later" { cmd = "c", n = 0 }
  )");
  REQUIRE(c.pools.size() == 3);
  CHECK(c.pools[0].n == 1);
  CHECK(c.pools[0].stop_signal == SIGTERM);
  CHECK(c.pools[0].env.empty());
  const PoolSpec& late = c.pools[1];
  CHECK(late.n == 4);
  CHECK(late.stop_signal == SIGINT);
  CHECK(late.env == std::map<std::string, std::string>{{"A", "1"}, {"B", "own"}});
  CHECK(late.flap.window_s == 99);
  CHECK(late.flap.max_exits == 9);
  CHECK(late.grace_s == 10);
  CHECK(c.pools[2].grace_s == 1);  // a second defaults{} adds to the first
  CHECK(c.pools[2].stop_signal == SIGINT);
  CHECK(c.pools[2].n == 0);
}

TEST_CASE("config: pools come back in the order the file defines them") {
  LoadedConfig c = config("pool 'zeta' { cmd = 'z' }\npool 'alpha' { cmd = 'a' }\npool 'mid' { cmd = 'm' }\n"
                          "for i = 1, 2 do pool('gen' .. i) { cmd = 'g' } end");
  REQUIRE(c.pools.size() == 5);
  CHECK(c.pools[0].name == "zeta");
  CHECK(c.pools[1].name == "alpha");
  CHECK(c.pools[2].name == "mid");
  CHECK(c.pools[3].name == "gen1");
  CHECK(c.pools[4].name == "gen2");
}

TEST_CASE("config: errors point at the line of the pool call") {
  CHECK(config_error("pool \"a\" { cmd = 'x' }\n\npool \"foo\" { cmd = 'x', nn = 2 }") ==
        std::string("pools.lua:3: pool \"foo\": unknown field 'nn' ") + kAllFields);
  // The body spans lines; Lua gives the call the line `pool` is on.
  CHECK(config_error("\npool \"foo\" {\n  cmd = 'x',\n  n = 'many',\n}") ==
        "pools.lua:2: pool \"foo\": n must be a whole number >= 0, got string");
  CHECK(config_error("pool 'a' { cmd = 'x', n = 2.5 }") ==
        "pools.lua:1: pool \"a\": n must be a whole number >= 0, got 2.5");
  CHECK(config_error("pool 'a' { cmd = 'x', n = -1 }") ==
        "pools.lua:1: pool \"a\": n must be a whole number >= 0, got -1");
  CHECK(config_error("pool 'a' { cmd = 'x', n = 1e12 }").find("n = 1000000000000.0 is too large") != std::string::npos);
  CHECK(config_error("pool 'a' { cmd = 'x', n = 2.0 }") == "");
  CHECK(config_error("pool 'a' { cmd = 'x', grace = '5' }") == "pools.lua:1: pool \"a\": grace must be a number, got string");
  CHECK(config_error("pool 'a' { cmd = 'x', cwd = 5 }") == "pools.lua:1: pool \"a\": cwd must be a string, got number");
  CHECK(config_error("pool 'a' { cmd = true }") ==
        "pools.lua:1: pool \"a\": cmd must be a string or a list of strings, got boolean");
  CHECK(config_error("pool 'a' { cmd = { 'x', {} } }") == "pools.lua:1: pool \"a\": cmd[2] must be a string, got table");
  CHECK(config_error("pool 'a' { cmd = { 'x', fast = true } }").find("cmd must be a plain list") != std::string::npos);
  CHECK(config_error("pool 'a' { cmd = 'x', env = { A = true } }") ==
        "pools.lua:1: pool \"a\": env.A must be a string or number, got boolean");
  CHECK(config_error("pool 'a' { cmd = 'x', env = { 'x' } }") ==
        "pools.lua:1: pool \"a\": env names must be strings, got number");
  CHECK(config_error("pool 'a' { cmd = 'x', backoff = 5 }") == "pools.lua:1: pool \"a\": backoff must be a table, got number");
  CHECK(config_error("pool 'a' { cmd = 'x', backoff = { min = 1 } }") ==
        "pools.lua:1: pool \"a\": unknown field 'min' in backoff (fields: initial, max, factor, reset_after)");
  CHECK(config_error("pool 'a' { cmd = 'x', flap = { max_exits = 0 } }") ==
        "pools.lua:1: pool \"a\": flap.max_exits must be a whole number >= 1, got 0");
  CHECK(config_error("pool 'a' { cmd = 'x', stop_signal = 'NOPE' }") ==
        "pools.lua:1: pool \"a\": stop_signal 'NOPE' is not a signal");
  CHECK(config_error("pool 'a' { cmd = 'x', stop_signal = {} }").find("signal name or number, got table") !=
        std::string::npos);
  CHECK(config_error("pool 'a' { cmd = 'x', stop_to = 'pgrp' }") ==
        "pools.lua:1: pool \"a\": stop_to must be \"auto\", \"process\" or \"group\", got 'pgrp'");
  CHECK(config_error("pool 'a' { 'x' }").find("pools.lua:1: pool \"a\": unexpected number key") == 0);
}

TEST_CASE("config: heartbeat in its three forms - off by default - inherited from defaults") {
  auto c = config("pool 'a' { cmd = 'x' }\n"
                  "pool 'b' { cmd = 'x', heartbeat = 30 }\n"
                  "pool 'c' { cmd = 'x', heartbeat = { timeout = 2.5, require = true } }\n"
                  "defaults { heartbeat = { timeout = 10 } }\n"
                  "pool 'd' { cmd = 'x' }\n"
                  "pool 'e' { cmd = 'x', heartbeat = false }\n");
  REQUIRE(c.pools.size() == 5);
  CHECK(c.pools[0].heartbeat == HeartbeatPolicy{});
  CHECK(c.pools[1].heartbeat == HeartbeatPolicy{.timeout_s = 30, .require = false});
  CHECK(c.pools[2].heartbeat == HeartbeatPolicy{.timeout_s = 2.5, .require = true});
  CHECK(c.pools[3].heartbeat == HeartbeatPolicy{.timeout_s = 10, .require = false});
  CHECK(c.pools[4].heartbeat == HeartbeatPolicy{});
}

TEST_CASE("config: heartbeat tables merge with the defaults field by field - false and a number override") {
  auto c = config("defaults { heartbeat = { timeout = 10, require = true } }\n"
                  "pool 'a' { cmd = 'x' }\n"
                  "pool 'b' { cmd = 'x', heartbeat = { timeout = 60 } }\n"
                  "pool 'c' { cmd = 'x', heartbeat = 5 }\n"
                  "pool 'd' { cmd = 'x', heartbeat = false }\n"
                  "pool 'e' { cmd = 'x', heartbeat = { require = false } }\n"
                  "defaults { heartbeat = 20 }\n"
                  "pool 'f' { cmd = 'x' }\n"
                  "defaults { heartbeat = false }\n"
                  "pool 'g' { cmd = 'x', heartbeat = { timeout = 1, require = true } }\n"
                  "pool 'h' { cmd = 'x' }\n");
  REQUIRE(c.pools.size() == 8);
  CHECK(c.pools[0].heartbeat == HeartbeatPolicy{.timeout_s = 10, .require = true});
  CHECK(c.pools[1].heartbeat == HeartbeatPolicy{.timeout_s = 60, .require = true});  // require inherited
  CHECK(c.pools[2].heartbeat == HeartbeatPolicy{.timeout_s = 5, .require = true});   // 30 is { timeout = 30 }
  CHECK(c.pools[3].heartbeat == HeartbeatPolicy{});
  CHECK(c.pools[4].heartbeat == HeartbeatPolicy{.timeout_s = 10, .require = false});
  CHECK(c.pools[5].heartbeat == HeartbeatPolicy{.timeout_s = 20, .require = true});  // defaults merge too
  CHECK(c.pools[6].heartbeat == HeartbeatPolicy{.timeout_s = 1, .require = true});
  CHECK(c.pools[7].heartbeat == HeartbeatPolicy{});
  // A require from the defaults with the pool's own timeout: one setting made of two.
  auto d = config("defaults { heartbeat = 30 }\npool 'a' { cmd = 'x', heartbeat = { require = true } }\n");
  CHECK(d.pools[0].heartbeat == HeartbeatPolicy{.timeout_s = 30, .require = true});
}

TEST_CASE("config: heartbeat errors point at the pool and the field") {
  CHECK(config_error("pool 'a' { cmd = 'x', heartbeat = true }") ==
        "pools.lua:1: pool \"a\": heartbeat = true says no timeout; write heartbeat = { timeout = 30 }");
  CHECK(config_error("pool 'a' { cmd = 'x', heartbeat = 'soon' }") ==
        "pools.lua:1: pool \"a\": heartbeat must be false, a timeout in seconds or { timeout = S, require = B }, got string");
  CHECK(config_error("pool 'a' { cmd = 'x', heartbeat = 0 }") ==
        "pools.lua:1: pool \"a\": heartbeat must be a number of seconds in (0, 86400], got 0 "
        "(heartbeat = false turns heartbeats off)");
  CHECK(config_error("pool 'a' { cmd = 'x', heartbeat = -1 }") ==
        "pools.lua:1: pool \"a\": heartbeat must be a number of seconds in (0, 86400], got -1");
  CHECK(config_error("pool 'a' { cmd = 'x', heartbeat = { timeout = 0 } }") ==
        "pools.lua:1: pool \"a\": heartbeat.timeout must be a number of seconds in (0, 86400], got 0 "
        "(heartbeat = false turns heartbeats off)");
  CHECK(config_error("pool 'a' { cmd = 'x', heartbeat = { timeout = 0/0 } }")
            .find("pool \"a\": heartbeat.timeout must be a number of seconds in (0, 86400], got ") == 13);
  CHECK(config_error("pool 'a' { cmd = 'x', heartbeat = { timeout = 1/0 } }") ==
        "pools.lua:1: pool \"a\": heartbeat.timeout must be a number of seconds in (0, 86400], got inf");
  CHECK(config_error("pool 'a' { cmd = 'x', heartbeat = { timeout = 86401 } }") ==
        "pools.lua:1: pool \"a\": heartbeat.timeout must be a number of seconds in (0, 86400], got 86401");
  CHECK(config_error("pool 'a' { cmd = 'x', heartbeat = { timeout = 86400 } }") == "");
  CHECK(config_error("pool 'a' { cmd = 'x', heartbeat = { timeout = 0.05 } }") == "");
  CHECK(config_error("pool 'a' { cmd = 'x', heartbeat = { timeout = '30' } }") ==
        "pools.lua:1: pool \"a\": heartbeat.timeout must be a number, got string");
  CHECK(config_error("pool 'a' { cmd = 'x', heartbeat = { require = true } }") ==
        "pools.lua:1: pool \"a\": heartbeat.require needs a timeout; write heartbeat = { timeout = 30, require = true }");
  CHECK(config_error("pool 'a' { cmd = 'x', heartbeat = { timeout = 5, require = 'yes' } }") ==
        "pools.lua:1: pool \"a\": heartbeat.require must be true or false, got string");
  CHECK(config_error("pool 'a' { cmd = 'x', heartbeat = { timeout = 5, every = 1 } }") ==
        "pools.lua:1: pool \"a\": unknown field 'every' in heartbeat (fields: timeout, require)");
  CHECK(config_error("pool 'a' { cmd = 'x', heartbeat = { 30 } }") ==
        "pools.lua:1: pool \"a\": unexpected number key in heartbeat; write name = value (fields: timeout, require)");
  // In defaults, at the defaults' own line.
  CHECK(config_error("pool 'a' { cmd = 'x' }\n\ndefaults { heartbeat = { timeout = -5 } }") ==
        "pools.lua:3: defaults: heartbeat.timeout must be a number of seconds in (0, 86400], got -5");
  CHECK(config_error("\ndefaults { heartbeat = { require = true } }") ==
        "pools.lua:2: defaults: heartbeat.require needs a timeout; write heartbeat = { timeout = 30, require = true }");
  CHECK(config_error("defaults { heartbeat = { timeout = 5, Require = true } }") ==
        "pools.lua:1: defaults: unknown field 'Require' in heartbeat (fields: timeout, require)");
  // Turning heartbeats off under an inherited require is fine: false clears both.
  CHECK(config_error("defaults { heartbeat = { timeout = 5, require = true } }\n"
                     "pool 'a' { cmd = 'x', heartbeat = false }") == "");
}

TEST_CASE("config: missing, empty and duplicate pools") {
  CHECK(config_error("pool 'a' { n = 1 }") == "pools.lua:1: pool \"a\": cmd is missing");
  CHECK(config_error("pool 'a' { cmd = '' }") == "pools.lua:1: pool \"a\": cmd is empty");
  CHECK(config_error("pool 'a' { cmd = {} }") == "pools.lua:1: pool \"a\": cmd is empty");
  CHECK(config_error("pool \"a\" { cmd = 'x' }\npool \"a\" { cmd = 'y' }") == "pools.lua:2: pool \"a\" is defined twice");
  CHECK(config_error("pool 'a' { cmd = 'x' }\n\npool 'b'\n") ==
        "pools.lua:3: pool \"b\" has no definition; write pool \"b\" { cmd = ..., n = ... }");
  CHECK(config_error("pool 'a' 'b'").find("pools.lua:1: pool \"a\": expected a table") == 0);
  CHECK(config_error("pool(5)").find("pools.lua:1: pool: expected a name") == 0);
}

TEST_CASE("config: validate_pool_spec's verdict carries the line too") {
  CHECK(config_error("\npool 'a' { cmd = 'x', n = 20000 }") == "pools.lua:2: pool \"a\": n = 20000 is out of range 0..10000");
  CHECK(config_error("pool 'a' { cmd = 'x', n = 11 }", EngineLimits{.max_workers_per_pool = 10}) ==
        "pools.lua:1: pool \"a\": n = 11 is out of range 0..10");
  CHECK(config_error("pool 'a' { cmd = 'x', backoff = { initial = 5, max = 1 } }") ==
        "pools.lua:1: pool \"a\": backoff.max = 1 must be >= backoff.initial (5)");
  CHECK(config_error("pool 'a b' { cmd = 'x' }").find("pools.lua:1: pool \"a b\": name may hold") == 0);
  CHECK(config_error("pool 'a' { cmd = 'x', env = { ['A=B'] = 'x' } }").find("pools.lua:1: pool \"a\": env key") == 0);
}

TEST_CASE("config: defaults are checked where they are written") {
  CHECK(config_error("\ndefaults { nn = 1 }") ==
        "pools.lua:2: defaults: unknown field 'nn' (fields: n, cwd, env, stop_signal, stop_to, grace, backoff, flap, heartbeat)");
  CHECK(config_error("defaults { cmd = 'x' }") == "pools.lua:1: defaults: cmd cannot be a default; give each pool its own");
  CHECK(config_error("defaults { queue = 'q' }").find("queue cannot be a default") != std::string::npos);
  CHECK(config_error("\n\ndefaults { grace = -1 }\npool 'a' { cmd = 'x' }") ==
        "pools.lua:3: defaults: grace = -1 must be >= 0 seconds");
  CHECK(config_error("defaults 'x'").find("pools.lua:1: defaults: expected a table") == 0);
}

TEST_CASE("config: syntax and runtime errors, and no way out of the process") {
  CHECK(config_error("pool \"a\" {\n cmd = 'x' n = 1 }").find("pools.lua:2:") == 0);
  CHECK(config_error("\nerror('custom failure')") == "pools.lua:2: custom failure");
  CHECK(config_error("error({})") == "(error object is a table value)");
  CHECK(config_error("error(setmetatable({}, { __tostring = function() return 'shown' end }))") == "shown");
  CHECK(config_error("os.exit(3)") == "pools.lua:1: os.exit is not available in a config file");
  CHECK(config_error("local x = string.rep('a', 3) .. os.getenv('HOME')") == "");  // the stdlib is there
  auto r = load_config_string("x(", "=pools");
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("pools:1:") == 0);
}

TEST_CASE("config file: relative cwd and the default cwd are the file's directory") {
  ScratchDir dir;
  std::string file = dir.write("pools.lua", "pool 'a' { cmd = 'x', cwd = 'sub' }\n"
                                            "pool 'b' { cmd = 'x' }\n"
                                            "pool 'c' { cmd = 'x', cwd = '/abs/path' }\n"
                                            "pool 'd' { cmd = 'x', cwd = '../up/./there' }\n"
                                            "pool 'e' { cmd = 'x', cwd = '.' }\n"
                                            "defaults { cwd = 'shared' }\n"
                                            "pool 'f' { cmd = 'x' }\n");
  auto r = load_config_file(file);
  REQUIRE(r);
  REQUIRE(r->pools.size() == 6);
  std::string parent = std::filesystem::path(dir.path()).parent_path().string();
  CHECK(r->pools[0].cwd == dir.path() + "/sub");
  CHECK(r->pools[1].cwd == dir.path());
  CHECK(r->pools[2].cwd == "/abs/path");
  CHECK(r->pools[3].cwd == parent + "/up/there");
  CHECK(r->pools[4].cwd == dir.path());
  CHECK(r->pools[5].cwd == dir.path() + "/shared");
  CHECK(r->defaults.cwd == dir.path() + "/shared");
}

TEST_CASE("config file: errors name the file; a #! line is skipped and lines still count") {
  ScratchDir dir;
  std::string file = dir.write("bad.lua", "#!/usr/bin/env drover\npool 'ok' { cmd = 'x' }\npool 'a' { cmd = 'x', nn = 1 }\n");
  auto r = load_config_file(file);
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find(":3: pool \"a\": unknown field 'nn'") != std::string::npos);
  CHECK(r.error().message().find("bad.lua") != std::string::npos);

  auto missing = load_config_file(dir.path() + "/nope.lua");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == Status::Code::kNotFound);
  CHECK(missing.error().message() == "cannot open " + dir.path() + "/nope.lua: No such file or directory");
  auto relative = load_config_file("drover-no-such-config.lua");
  REQUIRE_FALSE(relative);
  CHECK(relative.error().message() == "cannot open drover-no-such-config.lua: No such file or directory");

  auto directory = load_config_file(dir.path());  // opens, but cannot be read
  REQUIRE_FALSE(directory);
  CHECK(directory.error().code() == Status::Code::kIoError);
  CHECK(directory.error().message().find("cannot read") == 0);
}

TEST_CASE("config: busy = redis{...} names where the workers' busy state is read (issue 11)") {
  LoadedConfig cfg = config(R"(
pool "w" { cmd = "rq worker default", busy = redis{ rq = "default", url = "redis://127.0.0.1:6380/2" } }
pool "r" { cmd = "rake resque:work", busy = redis{ resque = "high", namespace = "jobs", timeout = 2 } }
pool "p" { cmd = "plain" }
)");
  REQUIRE(cfg.pools.size() == 3);
  CHECK(cfg.pools[0].busy_registry == BusyRegistry{"rq", "redis://127.0.0.1:6380/2", "resque", 1.0});
  CHECK(cfg.pools[1].busy_registry == BusyRegistry{"resque", "redis://127.0.0.1:6379/0", "jobs", 2.0});
  CHECK_FALSE(cfg.pools[2].busy_registry.enabled());
}

TEST_CASE("config: a bad busy field is an error naming it") {
  CHECK(config_error(R"(pool "w" { cmd = "x", busy = "rq" })").find("busy must be redis{ rq = \"QUEUE\" }") !=
        std::string::npos);
  CHECK(config_error(R"(pool "w" { cmd = "x", busy = redis{ url = "redis://h/0" } })").find("name the queue system") !=
        std::string::npos);
  CHECK(config_error(R"(pool "w" { cmd = "x", busy = redis{ key = "jobs" } })").find("unknown field 'key' in busy") !=
        std::string::npos);
  CHECK(config_error(R"(pool "w" { cmd = "x", busy = redis{ rq = "a", sidekiq = "b" } })").find("give one of") !=
        std::string::npos);
  CHECK(config_error(R"(pool "w" { cmd = "x", busy = redis{ rq = "a", url = "http://h" } })").find("busy.url") !=
        std::string::npos);
  CHECK(config_error(R"(pool "w" { cmd = "x", busy = redis{ rq = "a", timeout = 0 } })").find("busy.timeout") !=
        std::string::npos);
  CHECK(config_error(R"(defaults { busy = redis{ rq = "a" } })").find("busy cannot be a default") != std::string::npos);
}

TEST_CASE("config: jobs = true is exec mode - a table picks worker mode and its prefetch - bad values named") {
  const auto c = config("pool 'e' { cmd = 'x', jobs = true }\n"
                        "pool 'w' { cmd = 'x', jobs = { mode = 'worker', prefetch = 8 } }\n"
                        "pool 'p' { cmd = 'x', jobs = false }\n");
  REQUIRE(c.pools.size() == 3);
  CHECK(c.pools[0].exec_jobs());
  CHECK(c.pools[1].worker_jobs());
  CHECK(c.pools[1].job_prefetch == 8);
  CHECK_FALSE(c.pools[2].jobs);
  CHECK(config_error("pool 'a' { cmd = 'x', jobs = { mode = 'fork' } }") ==
        "pools.lua:1: pool \"a\": jobs.mode must be \"exec\" or \"worker\", got \"fork\"");
  CHECK(config_error("pool 'a' { cmd = 'x', jobs = { mode = 'worker', prefetch = 0 } }").find("jobs.prefetch") !=
        std::string::npos);
  CHECK(config_error("pool 'a' { cmd = 'x', jobs = { mode = 'worker', prefech = 2 } }").find("prefech") !=
        std::string::npos);
  CHECK(config_error("pool 'a' { cmd = 'x', jobs = 'worker' }").find("jobs must be true, false or") != std::string::npos);
}
