// Validation of PoolSpec, and the two small parsers every config front end shares:
// command lines and signal names.
//
// command_from_string() decides between exec'ing a line directly and handing it to
// /bin/sh. Exec'ing directly is better (the worker's pid is the one drover spawned,
// signals reach it without a shell in between), but it is only correct when our split
// gives exactly the argv sh would build. So the rule is conservative: any character or
// first word that sh would treat specially sends the whole line to sh. A false positive
// costs an extra process; a false negative would change what the command means.
#include "engine/pool_spec.h"

#include <signal.h>
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

namespace drover {

namespace {

constexpr size_t kMaxNameLength = 128;

struct SignalName {
  const char* name;
  int number;
};
// The first entry for a number is the name signal_name() gives it.
constexpr SignalName kSignals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT},     {"KILL", SIGKILL},  {"USR1", SIGUSR1},
    {"USR2", SIGUSR2}, {"TERM", SIGTERM},   {"CONT", SIGCONT},     {"STOP", SIGSTOP},  {"TSTP", SIGTSTP},
    {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},   {"WINCH", SIGWINCH},   {"ALRM", SIGALRM},  {"PIPE", SIGPIPE},
    {"CHLD", SIGCHLD}, {"ABRT", SIGABRT},   {"SEGV", SIGSEGV},     {"BUS", SIGBUS},    {"FPE", SIGFPE},
    {"ILL", SIGILL},   {"TRAP", SIGTRAP},   {"SYS", SIGSYS},       {"XCPU", SIGXCPU},  {"XFSZ", SIGXFSZ},
    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"IO", SIGIO},       {"PWR", SIGPWR},    {"URG", SIGURG},
    {"IOT", SIGIOT},   {"POLL", SIGPOLL},   {"CLD", SIGCHLD},
};

// Pool names end up in log prefixes, env vars, URLs and Lua code: keep them plain.
// ',' joins queues ("baz,quux"), '*' is resque's "all queues", '@' allows "name@host".
constexpr const char* kNamePunctuation = "_.,*:-@";

bool valid_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || (c != '\0' && std::strchr(kNamePunctuation, c) != nullptr);
}

// A character as an error message can show it: control characters would garble a terminal.
std::string printable(char c) {
  auto u = static_cast<unsigned char>(c);
  return std::isprint(u) ? std::string(1, c) : fmt::format("\\x{:02x}", u);
}

bool finite_at_least(double v, double min) { return std::isfinite(v) && v >= min; }
bool finite_above(double v, double min) { return std::isfinite(v) && v > min; }

// Characters that make a line shell syntax. '!' and '~' only matter in some positions,
// but sh never changes the meaning of a line it is given, so over-matching is safe.
constexpr const char* kShellChars = "|&;<>()$`\\*?[]#~{}!\n";

// First words that are shell keywords or builtins: exec'ing a program of that name would
// fail or do something else. ("exec foo" through sh still ends up as foo's own pid.)
constexpr std::string_view kShellWords[] = {
    "!",      "{",     "}",     ".",      ":",       "if",    "then",  "else",  "elif",    "fi",     "do",
    "done",   "case",  "esac",  "while",  "until",   "for",   "in",    "time",  "exec",    "eval",   "export",
    "set",    "unset", "cd",    "ulimit", "umask",   "trap",  "source", "readonly", "command", "wait",  "exit",
};

// Splits on blanks with '...' and "..." quoting (no escapes: a backslash is shell syntax
// and never reaches here). Returns false on an unbalanced quote.
bool split_words(const std::string& line, std::vector<std::string>& argv) {
  std::string word;
  bool in_word = false;  // separate from word.empty(): '' is an empty argument
  char quote = 0;
  for (char c : line) {
    if (quote) {
      if (c == quote) quote = 0;
      else word += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) argv.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) argv.push_back(std::move(word));
  return quote == 0;
}

}  // namespace

