#include "engine/pool_spec.h"

#include <doctest/doctest.h>
#include <signal.h>

#include <cmath>
#include <limits>

using namespace drover;

namespace {

using Argv = std::vector<std::string>;

PoolSpec valid() {
  PoolSpec p;
  p.name = "foo";
  p.argv = {"/bin/true"};
  return p;
}

// The message validate_pool_spec gives for a spec changed by `edit` ("" when valid).
template <typename Edit>
std::string error_after(Edit edit, const EngineLimits& limits = {}) {
  PoolSpec p = valid();
  edit(p);
  return validate_pool_spec(p, limits).message();
}

Argv via_shell(const std::string& line) { return {"/bin/sh", "-c", line}; }

}  // namespace

TEST_CASE("pool spec: plain command lines are split and exec'd directly") {
  CHECK(command_from_string("python3 worker.py --fast") == Argv{"python3", "worker.py", "--fast"});
  CHECK(command_from_string("  a \t b  ") == Argv{"a", "b"});
  CHECK(command_from_string("cmd --opt=1 x=2") == Argv{"cmd", "--opt=1", "x=2"});
  CHECK(command_from_string("./bar") == Argv{"./bar"});
}

TEST_CASE("pool spec: quoting in a plain command line") {
  CHECK(command_from_string("rq worker 'high prio' \"x y\"") == Argv{"rq", "worker", "high prio", "x y"});
  CHECK(command_from_string("a'b c'd") == Argv{"ab cd"});         // quotes join with their word
  CHECK(command_from_string("say '' x") == Argv{"say", "", "x"});  // an empty argument survives
  CHECK(command_from_string("say \"it's\"") == Argv{"say", "it's"});
  CHECK(command_from_string("say 'a \"b\"'") == Argv{"say", "a \"b\""});
}

TEST_CASE("pool spec: blank lines give no command") {
  CHECK(command_from_string("").empty());
  CHECK(command_from_string("   ").empty());
  CHECK(command_from_string(" \t\n ").empty());
}

TEST_CASE("pool spec: shell syntax runs through /bin/sh -c") {
  for (const char* line : {"a | b", "a && b", "a; b", "a > log", "a < in", "(a)", "echo $HOME", "echo `date`",
                           "echo a\\ b", "ls *.py", "ls ?", "ls [ab]", "a # note", "cd ~", "echo {a,b}", "! false",
                           "a\nb", "echo \"$HOME\""}) {
    CAPTURE(line);
    CHECK(command_from_string(line) == via_shell(line));
  }
}

TEST_CASE("pool spec: first words the shell owns") {
  CHECK(command_from_string("MODE=fast worker") == via_shell("MODE=fast worker"));
  CHECK(command_from_string("exec python3 w.py") == via_shell("exec python3 w.py"));
  CHECK(command_from_string("cd /srv") == via_shell("cd /srv"));
  CHECK(command_from_string("ulimit -n 1024") == via_shell("ulimit -n 1024"));
  CHECK(command_from_string("say 'unbalanced") == via_shell("say 'unbalanced"));
  // Only the first word: later words named like builtins are plain arguments.
  CHECK(command_from_string("runner exec cd") == Argv{"runner", "exec", "cd"});
}

TEST_CASE("pool spec: signal names in every spelling") {
  CHECK(signal_from_name("TERM") == SIGTERM);
  CHECK(signal_from_name("SIGTERM") == SIGTERM);
  CHECK(signal_from_name("term") == SIGTERM);
  CHECK(signal_from_name("SigTerm") == SIGTERM);
  CHECK(signal_from_name("15") == SIGTERM);
  CHECK(signal_from_name("9") == SIGKILL);
  CHECK(signal_from_name("64") == 64);
  const std::pair<const char*, int> table[] = {
      {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL},   {"USR1", SIGUSR1},
      {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"CONT", SIGCONT}, {"STOP", SIGSTOP},   {"TSTP", SIGTSTP},
      {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU}, {"WINCH", SIGWINCH}, {"ALRM", SIGALRM}, {"PIPE", SIGPIPE},
      {"CHLD", SIGCHLD}};
  for (const auto& [name, number] : table) {
    CAPTURE(name);
    CHECK(signal_from_name(name) == number);
    CHECK(signal_from_name(std::string("SIG") + name) == number);
    CHECK(signal_name(number) == name);  // and back, without the SIG prefix
  }
}

