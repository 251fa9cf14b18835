// control_socket (issue 12): which of this user's drovers `drover attach` with no address
// can find - live ones with a control socket, never a dead one's leftover.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "app/control_socket.h"
#include "tests/support/scoped_env.h"

using namespace drover;
using namespace drover::test;

namespace {

// A unix socket file at path, as the control server leaves one; closed (the file stays).
void make_socket_file(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  REQUIRE(path.size() < sizeof a.sun_path);
  std::strcpy(a.sun_path, path.c_str());
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  close(fd);
}

pid_t dead_pid() {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  REQUIRE(pid > 0);
  REQUIRE(waitpid(pid, nullptr, 0) == pid);
  return pid;
}

}  // namespace

TEST_CASE("control_socket: a live drover's socket is found - a dead one's, a socketless one's and an extra engine's are not") {
  ScratchDir xdg;
  ScopedEnv env("XDG_RUNTIME_DIR", xdg.path());
  const std::string base = runtime_base_dir();
  CHECK(find_control_sockets(base).empty());  // no base directory at all yet

  auto mine = RuntimeDir::create("");  // <base>/<our pid>
  REQUIRE(mine);
  CHECK(find_control_sockets(base).empty());  // no socket in it yet
  make_socket_file(control_socket_path(**mine));
  auto extra = RuntimeDir::create("");  // <base>/<our pid>-2: an in-process engine's
  REQUIRE(extra);
  make_socket_file(control_socket_path(**extra));
  const std::string dead = base + "/" + std::to_string(dead_pid());
  REQUIRE(mkdir(dead.c_str(), 0700) == 0);
  make_socket_file(dead + "/control.sock");

  auto found = find_control_sockets(base);
  REQUIRE(found.size() == 1);
  CHECK(found[0].pid == getpid());
  CHECK(found[0].path == base + "/" + std::to_string(getpid()) + "/control.sock");
}

TEST_CASE("control_socket: a pid names a drover only while its directory is a live one's") {
  ScratchDir xdg;
  ScopedEnv env("XDG_RUNTIME_DIR", xdg.path());
  const std::string base = runtime_base_dir();
  CHECK_FALSE(control_socket_of(base, getpid()));
  auto mine = RuntimeDir::create("");
  REQUIRE(mine);
  CHECK(control_socket_of(base, getpid()) == control_socket_path(**mine));
  const pid_t gone = dead_pid();
  REQUIRE(mkdir((base + "/" + std::to_string(gone)).c_str(), 0700) == 0);
  CHECK_FALSE(control_socket_of(base, gone));
  CHECK_FALSE(control_socket_of(base, 0));
}