Status validate_pool_spec(const PoolSpec& s, const EngineLimits& limits) {
  auto bad = [&s](const std::string& what) { return Status::invalid(fmt::format("pool \"{}\": {}", s.name, what)); };
  if (s.name.empty()) return Status::invalid("a pool needs a name");
  if (s.name.size() > kMaxNameLength) return bad(fmt::format("name is longer than {} characters", kMaxNameLength));
  for (char c : s.name)
    if (!valid_name_char(c))
      return bad(fmt::format("name may hold letters, digits and {} only, not '{}'", kNamePunctuation, printable(c)));
  if (s.argv.empty() || s.argv[0].empty()) return bad("cmd is empty");
  // execve takes C strings: a NUL would silently cut the argument short.
  for (size_t i = 0; i < s.argv.size(); ++i)
    if (s.argv[i].find('\0') != std::string::npos) return bad(fmt::format("cmd[{}] holds a NUL byte", i + 1));
  if (s.cwd.find('\0') != std::string::npos) return bad("cwd holds a NUL byte");
  if (s.n < 0 || s.n > limits.max_workers_per_pool)
    return bad(fmt::format("n = {} is out of range 0..{}", s.n, limits.max_workers_per_pool));
  if (!finite_at_least(s.grace_s, 0)) return bad(fmt::format("grace = {} must be >= 0 seconds", s.grace_s));
  // NSIG is one past the highest signal (SIGRTMAX, 64 on Linux).
  if (s.stop_signal < 1 || s.stop_signal >= NSIG)
    return bad(fmt::format("stop_signal {} is not a signal (1..{})", s.stop_signal, NSIG - 1));

  const BackoffPolicy& b = s.backoff;
  if (!finite_above(b.initial_s, 0)) return bad(fmt::format("backoff.initial = {} must be > 0 seconds", b.initial_s));
  if (!finite_at_least(b.max_s, b.initial_s))
    return bad(fmt::format("backoff.max = {} must be >= backoff.initial ({})", b.max_s, b.initial_s));
  if (!finite_at_least(b.factor, 1)) return bad(fmt::format("backoff.factor = {} must be >= 1", b.factor));
  if (!finite_at_least(b.reset_after_s, 0))
    return bad(fmt::format("backoff.reset_after = {} must be >= 0 seconds", b.reset_after_s));

  const FlapPolicy& f = s.flap;
  if (f.max_exits < 1) return bad(fmt::format("flap.max_exits = {} must be >= 1", f.max_exits));
  if (!finite_above(f.window_s, 0)) return bad(fmt::format("flap.window = {} must be > 0 seconds", f.window_s));
  if (!finite_at_least(f.cooldown_s, 0)) return bad(fmt::format("flap.cooldown = {} must be >= 0 seconds", f.cooldown_s));
  if (f.give_up_after < 0)
    return bad(fmt::format("flap.give_up_after = {} must be >= 0 (0: never)", f.give_up_after));

  const HeartbeatPolicy& h = s.heartbeat;
  if (!finite_at_least(h.timeout_s, 0) || h.timeout_s > 86400)
    return bad(fmt::format("heartbeat.timeout = {} must be 0 (off) or up to 86400 seconds", h.timeout_s));
  if (h.require && h.timeout_s == 0) return bad("heartbeat.require needs a heartbeat.timeout");

  // The URL's syntax is the reader's business (autoscale/, which the engine does not link);
  // the loaders check it with parse_redis_url before a spec gets here.
  const BusyRegistry& r = s.busy_registry;
  if (r.enabled()) {
    if (r.layout != "rq" && r.layout != "resque" && r.layout != "sidekiq" && r.layout != "celery")
      return bad(fmt::format("busy: no worker registry in layout \"{}\" (rq, resque, sidekiq or celery)", r.layout));
    if (r.url.empty()) return bad("busy: url is empty");
    if (!(r.timeout_s > 0 && r.timeout_s <= 60)) return bad(fmt::format("busy: timeout = {} must be in (0, 60] seconds", r.timeout_s));
    if (r.layout == "resque" && r.ns.empty()) return bad("busy: empty resque namespace");
  }

  if (s.job_prefetch < 1 || s.job_prefetch > kMaxJobPrefetch)
    return bad(fmt::format("jobs.prefetch = {} is out of range 1..{}", s.job_prefetch, kMaxJobPrefetch));

  for (const auto& [key, value] : s.env) {
    if (key.empty() || key.find('=') != std::string::npos || key.find('\0') != std::string::npos)
      return bad(fmt::format("env key \"{}\" is not a variable name", key));
    // execve takes C strings: a NUL would silently cut the value short.
    if (value.find('\0') != std::string::npos) return bad(fmt::format("env {} holds a NUL byte", key));
  }
  return Status::ok();
}

std::vector<std::string> command_from_string(const std::string& line) {
  if (line.find_first_not_of(" \t\n") == std::string::npos) return {};
  std::vector<std::string> argv;
  bool shell = line.find_first_of(kShellChars) != std::string::npos || !split_words(line, argv);
  // "MODE=fast worker" is an assignment for sh; --opt=1 later on is just an argument.
  if (!shell && !argv.empty()) {
    const std::string& first = argv[0];
    shell = first.find('=') != std::string::npos ||
            std::find(std::begin(kShellWords), std::end(kShellWords), first) != std::end(kShellWords);
  }
  if (shell) return {"/bin/sh", "-c", line};
  return argv;
}

const char* stop_to_name(StopTo to) {
  switch (to) {
    case StopTo::kAuto: return "auto";
    case StopTo::kProcess: return "process";
    case StopTo::kGroup: return "group";
  }
  return "auto";
}

std::optional<StopTo> stop_to_from_name(const std::string& name) {
  if (name == "auto") return StopTo::kAuto;
  if (name == "process") return StopTo::kProcess;
  if (name == "group") return StopTo::kGroup;
  return std::nullopt;
}

const char* job_mode_name(JobMode mode) { return mode == JobMode::kWorker ? "worker" : "exec"; }

std::optional<JobMode> job_mode_from_name(const std::string& name) {
  if (name == "exec") return JobMode::kExec;
  if (name == "worker") return JobMode::kWorker;
  return std::nullopt;
}

StopTo effective_stop_to(const PoolSpec& spec) {
  if (spec.stop_to != StopTo::kAuto) return spec.stop_to;
  const bool via_shell = spec.argv.size() >= 3 && spec.argv[0] == "/bin/sh" && spec.argv[1] == "-c";
  return via_shell ? StopTo::kGroup : StopTo::kProcess;
}

int signal_from_name(const std::string& name) {
  if (name.empty()) return 0;
  if (std::all_of(name.begin(), name.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    // Short enough that stoi cannot overflow; anything longer is no signal anyway.
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
