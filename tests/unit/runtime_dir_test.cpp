// runtime_dir (issue 12): the per-user base directory, one 0700 directory per drover named
// by its pid, stale ones removed at start, and a base someone else planted refused.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "engine/runtime_dir.h"
#include "tests/support/scoped_env.h"

using namespace drover;
using namespace drover::test;

namespace {

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

bool exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

// A pid that was ours a moment ago and is now gone (reaped).
pid_t dead_pid() {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  REQUIRE(pid > 0);
  REQUIRE(waitpid(pid, nullptr, 0) == pid);
  return pid;
}

}  // namespace

TEST_CASE("runtime_dir: <XDG_RUNTIME_DIR>/drover/<pid>, all 0700 - a second one in the process is <pid>-N - removed at the end") {
  ScratchDir xdg;
  ScopedEnv env("XDG_RUNTIME_DIR", xdg.path());
  const std::string base = xdg.path() + "/drover";
  CHECK(runtime_base_dir() == base);
  std::string first_path;
  {
    auto first = RuntimeDir::create("");
    REQUIRE(first);
    first_path = (*first)->path();
    CHECK(first_path == base + "/" + std::to_string(getpid()));
    CHECK(mode_of(base) == 0700);
    CHECK(mode_of(first_path) == 0700);
    CHECK((*first)->file("control.sock") == first_path + "/control.sock");
    auto second = RuntimeDir::create("");
    REQUIRE(second);
    CHECK((*second)->path() != first_path);
    CHECK((*second)->path().rfind(first_path + "-", 0) == 0);
    CHECK(runtime_instance_pid(std::filesystem::path((*second)->path()).filename()) == getpid());
    // Each one's own: the second's cleanup of stale directories kept the first.
    CHECK(exists(first_path));
  }
  CHECK_FALSE(exists(first_path));
  CHECK(exists(base));  // the base stays for the next drover
}

TEST_CASE("runtime_dir: without XDG_RUNTIME_DIR the base is /tmp/drover-<uid>") {
  ScopedEnv env("XDG_RUNTIME_DIR", std::nullopt);
  CHECK(runtime_base_dir() == "/tmp/drover-" + std::to_string(geteuid()));
}

TEST_CASE("runtime_dir: instance names - a pid, or pid-N - nothing else") {
  CHECK(runtime_instance_pid("4242") == 4242);
  CHECK(runtime_instance_pid("4242-3") == 4242);
  CHECK(runtime_instance_pid("0") == 0);
  CHECK(runtime_instance_pid("4242-") == 0);
  CHECK(runtime_instance_pid("4242-x") == 0);
  CHECK(runtime_instance_pid("x4242") == 0);
  CHECK(runtime_instance_pid(".start") == 0);
  CHECK(runtime_instance_pid("12345678901") == 0);
}

TEST_CASE("runtime_dir: at start - a dead pid's directory is removed - a live one is kept - a reused pid's is removed") {
  ScratchDir xdg;
  ScopedEnv env("XDG_RUNTIME_DIR", xdg.path());
  const std::string base = xdg.path() + "/drover";
  REQUIRE(ensure_runtime_base(base));
  const std::string dead = base + "/" + std::to_string(dead_pid());
  REQUIRE(mkdir(dead.c_str(), 0700) == 0);
  std::ofstream(dead + "/heartbeat") << "";  // what a SIGKILLed drover leaves behind
  // A live process (our parent: the test runner's shell or ctest) with no start time on
  // record: kept, as nothing proves it is not the maker.
  const std::string live = base + "/" + std::to_string(getppid());
  REQUIRE(mkdir(live.c_str(), 0700) == 0);
  // Our own pid with another start time on record: an earlier process that had our pid.
  const std::string reused = base + "/" + std::to_string(getpid()) + "-99";
  REQUIRE(mkdir(reused.c_str(), 0700) == 0);
  std::ofstream(reused + "/.start") << "1\n";
  const std::string other = base + "/not-a-drover";
  REQUIRE(mkdir(other.c_str(), 0700) == 0);

  auto dir = RuntimeDir::create("");
  REQUIRE(dir);
  CHECK_FALSE(exists(dead));
  CHECK(exists(live));
  CHECK_FALSE(exists(reused));
  CHECK(exists(other));
  // Our own directory carries our start time, so the next drover keeps it while we live.
  CHECK_FALSE(runtime_instance_stale((*dir)->path(), getpid()));
}

TEST_CASE("runtime_dir: a planted base is refused - a symlink - another mode") {
  ScratchDir xdg;
  ScopedEnv env("XDG_RUNTIME_DIR", xdg.path());
  const std::string base = xdg.path() + "/drover";
  ScratchDir elsewhere;
  REQUIRE(symlink(elsewhere.path().c_str(), base.c_str()) == 0);
  auto planted = RuntimeDir::create("");
  REQUIRE_FALSE(planted);
  CHECK(planted.error().message() ==
        "runtime dir " + base + ": is a symlink, not a directory of ours: remove it");
  REQUIRE(unlink(base.c_str()) == 0);

  REQUIRE(mkdir(base.c_str(), 0755) == 0);
  REQUIRE(chmod(base.c_str(), 0755) == 0);  // whatever the umask
  auto open = RuntimeDir::create("");
  REQUIRE_FALSE(open);
  CHECK(open.error().message().find("must be ours and mode 0700 (it is 755") != std::string::npos);
  REQUIRE(chmod(base.c_str(), 0700) == 0);
  CHECK(RuntimeDir::create(""));
}

TEST_CASE("runtime_dir: an explicit path is used as it is - and kept") {
  ScratchDir scratch;
  const std::string wanted = scratch.file("mine");
  {
    auto dir = RuntimeDir::create(wanted);
    REQUIRE(dir);
    CHECK((*dir)->path() == wanted);
    CHECK(mode_of(wanted) == 0700);
  }
  CHECK(exists(wanted));
}
