#include "engine/spawner.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace drover {

namespace {

constexpr size_t kChildStackSize = 64 * 1024;

// Everything the child needs, prepared by the parent: the child only reads it (and
// writes error fields back, which the parent sees because CLONE_VM shares memory).
struct ChildArgs {
  const char* path;
  char* const* argv;
  char* const* envp;
  const char* cwd;  // nullptr: inherit
  int stdin_fd, out_w, err_w;
  // With CLONE_FILES the child starts on our fd table and must unshare it first, keeping
  // only fds below this bound (0..2 and the three reserved slots). 0: not shared.
  int unshare_below;
  pid_t parent_pid;
  const struct rlimit* nofile;  // the fd limit drover started with, restored for the worker
  int cgroup_procs_fd;          // -1: no cgroup to join
  int announce_fd;              // -1: no guard to tell
  int error_errno = 0;        // set by the child before _exit(127)
  const char* error_step = nullptr;
};

// Raw syscalls only from here: we are in a vfork-style child sharing the parent's memory.
int child_main(void* p) {
  auto* a = static_cast<ChildArgs*>(p);
  auto fail = [a](const char* step) {
    a->error_errno = errno;
    a->error_step = step;
    syscall(SYS_exit, 127);
    return 127;
  };
  // First, while the fd table may still be the parent's: into the worker's cgroup, and
  // known to the orphan guard, before anything else can happen to us.
  if (a->cgroup_procs_fd >= 0 && syscall(SYS_write, a->cgroup_procs_fd, "0", 1) != 1) return fail("join cgroup");
  if (a->announce_fd >= 0) {
    int self = static_cast<int>(syscall(SYS_getpid));
    syscall(SYS_sendto, a->announce_fd, &self, sizeof self, MSG_NOSIGNAL, nullptr, 0);
  }
  if (a->unshare_below > 0) {
    // Our own fd table, holding only fds below the bound: a copy of six entries instead of
    // the thousands of pipes and pidfds a large drover holds (which exec would then walk).
    if (syscall(SYS_close_range, a->unshare_below, ~0U, CLOSE_RANGE_UNSHARE) < 0) return fail("close_range");
  }
  // Signals: drover blocks and ignores some; a worker starts with the defaults.
  sigset_t none;
  sigemptyset(&none);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    syscall(SYS_rt_sigaction, sig, &dfl, nullptr, NSIG / 8);
  }
  if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, NSIG / 8) < 0) return fail("sigprocmask");
  if (syscall(SYS_setpgid, 0, 0) < 0) return fail("setpgid");
  if (syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) return fail("prctl");
  // The parent may have died between clone and prctl: then we were reparented already.
  if (syscall(SYS_getppid) != a->parent_pid) {
    errno = ESRCH;
    return fail("parent died");
  }
  if (syscall(SYS_dup2, a->stdin_fd, 0) < 0) return fail("dup2 stdin");
  if (syscall(SYS_dup2, a->out_w, 1) < 0) return fail("dup2 stdout");
  if (syscall(SYS_dup2, a->err_w, 2) < 0) return fail("dup2 stderr");
  // Whatever the host left open below the bound without close-on-exec stays out of the worker.
  if (a->unshare_below > 3) syscall(SYS_close_range, 3, a->unshare_below - 1, 0);
  if (a->nofile->rlim_cur != RLIM_INFINITY) syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, a->nofile, nullptr);
  if (a->cwd && syscall(SYS_chdir, a->cwd) < 0) return fail("chdir");
  syscall(SYS_execve, a->path, a->argv, a->envp);
  return fail("exec");
}

