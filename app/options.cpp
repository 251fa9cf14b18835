#include "app/options.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "control/http_control.h"
#include "jobs/job_settings.h"

#ifndef DROVER_VERSION
#error "DROVER_VERSION comes from CMake's project(VERSION) (app/CMakeLists.txt)"
#endif

namespace drover {

namespace {

constexpr size_t kDescriptionColumn = 24;

// drover's help layout from CLI11's parts: "usage: NAME [POSITIONAL] [options]" (or the
// options spelled out, for a command with few), an optional paragraph, one row per option
// in the order they were added ("-c, --resque-pool YML", the description from column 24,
// a long name on a row of its own), then the footer. No group headings: the man page
// generator reads rows that start with a space as options and lines at column 0 as notes.
class Formatter final : public CLI::Formatter {
 public:
  explicit Formatter(bool list_options) : list_options_(list_options) { column_width(kDescriptionColumn); }

  std::string make_help(const CLI::App* app, std::string name, CLI::AppFormatMode) const override {
    std::string out = "usage: " + synopsis(app, name) + "\n";
    for (const auto& line : extra_synopsis_) out += "       " + line + "\n";
    if (!app->get_description().empty()) out += "\n" + app->get_description() + "\n";
    out += "\n";
    for (const CLI::Option* opt : app->get_options({})) {
      if (opt->get_description().empty()) continue;  // hidden
      out += make_option(opt, opt->nonpositional() == false);
    }
    if (!app->get_footer().empty()) out += app->get_footer() + "\n";
    return out;
  }

  // The synopsis of `app` (its name, then its positionals and options), without "usage: ".
  std::string synopsis(const CLI::App* app, std::string name) const {
    if (name.empty()) name = app->get_name();
    std::string out = name;
    for (const CLI::Option* opt : app->get_options({})) {
      if (opt->get_description().empty()) continue;
      if (!opt->nonpositional()) out += " [" + shown_name(opt) + "]";
    }
    if (!list_options_) return out + " [options]";
    for (const CLI::Option* opt : app->get_options({})) {
      if (!opt->nonpositional() || opt->get_description().empty() || is_help(opt)) continue;
      std::string first = opt->get_snames().empty() ? "--" + opt->get_lnames().front() : "-" + opt->get_snames().front();
      out += " [" + first + make_option_opts(opt) + "]" + (repeatable(opt) ? "..." : "");
    }
    return out;
  }

  // More lines under the synopsis (drover's subcommands).
  void add_synopsis_line(std::string line) { extra_synopsis_.push_back(std::move(line)); }

  std::string make_option_name(const CLI::Option* opt, bool positional) const override {
    if (positional) return shown_name(opt);
    std::string out;
    for (const auto& s : opt->get_snames()) out += (out.empty() ? "-" : ", -") + s;
    for (const auto& l : opt->get_lnames()) out += (out.empty() ? "--" : ", --") + l;
    return out;
  }

  // " VALUE" (or "[=VALUE]", "[VALUE]" for an optional one, as type_name says).
  std::string make_option_opts(const CLI::Option* opt) const override {
    if (!opt->nonpositional()) return "";
    const std::string type = opt->get_type_name();
    if (type.empty() || (opt->get_expected_max() == 0 && type.rfind("[=", 0) != 0)) return "";
    return type.rfind("[=", 0) == 0 ? type : " " + type;
  }

  std::string make_option(const CLI::Option* opt, bool positional) const override {
    std::stringstream out;
    CLI::detail::format_help(out, make_option_name(opt, positional) + make_option_opts(opt), opt->get_description(),
                             column_width_);
    return out.str();
  }

 private:
  static bool is_help(const CLI::Option* opt) { return opt->check_lname("help"); }
  // Repeatable: every occurrence kept (-e CODE -e CODE), see repeatable() below.
  static bool repeatable(const CLI::Option* opt) {
    return opt->get_multi_option_policy() == CLI::MultiOptionPolicy::TakeAll;
  }
  static std::string shown_name(const CLI::Option* opt) {
    return opt->get_type_name().empty() ? opt->get_name(true) : opt->get_type_name();
  }

  bool list_options_;
  std::vector<std::string> extra_synopsis_;
};

// A number in [lo, hi] from a flag's value, all of it ("10", "0.5"; not "10s", "nan").
std::optional<double> number_in(const std::string& text, double lo, double hi) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end || errno || !std::isfinite(v) || v < lo || v > hi) return std::nullopt;
  return v;
}

