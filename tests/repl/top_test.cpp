// top() through a pseudo-terminal (issue 16): it draws, + resizes the selected pool, l
// shows its log, and q or Ctrl-C gives the prompt back, here and attached.
#include <doctest/doctest.h>
#include <signal.h>

#include "tests/support/pty_session.h"
#include "tests/support/test_util.h"

using namespace drover::test;

namespace {

constexpr const char* kPrompt = kShellPrompt;

std::vector<std::string> shell_env(const TempDir& dir) {
  return {"NO_COLOR=1", "XDG_STATE_HOME=" + dir.path(), "PAGER=cat", "DROVER_HTTP_TOKEN=top-test-token-0123456789"};
}

std::string sleeper() { return std::string(fake_worker_path()) + " sleep"; }

int size_of(PtySession& s, const std::string& pool) {
  return std::stoi(run_lua(s, "print(status().pools['" + pool + "'].n)"));
}

// top() on the session, its pool foo drawn and selected (the only pool): "> foo".
void open_top(PtySession& s) {
  s.send_line("top()");
  REQUIRE(s.expect("> foo", std::chrono::seconds(15)));
  REQUIRE(s.expect("q quit", std::chrono::seconds(15)));  // the whole first frame
}

}  // namespace

TEST_CASE("top: draws the pool - + resizes it - l shows its log - q returns to the prompt") {
  TempDir dir;
  PtySession s({drover_path(), "--workers", "foo=2", "--cmd", sleeper()}, shell_env(dir));
  REQUIRE(s.expect(kPrompt, std::chrono::seconds(15)));
  run_lua(s, "");
  open_top(s);
  s.send("+");
  // The view says what it did and, read again at once, shows the new size.
  REQUIRE(s.expect("foo: 2 -> 3", std::chrono::seconds(15)));
  REQUIRE(s.expect("/3", std::chrono::seconds(15)));
  REQUIRE(s.expect("foo resized: 2 -> 3", std::chrono::seconds(15)));  // the engine's event, under the pools
  s.send("l");
  REQUIRE(s.expect("log of foo", std::chrono::seconds(15)));
  s.send("\x1b");  // Esc: back to the pools
  REQUIRE(s.expect("latest events", std::chrono::seconds(15)));
  s.send("q");
  REQUIRE(s.expect(kPrompt, std::chrono::seconds(15)));
  // The prompt works, and the engine has the size top() gave it.
  CHECK(size_of(s, "foo") == 3);
  CHECK(run_lua(s, "print(1 + 1)") == "2\n");
  s.send_line("exit()");
  CHECK(s.wait_exit(std::chrono::seconds(30)) == 0);
}

TEST_CASE("top: Ctrl-C returns to the prompt - and - shrinks") {
  TempDir dir;
  PtySession s({drover_path(), "--workers", "foo=2", "--cmd", sleeper()}, shell_env(dir));
  REQUIRE(s.expect(kPrompt, std::chrono::seconds(15)));
  run_lua(s, "");
  open_top(s);
  s.send("-");
  REQUIRE(s.expect("foo: 2 -> 1", std::chrono::seconds(15)));
  s.send("\x03");
  REQUIRE(s.expect(kPrompt, std::chrono::seconds(15)));
  CHECK(size_of(s, "foo") == 1);
  // Ctrl-C ended the view, not the next command.
  CHECK(run_lua(s, "print('still' .. ' here')") == "still here\n");
  s.send_line("exit()");
  CHECK(s.wait_exit(std::chrono::seconds(30)) == 0);
}

TEST_CASE("top: drover attach - the same view of the drover there - + resizes it there") {
  TempDir dir;
  const std::string port = std::to_string(free_port());
  PtySession host({drover_path(), "--workers", "foo=1", "--cmd", sleeper(), "--no-shell", "-q", "--http",
                   "127.0.0.1:" + port},
                  shell_env(dir));
  REQUIRE(host.expect("serving http://127.0.0.1:" + port, std::chrono::seconds(15)));
  PtySession s({drover_path(), "attach", "127.0.0.1:" + port}, shell_env(dir));
  REQUIRE(s.expect(kPrompt, std::chrono::seconds(15)));
  run_lua(s, "");
  open_top(s);
  REQUIRE(s.expect("the drover at 127.0.0.1:" + port, std::chrono::seconds(15)));  // the title says where
  s.send("+");
  REQUIRE(s.expect("foo: 1 -> 2", std::chrono::seconds(15)));
  s.send("q");
  REQUIRE(s.expect(kPrompt, std::chrono::seconds(15)));
  CHECK(size_of(s, "foo") == 2);
  s.send("\x04");  // detach
  CHECK(s.wait_exit(std::chrono::seconds(15)) == 0);
  kill(host.pid(), SIGTERM);
  CHECK(host.wait_exit(std::chrono::seconds(30)) == 0);
}

TEST_CASE("top: without a terminal it is an error - not a drawing") {
  TempDir dir;
  const std::string cmd = std::string(drover_path()) + " --workers foo=1 --cmd '" + sleeper() +
                          "' -e 'print(pcall(top))' </dev/null";
  PtySession s({"/bin/sh", "-c", cmd}, shell_env(dir));
  CHECK(s.expect("false\ttop() draws on a terminal", std::chrono::seconds(15)));
  CHECK(s.wait_exit(std::chrono::seconds(30)) == 0);
}
