// CommandProbe: `/bin/sh -c LINE`, one run per read.
//
// The child is started by the engine's Spawner, so it gets what a worker gets: its own
// process group, default signals and an empty mask (drover blocks and ignores several),
// stdin from /dev/null, PR_SET_PDEATHSIG (it dies with the runner thread, not after it),
// and a pidfd. The pidfd is what lets one poll() wait for output and for the exit
// together, under the read's deadline.
//
// The shell's exit ends the wait, not EOF on its pipes: a command that leaves something
// in the background holding stdout (`cmd &`, a daemonizing client) must not stretch the
// read to the timeout. Whatever is left of the group is then killed, before the shell is
// reaped: while the shell is an unreaped zombie its pid (the group's id) cannot be reused,
// so kill(-pgid) cannot reach a stranger. On every way out (timeout, exception) the
// group is killed and the shell reaped: a probe leaves neither processes nor zombies.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "autoscale/command_probe.h"
#include "engine/exit_reason.h"
#include "engine/spawner.h"

extern char** environ;

namespace drover {

namespace {

using Steady = std::chrono::steady_clock;
constexpr size_t kMaxStdout = 64 * 1024;
constexpr size_t kMaxStderrKept = 4 * 1024;  // read on past this (so the child never blocks), not kept
constexpr size_t kMaxQuoted = 80;            // of output or stderr, in an error message
constexpr double kMaxTimeoutS = 3600;

// The first line of text, cut for an error message.
std::string first_line(const std::string& text) {
  size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string::npos) return "";
  std::string line = text.substr(start, text.find_first_of("\r\n", start) - start);
  if (line.size() > kMaxQuoted) line = line.substr(0, kMaxQuoted) + "...";
  return line;
}

// The number at the start of the output, blanks (and blank lines) skipped. from_chars
// rather than strtod: strtod follows the locale, and under a locale with a decimal comma
// "2.5" would read as 2.
Result<double> leading_number(const std::string& out) {
  size_t i = 0;
  while (i < out.size() && std::isspace(static_cast<unsigned char>(out[i]))) ++i;
  double v = 0;
  auto [end, ec] = std::from_chars(out.data() + i, out.data() + out.size(), v);
  if (ec != std::errc() || !std::isfinite(v)) {
    if (i == out.size()) return Status::invalid("no output (expected a number)");
    return Status::invalid(fmt::format("no number in output '{}'", first_line(out)));
  }
  if (v < 0) return Status::invalid(fmt::format("negative depth {:g} in output", v));
  return v;
}

// The shell and its pipes, and the guarantee that it is killed and reaped on every path.
class Child {
 public:
  explicit Child(const SpawnedProcess& p) : p_(p) {}
  ~Child() {
    close_fd(p_.out_fd);
    close_fd(p_.err_fd);
    if (!reaped_) kill_and_reap();
    close_fd(p_.pidfd);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  const SpawnedProcess& process() const { return p_; }
  static void close_fd(int& fd) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
  int& out_fd() { return p_.out_fd; }
  int& err_fd() { return p_.err_fd; }

  // Kills what is left of the group and reaps the shell; its exit status is kept.
  ExitReason kill_and_reap() {
    kill(-p_.pid, SIGKILL);
    siginfo_t info{};
    while (waitid(P_PID, p_.pid, &info, WEXITED) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    return ExitReason::from_siginfo(info);
  }

 private:
  SpawnedProcess p_;
  bool reaped_ = false;
};

class CommandProbe final : public QueueProbe {
 public:
  CommandProbe(std::string line, double timeout_s, std::string cwd)
      : line_(std::move(line)), timeout_s_(timeout_s), cwd_(std::move(cwd)) {
    // The environment is copied once, here, on the caller's thread: reading `environ` on
    // the runner thread would race with any setenv elsewhere.
    auto env = std::make_shared<std::vector<std::string>>();
    for (char** e = environ; e && *e; ++e) env->emplace_back(*e);
    env_ = std::move(env);
  }

  QueueReading read() override {
    try {
      auto depth = run();
      if (!depth) return QueueReading{std::nullopt, std::nullopt, depth.error().message()};
      return QueueReading{*depth, std::nullopt, ""};
    } catch (const std::exception& e) {
      return QueueReading{std::nullopt, std::nullopt, std::string("internal error: ") + e.what()};
    }
  }

  std::string describe() const override { return "command '" + line_ + "'"; }

 private:
  Result<double> run() {
    SpawnRequest req;
    req.path = "/bin/sh";
    req.argv = {"/bin/sh", "-c", line_};
    req.env_base = env_;
    req.cwd = cwd_;
    auto spawned = spawner_.spawn(req);
    if (!spawned) return spawned.error();
    Child child(*spawned);
    const auto deadline = Steady::now() + std::chrono::duration_cast<Steady::duration>(
                                                   std::chrono::duration<double>(timeout_s_));
    std::string out, err;
    bool out_cut = false;  // we closed stdout at the cap: a SIGPIPE death is then ours
    // Reads what is there; closes fd at EOF, or at the cap when close_at_cap.
    auto drain = [&](int& fd, std::string& into, size_t cap, bool close_at_cap) {
      char buf[4096];
      while (true) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return;  // EAGAIN: nothing more for now
        if (n == 0) return Child::close_fd(fd);
        into.append(buf, std::min(static_cast<size_t>(n), cap - std::min(cap, into.size())));
        if (close_at_cap && into.size() >= cap) {
          out_cut = true;
          return Child::close_fd(fd);
        }
      }
    };

    bool exited = false;
    while (!exited) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Steady::now()).count();
      if (left <= 0) {
        child.kill_and_reap();
        return Status::unavailable(fmt::format("no answer within {:g} s, killed", timeout_s_));
      }
      pollfd fds[3];
      nfds_t n = 0;
      fds[n++] = {child.process().pidfd, POLLIN, 0};
      if (child.out_fd() >= 0) fds[n++] = {child.out_fd(), POLLIN, 0};
      if (child.err_fd() >= 0) fds[n++] = {child.err_fd(), POLLIN, 0};
      int ready = poll(fds, n, static_cast<int>(std::min<long long>(left, 60'000)));
      if (ready < 0 && errno != EINTR) {
        child.kill_and_reap();
        return Status::io_error(fmt::format("poll: {}", std::strerror(errno)));
      }
      if (ready <= 0) continue;
      for (nfds_t i = 0; i < n; ++i) {
        if (!fds[i].revents) continue;
        if (fds[i].fd == child.process().pidfd) exited = true;
        else if (fds[i].fd == child.out_fd()) drain(child.out_fd(), out, kMaxStdout, true);
        else if (fds[i].fd == child.err_fd()) drain(child.err_fd(), err, kMaxStderrKept, false);
      }
    }
    // What the shell wrote before it exited is in the pipes now; take it without waiting
    // for an EOF that a background process may hold back.
    if (child.out_fd() >= 0) drain(child.out_fd(), out, kMaxStdout, true);
    if (child.err_fd() >= 0) drain(child.err_fd(), err, kMaxStderrKept, false);
    ExitReason exit = child.kill_and_reap();
    // Closing stdout at the cap kills the writer with SIGPIPE; a shell that did not exec
    // it reports that as exit 128+13. Either way the cut was ours, not the command's failure.
    const bool cut_by_us = out_cut && (exit.signaled ? exit.code == SIGPIPE : exit.code == 128 + SIGPIPE);
    if (!exit.ok() && !cut_by_us) {
      std::string why = first_line(err);
      return Status::io_error(why.empty() ? exit.text() : exit.text() + ": " + why);
    }
    return leading_number(out);
  }

  const std::string line_;
  const double timeout_s_;
  const std::string cwd_;
  std::shared_ptr<const std::vector<std::string>> env_;
  Spawner spawner_;  // one spawn at a time: the probe is read by one thread at a time
};

}  // namespace

Result<std::unique_ptr<QueueProbe>> make_command_probe(const std::string& command_line, double timeout_s,
                                                       const std::string& cwd) {
  if (command_line.find_first_not_of(" \t\r\n") == std::string::npos)
    return Status::invalid("command probe: empty command");
  if (!(timeout_s > 0 && timeout_s <= kMaxTimeoutS))
    return Status::invalid(fmt::format("command probe: timeout {:g} s out of range (0, {:g}]", timeout_s,
                                       kMaxTimeoutS));
  if (!cwd.empty()) {
    struct stat st;
    if (stat(cwd.c_str(), &st) != 0)
      return Status::invalid(fmt::format("command probe: cwd {}: {}", cwd, std::strerror(errno)));
    if (!S_ISDIR(st.st_mode)) return Status::invalid(fmt::format("command probe: cwd {}: not a directory", cwd));
  }
  try {
    return std::unique_ptr<QueueProbe>(std::make_unique<CommandProbe>(command_line, timeout_s, cwd));
  } catch (const std::exception& e) {  // the Spawner's mmap or fds
    return Status::io_error(fmt::format("command probe: {}", e.what()));
  }
}

}  // namespace drover
