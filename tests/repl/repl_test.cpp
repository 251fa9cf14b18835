// The drover shell through a pseudo-terminal: type commands, read the screen.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "tests/support/pty_session.h"
#include "tests/support/test_util.h"

using namespace drover::test;

namespace {

constexpr const char* kPrompt = kShellPrompt;

// PAGER=cat: a page taller than the session's 50 rows is printed through a pager that
// prints, not the default less, which would wait for a key.
std::vector<std::string> shell_env(const TempDir& dir) {
  return {"NO_COLOR=1", "XDG_STATE_HOME=" + dir.path(), "PAGER=cat"};
}

// drover's TCP listener always takes a token; host and attach both find it here.
std::vector<std::string> with_token(std::vector<std::string> env) {
  env.push_back("DROVER_HTTP_TOKEN=repl-test-token-0123456789");
  return env;
}

std::vector<std::string> shell_argv(const std::string& spec) {
  return {drover_path(), "--workers", spec, "--cmd", std::string(fake_worker_path()) + " sleep"};
}

// Ctrl-D, once the shell is surely at its prompt: a "drover> " inside printed text (a help
// page's examples) is not the prompt, and a Ctrl-D typed while the terminal is still in
// cooked mode is taken by the terminal as end-of-file and never reaches the line editor.
void ctrl_d(PtySession& s) {
  run_lua(s, "");
  s.send("\x04");
}

std::vector<pid_t> pids_of(PtySession& s, const std::string& pool) {
  std::istringstream in(run_lua(s, "for _, w in ipairs(status().pools['" + pool + "'].workers) do print(w.pid) end"));
  std::vector<pid_t> pids;
  for (pid_t p; in >> p;) pids.push_back(p);
  std::sort(pids.begin(), pids.end());
  return pids;
}

int running(PtySession& s, const std::string& pool) {
  return std::stoi(run_lua(s, "print(status().pools['" + pool + "'].running)"));
}

bool wait_running(PtySession& s, const std::string& pool, int n) {
  return wait_until([&] { return running(s, pool) == n; }, std::chrono::milliseconds(5000));
}

}  // namespace

TEST_CASE("repl: the resque-pool-dynamic session - replayed") {
  TempDir dir;
  PtySession s(shell_argv("foo=2:bar=2:*=1"), shell_env(dir));
  REQUIRE(s.expect(kPrompt));
  // Every pool, not one: on a loaded machine the last spawn may trail the first.
  REQUIRE(wait_running(s, "bar", 2));
  REQUIRE(wait_running(s, "foo", 2));
  REQUIRE(wait_running(s, "*", 1));

  s.send_line("status()");
  REQUIRE(s.expect("5/5 workers running"));
  std::string table = s.until(kPrompt);
  CHECK(table.find("bar") != std::string::npos);
  CHECK(table.find("foo") != std::string::npos);

  s.send_line("log.tail()");
  REQUIRE(s.expect("spawned pid"));
  s.send("\x03");  // Ctrl-C ends the follow, not drover
  REQUIRE(s.expect(kPrompt));

  auto bar_before = pids_of(s, "bar");
  auto all_before = pids_of(s, "foo");
  all_before.insert(all_before.end(), bar_before.begin(), bar_before.end());
  s.send_line("config{foo=1, bar=4}");
  REQUIRE(s.expect("bar = 4, foo = 1"));
  REQUIRE(s.expect(kPrompt));
  REQUIRE(wait_running(s, "bar", 4));
  REQUIRE(wait_running(s, "foo", 1));
  auto bar_after = pids_of(s, "bar");
  CHECK(bar_after.size() == 4);
  for (pid_t p : bar_before) CHECK(std::count(bar_after.begin(), bar_after.end(), p) == 1);

  s.send_line("pstree()");
  REQUIRE(s.expect("bar (4/4)"));
  REQUIRE(s.expect(kPrompt));

  auto everyone = pids_of(s, "foo");
  for (const auto& pool : {"bar", "*"})
    for (pid_t p : pids_of(s, pool)) everyone.push_back(p);
  s.send_line("exit()");
  CHECK(s.wait_exit(std::chrono::seconds(15)) == 0);
  for (pid_t p : everyone) CHECK_FALSE(pid_alive(p));
  for (pid_t p : all_before) CHECK_FALSE(pid_alive(p));
}

