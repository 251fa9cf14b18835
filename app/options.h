// drover's command line and its subcommands': what each option says (the structs below)
// and the parsers that fill them, built on CLI11 (options.cpp). The parsers print nothing
// and never exit: they return what to print and the exit status, so they can be tested.
//
//   drover [CONFIG.lua] [options]          parse_options
//   drover attach [ADDRESS] [options]      parse_attach_options
//   drover heartbeat [options]             parse_heartbeat_options
//
// Every option takes its value as `--opt value` or `--opt=value` (short ones as `-e CODE`
// or `-eCODE`); two take it only after '=' or not at all: --wait[=SECONDS] (a bare --wait
// is 30 s) and --http [HOST:PORT], whose value is taken only when it reads as an address
// (so `--http pools.lua` is the default address and a config file). The usage that -h
// prints is generated from the options (CLI11), in drover's layout (a "usage:" synopsis,
// then one row per option, described from column 24), which tools/make_man_page.cpp turns
// into the man page's SYNOPSIS and OPTIONS.
//
// Exit status of a parse that ends the command: 0 for -h and --version (on stdout), 2 for
// bad usage (on stderr, naming the option).
#pragma once

#include <sys/types.h>

#include <optional>
#include <set>

#include "jobs/job_settings.h"
#include <string>
#include <vector>

#include "engine/containment.h"
#include "shell/lua/lua_limits.h"

namespace drover {

// drover [CONFIG.lua] [options]
struct Options {
  std::string config;
  std::string workers, cmd;
  std::string resque_pool, wpm_config;
  std::vector<std::string> heartbeat_endpoints;   // --heartbeat, repeatable
  std::string http, http_token_file;              // http: "" when --http is not given
  std::vector<std::string> http_hosts;            // --http-host: names clients may reach drover by
  bool wpm_compat = false;
  std::string log_path, pid_file, script;
  std::vector<std::string> exprs;                 // -e, repeatable, in order
  bool no_shell = false, stay = false, quiet = false;
  std::optional<double> wait_s;                   // --wait: settle() before -e
  LuaLimitSettings lua;
  std::optional<ContainMode> contain;
  std::string state_dir;                          // --state: the job store's directory; "": the default
  std::string schedule_file;                      // --schedule: taskmanager's schedule file (JSON)
  std::string jobs_durability = "normal";         // --jobs-durability: full, normal or off
  bool tasker_compat = false;                     // --tasker-compat: tasker's POST /TYPE, GET /TYPE/IDENT
  size_t jobs_keep = 100000;                      // --jobs-keep: finished jobs kept, newest first
  double jobs_keep_for_s = 7 * 86400;             // --jobs-keep-for: and no older than this
  std::string jobs_store;                         // --jobs-store: postgresql://...; "": jobs.db in state_dir
  std::string host_name;                          // --host-name: this drover in the fleet; "": the hostname
  double host_lease_s = 10;                       // --host-lease: a silent host's jobs go back after this
  // Which of the job queue's options above the command line gave ("--jobs-store", ...):
  // they win over the config's jobs{...}, which gives the rest (jobs/job_settings.h).
  std::set<std::string> jobs_flags;
};

// drover attach [PID|SOCKET|HOST:PORT] [-e CODE]... [-i] [--wait[=SECONDS]] [--token-file PATH]
struct AttachOptions {
  std::string address;
  std::vector<std::string> exprs;
  bool stay = false;
  std::optional<double> wait_s;                   // --wait: settle() before -e, as drover's own
  std::string token_file;
};

// drover enqueue [--to PID|SOCKET|HOST:PORT] [options] TOPIC [ARGS]
struct EnqueueOptions {
  std::string to;          // which drover, as `drover attach` takes it; "": your one drover here
  std::string token_file;
  std::string topic;
  std::optional<std::string> args;  // JSON; none or "-": one job per line of stdin
  int priority = 0;
  double delay_s = 0, timeout_s = 0;
  int attempts = 3;
  std::string key;
};

// drover heartbeat [options]
struct HeartbeatOptions {
  std::optional<std::string> endpoint, pool, status;
  std::optional<bool> busy;
  std::optional<double> progress;
  pid_t pid = 0;  // 0: getppid()
  double timeout_s = 2.0;
};

// What a parse came to: the options to run with, or the exit status of a command that ends
// here with `out` (help, version) or `err` (bad usage) to print.
template <typename T>
struct Parsed {
  std::optional<T> options;
  int exit_code = 0;
  std::string out, err;
};

// The config's jobs{...} into what the command line left unsaid (Options::jobs_flags).
void merge_job_settings(Options& o, const jobs::JobSettings& s);

// args: the words after the program's name (after "attach" and "heartbeat" for those).
Parsed<Options> parse_options(const std::vector<std::string>& args);
Parsed<AttachOptions> parse_attach_options(const std::vector<std::string>& args);
Parsed<HeartbeatOptions> parse_heartbeat_options(const std::vector<std::string>& args);
Parsed<EnqueueOptions> parse_enqueue_options(const std::vector<std::string>& args);

// `drover --help`, `drover attach --help`, `drover heartbeat --help`.
std::string drover_usage();
std::string attach_usage();
std::string heartbeat_usage();
std::string enqueue_usage();

// The version CMake's project() gives, as --version prints it after "drover ".
const char* drover_version();

// argv[first..argc) as words.
std::vector<std::string> args_of(int argc, char** argv, int first);

}  // namespace drover