TEST_CASE("pool spec: unknown signals") {
  for (const char* name : {"", "NOPE", "SIG", "SIGNOPE", "0", "65", "999", "-1", " TERM", "TERM ", "1.5"}) {
    CAPTURE(name);
    CHECK(signal_from_name(name) == 0);
  }
  CHECK(signal_name(0) == "0");
  CHECK(signal_name(40) == "40");
}

TEST_CASE("pool spec: a plain spec is valid, and so are resque's names") {
  CHECK(validate_pool_spec(valid()));
  for (const char* name : {"baz,quux", "*", "a-b_c.d", "web:1", "w@host", "Q9"}) {
    CAPTURE(name);
    CHECK(error_after([&](PoolSpec& p) { p.name = name; }) == "");
  }
  CHECK(error_after([](PoolSpec& p) { p.n = 0; }) == "");  // a pool may be scaled to nothing
  CHECK(error_after([](PoolSpec& p) { p.n = 10000; }) == "");
}

TEST_CASE("pool spec: validation names the pool and the field") {
  CHECK(error_after([](PoolSpec& p) { p.n = -1; }) == "pool \"foo\": n = -1 is out of range 0..10000");
  CHECK(error_after([](PoolSpec& p) { p.n = 11; }, EngineLimits{.max_workers_per_pool = 10}) ==
        "pool \"foo\": n = 11 is out of range 0..10");
  CHECK(error_after([](PoolSpec& p) { p.argv.clear(); }) == "pool \"foo\": cmd is empty");
  CHECK(error_after([](PoolSpec& p) { p.argv = {"", "x"}; }) == "pool \"foo\": cmd is empty");
  CHECK(error_after([](PoolSpec& p) { p.name = ""; }) == "a pool needs a name");
  CHECK(error_after([](PoolSpec& p) { p.name = "has space"; }) ==
        "pool \"has space\": name may hold letters, digits and _.,*:-@ only, not ' '");
  CHECK(error_after([](PoolSpec& p) { p.name = "a/b"; }).find("not '/'") != std::string::npos);
  CHECK(error_after([](PoolSpec& p) { p.name = "a\x01"; }).find("not '\\x01'") != std::string::npos);
  CHECK(error_after([](PoolSpec& p) { p.name = std::string(129, 'a'); }).find("longer than 128") != std::string::npos);
  CHECK(error_after([](PoolSpec& p) { p.grace_s = -1; }) == "pool \"foo\": grace = -1 must be >= 0 seconds");
  CHECK(error_after([](PoolSpec& p) { p.grace_s = std::nan(""); }).find("grace = nan") != std::string::npos);
  CHECK(error_after([](PoolSpec& p) { p.grace_s = std::numeric_limits<double>::infinity(); }) != "");
  CHECK(error_after([](PoolSpec& p) { p.stop_signal = 0; }) == "pool \"foo\": stop_signal 0 is not a signal (1..64)");
  CHECK(error_after([](PoolSpec& p) { p.stop_signal = 65; }) != "");
  CHECK(error_after([](PoolSpec& p) { p.stop_signal = 64; }) == "");
}

TEST_CASE("pool spec: backoff and flap ranges") {
  CHECK(error_after([](PoolSpec& p) { p.backoff.initial_s = 0; }) ==
        "pool \"foo\": backoff.initial = 0 must be > 0 seconds");
  CHECK(error_after([](PoolSpec& p) { p.backoff.max_s = 0.01; }) ==
        "pool \"foo\": backoff.max = 0.01 must be >= backoff.initial (0.1)");
  CHECK(error_after([](PoolSpec& p) { p.backoff.max_s = p.backoff.initial_s; }) == "");
  CHECK(error_after([](PoolSpec& p) { p.backoff.factor = 0.5; }) == "pool \"foo\": backoff.factor = 0.5 must be >= 1");
  CHECK(error_after([](PoolSpec& p) { p.backoff.factor = 1; }) == "");
  CHECK(error_after([](PoolSpec& p) { p.backoff.reset_after_s = -1; }).find("backoff.reset_after") != std::string::npos);
  CHECK(error_after([](PoolSpec& p) { p.flap.max_exits = 0; }) == "pool \"foo\": flap.max_exits = 0 must be >= 1");
  CHECK(error_after([](PoolSpec& p) { p.flap.window_s = 0; }) == "pool \"foo\": flap.window = 0 must be > 0 seconds");
  CHECK(error_after([](PoolSpec& p) { p.flap.cooldown_s = -0.5; }).find("flap.cooldown = -0.5") != std::string::npos);
  CHECK(error_after([](PoolSpec& p) { p.flap.cooldown_s = 0; }) == "");
  CHECK(error_after([](PoolSpec& p) { p.flap.give_up_after = -1; }).find("flap.give_up_after") != std::string::npos);
}