TEST_CASE("repl: completion of globals - fields and pool names") {
  TempDir dir;
  PtySession s(shell_argv("foo=1:bar=1:baz=1"), shell_env(dir));
  REQUIRE(s.expect(kPrompt));
  s.send("log.ta\t");  // one Tab completes the common part and lists the candidates
  REQUIRE(s.expect("log.tail_until"));
  s.send("\x15");  // Ctrl-U: clear the line
  s.send("stop \"fo\t");
  REQUIRE(s.expect("stop \"foo\""));
  s.send("\x15");
  s.send("stop \"ba\t");
  REQUIRE(s.expect("bar"));
  REQUIRE(s.expect("baz"));
  s.send("\x15");
  s.send("conf\t");
  REQUIRE(s.expect("config"));
  s.send("\x15\x04");
  CHECK(s.wait_exit(std::chrono::seconds(15)) == 0);
}

TEST_CASE("repl: history is kept between two runs") {
  TempDir dir;
  {
    PtySession s(shell_argv("foo=1"), shell_env(dir));
    REQUIRE(s.expect(kPrompt));
    s.send_line("x_history_marker = 41 + 1");
    REQUIRE(s.expect(kPrompt));
    s.send("\x04");  // Ctrl-D: graceful shutdown
    CHECK(s.wait_exit(std::chrono::seconds(15)) == 0);
  }
  PtySession s(shell_argv("foo=1"), shell_env(dir));
  REQUIRE(s.expect(kPrompt));
  s.send("\x1b[A");  // Up arrow recalls the last run's line
  REQUIRE(s.expect("x_history_marker = 41 + 1"));
  s.send("\r");
  CHECK(run_lua(s, "print(x_history_marker)") == "42\n");
  ctrl_d(s);
  CHECK(s.wait_exit(std::chrono::seconds(15)) == 0);
}

TEST_CASE("repl: Ctrl-C interrupts a busy loop and a follow - never the engine - workers are still replaced") {
  TempDir dir;
  PtySession s(shell_argv("foo=2"), shell_env(dir));
  REQUIRE(s.expect(kPrompt));
  REQUIRE(wait_running(s, "foo", 2));
  auto before = pids_of(s, "foo");

  s.send_line("while true do end");
  // The line editor echoes the newline once it has taken the line: only then does the
  // chunk own Ctrl-C (before, Ctrl-C abandons the line being typed, as in any shell).
  REQUIRE(s.expect("while true do end\n"));  // (\r is stripped)
  // While the shell is busy, supervision goes on: a killed worker is replaced.
  kill(before[0], SIGKILL);
  bool replaced = wait_until([&] {
    for (pid_t c : children_of(s.pid()))
      if (c != before[1] && proc_exe(c).find("fake_worker") != std::string::npos && c != before[0]) return true;
    return false;
  }, std::chrono::milliseconds(2000));
  CHECK(replaced);
  s.send("\x03");
  REQUIRE(s.expect("interrupted"));
  REQUIRE(s.expect(kPrompt));

  s.send_line("log.tail{pool='foo'}");
  s.send("\x03");
  REQUIRE(s.expect(kPrompt));
  // A Ctrl-C at an empty prompt, twice, does not exit either.
  s.send("\x03");
  s.send("\x03");
  CHECK(run_lua(s, "print(#status().pools.foo.workers)") == "2\n");
  s.send_line("exit()");
  CHECK(s.wait_exit(std::chrono::seconds(15)) == 0);
}

TEST_CASE("repl: bad input is a clear error and leaves state unchanged") {
  TempDir dir;
  PtySession s(shell_argv("foo=2:bar=1"), shell_env(dir));
  REQUIRE(s.expect(kPrompt));
  s.send_line("config{foo=-1}");
  REQUIRE(s.expect("out of range"));
  s.send_line("config{foo=\"x\"}");
  REQUIRE(s.expect("must be a whole number"));
  s.send_line("config{[\"no such\"]=1}");
  REQUIRE(s.expect("no pool named \"no such\""));
  s.send_line("config{foo=2.5}");
  REQUIRE(s.expect("must be a whole number"));
  s.send_line("x = = 1");
  REQUIRE(s.expect("unexpected symbol"));
  s.send_line("stop \"nosuch\"");
  REQUIRE(s.expect("no pool named \"nosuch\""));
  s.send_line("help \"nosuch\"");
  REQUIRE(s.expect("no page"));
  // An incomplete chunk continues on ">>" and runs once complete.
  s.send_line("for i = 1, 2 do");
  REQUIRE(s.expect(">> "));
  s.send_line("print('line' .. i) end");
  REQUIRE(s.expect("line2"));
  REQUIRE(s.expect(kPrompt));
  CHECK(run_lua(s, "local c = config() print(c.foo, c.bar)") == "2\t1\n");
  s.send_line("exit()");
  CHECK(s.wait_exit(std::chrono::seconds(15)) == 0);
}

