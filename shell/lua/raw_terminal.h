// RawTerminal: the shell's terminal handed to a full-screen view (top()) for a scope, and
// handed back as it was on every way out (return, Lua error, exception): the destructor
// restores the saved termios, shows the cursor and leaves the alternate screen.
//
// Raw here means: no line buffering, no echo, and no signals from keys (ISIG off), so
// Ctrl-C arrives as the byte 0x03 and the view decides what it means; output processing
// (OPOST) stays on, so "\n" still moves to the start of the next line. One at a time, on
// the thread that runs the shell.
#pragma once

#include <termios.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace drover {

class RawTerminal {
 public:
  // in: the terminal's fd (stdin), out: where the screen is drawn (stdout). Throws
  // std::runtime_error when either is not a terminal.
  RawTerminal(int in, FILE* out);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

  // Columns and rows now (TIOCGWINSZ), 80x24 when the terminal does not say.
  std::pair<int, int> size() const;
  // Waits up to `timeout` for keys and returns what was typed (empty: none, or a signal
  // woke the wait).
  std::string read_keys(std::chrono::milliseconds timeout);
  // Draws `lines` from the top-left corner, each line cleared to its end, and clears
  // what is below them. `highlight`: a line shown in reverse video (-1: none).
  void draw(const std::vector<std::string>& lines, int highlight, bool color);

 private:
  int in_;
  FILE* out_;
  termios saved_{};
};

}  // namespace drover