// A whole-string number, finite; nullopt for "", "1x", "nan".
std::optional<double> parse_number(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (*end != '\0' || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<pid_t> parse_pid(const std::string& s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 10) return std::nullopt;
  long long v = std::stoll(s);
  if (v <= 0 || v > INT_MAX) return std::nullopt;
  return static_cast<pid_t>(v);
}

// One value per occurrence, every occurrence kept: -e A -e B.
CLI::Option* repeatable(CLI::Option* opt) {
  return opt->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)->allow_extra_args(false);
}

// CLI11's words for a missing value ("--cmd: 1 required TEMPLATE missing") as drover says it.
std::string explain(const CLI::ParseError& e) {
  const std::string what = e.what();
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e) && what.find(" required ") != std::string::npos &&
      what.size() > 8 && what.compare(what.size() - 8, 8, " missing") == 0)
    return what.substr(0, what.find(':')) + " needs a value";
  return what;
}

// Parses `args` (in order) with `app`, which allows extras: the words it left over come
// back, in order, for the caller to name.
std::vector<std::string> run_parser(CLI::App& app, const std::vector<std::string>& args) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  app.parse(reversed);
  return app.remaining();
}

// --- drover -----------------------------------------------------------------------------

constexpr const char* kFooter = R"(Pool sources add up: CONFIG.lua, --workers, -c and --wpm-config may be combined (a Lua
config's defaults{} reach --workers and -c pools); a pool defined twice is an error.
Signals: INT/TERM/QUIT stop gracefully (twice: kill now), HUP re-reads every config file
(the heartbeat endpoints stay), TTIN/TTOU add/remove one worker per pool, USR1/USR2/CONT go
to every worker.
In the shell, Ctrl-C interrupts the running command; Ctrl-D or exit() stops drover.)";

// Where drover's options land while parsing, before they are checked into Options.
struct RawOptions {
  Options o;
  std::string http, wait, contain, lua_memory, lua_time;
  bool help = false, version = false;
};

std::unique_ptr<CLI::App> attach_app(AttachOptions& a, std::string& wait, bool& help);
std::unique_ptr<CLI::App> heartbeat_app(HeartbeatOptions& h, std::string& progress, std::string& pid,
                                        std::string& timeout, bool& busy, bool& idle, bool& help);