TEST_CASE("repl: help lists every command and shows a page") {
  TempDir dir;
  PtySession s(shell_argv("foo=1"), shell_env(dir));
  REQUIRE(s.expect(kPrompt));
  s.send_line("help");
  REQUIRE(s.expect("config([sizes])"));
  REQUIRE(s.expect(kPrompt));
  CHECK(run_lua(s, "help \"config\"").find("show pool sizes, or resize pools live") != std::string::npos);
  ctrl_d(s);
  CHECK(s.wait_exit(std::chrono::seconds(15)) == 0);
}

TEST_CASE("repl: engine events are printed above the prompt - and events(false) silences them") {
  TempDir dir;
  PtySession s(shell_argv("foo=1"), shell_env(dir));
  REQUIRE(s.expect(kPrompt));
  REQUIRE(wait_running(s, "foo", 1));
  pid_t w = pids_of(s, "foo")[0];
  s.send("status");  // a half-typed line stays intact
  kill(w, SIGKILL);
  REQUIRE(s.expect("foo.0 exited pid " + std::to_string(w)));
  REQUIRE(s.expect("drover> status"));
  s.send("\x15");
  run_lua(s, "events(false)");
  pid_t w2 = pids_of(s, "foo")[0];
  kill(w2, SIGKILL);
  REQUIRE(wait_until([&] { return pids_of(s, "foo") != std::vector<pid_t>{w2}; }, std::chrono::milliseconds(3000)));
  CHECK(s.pending().find("exited pid " + std::to_string(w2)) == std::string::npos);
  ctrl_d(s);
  CHECK(s.wait_exit(std::chrono::seconds(15)) == 0);
}

TEST_CASE("repl: heartbeats show in status() and pstree() - heartbeat() gives the socket") {
  TempDir dir;
  // A shell worker beating through `drover heartbeat` (its pid: the sh that runs the loop).
  const std::string beat = std::string("while :; do ") + drover_path() +
                           " heartbeat --status job-7 --busy --progress 0.5; sleep 0.2; done";
  PtySession s({drover_path(), "--workers", "foo=1", "--cmd", beat}, shell_env(dir));
  REQUIRE(s.expect(kPrompt));
  REQUIRE(wait_until([&] { return run_lua(s, "print(status().pools.foo.busy)") == "1\n"; }, std::chrono::milliseconds(5000)));
  s.send_line("status()");
  REQUIRE(s.expect("b/i"));
  REQUIRE(s.expect("1/0"));
  REQUIRE(s.expect(kPrompt));
  s.send_line("pstree()");
  REQUIRE(s.expect("busy 50% \"job-7\""));
  REQUIRE(s.expect(kPrompt));
  CHECK(run_lua(s, "local h = heartbeat() print(h.endpoint:sub(1, 6), h.accepted > 0, h.malformed)") == "ipc://\ttrue\t0\n");
  CHECK(run_lua(s, "local w = status().pools.foo.workers[1] print(w.status, w.busy, w.progress, w.heartbeat_age < 1)") ==
        "job-7\ttrue\t0.5\ttrue\n");
  s.send_line("exit()");
  CHECK(s.wait_exit(std::chrono::seconds(15)) == 0);
}

TEST_CASE("repl: an autoscale policy typed at the prompt - its changes above the prompt - list - off - a follow lets it run") {
  TempDir dir;
  PtySession s(shell_argv("foo=1"), shell_env(dir));
  REQUIRE(s.expect(kPrompt));
  REQUIRE(wait_running(s, "foo", 1));
  run_lua(s, "want = 3 autoscale 'foo' { every = 0.1, max = 5, cooldown = 0, policy = function(m) return want, 'want ' .. want end }");
  REQUIRE(s.expect("foo autoscaled: 1 -> 3 (want 3)"));
  REQUIRE(wait_running(s, "foo", 3));
  const std::string list = run_lua(s, "print(autoscale.list())");
  CHECK(list.find("foo") != std::string::npos);
  CHECK(list.find("1..5") != std::string::npos);
  CHECK(list.find("on  (want 3)") != std::string::npos);
  // While the prompt follows the log, the policy still runs: its change shows in the follow.
  s.send_line("want = 4 log.tail_until('autoscaled: 3 %-> 4')");
  REQUIRE(s.expect("foo autoscaled: 3 -> 4 (want 4)"));
  REQUIRE(s.expect(kPrompt));
  run_lua(s, "autoscale.off 'foo' want = 1");
  CHECK(run_lua(s, "print(autoscale.list()[1].enabled)") == "false\n");
  CHECK(running(s, "foo") == 4);
  ctrl_d(s);
  CHECK(s.wait_exit(std::chrono::seconds(15)) == 0);
}

