// ExitReason: how a process ended, from waitid's siginfo, as a value and as the text
// operators read in status and logs ("exit 1", "signal 9 (KILL)").
#pragma once

#include <signal.h>

#include <string>

namespace drover {

struct ExitReason {
  bool signaled = false;
  bool core_dumped = false;
  int code = 0;  // exit status, or the signal number when signaled

  static ExitReason from_siginfo(const siginfo_t& info);
  bool ok() const { return !signaled && code == 0; }
  std::string text() const;
};

}  // namespace drover
