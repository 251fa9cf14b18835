#include "tests/support/pty_session.h"

#include <doctest/doctest.h>

#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <stdexcept>

namespace drover::test {

namespace {
// Drops CSI/OSC escape sequences and carriage returns so tests match on plain text.
void append_plain(std::string& out, const char* data, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    char c = data[i];
    if (c == '\x1b' && i + 1 < n && data[i + 1] == '[') {
      i += 2;
      while (i < n && !(data[i] >= '@' && data[i] <= '~')) ++i;
      continue;
    }
    if (c == '\x1b' || c == '\r' || c == '\a') continue;
    out += c;
  }
}
}  // namespace

PtySession::PtySession(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  winsize ws{};
  ws.ws_row = 50;
  ws.ws_col = 160;
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_ = forkpty(&fd_, nullptr, nullptr, &ws);
  if (pid_ < 0) throw std::runtime_error("forkpty failed");
  if (pid_ == 0) {
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    setenv("TERM", "xterm", 1);
    execv(cargv[0], cargv.data());
    _exit(127);
  }
}

PtySession::~PtySession() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (fd_ >= 0) close(fd_);
}

void PtySession::send(const std::string& keys) {
  size_t off = 0;
  while (off < keys.size()) {
    ssize_t n = write(fd_, keys.data() + off, keys.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

void PtySession::pump(std::chrono::milliseconds wait) {
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(wait.count())) <= 0) return;
  char buf[8192];
  ssize_t n = read(fd_, buf, sizeof buf);
  if (n > 0) append_plain(out_, buf, static_cast<size_t>(n));
}

bool PtySession::expect(const std::string& text, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    size_t at = out_.find(text, mark_);
    if (at != std::string::npos) {
      mark_ = at + text.size();
      return true;
    }
    if (std::chrono::steady_clock::now() >= end) return false;
    pump(std::chrono::milliseconds(20));
  }
}

std::string PtySession::pending() {
  pump(std::chrono::milliseconds(50));
  return out_.substr(mark_);
}

std::string PtySession::until(const std::string& text, std::chrono::milliseconds timeout) {
  size_t start = mark_;
  if (!expect(text, timeout)) return "";
  return out_.substr(start, mark_ - text.size() - start);
}

int PtySession::wait_exit(std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < end) {
    pump(std::chrono::milliseconds(10));
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }
  return -1;
}

std::string run_lua(PtySession& s, const std::string& code) {
  s.send_line("print('@' .. '@B') " + code + " print('@' .. '@E')");
  REQUIRE(s.expect("@@B\n"));
  std::string out = s.until("@@E\n");
  REQUIRE(s.expect(kShellPrompt));
  return out;
}

}  // namespace drover::test
