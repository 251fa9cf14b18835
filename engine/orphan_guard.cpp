#include "engine/orphan_guard.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace drover {

namespace {

// Open addressing over a power-of-two table; 0 marks an empty cell, -1 a removed one.
// Sized for far more live groups than the per-pool cap, so it never fills in practice;
// if it does, the extra groups are still covered by their leaders' PDEATHSIG.
constexpr int kTableSize = 1 << 17;

[[noreturn]] void guard_main(int fd, int* table) {
  auto slot_of = [](int pgid) { return static_cast<unsigned>(pgid) * 2654435761u & (kTableSize - 1); };
  int buf[1024];
  size_t have = 0;  // bytes of a partial record carried over
  for (;;) {
    ssize_t n = read(fd, reinterpret_cast<char*>(buf) + have, sizeof buf - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: drover is gone (or closed us on purpose)
    size_t total = have + static_cast<size_t>(n);
    size_t records = total / sizeof(int);
    for (size_t i = 0; i < records; ++i) {
      int rec = buf[i];
      int pgid = rec > 0 ? rec : -rec;
      unsigned s = slot_of(pgid);
      if (rec > 0) {
        for (int probe = 0; probe < kTableSize; ++probe, s = (s + 1) & (kTableSize - 1))
          if (table[s] <= 0) {
            table[s] = pgid;
            break;
          }
      } else {
        for (int probe = 0; probe < kTableSize && table[s] != 0; ++probe, s = (s + 1) & (kTableSize - 1))
          if (table[s] == pgid) {
            table[s] = -1;
            break;
          }
      }
    }
    have = total - records * sizeof(int);
    if (have) {
      char* bytes = reinterpret_cast<char*>(buf);
      for (size_t i = 0; i < have; ++i) bytes[i] = bytes[records * sizeof(int) + i];
    }
  }
  for (int i = 0; i < kTableSize; ++i)
    if (table[i] > 0) kill(-table[i], SIGKILL);
  _exit(0);
}

}  // namespace

OrphanGuard::OrphanGuard() {
  // A socket pair rather than a pipe: send(MSG_NOSIGNAL) cannot raise SIGPIPE in a host
  // program that has not ignored it, should the guard ever die first.
  int p[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0) return;  // inactive: PDEATHSIG remains
  std::vector<int> table(kTableSize, 0);  // allocated before fork: the child must not malloc
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    // Hold nothing of the parent's but our end: not its stdio (a test harness waiting for
    // EOF on drover's stdout), not its sockets.
    int fd = p[0];
    if (fd != 3) fd = dup2(p[0], 3);
    close_range(4, ~0u, 0);
    close(0);
    close(1);
    close(2);
    setpgid(0, 0);
    // Ignore what a terminal or an operator's killall of the foreground group would send.
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGTSTP, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // Parent died between fork and here: nobody will close the pipe for us.
    if (getppid() != parent) _exit(0);
    guard_main(fd, table.data());
  }
  close(p[0]);
  if (pid < 0) {
    close(p[1]);
    return;
  }
  fd_ = p[1];
  pid_ = pid;
}

OrphanGuard::~OrphanGuard() {
  if (fd_ < 0) return;
  close(fd_);
  int status;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

void OrphanGuard::send(int record) {
  if (fd_ < 0) return;
  // A 4-byte send on a stream socket is never split; the guard drains quickly, so this does
  // not block. If the guard has died we lose only its guarantee (EPIPE), not the engine.
  while (::send(fd_, &record, sizeof record, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

void OrphanGuard::add(pid_t pgid) { send(pgid); }
void OrphanGuard::remove(pid_t pgid) { send(-pgid); }

}  // namespace drover
