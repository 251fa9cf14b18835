// OrphanGuard: makes sure no worker's process group outlives drover, even on kill -9.
//
// PR_SET_PDEATHSIG kills each worker when drover dies, but not the worker's own
// children. So at start the engine forks one small guard process that holds the read
// end of a pipe and a table of live worker process groups. The engine tells it about
// every group it creates and reaps. When drover dies by any means, the pipe reads EOF
// and the guard sends SIGKILL to every group it still knows, then exits.
//
// Children that leave their worker's group are covered by the Containment mode: given
// drover's top cgroup, the guard writes its cgroup.kill, waits for it to empty and
// removes it; given the subreaper mode's DROVER_INSTANCE mark, it walks /proc and kills
// every process that carries it. Workers tell the guard their pid themselves, before
// exec (see Spawner), so a worker spawned by any thread is known before clone returns.
//
// The guard is forked from a possibly multi-threaded process, so after fork it does
// only async-signal-safe work: read(2), kill(2), _exit(2), on a fixed-size table
// allocated before the fork. It sits in its own process group, ignoring the terminal's
// signals, and costs one process (~1 MB RSS, mostly shared pages).
//
// Thread: any (add/remove are one 4-byte send on a stream socket, never interleaved).
#pragma once

#include <sys/types.h>

#include <string>

namespace drover {

class OrphanGuard {
 public:
  // cgroup_top: drover's top cgroup directory, or empty. instance_mark: "DROVER_INSTANCE=..."
  // in the subreaper mode, or empty.
  explicit OrphanGuard(const std::string& cgroup_top = {}, const std::string& instance_mark = {});
  // Closes the pipe: the guard kills whatever groups it still tracks and exits; reaped here.
  ~OrphanGuard();
  OrphanGuard(const OrphanGuard&) = delete;
  OrphanGuard& operator=(const OrphanGuard&) = delete;

  bool active() const { return fd_ >= 0; }
  pid_t pid() const { return pid_; }
  // The socket workers announce themselves on (SpawnRequest::announce_fd); -1 if inactive.
  int announce_fd() const { return fd_; }
  void add(pid_t pgid);
  void remove(pid_t pgid);

 private:
  void send(int record);
  int fd_ = -1;
  pid_t pid_ = -1;
};

}  // namespace drover
