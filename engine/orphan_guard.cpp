#include "engine/orphan_guard.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <vector>

namespace drover {

namespace {

// Open addressing over a power-of-two table; 0 marks an empty cell, -1 a removed one.
// Sized for far more live groups than the per-pool cap, so it never fills in practice;
// if it does, the extra groups are still covered by their leaders' PDEATHSIG.
constexpr int kTableSize = 1 << 17;

// What the guard needs besides the table, prepared before the fork (no malloc after it).
struct GuardPlan {
  const char* cgroup_top = nullptr;  // nullptr: not the cgroup mode
  const char* mark = nullptr;        // "DROVER_INSTANCE=...": the subreaper mode
  size_t mark_len = 0;
  char* buf = nullptr;  // for /proc/N/environ
  size_t buf_len = 0;
};

struct Dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[1];  // NUL-terminated, d_reclen long in all
};

bool dot_or_dotdot(const char* n) { return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0')); }

// Removes the sub-cgroups under dirfd, deepest first; raw system calls only.
void remove_subdirs(int dirfd, int depth) {
  if (depth > 4) return;
  alignas(8) char buf[4096];
  for (int pass = 0; pass < 2; ++pass) {
    lseek(dirfd, 0, SEEK_SET);
    long n;
    while ((n = syscall(SYS_getdents64, dirfd, buf, sizeof buf)) > 0)
      for (long off = 0; off < n;) {
        auto* d = reinterpret_cast<Dirent64*>(buf + off);
        off += d->d_reclen;
        if (d->d_type != DT_DIR || dot_or_dotdot(d->d_name)) continue;
        int sub = openat(dirfd, d->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sub >= 0) {
          remove_subdirs(sub, depth + 1);
          close(sub);
        }
        unlinkat(dirfd, d->d_name, AT_REMOVEDIR);
      }
  }
}

// cgroup mode: everything of every worker, setsid'd or double-forked, in one write; then
// wait (bounded) until the tree is empty and remove it.
void kill_cgroup_tree(const char* top) {
  int dirfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) return;
  int killfd = openat(dirfd, "cgroup.kill", O_WRONLY | O_CLOEXEC);
  if (killfd >= 0) {
    (void)!write(killfd, "1", 1);
    close(killfd);
  }
  int ev = openat(dirfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
  for (int i = 0; ev >= 0 && i < 50; ++i) {  // at most ~5 s
    char text[128];
    ssize_t n = pread(ev, text, sizeof text - 1, 0);
    if (n <= 0) break;
    text[n] = '\0';
    bool populated = false;
    for (ssize_t k = 0; k + 11 <= n; ++k)
      if (__builtin_memcmp(text + k, "populated 1", 11) == 0) populated = true;
    if (!populated) break;
    pollfd p{ev, POLLPRI, 0};
    poll(&p, 1, 100);
  }
  if (ev >= 0) close(ev);
  remove_subdirs(dirfd, 0);
  close(dirfd);
  rmdir(top);
}

// subreaper mode: the tree's escapees were re-parented to drover, which is gone; they
// are found by the mark in their environment. A few passes, for those forking meanwhile.
void kill_marked(const GuardPlan& plan) {
  alignas(8) char dents[8192];
  for (int pass = 0; pass < 4; ++pass) {
    int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (proc < 0) return;
    int killed = 0;
    long n;
    while ((n = syscall(SYS_getdents64, proc, dents, sizeof dents)) > 0)
      for (long off = 0; off < n;) {
        auto* d = reinterpret_cast<Dirent64*>(dents + off);
        off += d->d_reclen;
        int pid = 0;
        const char* c = d->d_name;
        for (; *c >= '0' && *c <= '9'; ++c) pid = pid * 10 + (*c - '0');
        if (*c || pid <= 1) continue;
        char path[64] = "/proc/";
        size_t len = 6;
        for (const char* q = d->d_name; *q; ++q) path[len++] = *q;
        for (const char* q = "/environ"; *q; ++q) path[len++] = *q;
        path[len] = '\0';
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        size_t have = 0;
        ssize_t r;
        while (have < plan.buf_len && (r = read(fd, plan.buf + have, plan.buf_len - have)) > 0) have += static_cast<size_t>(r);
        close(fd);
        // Whole entries only: the mark at the start, or right after a '\0'.
        for (size_t k = 0; k + plan.mark_len <= have; ++k)
          if ((k == 0 || plan.buf[k - 1] == '\0') && __builtin_memcmp(plan.buf + k, plan.mark, plan.mark_len) == 0 &&
              (k + plan.mark_len == have || plan.buf[k + plan.mark_len] == '\0')) {
            kill(pid, SIGKILL);
            ++killed;
            break;
          }
      }
    close(proc);
    if (!killed) return;
  }
}

[[noreturn]] void guard_main(int fd, int* table, const GuardPlan& plan) {
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
  if (plan.cgroup_top) kill_cgroup_tree(plan.cgroup_top);
  if (plan.mark) kill_marked(plan);
  _exit(0);
}

}  // namespace

OrphanGuard::OrphanGuard(const std::string& cgroup_top, const std::string& instance_mark) {
  // A socket pair rather than a pipe: send(MSG_NOSIGNAL) cannot raise SIGPIPE in a host
  // program that has not ignored it, should the guard ever die first.
  int p[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0) return;  // inactive: PDEATHSIG remains
  std::vector<int> table(kTableSize, 0);  // allocated before fork: the child must not malloc
  GuardPlan plan;
  std::vector<char> environ_buf;
  if (!cgroup_top.empty()) plan.cgroup_top = cgroup_top.c_str();
  if (!instance_mark.empty()) {
    plan.mark = instance_mark.c_str();
    plan.mark_len = instance_mark.size();
    environ_buf.resize(256 * 1024);
    plan.buf = environ_buf.data();
    plan.buf_len = environ_buf.size();
  }
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
    guard_main(fd, table.data(), plan);
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