std::unique_ptr<CLI::App> drover_app(RawOptions& r) {
  auto app = std::make_unique<CLI::App>("", "drover");
  app->set_help_flag();
  app->allow_extras();
  app->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // given twice: the last counts
  auto fmt = std::make_shared<Formatter>(false);
  {
    // The subcommands, by their own synopses.
    AttachOptions a;
    HeartbeatOptions h;
    std::string s1, s2, s3, s4;
    bool b1 = false, b2 = false, b3 = false;
    fmt->add_synopsis_line(Formatter(false).synopsis(heartbeat_app(h, s1, s2, s3, b1, b2, b3).get(), "drover heartbeat") +
                           "   one keep-alive from a worker script (-h)");
    fmt->add_synopsis_line(Formatter(true).synopsis(attach_app(a, s4, b1).get(), "drover attach"));
    fmt->add_synopsis_line(std::string(kDescriptionColumn - 7, ' ') +
                           "the shell of a running drover: without an address your one drover on this host (-h)");
    fmt->add_synopsis_line("drover enqueue [--to ADDRESS] [options] TOPIC [ARGS]   jobs for a running drover (-h)");
    fmt->add_synopsis_line("drover job next | done ID [RESULT] | fail ID [ERROR]   a worker-mode script's jobs (-h)");
  }
  app->formatter(fmt);
  app->footer(kFooter);
  Options& o = r.o;
  app->add_option("config", o.config, "pools defined in Lua: pool \"name\" { cmd = \"...\", n = 2 }")
      ->type_name("CONFIG.lua");
  app->add_option("--workers", o.workers, "pools as a spec string: foo=2:bar=2:baz,quux=5:*=1")->type_name("SPEC");
  app->add_option("--cmd", o.cmd,
                  "command for --workers and -c pools: {queue} is the pool's queue list as one\n"
                  "word (\"QUEUE={queue} rake resque:work\"), {queues} one word per queue\n"
                  "(\"rq worker {queues}\": rq worker baz quux)")
      ->type_name("TEMPLATE");
  app->add_option("-c,--resque-pool", o.resque_pool,
                  "resque-pool's config (\"foo,bar\": 2; sections by RACK_ENV/RAILS_ENV/RESQUE_ENV);\n"
                  "without --cmd the workers run `rake resque:work` (QUEUE and QUEUES set)")
      ->type_name("YML");
  app->add_option("--wpm-config", o.wpm_config,
                  "workerpoolmanager's task config (path, filesuffix, keepalives, autotasks):\n"
                  "autotasks start, other tasks wait for start; keep-alives on its inbound_port;\n"
                  "HTTP on 127.0.0.1:port unless --http; its pidfile unless --pid-file")
      ->type_name("JSON");
  repeatable(app->add_option("--heartbeat", o.heartbeat_endpoints,
                             "bind the heartbeat socket here (repeatable; the first goes to the workers in\n"
                             "DROVER_HEARTBEAT; default ipc:// in a 0700 dir); --wpm-config's is bound too"))
      ->type_name("ENDPOINT");
  app->add_flag("--wpm-compat", o.wpm_compat, "also bind tcp://127.0.0.1:5591, where workerpoolmanager's workers send");
  app->add_option("--http", r.http,
                  "serve HTTP: /healthz, /metrics, workerpoolmanager's /tasks routes and the JSON\n"
                  "API under /api/v1 (default 127.0.0.1:8010). A token is always required; on\n"
                  "loopback, without one given, drover generates one in\n"
                  "${XDG_STATE_HOME:-~/.local/state}/drover/http-token (0600; kept for restarts,\n"
                  "read by `drover attach`); beyond loopback give one")
      ->expected(0, 1)
      ->default_str(kDefaultHttpAddress)
      ->type_name("[HOST:PORT]");
  app->add_option("--http-token-file", o.http_token_file,
                  "the token HTTP clients send as `Authorization: Bearer TOKEN` (mode 0600 or\n"
                  "stricter); or DROVER_HTTP_TOKEN, which drover removes from its environment")
      ->type_name("PATH");
  repeatable(app->add_option("--http-host", o.http_hosts,
                             "a host name clients reach --http by (repeatable): requests must name an IP\n"
                             "address, localhost or one of these in Host (DNS rebinding is refused)"))
      ->type_name("NAME");
  app->add_option("--state", o.state_dir,
                  "the job queue's directory, created 0700 (jobs.db, one drover at a time);\n"
                  "default ${XDG_STATE_HOME:-~/.local/state}/drover")
      ->type_name("DIR");
  app->add_option("--schedule", o.schedule_file,
                  "taskmanager's schedule file: a JSON array of {\"Id\", \"Cron\", \"Topic\",\n"
                  "\"TaskMessageTemplate\"}; each entry a schedule (help \"schedule\")")
      ->type_name("FILE");
  app->add_option("--jobs-durability", o.jobs_durability,
                  "what a power cut may cost the job queue: full (nothing acknowledged), normal\n"
                  "(the last commits; the default), off (anything: throwaway queues)")
      ->check(CLI::IsMember({"full", "normal", "off"}))
      ->type_name("full|normal|off");
  app->add_option("--jobs-keep", o.jobs_keep, "done, dead and cancelled jobs kept, newest first (default 100000)")
      ->check(CLI::Range(size_t{0}, size_t{100000000}))
      ->type_name("N");
  app->add_option("--jobs-keep-for", o.jobs_keep_for_s, "... and for at most this many seconds (default 604800: a week)")
      ->check(CLI::Range(0.0, 10 * 365 * 86400.0))
      ->type_name("SECONDS");
  app->add_option("--jobs-store", o.jobs_store,
                  "a PostgreSQL database several drovers share as one job queue\n"
                  "(postgresql://USER@HOST/DB); default jobs.db in --state, this drover's alone")
      ->check([](const std::string& url) -> std::string {
        if (url.empty()) return "an empty URL (without --jobs-store: jobs.db in --state)";
        Status s = jobs::check_store_url(url);
        return s ? "" : s.message();
      })
      ->type_name("URL");
  app->add_option("--host-name", o.host_name,
                  "this drover's name in a shared job queue's fleet; default the machine's hostname")
      ->check([](const std::string& name) -> std::string {
        Status s = jobs::check_host_name(name);
        return s ? "" : s.message();
      })
      ->type_name("NAME");
  app->add_option("--host-lease", o.host_lease_s,
                  "with --jobs-store: a host silent this long is gone, its running jobs queued\n"
                  "again elsewhere (default 10; renewed every third of it)")
      ->check(CLI::Range(0.3, 3600.0))
      ->type_name("SECONDS");
  app->add_flag("--tasker-compat", o.tasker_compat,
                "serve tasker's API over HTTP: POST /TYPE makes a fan-out job over its\n"
                "endpoints (pools), GET /TYPE/IDENT answers it with a response per endpoint");
  repeatable(app->add_option("-e", o.exprs, "run Lua CODE in the shell and print its values, then stop (repeatable)"))
      ->type_name("CODE");
  app->add_flag("-i", o.stay, "with -e: stay in the interactive shell afterwards");
  app->add_flag("--wait{30}", r.wait,
                "before -e, wait for every pool to run its size (default 30 s); exit 1 with\n"
                "the reason if they do not (a health check: settle() in the shell)")
      ->type_name("[=SECONDS]");
  app->add_option("--script", o.script, "run a Lua file with the shell's commands, then stop")->type_name("FILE");
  app->add_flag("--no-shell", o.no_shell,
                "engine only: log to stderr, stop on INT/TERM; sd_notify when NOTIFY_SOCKET is set");
  app->add_option("--log", o.log_path, "append worker output and engine events to PATH (rotated by size)")
      ->type_name("PATH");
  app->add_option("--pid-file", o.pid_file,
                  "write drover's pid to PATH while it runs (locked: a second drover with the\n"
                  "same PATH fails; removed at exit if it still holds drover's pid)")
      ->type_name("PATH");
  app->add_option("--lua-memory", r.lua_memory,
                  "the memory limit of the shell's Lua state, where the config file runs (default 256)")
      ->type_name("MB");
  app->add_option("--lua-time", r.lua_time,
                  "the time budget of a config file's run, at start and on reload (default 10)")
      ->type_name("SECONDS");
  app->add_option("--contain", r.contain,
                  "how each worker's whole tree is held, so nothing it starts outlives it or\n"
                  "drover: auto (default: cgroup where drover can create cgroups, else\n"
                  "subreaper), cgroup, subreaper, group (process groups only)")
      ->type_name("MODE");
  app->add_flag("-q,--quiet", o.quiet, "with --no-shell: do not echo the log to stderr");
  app->add_flag("--version", r.version, "print drover's version");
  app->add_flag("-h,--help", r.help, "print this help");
  return app;
}

