// The shell's commands run both ways, compared (issue 13): by a local shell bound to an
// engine of its own (`drover pools.lua --wait -e CMD ...`) and by `drover attach HOST:PORT
// --wait -e CMD ...` on a host drover started on the same pools.lua with --no-shell --http.
// Both start from the same settled state and run the same commands in the same order, so
// what they print must be the same once pids, ports, times, ages and addresses are
// normalized. Where the two legitimately differ (what an attached shell refuses to do to
// the host, or does on its own side) a test says why and checks each side on its own.
//
// Each script runs as one invocation each way: a marker line before every command splits
// the output, so a mismatch names its command (INFO) and shows both outputs (CHECK).
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <regex>
#include <string>
#include <vector>

#include "tests/support/drover_process.h"
#include "tests/support/test_util.h"

using namespace drover::test;

namespace {

const std::map<std::string, std::string> kTokenEnv{{"DROVER_HTTP_TOKEN", "attach-parity-token-0123456789"}};

// Two pools of sleeping fake workers with fixed sizes, a budget and a policy that never
// changes anything (min = max = n, it answers nil, and after its first call at start its
// period is an hour), so both engines stay where the file puts them until a command moves
// them.
std::string pools_lua() {
  const std::string w = std::string("{ '") + fake_worker_path() + "', 'sleep' }";
  return "pool 'a' { cmd = " + w + ", n = 2 }\n"
         "pool 'b' { cmd = " + w + ", n = 1 }\n"
         "budget { max_workers = 10 }\n"
         "autoscale 'b' { every = 3600, min = 1, max = 1, policy = function() return nil end }\n";
}

// Run first in every script: keys(t), a table's keys sorted as one string; and a wait for
// the policy's first call (due at once, on the autoscaler's thread), whose reading gives
// status() its queue column. settle() is the wait that lets that thread run meanwhile.
const std::vector<std::string> kPrelude = {
    "function keys(t) local k = {} for n in pairs(t) do k[#k + 1] = n end table.sort(k) return table.concat(k, ' ') "
    "end",
    "(function() repeat settle(0.1) until autoscale.list()[1].runs > 0 end)()",
};

struct Output {
  int rc = -1;
  std::string out, err;
};

// One drover run to its end: stdout and stderr in files beside the others of the test.
Output run(const TempDir& dir, std::vector<std::string> args, const std::map<std::string, std::string>& env) {
  static int runs = 0;
  const std::string err = dir.file("run" + std::to_string(++runs) + ".err");
  DroverProcess p(args, err, env);
  Output o;
  o.rc = p.wait_exit(60s);
  o.out = read_file(err + ".out");
  o.err = read_file(err);
  return o;
}

// `drover pools.lua --wait -e ...`: a local shell on an engine of its own, settled first.
Output local_run(const TempDir& dir, const std::vector<std::string>& exprs) {
  std::vector<std::string> args{dir.file("pools.lua"), "--wait"};
  for (const auto& e : exprs) args.insert(args.end(), {"-e", e});
  return run(dir, args, {});
}

// `drover attach 127.0.0.1:PORT --wait -e ...`: the host's engine, settled first.
Output attached_run(const TempDir& dir, int port, const std::vector<std::string>& exprs) {
  std::vector<std::string> args{"attach", "127.0.0.1:" + std::to_string(port), "--wait"};
  for (const auto& e : exprs) args.insert(args.end(), {"-e", e});
  return run(dir, args, kTokenEnv);
}

// What may differ between two engines doing the same thing: clock times, ages and
// uptimes, pids and ports (any number of 3 digits or more: no count here reaches 100),
// Lua addresses, and the column padding that follows a pid's width.
std::string normalize(std::string s) {
  static const std::vector<std::pair<std::regex, std::string>> rules = {
      {std::regex(R"(\d\d:\d\d:\d\d(\.\d+)?)"), "TIME"},
      {std::regex(R"(0x[0-9a-f]+)"), "ADDR"},
      {std::regex(R"((uptime|age|heartbeat_age) = [-0-9.e+]+)"), "$1 = T"},
      {std::regex(R"(\b(\d+(\.\d)?s|\d+m\d\ds|\d+h\d\dm|\d+d\d\dh)\b)"), "AGE"},
      {std::regex(R"(\d{3,})"), "N"},
      {std::regex(R"( {2,})"), " "},
      // stop() says "N workers draining" when its first look finds them still there: the
      // engine may have reaped a quick worker by then, locally as remotely.
      {std::regex(R"(stopping: \d+ workers? draining \(Ctrl-C stops waiting\)\n)"), ""},
  };
  for (const auto& [re, with] : rules) s = std::regex_replace(s, re, with);
  return s;
}

// Its lines sorted. Workers of one change are spawned side by side, and which of them the
// engine logs as spawned first differs from run to run, here or on the host: the log is
// compared as the set of its lines (over windows that do not cut through such a burst).
std::string sorted_lines(const std::string& s) {
  std::vector<std::string> lines;
  size_t at = 0;
  while (at < s.size()) {
    size_t nl = s.find('\n', at);
    if (nl == std::string::npos) nl = s.size();
    lines.push_back(s.substr(at, nl - at));
    at = nl + 1;
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

struct Compared {
  std::vector<std::string> commands;
  std::vector<std::string> local, attached;  // normalized output of each command
  Output local_raw, attached_raw;
};

// Splits a run's output at the markers: the output of command i follows "@@ i".
std::vector<std::string> split(const std::string& out, size_t n) {
  std::vector<std::string> parts(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string mark = "@@ " + std::to_string(i) + "\n";
    const size_t at = out.find(mark);
    if (at == std::string::npos) continue;
    const size_t begin = at + mark.size();
    const size_t end = out.find("@@ " + std::to_string(i + 1) + "\n", begin);
    parts[i] = out.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
  }
  return parts;
}

// The commands, in order, run both ways; every output compared, naming its command.
Compared compare(const TempDir& dir, int port, const std::vector<std::string>& commands) {
  std::vector<std::string> exprs = kPrelude;
  for (size_t i = 0; i < commands.size(); ++i) {
    exprs.push_back("print('@@ " + std::to_string(i) + "')");
    exprs.push_back(commands[i]);
  }
  Compared c;
  c.commands = commands;
  c.local_raw = local_run(dir, exprs);
  c.attached_raw = attached_run(dir, port, exprs);
  c.local = split(c.local_raw.out, commands.size());
  c.attached = split(c.attached_raw.out, commands.size());
  for (auto* parts : {&c.local, &c.attached})
    for (auto& part : *parts) part = normalize(part);
  for (size_t i = 0; i < commands.size(); ++i) {
    INFO("command: ", commands[i]);
    if (commands[i].rfind("log.", 0) == 0) CHECK(sorted_lines(c.local[i]) == sorted_lines(c.attached[i]));
    else CHECK(c.local[i] == c.attached[i]);
  }
  // The same exit status: 1 when some command failed, both ways.
  CHECK(c.local_raw.rc == c.attached_raw.rc);
  return c;
}

// What the attached shell printed for the command (its last run, when it ran twice).
const std::string& output_of(const Compared& c, const std::string& command) {
  for (size_t i = c.commands.size(); i-- > 0;)
    if (c.commands[i] == command) return c.attached[i];
  FAIL("no such command in the script: " << command);
  static const std::string none;
  return none;
}

// The host: drover on dir's pools.lua, serving its API on a port of its choosing, with the
// token attach sends; up with its three workers. Stopped with TERM at the end.
struct Host {
  DroverProcess process;
  int port = 0;
  explicit Host(const TempDir& d)
      : process({d.file("pools.lua"), "--no-shell", "-q", "--http", "127.0.0.1:0"}, d.file("host.err"), kTokenEnv) {
    port = process.http_port();
    REQUIRE(port > 0);
    REQUIRE(wait_until([&] { return process.counts() == std::map<std::string, size_t>{{"a", 2}, {"b", 1}}; }, 10s));
  }
  ~Host() {
    process.signal(SIGTERM);
    CHECK(process.wait_exit(20s) == 0);
  }
};

}  // namespace

TEST_CASE("attach parity: reading commands print the same local and attached - status pstree pools heartbeat log help autoscale") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua());
  Host host(dir);
  const Compared c = compare(
      dir, host.port,
      {
          "status()",
          "keys(status())",
          "keys(status().pools)",
          "keys(status().pools.a)",
          "keys(status().pools.a.workers[1])",
          "status().pools.a.n",
          "status().pools.b.target",
          "(function() local a = status().pools.a return a.running, a.started, a.exits_ok, a.exits_bad, a.restarts, "
          "a.enabled, a.rolling, a.removing, #a.workers end)()",
          "status().shutting_down",
          "type(status().containment)",
          "pools()",
          "pid()",
          "config()",
          "settle(5)",
          "pstree()",
          "#pstree()",
          "keys(pstree()[1])",
          "(function() local p = pstree()[1] return p.pool, p.slot, p.state, #p.children, #p.escaped end)()",
          "heartbeat()",
          "keys(heartbeat())",
          "log.path()",
          "log.tail(0)",
          "log.tail(3)",
          "log.tail{pool = 'b', n = 5}",
          "log.grep('spawned')",
          "log.grep('spawned', {pool = 'a'})",
          "log.grep('no line says this')",
          "log.rew(3)",  // the 3 lines before the spawns
          "log.ff(3)",   // the spawns
          "log.ff(5)",
          "events(false)",
          "events()",
          "help 'config'",
          "help 'log.tail'",
          "help 'autoscale'",
          "help()",
          "budget()",
          "autoscale.list()",
          "#autoscale.list()",
          "keys(autoscale.list()[1])",
          "(function() local p = autoscale.list()[1] return p.pool, p.min, p.max, p.every, p.enabled, p.suspended end)()",
          "type(load 'queue_proportional')",
          "redis{ rq = 'default' }",
          "command 'echo 3'",
          "type(fn(function() return 1 end))",
          "unload 'nothing_loaded.lua'",
          // A timer of the shell's own, either way: an attached shell's runs in that shell
          // (and autoscale.list() shows the host's timers, not it: so it is cancelled here).
          "(function() local id = every(60, function() end) return type(id), autoscale.cancel(id) end)()",
          // Errors: the same words both ways, and nothing changed.
          "help 'nope'",
          "start 'nope'",
          "stop 'nope'",
          "kill('CONT', 'nope')",
          "kill('NOPE')",
          "config{nope = 1}",
          "config{a = -1}",
          "autoscale.off 'nope'",
          "autoscale.on 'a'",
          "log.tail{n = 2.5}",
          "log.tail(-1)",
          "log.tail{pool = 'nope', n = 3}",
          "log.grep('spawned', {pool = 'nope'})",
          "kill(0)",
          "kill('CONT', 5)",
          "config(5)",
          "config 'a=x'",
          "config{}",
          "settle(-1)",
          "every(0, print)",
          "autoscale.cancel(99)",
          "unload()",
          "write_config('/nonexistent/dir/pools.lua')",
          "config()",
      });
  // Not vacuous: the host's pools, policy and budget are what the attached shell saw.
  CHECK(output_of(c, "status().pools.a.n") == "2\n");
  CHECK(output_of(c, "pools()") == "{ \"a\", \"b\" }\n");
  CHECK(output_of(c, "autoscale.list()").find("\nb ") != std::string::npos);
  CHECK(output_of(c, "autoscale.list()").find("budget: 10 workers in all") != std::string::npos);
  CHECK(output_of(c, "log.grep('spawned')").find("a.1 spawned pid N") != std::string::npos);
  CHECK(output_of(c, "help 'config'").find("config([sizes])") != std::string::npos);
  CHECK(output_of(c, "start 'nope'").find("nope") != std::string::npos);
  CHECK(c.local_raw.rc == 1);  // the errors at the end
}

