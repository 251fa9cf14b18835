// --pid-file through the real binary: never through a symlink, locked against a second
// drover, write errors reported, and removed at exit only while it still holds our pid.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "tests/support/drover_process.h"
#include "tests/support/test_util.h"

using namespace drover::test;

namespace {

using Drover = DroverProcess;

std::string one_pool() {
  return "defaults { grace = 1 }\npool \"a\" { cmd = { \"" + std::string(fake_worker_path()) +
         "\", \"sleep\" }, n = 1 }\n";
}

bool exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

}  // namespace

TEST_CASE("pid file: written whole and locked - a second drover with the same file fails clearly") {
  TempDir dir;
  write_file(dir.file("pools.lua"), one_pool());
  Drover first({dir.file("pools.lua"), "--no-shell", "-q", "--pid-file", dir.file("pid")}, dir.file("err1"));
  REQUIRE(wait_until([&] { return first.workers().size() == 1; }, 5s));
  CHECK(read_file(dir.file("pid")) == std::to_string(first.pid()) + "\n");

  Drover second({dir.file("pools.lua"), "--no-shell", "-q", "--pid-file", dir.file("pid")}, dir.file("err2"));
  CHECK(second.wait_exit(5s) == 1);
  INFO("stderr: ", read_file(dir.file("err2")));
  CHECK(read_file(dir.file("err2")).find("pid file " + dir.file("pid") + ": locked by a running drover (pid " +
                                         std::to_string(first.pid()) + ")") != std::string::npos);
  // The second one neither overwrote nor removed the first's file.
  CHECK(read_file(dir.file("pid")) == std::to_string(first.pid()) + "\n");
  first.signal(SIGTERM);
  CHECK(first.wait_exit(5s) == 0);
  CHECK_FALSE(exists(dir.file("pid")));
}

TEST_CASE("pid file: a symlink at the path is refused - its target is left alone") {
  TempDir dir;
  write_file(dir.file("pools.lua"), one_pool());
  write_file(dir.file("precious"), "do not touch\n");
  REQUIRE(symlink(dir.file("precious").c_str(), dir.file("pid").c_str()) == 0);
  Drover d({dir.file("pools.lua"), "--no-shell", "-q", "--pid-file", dir.file("pid")}, dir.file("err"));
  CHECK(d.wait_exit(5s) == 1);
  INFO("stderr: ", read_file(dir.file("err")));
  CHECK(read_file(dir.file("err")).find("is a symbolic link; refused") != std::string::npos);
  CHECK(read_file(dir.file("precious")) == "do not touch\n");
}

TEST_CASE("pid file: an unwritable place is an error - drover does not run without it") {
  TempDir dir;
  write_file(dir.file("pools.lua"), one_pool());
  Drover d({dir.file("pools.lua"), "--no-shell", "-q", "--pid-file", dir.file("no/such/dir/pid")}, dir.file("err"));
  CHECK(d.wait_exit(5s) == 1);
  INFO("stderr: ", read_file(dir.file("err")));
  CHECK(read_file(dir.file("err")).find("pid file " + dir.file("no/such/dir/pid") + ": cannot create") !=
        std::string::npos);
}

TEST_CASE("pid file: at exit it is removed only if it still holds our pid") {
  TempDir dir;
  write_file(dir.file("pools.lua"), one_pool());
  Drover d({dir.file("pools.lua"), "--no-shell", "-q", "--pid-file", dir.file("pid")}, dir.file("err"));
  REQUIRE(wait_until([&] { return d.workers().size() == 1; }, 5s));
  // Someone else's now (another drover started after this one was thought gone).
  write_file(dir.file("pid.new"), "12345\n");
  REQUIRE(rename(dir.file("pid.new").c_str(), dir.file("pid").c_str()) == 0);
  d.signal(SIGTERM);
  const int rc = d.wait_exit(5s);
  INFO("stderr: ", read_file(dir.file("err")));
  CHECK(rc == 0);
  CHECK(read_file(dir.file("pid")) == "12345\n");
}