// --- drover attach ------------------------------------------------------------------------

std::unique_ptr<CLI::App> attach_app(AttachOptions& a, std::string& wait, bool& help) {
  auto app = std::make_unique<CLI::App>(
      "the shell of a running drover; exit or Ctrl-D detaches. Without an address: your one\n"
      "drover on this host; PID: your drover with that pid (else a number is a port);\n"
      "SOCKET: its control socket's path; HOST:PORT: a drover serving --http",
      "drover attach");
  app->set_help_flag();
  app->allow_extras();
  app->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // given twice: the last counts
  app->formatter(std::make_shared<Formatter>(true));
  app->add_option("address", a.address, "which drover (see above)")->type_name("PID|SOCKET|HOST:PORT");
  repeatable(app->add_option("-e", a.exprs, "run Lua CODE in its shell and print its values, then detach (repeatable)"))
      ->type_name("CODE");
  app->add_flag("-i", a.stay, "with -e: stay in the shell afterwards");
  app->add_flag("--wait{30}", wait,
                "before -e, wait for every pool to run its size (default 30 s); exit 1 with\n"
                "the reason if they do not (a health check: settle() in the shell)")
      ->type_name("[=SECONDS]");
  app->add_option("--token-file", a.token_file,
                  "the HTTP token, for HOST:PORT (default: DROVER_HTTP_TOKEN, else the token\n"
                  "file your own drovers make)")
      ->type_name("PATH");
  app->add_flag("-h,--help", help, "print this help");
  return app;
}

// --- drover enqueue -----------------------------------------------------------------------