TEST_CASE("attach parity: commands that change the pools do the same local and attached - config start stop kill") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua());
  Host host(dir);
  // After each change, settle() (or a wait for the restart to be seen) before looking:
  // both sides look at the same settled state, never at one caught half way.
  const Compared c = compare(
      dir, host.port,
      {
          "config{a = 3}",
          "status().pools.a.target",
          "settle(30)",
          "status()",
          "config 'a=2'",
          "settle(30)",
          "pstree()",
          "stop 'b'",
          "(function() local b = status().pools.b return b.target, b.running, b.enabled end)()",
          "status()",
          "start 'b'",
          "settle(30)",
          "kill('CONT', 'a')",
          "kill('TERM', 'b')",
          "(function() repeat settle(0.1) until status().pools.b.started >= 3 return settle(30) end)()",
          "status()",
          "(function() local b = status().pools.b return b.started, b.exits_ok, b.exits_bad, b.restarts, b.killed end)()",
          "keys(status().pools.b.workers[1])",
          "status().pools.b.workers[1].restarts",
          "log.grep('spawned')",
          "stop()",
          "status()",
          "start()",
          "settle(30)",
          "config{a = 1, b = 0}",
          "settle(30)",  // b's worker gone, and b with it
          "pools()",
          "config()",
          "status()",
          "start 'b'",  // no such pool now, either way
          "autoscale.off 'b'",  // b's policy outlives its pool: switched off all the same
          "autoscale.off 'b'",
          "(autoscale.list()[1].enabled)",
      });
  CHECK(output_of(c, "status().pools.a.target") == "3\n");
  CHECK(output_of(c, "config()") == "{ a = 1 }\n");
  CHECK(output_of(c, "start 'b'") == "(command line):1: no pool named \"b\"\n");
  CHECK(output_of(c, "(autoscale.list()[1].enabled)") == "false\n");
  CHECK(c.local_raw.rc == 1);  // start 'b'
  // The host is where the attached commands left it.
  CHECK(wait_until([&] { return host.process.counts() == std::map<std::string, size_t>{{"a", 1}}; }, 10s));
}

