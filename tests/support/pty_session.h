// PtySession: runs a program on a pseudo-terminal and reads its screen output, so tests
// can type at the real drover shell as an operator would (forkpty, one toolchain).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace drover::test {

class PtySession {
 public:
  // argv[0] is the program path; env entries "K=V" are added to the environment.
  PtySession(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});
  ~PtySession();  // SIGKILLs the program if it is still running

  void send(const std::string& keys);
  void send_line(const std::string& line) { send(line + "\r"); }
  // Waits until `text` appears in the output after the read mark; moves the mark past it.
  bool expect(const std::string& text, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
  // Everything since the last expect() match (ANSI sequences removed), without consuming.
  std::string pending();
  // Output between the read mark and the next occurrence of `text`, consuming through it.
  std::string until(const std::string& text, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
  // Waits for exit; the exit status, or -1 on timeout.
  int wait_exit(std::chrono::milliseconds timeout);
  pid_t pid() const { return pid_; }
  const std::string& all() const { return out_; }

 private:
  void pump(std::chrono::milliseconds wait);
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string out_;   // all output so far, ANSI escapes stripped
  size_t mark_ = 0;   // read position for expect()
};

// The shell's prompt, as the REPL prints it.
inline constexpr const char* kShellPrompt = "drover> ";

// Runs Lua statements at the shell's prompt and returns what they printed. The markers are
// built by Lua at run time, so the echo of the typed line never matches them. Fails the
// test (REQUIRE) when the output or the next prompt does not come.
std::string run_lua(PtySession& s, const std::string& code);

}  // namespace drover::test