std::unique_ptr<CLI::App> enqueue_app(EnqueueOptions& e, std::string& args, bool& help) {
  auto app = std::make_unique<CLI::App>(
      "Queues jobs in a running drover's job queue for the jobs pool named TOPIC and prints\n"
      "their ids. ARGS is the job's args as JSON; without it (or with -), each line of stdin\n"
      "is one job's args, sent in batches.",
      "drover enqueue");
  app->set_help_flag();
  app->allow_extras();
  app->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // given twice: the last counts
  app->formatter(std::make_shared<Formatter>(false));
  app->footer("Exit status: 0 queued; 1 refused (the detail names the field) or no drover reached; 2 bad usage.");
  app->add_option("topic", e.topic, "the jobs pool that runs them")->type_name("TOPIC")->required();
  app->add_option("args", args, "the job's args, JSON (default: one job per line of stdin)")->type_name("ARGS");
  app->add_option("--to", e.to,
                  "which drover, as `drover attach` takes it (default: your one drover on\n"
                  "this host)")
      ->type_name("PID|SOCKET|HOST:PORT");
  app->add_option("--token-file", e.token_file, "the HTTP token, for HOST:PORT (as drover attach)")->type_name("PATH");
  app->add_option("--priority", e.priority, "higher runs first (default 0)")->type_name("N");
  app->add_option("--delay", e.delay_s, "not before this many seconds from now")->type_name("SECONDS");
  app->add_option("--attempts", e.attempts, "runs in all before the job is dead (default 3)")->type_name("N");
  app->add_option("--timeout", e.timeout_s, "stop a run that takes longer (default: none)")->type_name("SECONDS");
  app->add_option("--key", e.key, "a unique key: while a job with it waits or runs, that job is the\nanswer")
      ->type_name("KEY");
  app->add_flag("-h,--help", help, "print this help");
  return app;
}

// --- drover heartbeat ---------------------------------------------------------------------

std::unique_ptr<CLI::App> heartbeat_app(HeartbeatOptions& h, std::string& progress, std::string& pid,
                                        std::string& timeout, bool& busy, bool& idle, bool& help) {
  auto app = std::make_unique<CLI::App>(
      "Sends one keep-alive to the drover engine that runs this worker, then exits. For worker\n"
      "scripts: call it every few seconds, more often than the pool's heartbeat timeout.",
      "drover heartbeat");
  app->set_help_flag();
  app->allow_extras();
  app->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // given twice: the last counts
  app->formatter(std::make_shared<Formatter>(false));
  app->footer("Exit status: 0 sent; 1 not sent (no endpoint or pool, or no engine listening); 2 bad usage.");
  app->add_option("--status", h.status, "what the worker is doing (\"job 42\"); the engine keeps the last one")
      ->type_name("TEXT");
  app->add_flag("--busy", busy, "working on a job (busy-aware scale-down)");
  app->add_flag("--idle", idle, "waiting for one");
  app->add_option("--progress", progress, "progress of the current job, a number in 0..1")->type_name("X");
  app->add_option("--pid", pid, "the worker's pid (default: this command's parent, the script)")->type_name("PID");
  app->add_option("--endpoint", h.endpoint, "the engine's socket (default: $DROVER_HEARTBEAT)")->type_name("EP");
  app->add_option("--pool", h.pool, "the pool (default: $DROVER_POOL)")->type_name("NAME");
  app->add_option("--timeout", timeout, "how long to wait for the engine (default: 2)")->type_name("SECONDS");
  app->add_flag("-h,--help", help, "print this help");
  return app;
}

}  // namespace

const char* drover_version() { return DROVER_VERSION; }

std::vector<std::string> args_of(int argc, char** argv, int first) {
  std::vector<std::string> out;
  for (int i = first; i < argc; ++i) out.emplace_back(argv[i]);
  return out;
}

std::string drover_usage() {
  RawOptions r;
  return drover_app(r)->help();
}

std::string attach_usage() {
  AttachOptions a;
  std::string wait;
  bool help = false;
  return attach_app(a, wait, help)->help();
}

std::string enqueue_usage() {
  EnqueueOptions e;
  std::string args;
  bool help = false;
  return enqueue_app(e, args, help)->help();
}