TEST_CASE("attach parity: autoscale.off and on act on the host's policy as on the local one") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua());
  Host host(dir);
  const Compared c = compare(dir, host.port,
                             {
                                 "autoscale.off 'b'",
                                 "autoscale.list()",
                                 "autoscale.list()[1].enabled",
                                 "autoscale.on 'b'",
                                 "autoscale.list()",
                                 "autoscale.list()[1].enabled == true",
                             });
  CHECK(output_of(c, "autoscale.list()[1].enabled") == "false\n");
  CHECK(output_of(c, "autoscale.list()[1].enabled == true") == "true\n");
  CHECK(c.local_raw.rc == 0);
}

// What an attached shell refuses, because it belongs on the host (policies and the budget
// run there, with the config that defines them), or does not have (the host's config
// file): a clear error attached, and the same command working in a local shell.
TEST_CASE("attach parity: policies and the budget defined from an attached shell - refused clearly - work locally") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua());
  Host host(dir);
  struct Case {
    std::string command, local_out, attached_error;
  };
  const std::vector<Case> cases = {
      {"autoscale 'a' { every = 3600, max = 2, policy = function() return nil end }", "true\n",
       "autoscale \"a\": policies run on the drover host: define it in its config (or a file it loads) and reload there"},
      {"budget{ max_workers = 5 }", "5\n", "budget{}: the budget is set on the drover host, in its config"},
  };
  for (const auto& k : cases) {
    INFO("command: ", k.command);
    Output local = local_run(dir, {k.command});
    CHECK(local.rc == 0);
    CHECK(local.out == k.local_out);
    Output attached = attached_run(dir, host.port, {k.command});
    CHECK(attached.rc == 1);
    CHECK(attached.out.find(k.attached_error) != std::string::npos);
    CHECK(attached.out.find("(command line):1:") == 0);
  }
  // The host's policies and budget are as its config set them.
  Output list = attached_run(dir, host.port, {"#autoscale.list()", "autoscale.list()[1].pool", "budget()"});
  CHECK(list.rc == 0);
  CHECK(list.out == "1\n\"b\"\n10\n");
}

