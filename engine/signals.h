// SignalWatch: the signals an operator sends drover, read from a signalfd in the loop
// (tmux's server.c, mosh's select.h), so no handler ever runs in an arbitrary thread.
//
//   INT, TERM, QUIT   graceful shutdown; a second INT or TERM: SIGKILL to every worker
//   HUP               reopen the log file and ask the config owner to reload
//   TTIN / TTOU       +1 / -1 worker on every pool
//   USR1, USR2, CONT  forwarded to every worker's process group
//
// The signals must be blocked in every thread (block_engine_signals() in main, before
// any thread starts), or the kernel may deliver them to a thread instead of the fd;
// block_engine_signals() also resets inherited SIG_IGN dispositions (nohup, background
// jobs), which would otherwise discard them.
#pragma once

#include <signal.h>

#include <functional>

namespace drover {

class EventLoop;

sigset_t engine_signal_set(bool with_sigint = true);

class SignalWatch {
 public:
  SignalWatch(EventLoop& loop, bool with_sigint, std::function<void(int sig)> on_signal);
  ~SignalWatch();
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

 private:
  EventLoop& loop_;
  int fd_ = -1;
  std::function<void(int)> on_signal_;
};

}  // namespace drover