Parsed<EnqueueOptions> parse_enqueue_options(const std::vector<std::string>& args) {
  Parsed<EnqueueOptions> p;
  EnqueueOptions e;
  std::string job_args;
  bool help = false;
  auto app = enqueue_app(e, job_args, help);
  auto fail = [&p](const std::string& why) {
    p.exit_code = 2;
    p.err = "drover enqueue: " + why + "\n" + enqueue_usage();
    return p;
  };
  std::vector<std::string> extra;
  try {
    extra = run_parser(*app, args);
  } catch (const CLI::ParseError& err) {
    if (help || std::find(args.begin(), args.end(), "-h") != args.end() ||
        std::find(args.begin(), args.end(), "--help") != args.end()) {
      p.out = app->help();
      return p;
    }
    return fail(explain(err));
  }
  if (help) {
    p.out = app->help();
    return p;
  }
  for (const auto& word : extra) {
    if (word.size() > 1 && word[0] == '-') return fail(fmt::format("unknown option '{}'", word));
    return fail(fmt::format("one TOPIC and one ARGS (got '{}' too)", word));
  }
  if (app->count("args") && job_args != "-") e.args = job_args;
  p.options = std::move(e);
  return p;
}

std::string heartbeat_usage() {
  HeartbeatOptions h;
  std::string s1, s2, s3;
  bool b1 = false, b2 = false, b3 = false;
  return heartbeat_app(h, s1, s2, s3, b1, b2, b3)->help();
}

Parsed<Options> parse_options(const std::vector<std::string>& args) {
  Parsed<Options> p;
  RawOptions r;
  auto app = drover_app(r);
  auto fail = [&p](const std::string& why, bool usage = false) {
    p.exit_code = 2;
    p.err = "drover: " + why + "\n" + (usage ? drover_usage() : "(drover --help for the options)\n");
    return p;
  };
  std::vector<std::string> extra;
  try {
    extra = run_parser(*app, args);
  } catch (const CLI::ParseError& e) {
    return fail(explain(e));
  }
  if (r.help) {
    p.out = app->help();
    return p;
  }
  if (r.version) {
    p.out = fmt::format("drover {}\n", drover_version());
    return p;
  }
  Options& a = r.o;
  // --http's value only when it reads as an address: `--http pools.lua` is the default
  // address and a config file. A value after '=' is always the address.
  if (app->count("--http")) {
    a.http = r.http;
    if (!parse_listen_address(r.http)) {
      const bool inline_value = std::any_of(args.begin(), args.end(),
                                            [](const std::string& s) { return s.rfind("--http=", 0) == 0; });
      if (inline_value) return fail(fmt::format("--http={}: not HOST:PORT", r.http));
      extra.insert(extra.begin(), r.http);
      a.http = kDefaultHttpAddress;
    }
  }
  for (const auto& word : extra) {
    if (word.size() > 1 && word[0] == '-') return fail(fmt::format("unknown option '{}'", word));
    if (a.config.empty()) a.config = word;
    else return fail(fmt::format("one config file only (got '{}' and '{}')", a.config, word));
  }
  for (const char* flag : {"--jobs-store", "--jobs-durability", "--jobs-keep", "--jobs-keep-for", "--host-name",
                           "--host-lease"})
    if (app->count(flag)) a.jobs_flags.insert(flag);
  if (app->count("--wait")) {
    auto s = number_in(r.wait, 0, 86400);
    if (!s) return fail(fmt::format("--wait={}: seconds from 0 to 86400", r.wait));
    a.wait_s = *s;
  }
  if (app->count("--contain") && !contain_mode_from_name(r.contain, &a.contain))
    return fail(fmt::format("--contain takes auto, cgroup, subreaper or group, not '{}'", r.contain));
  if (app->count("--lua-memory")) {
    auto n = number_in(r.lua_memory, 1, 1 << 20);
    if (!n || *n != std::floor(*n))
      return fail(fmt::format("--lua-memory takes whole megabytes (1 to 1048576), got '{}'", r.lua_memory));
    a.lua.memory_bytes = static_cast<size_t>(*n) << 20;
  }
  if (app->count("--lua-time")) {
    auto n = number_in(r.lua_time, 0.1, 86400);
    if (!n) return fail(fmt::format("--lua-time takes seconds (0.1 to 86400), got '{}'", r.lua_time));
    a.lua.config_time_s = *n;
  }
  // --schedule alone is a queue with schedules and no pool yet (jobs wait for one).
  if (a.config.empty() && a.workers.empty() && a.resque_pool.empty() && a.wpm_config.empty() &&
      a.schedule_file.empty())
    return fail("give a config file, --workers, -c, --wpm-config or --schedule", /*usage=*/true);
  if (!a.cmd.empty() && a.workers.empty() && a.resque_pool.empty())
    return fail("--cmd is the command of --workers and -c pools: give one of them");
  p.options = std::move(a);
  return p;
}

