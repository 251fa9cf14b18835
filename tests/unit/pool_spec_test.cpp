#include "engine/pool_spec.h"

#include <doctest/doctest.h>
#include <signal.h>

using namespace drover;

namespace {
PoolSpec valid() {
  PoolSpec p;
  p.name = "foo";
  p.argv = {"/bin/true"};
  return p;
}
}  // namespace

TEST_CASE("pool spec: plain command lines are split and exec'd directly") {
  CHECK(command_from_string("python3 worker.py --fast") == std::vector<std::string>{"python3", "worker.py", "--fast"});
  CHECK(command_from_string("rq worker 'high prio' \"x y\"") ==
        std::vector<std::string>{"rq", "worker", "high prio", "x y"});
  CHECK(command_from_string("cmd --opt=1") == std::vector<std::string>{"cmd", "--opt=1"});
  CHECK(command_from_string("   ").empty());
}

TEST_CASE("pool spec: shell syntax runs through /bin/sh -c") {
  using V = std::vector<std::string>;
  CHECK(command_from_string("a | b") == V{"/bin/sh", "-c", "a | b"});
  CHECK(command_from_string("echo $HOME") == V{"/bin/sh", "-c", "echo $HOME"});
  CHECK(command_from_string("MODE=fast worker") == V{"/bin/sh", "-c", "MODE=fast worker"});
  CHECK(command_from_string("say 'unbalanced") == V{"/bin/sh", "-c", "say 'unbalanced"});
}

TEST_CASE("pool spec: signal names in every spelling") {
  CHECK(signal_from_name("TERM") == SIGTERM);
  CHECK(signal_from_name("SIGQUIT") == SIGQUIT);
  CHECK(signal_from_name("usr1") == SIGUSR1);
  CHECK(signal_from_name("9") == SIGKILL);
  CHECK(signal_from_name("NOPE") == 0);
  CHECK(signal_from_name("999") == 0);
  CHECK(signal_name(SIGTERM) == "TERM");
  CHECK(signal_name(SIGKILL) == "KILL");
}

TEST_CASE("pool spec: validation names the pool and the field") {
  CHECK(validate_pool_spec(valid()));
  PoolSpec p = valid();
  p.n = -1;
  CHECK(validate_pool_spec(p).message() == "pool \"foo\": n = -1 is out of range 0..10000");
  p = valid();
  p.n = 11;
  CHECK_FALSE(validate_pool_spec(p, EngineLimits{.max_workers_per_pool = 10}));
  p = valid();
  p.argv.clear();
  CHECK(validate_pool_spec(p).message() == "pool \"foo\": cmd is empty");
  p = valid();
  p.name = "has space";
  CHECK_FALSE(validate_pool_spec(p));
  p.name = "baz,quux";
  CHECK(validate_pool_spec(p));
  p.name = "*";
  CHECK(validate_pool_spec(p));
  p = valid();
  p.grace_s = -1;
  CHECK_FALSE(validate_pool_spec(p));
  p = valid();
  p.backoff.max_s = 0.01;  // below initial
  CHECK(validate_pool_spec(p).message().find("backoff.max") != std::string::npos);
  p = valid();
  p.flap.max_exits = 0;
  CHECK_FALSE(validate_pool_spec(p));
  p = valid();
  p.env["A=B"] = "x";
  CHECK_FALSE(validate_pool_spec(p));
}
