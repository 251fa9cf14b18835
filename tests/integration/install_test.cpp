// Issue 13's acceptance: `cmake --install` gives a drover that runs from its prefix alone.
// The source tree cannot be moved away while other tests run, so the test shows instead
// that the installed binary looks for its data under the prefix and nowhere in the source
// tree: a failed `load` names every directory it searched.
#include <doctest/doctest.h>

#include <filesystem>

#include "tests/support/run_command.h"
#include "tests/support/test_util.h"

using namespace drover::test;
namespace fs = std::filesystem;

namespace {

// A shell line's stdout and stderr together, and its exit status.
CommandResult sh(const std::string& line) { return run_command({"/bin/sh", "-c", line + " 2>&1"}); }

std::string quoted(const std::string& s) { return "'" + s + "'"; }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("install: cmake --install gives a drover that finds its policies, examples, help and man page under the prefix") {
  TempDir dir;
  const std::string prefix = dir.file("prefix");
  const CommandResult install =
      sh(quoted(CMAKE_COMMAND_PATH) + " --install " + quoted(DROVER_BUILD_DIR) + " --prefix " + quoted(prefix));
  INFO("cmake --install: ", install.out);
  REQUIRE(install.status == 0);

  for (const char* f : {"bin/drover", "libexec/drover/heartbeat_worker", "share/drover/policies/queue_proportional.lua",
                        "share/drover/policies/target_tracking.lua", "share/drover/policies/load_guard.lua",
                        "share/drover/policies/schedule.lua", "share/drover/policies/rebalance.lua",
                        "share/drover/examples/autoscale.lua", "share/drover/examples/pools.lua",
                        "share/drover/examples/heartbeats.lua", "share/drover/examples/workers/rq_list_worker.sh",
                        "share/doc/drover/README.md", "share/doc/drover/LICENSE", "share/doc/drover/help/load.md",
                        "share/man/man1/drover.1"}) {
    INFO(f);
    CHECK(fs::exists(fs::path(prefix) / f));
  }
  const std::string drover = prefix + "/bin/drover";
  REQUIRE(fs::exists(drover));
  // A config of its own in the temp dir, and no DROVER_PATH from the machine.
  write_file(dir.file("none.lua"), "no_pools()\n");
  const std::string run = "cd " + quoted(dir.path()) + " && env -u DROVER_PATH " + quoted(drover) + " none.lua ";

  SUBCASE("a policy name resolves under the prefix, never in the source tree") {
    const CommandResult missing = sh(run + "-e 'load \"no_such_policy\"'");
    INFO(missing.out);
    CHECK(missing.status != 0);
    CHECK(contains(missing.out, "load: no script no_such_policy (looked in"));
    CHECK(contains(missing.out, prefix + "/share/drover/policies"));
    CHECK_FALSE(contains(missing.out, DROVER_SOURCE_DIR));
    const CommandResult qp = sh(run + "-e 'print(type(load \"queue_proportional\"), type(load \"rebalance.lua\"))'");
    INFO(qp.out);
    CHECK(qp.status == 0);
    CHECK(contains(qp.out, "function\tfunction"));
  }

  SUBCASE("DROVER_PATH comes before the shipped policies") {
    fs::create_directory(dir.file("mine"));
    write_file(dir.file("mine/queue_proportional.lua"), "return 'mine'\n");
    const CommandResult r = sh("cd " + quoted(dir.path()) + " && DROVER_PATH=" + quoted(dir.file("nowhere") + ":" +
                               dir.file("mine")) + " " + quoted(drover) + " none.lua -e 'print(load \"queue_proportional\")'");
    INFO(r.out);
    CHECK(r.status == 0);
    CHECK(contains(r.out, "mine"));
  }

  SUBCASE("the installed autoscale example runs as it is") {
    // Without Redis its pool keeps its size; the config ran, queue_proportional included.
    const CommandResult r = sh("cd / && env -u DROVER_PATH REDIS_PORT=1 " + quoted(drover) + " " +
                               quoted(prefix + "/share/drover/examples/autoscale.lua") +
                               " -e 'print(autoscale.list()[1].pool)'");
    INFO(r.out);
    CHECK(r.status == 0);
    CHECK(contains(r.out, "default"));
  }

  SUBCASE("the installed heartbeats example runs the installed C++ worker and drover heartbeat") {
    // Its build-tree paths were rewritten at install; 3 s give every worker a job and a beat.
    const std::string log = dir.file("heartbeats.log");
    sh("cd / && timeout -s TERM 3 " + quoted(drover) + " " + quoted(prefix + "/share/drover/examples/heartbeats.lua") +
       " --no-shell -q --log " + quoted(log));
    const std::string text = read_file(log);
    INFO(text);
    CHECK(contains(text, "heartbeat_worker[0]: job 1 started"));
    CHECK(contains(text, "heartbeat_worker.sh[0]: job 1 started"));
    CHECK_FALSE(contains(text, "heartbeat not sent"));
  }

  SUBCASE("help() lists the commands") {
    const CommandResult r = sh(run + "-e 'help()'");
    INFO(r.out);
    CHECK(r.status == 0);
    CHECK(contains(r.out, "autoscale"));
    CHECK(contains(r.out, "load \"name\""));
  }

  SUBCASE("the man page renders without warnings") {
    const std::string page = quoted(prefix + "/share/man/man1/drover.1");
    const CommandResult warnings = run_command({"/bin/sh", "-c", "MANWIDTH=80 man --warnings -l " + page + " 2>&1 >/dev/null"});
    CHECK(warnings.status == 0);
    CHECK(warnings.out == "");
    const CommandResult r = sh("MANWIDTH=80 man -l " + page);
    CHECK(r.status == 0);
    for (const char* section : {"SYNOPSIS", "OPTIONS", "SHELL COMMANDS", "ENVIRONMENT", "DROVER_PATH", "--workers"}) {
      INFO(section);
      CHECK(contains(r.out, section));
    }
  }
}