Parsed<AttachOptions> parse_attach_options(const std::vector<std::string>& args) {
  Parsed<AttachOptions> p;
  AttachOptions a;
  std::string wait;
  bool help = false;
  auto app = attach_app(a, wait, help);
  auto fail = [&p](const std::string& why) {
    p.exit_code = 2;
    p.err = "drover attach: " + why + "\n" + attach_usage();
    return p;
  };
  std::vector<std::string> extra;
  try {
    extra = run_parser(*app, args);
  } catch (const CLI::ParseError& e) {
    return fail(explain(e));
  }
  if (help) {
    p.out = app->help();
    return p;
  }
  for (const auto& word : extra) {
    if (word.size() > 1 && word[0] == '-') return fail(fmt::format("unknown option '{}'", word));
    return fail(fmt::format("one address only (got '{}' and '{}')", a.address, word));
  }
  if (app->count("--wait")) {
    auto s = number_in(wait, 0, 86400);
    if (!s) return fail(fmt::format("--wait={}: seconds from 0 to 86400", wait));
    a.wait_s = *s;
  }
  p.options = std::move(a);
  return p;
}

Parsed<HeartbeatOptions> parse_heartbeat_options(const std::vector<std::string>& args) {
  Parsed<HeartbeatOptions> p;
  HeartbeatOptions h;
  std::string progress, pid, timeout;
  bool busy = false, idle = false, help = false;
  auto app = heartbeat_app(h, progress, pid, timeout, busy, idle, help);
  auto fail = [&p](const std::string& why) {
    p.exit_code = 2;
    p.err = "drover heartbeat: " + why + "\n(drover heartbeat --help for usage)\n";
    return p;
  };
  std::vector<std::string> extra;
  try {
    extra = run_parser(*app, args);
  } catch (const CLI::ParseError& e) {
    return fail(explain(e));
  }
  if (help) {
    p.out = app->help();
    return p;
  }
  for (const auto& word : extra) {
    if (word.size() > 1 && word[0] == '-') return fail(fmt::format("unknown option '{}'", word));
    return fail(fmt::format("unexpected argument '{}'", word));
  }
  if (busy && idle) return fail("--busy and --idle contradict each other");
  if (busy || idle) h.busy = busy;
  if (app->count("--progress")) {
    auto x = parse_number(progress);
    if (!x || *x < 0 || *x > 1) return fail(fmt::format("--progress wants a number in 0..1, got '{}'", progress));
    h.progress = *x;
  }
  if (app->count("--pid")) {
    auto v = parse_pid(pid);
    if (!v) return fail(fmt::format("--pid wants a process id, got '{}'", pid));
    h.pid = *v;
  }
  if (h.endpoint && h.endpoint->empty()) return fail("--endpoint is empty");
  if (h.pool && h.pool->empty()) return fail("--pool is empty");
  if (app->count("--timeout")) {
    constexpr double kMaxTimeoutS = 3600.0;
    auto t = parse_number(timeout);
    if (!t || *t <= 0 || *t > kMaxTimeoutS)
      return fail(fmt::format("--timeout wants seconds in (0, {}], got '{}'", kMaxTimeoutS, timeout));
    h.timeout_s = *t;
  }
  p.options = std::move(h);
  return p;
}

void merge_job_settings(Options& o, const jobs::JobSettings& s) {
  auto from_config = [&o](const char* flag) { return !o.jobs_flags.count(flag); };
  if (s.store && from_config("--jobs-store")) o.jobs_store = *s.store;
  if (s.durability && from_config("--jobs-durability")) o.jobs_durability = *s.durability;
  if (s.keep && from_config("--jobs-keep")) o.jobs_keep = *s.keep;
  if (s.keep_for_s && from_config("--jobs-keep-for")) o.jobs_keep_for_s = *s.keep_for_s;
  if (s.host && from_config("--host-name")) o.host_name = *s.host;
  if (s.lease_s && from_config("--host-lease")) o.host_lease_s = *s.lease_s;
}

}  // namespace drover