TEST_CASE("attach parity: write_config writes the same file local and attached") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua());
  Host host(dir);
  Output local = local_run(dir, {"config{a = 3}", "write_config('" + dir.file("local.lua") + "')"});
  CHECK(local.rc == 0);
  Output attached = attached_run(dir, host.port, {"config{a = 3}", "write_config('" + dir.file("attached.lua") + "')"});
  CHECK(attached.rc == 0);
  CHECK(local.out == "{ a = 3, b = 1 }\n\"" + dir.file("local.lua") + "\"\n");
  CHECK(attached.out == "{ a = 3, b = 1 }\n\"" + dir.file("attached.lua") + "\"\n");
  const std::string written = read_file(dir.file("local.lua"));
  CHECK(written.find("n = 3,") != std::string::npos);
  CHECK(written == read_file(dir.file("attached.lua")));
  // Over a hand-written file: its sizes updated, the rest kept, both ways.
  write_file(dir.file("local_hand.lua"), pools_lua());
  write_file(dir.file("attached_hand.lua"), pools_lua());
  local = local_run(dir, {"config{a = 3}", "write_config('" + dir.file("local_hand.lua") + "')"});
  attached = attached_run(dir, host.port, {"write_config('" + dir.file("attached_hand.lua") + "')"});
  CHECK(local.rc == 0);
  CHECK(attached.rc == 0);
  CHECK(read_file(dir.file("local_hand.lua")) == read_file(dir.file("attached_hand.lua")));
  CHECK(read_file(dir.file("local_hand.lua")).find("n = 3 }") != std::string::npos);
}

