#include "engine/pool_spec.h"

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <strings.h>

#include <fmt/format.h>

namespace drover {

namespace {

struct SignalName {
  const char* name;
  int number;
};
constexpr SignalName kSignals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"KILL", SIGKILL}, {"USR1", SIGUSR1},
    {"USR2", SIGUSR2}, {"TERM", SIGTERM},   {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
    {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},   {"WINCH", SIGWINCH}, {"ALRM", SIGALRM}, {"PIPE", SIGPIPE},
    {"CHLD", SIGCHLD}, {"ABRT", SIGABRT},   {"SEGV", SIGSEGV}, {"BUS", SIGBUS},   {"FPE", SIGFPE},
    {"ILL", SIGILL},   {"TRAP", SIGTRAP},   {"SYS", SIGSYS},   {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"IO", SIGIO},   {"PWR", SIGPWR},   {"URG", SIGURG},
};

// Pool names end up in log prefixes, env vars, URLs and Lua code: keep them plain.
// ',' joins queues ("baz,quux"), '*' is resque's "all queues".
bool valid_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("_.,*:-@", c) != nullptr;
}

bool finite_at_least(double v, double min) { return std::isfinite(v) && v >= min; }

}  // namespace

Status validate_pool_spec(const PoolSpec& s, const EngineLimits& limits) {
  auto bad = [&s](std::string what) { return Status::invalid(fmt::format("pool \"{}\": {}", s.name, what)); };
  if (s.name.empty()) return Status::invalid("a pool needs a name");
  if (s.name.size() > 128) return bad("name is longer than 128 characters");
  for (char c : s.name)
    if (!valid_name_char(c))
      return bad(fmt::format("name may hold letters, digits and _.,*:-@ only, not '{}'", c));
  if (s.argv.empty() || s.argv[0].empty()) return bad("cmd is empty");
  if (s.n < 0 || s.n > limits.max_workers_per_pool)
    return bad(fmt::format("n = {} is out of range 0..{}", s.n, limits.max_workers_per_pool));
  if (!finite_at_least(s.grace_s, 0)) return bad(fmt::format("grace = {} must be >= 0 seconds", s.grace_s));
  if (s.stop_signal < 1 || s.stop_signal >= NSIG) return bad(fmt::format("stop_signal {} is not a signal", s.stop_signal));
  const auto& b = s.backoff;
  if (!(std::isfinite(b.initial_s) && b.initial_s > 0)) return bad("backoff.initial must be > 0 seconds");
  if (!finite_at_least(b.max_s, b.initial_s)) return bad("backoff.max must be >= backoff.initial");
  if (!finite_at_least(b.factor, 1)) return bad("backoff.factor must be >= 1");
  if (!finite_at_least(b.reset_after_s, 0)) return bad("backoff.reset_after must be >= 0 seconds");
  const auto& f = s.flap;
  if (f.max_exits < 1) return bad("flap.max_exits must be >= 1");
  if (!(std::isfinite(f.window_s) && f.window_s > 0)) return bad("flap.window must be > 0 seconds");
  if (!finite_at_least(f.cooldown_s, 0)) return bad("flap.cooldown must be >= 0 seconds");
  if (f.give_up_after < 0) return bad("flap.give_up_after must be >= 0 (0: never)");
  for (const auto& [k, v] : s.env)
    if (k.empty() || k.find('=') != std::string::npos || k.find('\0') != std::string::npos)
      return bad(fmt::format("env key \"{}\" is not a variable name", k));
  return Status::ok();
}

std::vector<std::string> command_from_string(const std::string& line) {
  // Shell syntax means /bin/sh must interpret the line; plain words we split ourselves,
  // so the worker is exec'd directly and its pid is the one drover spawned.
  constexpr const char* kShellChars = "|&;<>()$`\\*?[]#~{}\n!";
  bool shell = line.find_first_of(kShellChars) != std::string::npos;
  std::vector<std::string> argv;
  if (!shell) {
    std::string word;
    bool in_word = false;
    char quote = 0;
    for (char c : line) {
      if (quote) {
        if (c == quote) quote = 0;
        else word += c;
      } else if (c == '\'' || c == '"') {
        quote = c;
        in_word = true;
      } else if (c == ' ' || c == '\t') {
        if (in_word) argv.push_back(word);
        word.clear();
        in_word = false;
      } else {
        word += c;
        in_word = true;
      }
    }
    if (in_word) argv.push_back(word);
    // An unbalanced quote, or VAR=value before the command: leave it to the shell.
    if (quote || (!argv.empty() && argv[0].find('=') != std::string::npos)) shell = true;
  }
  if (shell) {
    if (line.find_first_not_of(" \t\n") == std::string::npos) return {};
    return {"/bin/sh", "-c", line};
  }
  return argv;
}

int signal_from_name(const std::string& name) {
  if (name.empty()) return 0;
  if (std::all_of(name.begin(), name.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    int n = name.size() <= 3 ? std::stoi(name) : 0;
    return n >= 1 && n < NSIG ? n : 0;
  }
  std::string_view s = name;
  if (s.size() > 3 && strncasecmp(s.data(), "SIG", 3) == 0) s.remove_prefix(3);
  for (const auto& sig : kSignals)
    if (s.size() == std::strlen(sig.name) && strncasecmp(s.data(), sig.name, s.size()) == 0) return sig.number;
  return 0;
}

std::string signal_name(int sig) {
  for (const auto& s : kSignals)
    if (s.number == sig) return s.name;
  return std::to_string(sig);
}

}  // namespace drover