TEST_CASE("repl: drover attach - the same shell on a drover elsewhere - status - resize - help - completion - detach") {
  TempDir dir;
  const std::string port = std::to_string(free_port());
  PtySession host({drover_path(), "--workers", "foo=1:bar=2", "--cmd", std::string(fake_worker_path()) + " sleep",
                   "--no-shell", "-q", "--http", "127.0.0.1:" + port},
                  with_token(shell_env(dir)));
  REQUIRE(host.expect("serving http://127.0.0.1:" + port));
  PtySession s({drover_path(), "attach", "127.0.0.1:" + port}, with_token(shell_env(dir)));
  REQUIRE(s.expect("attached to drover at 127.0.0.1:" + port));
  REQUIRE(s.expect(kPrompt));
  REQUIRE(wait_running(s, "bar", 2));
  CHECK(run_lua(s, "print(pid() ~= nil, status().pid > 0)") == "true\ttrue\n");
  run_lua(s, "config{foo = 3}");
  CHECK(wait_running(s, "foo", 3));
  // The remote drover's events show above the prompt here.
  pid_t w = pids_of(s, "bar")[0];
  kill(w, SIGKILL);
  CHECK(s.expect("exited pid " + std::to_string(w)));
  s.send("stop \"fo\t");  // completion of the remote pool names
  REQUIRE(s.expect("stop \"foo\""));
  s.send("\x15");
  CHECK(run_lua(s, "help 'config'").find("config") != std::string::npos);
  CHECK(run_lua(s, "print(pcall(reload))").find("false") != std::string::npos);  // no config file here
  s.send("\x04");  // detach
  CHECK(s.wait_exit(std::chrono::seconds(15)) == 0);
  // The host goes on, with what the attached shell made of it.
  CHECK(kill(host.pid(), 0) == 0);
  PtySession again({drover_path(), "attach", "127.0.0.1:" + port, "-e", "status().pools.foo.n"},
                   with_token(shell_env(dir)));
  CHECK(again.expect("3"));
  CHECK(again.wait_exit(std::chrono::seconds(15)) == 0);
  kill(host.pid(), SIGTERM);
  CHECK(host.wait_exit(std::chrono::seconds(15)) == 0);
}

TEST_CASE("repl: an operator's habits - bare names are commands - help NAME - a hint where a call would guess") {
  TempDir dir;
  PtySession s(shell_argv("foo=2"), shell_env(dir));
  REQUIRE(s.expect(kPrompt));
  REQUIRE(wait_running(s, "foo", 2));
  s.send_line("status");
  REQUIRE(s.expect("2/2 workers running"));
  REQUIRE(s.expect(kPrompt));
  s.send_line("pstree");
  REQUIRE(s.expect("foo (2/2)"));
  REQUIRE(s.expect(kPrompt));
  s.send_line("help config");
  REQUIRE(s.expect("show pool sizes, or resize pools live"));
  REQUIRE(s.expect(kPrompt));
  s.send_line("help log.tail");  // a command of a group: the group's page
  REQUIRE(s.expect("log.tail_until"));
  REQUIRE(s.expect(kPrompt));
  // Needs arguments: its signature, not a call that fails or a guess.
  s.send_line("every");
  REQUIRE(s.expect("every needs arguments: every(seconds, fn)"));
  REQUIRE(s.expect(kPrompt));
  s.send_line("log");
  REQUIRE(s.expect("log -- captured worker output"));
  REQUIRE(s.expect(kPrompt));
  // The user's own names are Lua as always: a number prints, a function of theirs is not called.
  s.send_line("mine = 41 + 1");
  REQUIRE(s.expect(kPrompt));
  s.send_line("mine");
  REQUIRE(s.expect("42"));
  REQUIRE(s.expect(kPrompt));
  s.send_line("function called() print('was called') end");
  REQUIRE(s.expect(kPrompt));
  s.send_line("called");
  REQUIRE(s.expect("function"));
  const std::string shown = s.until(kPrompt);
  CHECK(shown.find("was called") == std::string::npos);
  s.send_line("quit");
  CHECK(s.wait_exit(std::chrono::seconds(15)) == 0);
}

