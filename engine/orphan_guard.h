// OrphanGuard: makes sure no worker's process group outlives drover, even on kill -9.
//
// PR_SET_PDEATHSIG kills each worker when drover dies, but not the worker's own
// children. So at start the engine forks one small guard process that holds the read
// end of a pipe and a table of live worker process groups. The engine tells it about
// every group it creates and reaps. When drover dies by any means, the pipe reads EOF
// and the guard sends SIGKILL to every group it still knows, then exits.
//
// The guard is forked from a possibly multi-threaded process, so after fork it does
// only async-signal-safe work: read(2), kill(2), _exit(2), on a fixed-size table
// allocated before the fork. It sits in its own process group, ignoring the terminal's
// signals, and costs one process (~1 MB RSS, mostly shared pages).
//
// Thread: loop thread only (add/remove are one short write each).
#pragma once

#include <sys/types.h>

namespace drover {

class OrphanGuard {
 public:
  OrphanGuard();
  // Closes the pipe: the guard kills whatever groups it still tracks and exits; reaped here.
  ~OrphanGuard();
  OrphanGuard(const OrphanGuard&) = delete;
  OrphanGuard& operator=(const OrphanGuard&) = delete;

  bool active() const { return fd_ >= 0; }
  pid_t pid() const { return pid_; }
  void add(pid_t pgid);
  void remove(pid_t pgid);

 private:
  void send(int record);
  int fd_ = -1;
  pid_t pid_ = -1;
};

}  // namespace drover
