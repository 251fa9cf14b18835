// Helpers for integration tests with real processes: wait for a condition (never a fixed
// sleep), inspect /proc, temporary directories, quick pool specs for fake_worker.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace drover::test {

using namespace std::chrono_literals;

// Polls pred every 2 ms until it holds or the deadline passes (circus's poll_for).
// The only way a test waits: never a fixed sleep.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds deadline);

// Alive and not a zombie (kill(pid, 0) succeeds and /proc/PID/stat's state is not Z or X).
bool pid_alive(pid_t pid);
// None of pids is alive.
bool all_dead(const std::vector<pid_t>& pids);
// Zombie processes whose parent is `parent`, from /proc/*/stat.
std::vector<pid_t> zombie_children_of(pid_t parent);
// Live children of `parent` (any state but zombie).
std::vector<pid_t> children_of(pid_t parent);
std::string proc_exe(pid_t pid);
// The process has a handler installed for sig (SigCgt in /proc/PID/status): a fresh
// fake_worker is "ready" for SIGTERM only once this holds.
bool catches_signal(pid_t pid, int sig);
// The process has set sig to SIG_IGN.
bool ignores_signal(pid_t pid, int sig);
// One variable of a live process's environment (/proc/PID/environ); empty when unset.
// Waits (up to 1 s) for a just-exec'd process's environment to appear.
std::string proc_env(pid_t pid, const std::string& key);
// VmRSS of this process, in kB.
long self_rss_kb();

// A TCP port on 127.0.0.1 that was free a moment ago (the OS picked it; we closed it),
// for a server a test is about to start, so tests side by side never meet on one.
int free_port();

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& text);

// Engine options for a test: the log file in dir, everything else default.
EngineOptions engine_options(const TempDir& dir);
// A pool running fake_worker with the given mode arguments.
PoolSpec fake_pool(const std::string& name, int n, std::vector<std::string> args = {"sleep"});
// Pids of the pool's workers in state kRunning, sorted; empty for an unknown pool.
std::vector<pid_t> running_pids(const EngineSnapshot& snap, const std::string& pool);
// Throws for an unknown pool (a test bug, or a pool that should still be there).
const PoolSnapshot& pool_of(const EngineSnapshot& snap, const std::string& pool);

// The pool exists and has exactly n slots, all running.
bool pool_running(Engine& engine, const std::string& pool, int n);
// Some line of the engine's in-memory tail (of the pool, or all) contains text.
bool log_contains(Engine& engine, const std::string& text, const std::optional<std::string>& pool = std::nullopt);

inline const char* fake_worker_path() { return FAKE_WORKER_PATH; }
inline const char* drover_path() { return DROVER_BIN_PATH; }

}  // namespace drover::test