TEST_CASE("repl: exit says what the stop did - workers stopped - killed after their grace") {
  TempDir dir;
  write_file(dir.file("pools.lua"), "defaults { grace = 1 }\n"
                                    "pool 'calm' { cmd = { '" + std::string(fake_worker_path()) + "', 'sleep' }, n = 2 }\n"
                                    "pool 'stubborn' { cmd = { '" + std::string(fake_worker_path()) + "', 'ignore-term' }, n = 1 }\n");
  PtySession s({drover_path(), dir.file("pools.lua")}, shell_env(dir));
  REQUIRE(s.expect(kPrompt));
  REQUIRE(wait_running(s, "calm", 2));
  REQUIRE(wait_running(s, "stubborn", 1));
  // TERM ignored first, or a TERM in its first instant would end it at once.
  const pid_t stubborn = pids_of(s, "stubborn").at(0);
  REQUIRE(wait_until([&] { return ignores_signal(stubborn, SIGTERM); }, std::chrono::milliseconds(5000)));
  s.send_line("exit");
  REQUIRE(s.expect("exit: 3 workers stopped (1 killed after its grace) in "));
  CHECK(s.wait_exit(std::chrono::seconds(15)) == 0);
}

TEST_CASE("repl: reload() says what changed") {
  TempDir dir;
  const std::string worker = fake_worker_path();
  write_file(dir.file("pools.lua"), "pool 'a' { cmd = { '" + worker + "', 'sleep' }, n = 1 }\n"
                                    "pool 'b' { cmd = { '" + worker + "', 'sleep' }, n = 1 }\n");
  PtySession s({drover_path(), dir.file("pools.lua")}, shell_env(dir));
  REQUIRE(s.expect(kPrompt));
  write_file(dir.file("pools.lua"), "pool 'a' { cmd = { '" + worker + "', 'sleep' }, n = 2 }\n"
                                    "pool 'c' { cmd = { '" + worker + "', 'sleep' }, n = 1 }\n");
  s.send_line("reload()");
  REQUIRE(s.expect("resized a 1 -> 2\nadded c (n = 1)\nremoved b\n"));
  REQUIRE(s.expect(kPrompt));
  s.send_line("reload()");
  REQUIRE(s.expect("no changes\n"));
  REQUIRE(s.expect(kPrompt));
  ctrl_d(s);
  CHECK(s.wait_exit(std::chrono::seconds(15)) == 0);
}

TEST_CASE("repl: Ctrl-C during stop() ends the wait and says the stop goes on in the background") {
  TempDir dir;
  write_file(dir.file("pools.lua"), "defaults { grace = 30 }\n"
                                    "pool 'stubborn' { cmd = { '" + std::string(fake_worker_path()) + "', 'ignore-term' }, n = 1 }\n");
  PtySession s({drover_path(), dir.file("pools.lua")}, shell_env(dir));
  REQUIRE(s.expect(kPrompt));
  REQUIRE(wait_running(s, "stubborn", 1));
  const pid_t stubborn = pids_of(s, "stubborn").at(0);
  REQUIRE(wait_until([&] { return ignores_signal(stubborn, SIGTERM); }, std::chrono::milliseconds(5000)));
  s.send_line("stop()");
  REQUIRE(s.expect("stopping: 1 worker draining"));  // in its wait: Ctrl-C is the command's now
  s.send("\x03");
  REQUIRE(s.expect("stop goes on in the background: 1 worker still draining"));
  REQUIRE(s.expect(kPrompt));
  CHECK(pid_alive(stubborn));  // its grace is not cut short by the Ctrl-C
  s.send_line("kill(9)");
  REQUIRE(s.expect(kPrompt));
  CHECK(wait_until([&] { return !pid_alive(stubborn); }, std::chrono::milliseconds(5000)));
  s.send_line("exit");
  CHECK(s.wait_exit(std::chrono::seconds(15)) == 0);
}

