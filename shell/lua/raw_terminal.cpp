#include "shell/lua/raw_terminal.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <vector>

namespace drover {

RawTerminal::RawTerminal(int in, FILE* out) : in_(in), out_(out) {
  if (!isatty(in_) || !isatty(fileno(out_))) throw std::runtime_error("not a terminal");
  if (tcgetattr(in_, &saved_) != 0) throw std::runtime_error("cannot read the terminal's settings");
  termios raw = saved_;
  raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | ISIG | IEXTEN);
  raw.c_iflag &= ~static_cast<tcflag_t>(IXON | ICRNL);
  raw.c_cc[VMIN] = 0;
  raw.c_cc[VTIME] = 0;
  if (tcsetattr(in_, TCSAFLUSH, &raw) != 0) throw std::runtime_error("cannot set the terminal to raw mode");
  // The alternate screen keeps the operator's scrollback as it was; the cursor hides.
  std::fputs("\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J", out_);
  std::fflush(out_);
}

RawTerminal::~RawTerminal() {
  std::fputs("\x1b[0m\x1b[?25h\x1b[?1049l", out_);
  std::fflush(out_);
  tcsetattr(in_, TCSAFLUSH, &saved_);
}

std::pair<int, int> RawTerminal::size() const {
  winsize ws{};
  if (ioctl(fileno(out_), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) return {ws.ws_col, ws.ws_row};
  return {80, 24};
}

std::string RawTerminal::read_keys(std::chrono::milliseconds timeout) {
  pollfd p{in_, POLLIN, 0};
  const int r = poll(&p, 1, static_cast<int>(timeout.count()));
  if (r <= 0 || !(p.revents & POLLIN)) return "";
  char buf[256];
  const ssize_t n = read(in_, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

void RawTerminal::draw(const std::vector<std::string>& lines, int highlight, bool color) {
  // One write a frame, from the home position: no flicker from a full clear.
  std::string frame = "\x1b[H";
  for (size_t i = 0; i < lines.size(); ++i) {
    // Cleared before it is written: a line as wide as the screen leaves the cursor in
    // the last column, where a clear after it would take that column's character too.
    frame += "\x1b[K";
    const bool hi = color && static_cast<int>(i) == highlight;
    if (hi) frame += "\x1b[7m";
    frame += lines[i];
    if (hi) frame += "\x1b[0m";
    if (i + 1 < lines.size()) frame += "\r\n";  // none after the last: the screen must not scroll
  }
  frame += "\x1b[J";
  std::fwrite(frame.data(), 1, frame.size(), out_);
  std::fflush(out_);
}

}  // namespace drover
