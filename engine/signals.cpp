#include "engine/signals.h"

#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "engine/engine.h"
#include "engine/event_loop.h"

namespace drover {

sigset_t engine_signal_set(bool with_sigint) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGQUIT, SIGHUP, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2, SIGCONT}) sigaddset(&set, sig);
  if (with_sigint) sigaddset(&set, SIGINT);
  return set;
}

void block_engine_signals() {
  sigset_t set = engine_signal_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A signal whose disposition is SIG_IGN is discarded before it is ever pending, so a
  // signalfd never sees it. nohup, and shells starting background jobs, hand us ignored
  // HUP/INT/QUIT; like any daemon that installs its own handlers, take them back.
  for (int sig = 1; sig < NSIG; ++sig)
    if (sigismember(&set, sig) == 1) signal(sig, SIG_DFL);
}

SignalWatch::SignalWatch(EventLoop& loop, bool with_sigint, std::function<void(int)> on_signal)
    : loop_(loop), on_signal_(std::move(on_signal)) {
  sigset_t set = engine_signal_set(with_sigint);
  fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd_ < 0) throw std::runtime_error(std::string("signalfd: ") + std::strerror(errno));
  loop_.watch(fd_, [this](uint32_t) {
    signalfd_siginfo info;
    while (read(fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info))
      on_signal_(static_cast<int>(info.ssi_signo));
  });
}

SignalWatch::~SignalWatch() {
  loop_.unwatch(fd_);
  close(fd_);
}

}  // namespace drover