TEST_CASE("pool spec: heartbeat ranges") {
  CHECK(error_after([](PoolSpec& p) { p.heartbeat.timeout_s = 30; }) == "");
  CHECK(error_after([](PoolSpec& p) { p.heartbeat = {.timeout_s = 1, .require = true}; }) == "");
  CHECK(error_after([](PoolSpec& p) { p.heartbeat.timeout_s = -1; }) ==
        "pool \"foo\": heartbeat.timeout = -1 must be 0 (off) or up to 86400 seconds");
  CHECK(error_after([](PoolSpec& p) { p.heartbeat.timeout_s = 1e6; }).find("heartbeat.timeout") != std::string::npos);
  CHECK(error_after([](PoolSpec& p) { p.heartbeat.timeout_s = std::nan(""); }).find("heartbeat.timeout") !=
        std::string::npos);
  CHECK(error_after([](PoolSpec& p) { p.heartbeat.require = true; }) ==
        "pool \"foo\": heartbeat.require needs a heartbeat.timeout");
  // The bounds: 0 is off, a day is the longest, infinity is not "never".
  CHECK(error_after([](PoolSpec& p) { p.heartbeat.timeout_s = 0; }) == "");
  CHECK(error_after([](PoolSpec& p) { p.heartbeat.timeout_s = 86400; }) == "");
  CHECK(error_after([](PoolSpec& p) { p.heartbeat.timeout_s = 86400.5; }) ==
        "pool \"foo\": heartbeat.timeout = 86400.5 must be 0 (off) or up to 86400 seconds");
  CHECK(error_after([](PoolSpec& p) { p.heartbeat.timeout_s = std::numeric_limits<double>::infinity(); }) ==
        "pool \"foo\": heartbeat.timeout = inf must be 0 (off) or up to 86400 seconds");
  CHECK(error_after([](PoolSpec& p) { p.heartbeat = {.timeout_s = std::nan(""), .require = true}; })
            .find("heartbeat.timeout = nan") != std::string::npos);
}

TEST_CASE("pool spec: env keys must be variable names") {
  CHECK(error_after([](PoolSpec& p) { p.env["A=B"] = "x"; }) == "pool \"foo\": env key \"A=B\" is not a variable name");
  CHECK(error_after([](PoolSpec& p) { p.env[""] = "x"; }) != "");
  CHECK(error_after([](PoolSpec& p) { p.env["A"] = std::string("x\0y", 3); }) == "pool \"foo\": env A holds a NUL byte");
  CHECK(error_after([](PoolSpec& p) { p.env["MODE"] = "a=b"; }) == "");  // '=' in a value is fine
}

TEST_CASE("pool spec: stop_to auto - the group for a line run by /bin/sh -c - the process for a command drover execs") {
  PoolSpec direct;
  direct.argv = command_from_string("rq worker default");
  CHECK(direct.stop_to == StopTo::kAuto);
  CHECK(effective_stop_to(direct) == StopTo::kProcess);
  PoolSpec shell;
  shell.argv = command_from_string("cd /srv && ./worker");
  REQUIRE(shell.argv[0] == "/bin/sh");
  CHECK(effective_stop_to(shell) == StopTo::kGroup);
  // Said outright, it is what is said, shell or not.
  shell.stop_to = StopTo::kProcess;
  CHECK(effective_stop_to(shell) == StopTo::kProcess);
  direct.stop_to = StopTo::kGroup;
  CHECK(effective_stop_to(direct) == StopTo::kGroup);
  CHECK(stop_to_from_name("auto") == StopTo::kAuto);
  CHECK(std::string(stop_to_name(StopTo::kAuto)) == "auto");
  CHECK_FALSE(stop_to_from_name("pgrp"));
}