// The commands whose effect is the shell's own and so differs by design: exit() stops a
// local drover but only detaches from a remote one; reload() re-reads the config file a
// local shell was started with, which an attached shell does not have; write_config()
// with no path writes over that same file.
TEST_CASE("attach parity: exit reload and write_config with no path - local acts on its own drover - attached says what to do") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua());
  Host host(dir);

  Output local = local_run(dir, {"exit()"});
  CHECK(local.rc == 0);
  CHECK(std::regex_match(local.out, std::regex(R"(exit: 3 workers stopped in \d+\.\d s\n)")));
  Output attached = attached_run(dir, host.port, {"exit()"});
  CHECK(attached.rc == 0);
  CHECK(attached.out.empty());  // detached, and the host goes on
  CHECK(kill(host.process.pid(), 0) == 0);

  local = local_run(dir, {"reload()"});
  CHECK(local.rc == 0);
  CHECK(local.out == "no changes\n{ a = 2, b = 1 }\n");
  attached = attached_run(dir, host.port, {"reload()"});
  CHECK(attached.rc == 1);
  CHECK(attached.out == "(command line):1: reload: the config file is on the drover host: reload it there (kill -HUP " +
                           std::to_string(host.process.pid()) + ")\n");

  const std::string before = read_file(dir.file("pools.lua"));
  local = local_run(dir, {"write_config()"});
  CHECK(local.rc == 0);
  CHECK(local.out.find("sizes unchanged") != std::string::npos);
  attached = attached_run(dir, host.port, {"write_config()"});
  CHECK(attached.rc == 1);
  CHECK(attached.out.find("give a path") != std::string::npos);
  CHECK(attached.out.find("drover host") != std::string::npos);
  CHECK(read_file(dir.file("pools.lua")) == before);

  // load looks next to the config file too: a local shell's, which an attached one has not
  // (it looks in its own directory, DROVER_PATH and the shipped policies).
  local = local_run(dir, {"load 'no_such_policy'"});
  attached = attached_run(dir, host.port, {"load 'no_such_policy'"});
  CHECK(local.rc == 1);
  CHECK(attached.rc == 1);
  const std::string looked = "(command line):1: load: no script no_such_policy (looked in ., ";
  CHECK(local.out.rfind(looked + dir.path() + ", ", 0) == 0);
  CHECK(attached.out.rfind(looked, 0) == 0);
  CHECK(attached.out.find(dir.path()) == std::string::npos);
  CHECK(host.process.counts() == std::map<std::string, size_t>{{"a", 2}, {"b", 1}});
}

// log.tail_until follows new lines (the remote one over the server's stream) until one
// matches: a pool that prints a line every 0.1 s gives both a line to wait for.
TEST_CASE("attach parity: log.tail_until follows the log until a line matches - local and attached") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua() + "pool 't' { cmd = { '" + fake_worker_path() + "', 'tick', '0.1' } }\n");
  DroverProcess host({dir.file("pools.lua"), "--no-shell", "-q", "--http", "127.0.0.1:0"}, dir.file("host.err"),
                     kTokenEnv);
  const int port = host.http_port();
  REQUIRE(port > 0);
  const std::vector<std::string> commands = {"log.tail_until('tick %d+', {pool = 't'})",
                                             "log.tail_until('tick', {pool = 't'}):match('^tick %d+$') ~= nil"};
  Output local = local_run(dir, commands);
  Output attached = attached_run(dir, port, commands);
  // Which tick comes first depends on when the follow began (the count may pass 100: first).
  auto ticks = [](const std::string& s) { return normalize(std::regex_replace(s, std::regex(R"(tick \d+)"), "tick K")); };
  CHECK(local.rc == 0);
  CHECK(ticks(local.out) == "TIME t[N]: tick K\n\"tick K\"\nTIME t[N]: tick K\ntrue\n");
  CHECK(ticks(local.out) == ticks(attached.out));
  CHECK(local.rc == attached.rc);
  host.signal(SIGTERM);
  CHECK(host.wait_exit(20s) == 0);
}
