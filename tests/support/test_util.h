// Helpers for integration tests with real processes: wait for a condition (never a fixed
// sleep), inspect /proc, temporary directories, quick pool specs for fake_worker.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace drover::test {

using namespace std::chrono_literals;

// Polls pred every 2 ms until it holds or the deadline passes (circus's poll_for).
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds deadline);

// Alive and not a zombie.
bool pid_alive(pid_t pid);
// Zombie processes whose parent is `parent`, from /proc/*/stat.
std::vector<pid_t> zombie_children_of(pid_t parent);
// Live children of `parent` (any state but zombie).
std::vector<pid_t> children_of(pid_t parent);
std::string proc_exe(pid_t pid);
// VmRSS of this process, in kB.
long self_rss_kb();

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

// A pool running fake_worker with the given mode arguments.
PoolSpec fake_pool(const std::string& name, int n, std::vector<std::string> args = {"sleep"});
std::vector<pid_t> running_pids(const EngineSnapshot& snap, const std::string& pool);
const PoolSnapshot& pool_of(const EngineSnapshot& snap, const std::string& pool);

inline const char* fake_worker_path() { return FAKE_WORKER_PATH; }
inline const char* drover_path() { return DROVER_BIN_PATH; }

}  // namespace drover::test
