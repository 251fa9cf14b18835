// as_user: run a piece of a test as another user (`nobody`), in a forked child that drops
// root for good: supplementary groups cleared, then gid, then uid (setres*: real,
// effective and saved alike, so it cannot climb back). The suite runs as root; this is
// how a test shows what another local user can and cannot do. Header-only.
//
// The child runs only the callable and then _exit()s: no doctest macros in it (their
// failures would be the child's), no destructors of the parent's objects. What it wants to
// tell goes back as its exit code and a string written to a pipe.
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <string>

namespace drover::test {

struct AsUserResult {
  int exit_code = -1;  // the callable's return, or -1 when the child could not drop or died
  std::string out;     // what the callable put in its `out`
};

// Runs fn(out) as `user` in a child and waits for it.
inline AsUserResult run_as_user(const std::string& user, const std::function<int(std::string& out)>& fn) {
  AsUserResult result;
  const passwd* pw = getpwnam(user.c_str());
  if (!pw) return result;
  const uid_t uid = pw->pw_uid;
  const gid_t gid = pw->pw_gid;
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return result;
  const pid_t pid = fork();
  if (pid < 0) {
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return result;
  }
  if (pid == 0) {
    close(pipe_fds[0]);
    if (setgroups(0, nullptr) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0 ||
        geteuid() != uid)
      _exit(255);
    std::string out;
    const int code = fn(out);
    for (size_t off = 0; off < out.size();) {
      const ssize_t n = write(pipe_fds[1], out.data() + off, out.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    _exit(code & 0xff);
  }
  close(pipe_fds[1]);
  char buf[4096];
  for (;;) {
    const ssize_t n = read(pipe_fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.out.append(buf, static_cast<size_t>(n));
  }
  close(pipe_fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) != 255) result.exit_code = WEXITSTATUS(status);
  return result;
}

inline AsUserResult run_as_nobody(const std::function<int(std::string& out)>& fn) { return run_as_user("nobody", fn); }

}  // namespace drover::test