TEST_CASE("repl: at start the shell shows the status and the process tree, then the prompt") {
  TempDir dir;
  PtySession s(shell_argv("foo=2:bar=1"), shell_env(dir));
  // Once settled (up to 2 s): every worker running, as resque-pool-dynamic shows it.
  REQUIRE(s.expect("3/3 workers running"));
  REQUIRE(s.expect("bar (1/1)"));
  REQUIRE(s.expect("foo (2/2)"));
  const std::string before_prompt = s.until(kPrompt);
  CHECK(before_prompt.find("drover> ") == std::string::npos);  // the view comes before the first prompt
  ctrl_d(s);
  CHECK(s.wait_exit(std::chrono::seconds(15)) == 0);
}

TEST_CASE("repl: a help page taller than the terminal goes through PAGER - a short one does not") {
  TempDir dir;
  std::vector<std::string> env = shell_env(dir);
  env.back() = "PAGER=sed s/^/PAGED:/";  // the session's terminal has 50 rows
  PtySession s(shell_argv("foo=1"), env);
  REQUIRE(s.expect(kPrompt));
  s.send_line("help autoscale");
  REQUIRE(s.expect("PAGED:autoscale \"pool\""));
  REQUIRE(s.expect(kPrompt));
  s.send_line("help pid");
  const std::string shown = s.until(kPrompt);
  CHECK(shown.find("pid() -- the engine's process id") != std::string::npos);
  CHECK(shown.find("PAGED:") == std::string::npos);
  ctrl_d(s);
  CHECK(s.wait_exit(std::chrono::seconds(15)) == 0);
}

TEST_CASE("repl: a shell whose drover stops says so - here on SIGTERM, attached when the host goes") {
  TempDir dir;
  const std::string port = std::to_string(free_port());
  PtySession host({drover_path(), "--workers", "foo=1", "--cmd", std::string(fake_worker_path()) + " sleep",
                   "--http", "127.0.0.1:" + port},
                  with_token(shell_env(dir)));
  REQUIRE(host.expect(kPrompt));
  PtySession attached({drover_path(), "attach", "127.0.0.1:" + port}, with_token(shell_env(dir)));
  REQUIRE(attached.expect(kPrompt));
  run_lua(attached, "");
  kill(host.pid(), SIGTERM);
  CHECK(host.expect("drover has stopped: leaving the shell"));
  CHECK(host.wait_exit(std::chrono::seconds(15)) == 0);
  CHECK(attached.expect("the drover at 127.0.0.1:" + port + " has stopped: leaving the shell",
                        std::chrono::milliseconds(15000)));
  CHECK(attached.wait_exit(std::chrono::seconds(15)) == 0);
}

TEST_CASE("repl: jobs.tail follows job events until Ctrl-C - here and attached") {
  TempDir dir;
  write_file(dir.file("pools.lua"), "pool 'echo' { cmd = 'cat', n = 2, jobs = true }\n");
  const std::string port = std::to_string(free_port());
  PtySession host({drover_path(), dir.file("pools.lua"), "--http", "127.0.0.1:" + port}, with_token(shell_env(dir)));
  REQUIRE(host.expect(kPrompt));
  PtySession s({drover_path(), "attach", "127.0.0.1:" + port}, with_token(shell_env(dir)));
  REQUIRE(s.expect(kPrompt));
  host.send_line("jobs.tail()");
  REQUIRE(host.expect("following job events (Ctrl-C to stop)\n"));
  s.send_line("jobs.tail 'echo'");
  REQUIRE(s.expect("following job events of echo (Ctrl-C to stop)\n"));
  // The attached follow's stream opens on its own thread: jobs until both have seen one end.
  const std::string enqueue = "DROVER_HTTP_TOKEN=repl-test-token-0123456789 " + std::string(drover_path()) +
                              " enqueue --to 127.0.0.1:" + port + " echo '{}' >/dev/null";
  bool seen = false;
  for (int i = 0; i < 30 && !seen; ++i) {
    REQUIRE(std::system(enqueue.c_str()) == 0);
    seen = s.expect("echo job-done: job ", std::chrono::milliseconds(1000));
  }
  CHECK(seen);
  CHECK(host.expect("echo jobs-enqueued: job 1\n"));
  CHECK(host.expect("echo job-done: job 1 (attempt 1"));
  s.send("\x03");
  REQUIRE(s.expect(kPrompt));
  host.send("\x03");
  REQUIRE(host.expect(kPrompt));
  CHECK(run_lua(host, "print(jobs.stats().echo.completed >= 1)") == "true\n");
  s.send("\x04");
  CHECK(s.wait_exit(std::chrono::seconds(15)) == 0);
  host.send_line("exit()");
  CHECK(host.wait_exit(std::chrono::seconds(15)) == 0);
}
