// Spawner: starts one worker process, fast and safely from a multi-threaded parent.
//
// How (fish's postfork, glibc's posix_spawn, in one place): clone(CLONE_VM|CLONE_VFORK|
// CLONE_PIDFD) on a private stack. The child shares our memory until it execs, so it
// copies nothing, and it runs only raw system calls: no malloc, no locks, nothing that
// another thread of ours might hold. In the child, before exec:
//   - its own process group (setpgid), so a stop signal reaches its children and the
//     terminal's Ctrl-C never does;
//   - PR_SET_PDEATHSIG=SIGKILL, so it dies with drover even on kill -9 (tied to the
//     spawning thread, which is the loop thread and lives as long as the engine);
//   - default signal dispositions and an empty mask (drover blocks and ignores several);
//   - stdin from /dev/null, stdout and stderr into pipes drover reads;
//   - its working directory;
//   - its cgroup (writing 0 to cgroup.procs) and its pid to the orphan guard, first.
// An exec failure is written into shared memory (we share the VM) and the child exits
// 127; the parent, released only after exec or exit, turns it into a SpawnError value.
// CLONE_PIDFD hands back a pidfd atomically, so reaping never races with pid reuse.
// CLONE_FILES spares the copy of our fd table (three fds per worker: thousands) at every
// spawn; the child unshares just the few low fds it needs with CLOSE_RANGE_UNSHARE, so
// its exec has nothing to close either. Spawn cost no longer grows with the pool.
//
// Thread: any, but one spawn at a time per Spawner (it owns one child stack).
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/status.h"

namespace drover {

struct SpawnRequest {
  std::string path;                // absolute or relative path to exec; see resolve_executable
  std::vector<std::string> argv;
  // "KEY=VALUE", complete (not merged with ours): a pool's shared base plus this worker's
  // own entries. Shared, because a burst of 1000 spawns must not hold 1000 copies.
  std::shared_ptr<const std::vector<std::string>> env_base;
  std::vector<std::string> env_extra;
  std::string cwd;                 // empty: inherit
  int stdin_fd = -1;               // usually /dev/null; -1: /dev/null opened here
  // A cgroup v2 directory to create and start the child in: it joins before exec, so
  // nothing it starts is ever outside. Empty: none. (Removed again if the spawn fails.)
  std::string cgroup;
  // A stream socket the child writes its pid to (4 bytes, native order) before exec: the
  // orphan guard learns of the worker before clone returns to the spawning thread. A
  // failed spawn sends the negative pid after. -1: none.
  int announce_fd = -1;
};

struct SpawnedProcess {
  pid_t pid = 0;
  int pidfd = -1;   // readable when the process exits; owned by the caller
  int out_fd = -1;  // read ends, non-blocking, close-on-exec; owned by the caller
  int err_fd = -1;
  std::string cgroup;  // the request's: the worker's cgroup, if it has one
};

class Spawner {
 public:
  Spawner();
  ~Spawner();
  Spawner(const Spawner&) = delete;
  Spawner& operator=(const Spawner&) = delete;

  // Errors: "spawn <argv0>: <strerror>" for fork/exec/chdir/pipe failures.
  Result<SpawnedProcess> spawn(const SpawnRequest& req);

 private:
  void* stack_ = nullptr;
  size_t stack_size_ = 0;
  int devnull_ = -1;
  // CLONE_FILES + CLOSE_RANGE_UNSHARE: the child starts on our fd table and keeps only fds
  // below unshare_below_; slots_ are the reserved low fds it takes its stdio from.
  bool share_files_ = false;
  int slots_[3] = {-1, -1, -1};
  int unshare_below_ = 0;
  // The fd limit at construction: the engine raises its own afterwards (three fds per
  // worker), but workers get what they would have had without drover.
  struct rlimit child_nofile_ {};
};

// PATH lookup as execvp does it, done in the parent so that "command not found" is a
// value and the child's only job is execve. `path_env` is the worker's PATH.
Result<std::string> resolve_executable(const std::string& name, const std::string& path_env,
                                       const std::string& cwd);

}  // namespace drover
