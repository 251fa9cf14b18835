// drover: start the engine on a config and supervise until told to stop.
//
//   drover pools.lua                       Lua config file
//   drover --workers foo=2:bar=1 --cmd 'rq worker {queue}'
//
// SIGINT/TERM/QUIT stop gracefully (a second INT/TERM kills at once); SIGHUP re-reads the
// config file and applies it live. The interactive shell arrives with the shell issue;
// until then drover runs as --no-shell does and echoes its log to stderr.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "engine/engine.h"
#include "engine/spec_string.h"
#include "shell/lua/config_loader.h"

namespace {

constexpr const char* kUsage = R"(usage: drover [CONFIG.lua] [options]

  CONFIG.lua            pools defined in Lua: pool "name" { cmd = "...", n = 2 }
  --workers SPEC        pools as a spec string: foo=2:bar=2:baz,quux=5:*=1
  --cmd TEMPLATE        command for --workers pools; {queue} is replaced ("rq worker {queue}")
  --log PATH            append worker output and engine events to PATH (rotated by size)
  --pid-file PATH       write drover's pid to PATH while it runs
  --no-shell            run the engine only (the default until the shell lands)
  -q, --quiet           do not echo the log to stderr
  --version, -h/--help
Signals: INT/TERM/QUIT stop gracefully (twice: kill now), HUP reloads CONFIG,
TTIN/TTOU add/remove one worker per pool, USR1/USR2/CONT go to every worker.
)";

struct Args {
  std::string config;
  std::string workers, cmd;
  std::string log_path, pid_file;
  bool quiet = false;
};

std::optional<Args> parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* name) -> std::optional<std::string> {
      if (i + 1 >= argc) {
        fmt::print(stderr, "drover: {} needs a value\n", name);
        return std::nullopt;
      }
      return std::string(argv[++i]);
    };
    std::optional<std::string> v;
    if (arg == "--workers") {
      if (!(v = value("--workers"))) return std::nullopt;
      a.workers = *v;
    } else if (arg == "--cmd") {
      if (!(v = value("--cmd"))) return std::nullopt;
      a.cmd = *v;
    } else if (arg == "--log") {
      if (!(v = value("--log"))) return std::nullopt;
      a.log_path = *v;
    } else if (arg == "--pid-file") {
      if (!(v = value("--pid-file"))) return std::nullopt;
      a.pid_file = *v;
    } else if (arg == "--no-shell") {
      // The only mode for now.
    } else if (arg == "-q" || arg == "--quiet") {
      a.quiet = true;
    } else if (arg == "-h" || arg == "--help") {
      fmt::print("{}", kUsage);
      std::exit(0);
    } else if (arg == "--version") {
      fmt::print("drover 0.1.0\n");
      std::exit(0);
    } else if (!arg.empty() && arg[0] == '-') {
      fmt::print(stderr, "drover: unknown option '{}'\n{}", arg, kUsage);
      return std::nullopt;
    } else if (a.config.empty()) {
      a.config = arg;
    } else {
      fmt::print(stderr, "drover: one config file only (got '{}' and '{}')\n", a.config, arg);
      return std::nullopt;
    }
  }
  if (a.config.empty() && a.workers.empty()) {
    fmt::print(stderr, "drover: give a config file or --workers\n{}", kUsage);
    return std::nullopt;
  }
  return a;
}

drover::Result<std::vector<drover::PoolSpec>> load_pools(const Args& a) {
  std::vector<drover::PoolSpec> pools;
  drover::PoolSpec defaults;
  if (!a.config.empty()) {
    auto cfg = drover::load_config_file(a.config);
    if (!cfg) return cfg.error();
    pools = std::move(cfg->pools);
    defaults = cfg->defaults;
  }
  if (!a.workers.empty()) {
    auto entries = drover::parse_spec_string(a.workers);
    if (!entries) return entries.error();
    auto more = drover::pools_from_spec(*entries, a.cmd, defaults);
    if (!more) return more.error();
    for (auto& p : *more) pools.push_back(std::move(p));
  }
  return pools;
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread exists: the engine reads these from a signalfd.
  drover::block_engine_signals();
  signal(SIGPIPE, SIG_IGN);

  auto args = parse_args(argc, argv);
  if (!args) return 2;
  auto pools = load_pools(*args);
  if (!pools) {
    fmt::print(stderr, "drover: {}\n", pools.error().message());
    return 1;
  }

  drover::EngineOptions options;
  options.log_path = args->log_path;
  options.handle_signals = true;
  options.echo_fd = args->quiet ? -1 : STDERR_FILENO;
  std::optional<drover::Engine> engine;
  try {
    engine.emplace(options);
  } catch (const std::exception& e) {
    fmt::print(stderr, "drover: cannot start the engine: {}\n", e.what());
    return 1;
  }
  if (!args->pid_file.empty()) std::ofstream(args->pid_file) << getpid() << "\n";
  auto events = engine->subscribe(1000, {.events = true, .log_lines = false});
  if (auto s = engine->apply(std::move(*pools)); !s) {
    fmt::print(stderr, "drover: {}\n", s.message());
    return 1;
  }

  // The main thread owns the config file: the engine asks for a reload with an event.
  while (!engine->finished()) {
    auto item = events->pop(std::chrono::milliseconds(200));
    if (!item) continue;
    auto* ev = std::get_if<drover::Event>(&*item);
    if (!ev || ev->kind != drover::EventKind::kReloadRequested) continue;
    if (args->config.empty() && args->workers.empty()) continue;
    auto fresh = load_pools(*args);
    drover::Status s = fresh ? engine->apply(std::move(*fresh), /*remove_missing=*/true) : fresh.error();
    if (!s) fmt::print(stderr, "drover: reload failed, keeping the running config: {}\n", s.message());
  }
  engine.reset();
  if (!args->pid_file.empty()) unlink(args->pid_file.c_str());
  return 0;
}