std::vector<char*> to_c_array(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// CLOSE_RANGE_UNSHARE arrived in Linux 5.9; older kernels keep the copying clone.
bool close_range_unshare_supported() {
  utsname u;
  if (uname(&u) != 0) return false;
  int major = 0, minor = 0;
  if (std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
  return major > 5 || (major == 5 && minor >= 9);
}

}  // namespace

Spawner::Spawner() {
  stack_size_ = kChildStackSize;
  stack_ = mmap(nullptr, stack_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack_ == MAP_FAILED) throw std::runtime_error("spawner: cannot map child stack");
  devnull_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (getrlimit(RLIMIT_NOFILE, &child_nofile_) != 0) child_nofile_.rlim_cur = RLIM_INFINITY;
  if (devnull_ < 0) throw std::runtime_error("spawner: cannot open /dev/null");
  // Three low fds reserved for the child's stdin, stdout and stderr (see unshare_below),
  // taken now, early in the process, so they are small numbers.
  share_files_ = close_range_unshare_supported();
  if (share_files_) {
    for (int& slot : slots_) {
      slot = fcntl(devnull_, F_DUPFD_CLOEXEC, 3);
      if (slot < 0) throw std::runtime_error("spawner: cannot reserve fds");
      unshare_below_ = std::max(unshare_below_, slot + 1);
    }
  }
}

Spawner::~Spawner() {
  if (stack_) munmap(stack_, stack_size_);
  if (devnull_ >= 0) close(devnull_);
  for (int slot : slots_)
    if (slot >= 0) close(slot);
}

Result<SpawnedProcess> Spawner::spawn(const SpawnRequest& req) {
  const std::string& argv0 = req.argv.empty() ? req.path : req.argv[0];
  auto sys_error = [&](const char* step, int err) {
    return Status::io_error(fmt::format("spawn {}: {}: {}", argv0, step, std::strerror(err)));
  };
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC | O_NONBLOCK) < 0) return sys_error("pipe", errno);
  if (pipe2(err, O_CLOEXEC | O_NONBLOCK) < 0) {
    int e = errno;
    close(out[0]);
    close(out[1]);
    return sys_error("pipe", e);
  }
  // The child's ends must block: workers do not expect O_NONBLOCK stdio. O_NONBLOCK is a
  // file-status flag shared through dup2, so clear it on the write ends.
  fcntl(out[1], F_SETFL, 0);
  fcntl(err[1], F_SETFL, 0);

  auto argv = to_c_array(req.argv);
  std::vector<char*> envp;
  envp.reserve((req.env_base ? req.env_base->size() : 0) + req.env_extra.size() + 1);
  if (req.env_base)
    for (const auto& e : *req.env_base) envp.push_back(const_cast<char*>(e.c_str()));
  for (const auto& e : req.env_extra) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  ChildArgs args{};
  args.path = req.path.c_str();
  args.argv = argv.data();
  args.envp = envp.data();
  args.cwd = req.cwd.empty() ? nullptr : req.cwd.c_str();
  args.stdin_fd = req.stdin_fd >= 0 ? req.stdin_fd : devnull_;
  args.out_w = out[1];
  args.err_w = err[1];
  int flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD;
  if (share_files_) {
    // Park the child's three fds in the reserved low slots, which survive its unshare.
    dup3(args.stdin_fd, slots_[0], O_CLOEXEC);
    dup3(out[1], slots_[1], O_CLOEXEC);
    dup3(err[1], slots_[2], O_CLOEXEC);
    args.stdin_fd = slots_[0];
    args.out_w = slots_[1];
    args.err_w = slots_[2];
    args.unshare_below = unshare_below_;
    flags |= CLONE_FILES;
  }
  args.parent_pid = getpid();
  args.nofile = &child_nofile_;
  args.announce_fd = req.announce_fd;
  args.cgroup_procs_fd = -1;
  if (!req.cgroup.empty()) {
    // Its pool's directory may have been removed with a pool of the same name a moment ago.
    int made = mkdir(req.cgroup.c_str(), 0755);
    if (made < 0 && errno == ENOENT) {
      mkdir(req.cgroup.substr(0, req.cgroup.rfind('/')).c_str(), 0755);
      made = mkdir(req.cgroup.c_str(), 0755);
    }
    if (made < 0 && errno != EEXIST) {
      int e = errno;
      for (int fd : {out[0], out[1], err[0], err[1]}) close(fd);
      return sys_error("mkdir cgroup", e);
    }
    args.cgroup_procs_fd = open((req.cgroup + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    if (args.cgroup_procs_fd < 0) {
      int e = errno;
      rmdir(req.cgroup.c_str());
      for (int fd : {out[0], out[1], err[0], err[1]}) close(fd);
      return sys_error("open cgroup", e);
    }
  }

  int pidfd = -1;
  char* stack_top = static_cast<char*>(stack_) + stack_size_;
  pid_t pid = clone(child_main, stack_top, flags, &args, &pidfd);
  int clone_errno = errno;
  if (args.cgroup_procs_fd >= 0) close(args.cgroup_procs_fd);
  close(out[1]);
  close(err[1]);
  if (share_files_) {
    // Drop the slots' references to the pipes, or the read ends would never see EOF.
    for (int slot : slots_) dup3(devnull_, slot, O_CLOEXEC);
  }
  if (pid < 0) {
    close(out[0]);
    close(err[0]);
    if (!req.cgroup.empty()) rmdir(req.cgroup.c_str());
    return sys_error("clone", clone_errno);
  }
  if (args.error_step) {
    // The child has exited 127 (CLONE_VFORK released us only then); reap it here.
    siginfo_t info;
    waitid(P_PID, pid, &info, WEXITED);
    // The guard may have its pid: take it back before the pid can be reused.
    if (req.announce_fd >= 0) {
      int gone = -pid;
      send(req.announce_fd, &gone, sizeof gone, MSG_NOSIGNAL);
    }
    if (!req.cgroup.empty()) rmdir(req.cgroup.c_str());
    close(pidfd);
    close(out[0]);
    close(err[0]);
    return sys_error(args.error_step, args.error_errno);
  }
  return SpawnedProcess{pid, pidfd, out[0], err[0], req.cgroup};
}

Result<std::string> resolve_executable(const std::string& name, const std::string& path_env,
                                       const std::string& cwd) {
  auto executable = [](const std::string& p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(p.c_str(), X_OK) == 0;
  };
  if (name.empty()) return Status::invalid("spawn: empty command");
  if (name.find('/') != std::string::npos) {
    std::string full = (name[0] == '/' || cwd.empty()) ? name : cwd + "/" + name;
    struct stat st;
    if (stat(full.c_str(), &st) != 0)
      return Status::not_found(fmt::format("spawn {}: {}", name, std::strerror(errno)));
    if (!executable(full)) return Status::invalid(fmt::format("spawn {}: Permission denied", name));
    return full;
  }
  std::string_view dirs = path_env.empty() ? "/usr/local/bin:/usr/bin:/bin" : path_env;
  while (true) {
    size_t colon = dirs.find(':');
    std::string_view dir = dirs.substr(0, colon);
    std::string full = fmt::format("{}/{}", dir.empty() ? std::string_view(".") : dir, name);
    if (executable(full)) return full;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return Status::not_found(fmt::format("spawn {}: command not found", name));
}

}  // namespace drover
