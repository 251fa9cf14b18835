#include "app/stop_watch.h"

#include <signal.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include "shell/lua/lua_limits.h"

namespace drover {

void StartupSignals::run() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGQUIT}) sigaddset(&set, s);
  const timespec tick{0, 50'000'000};  // how soon the thread notices the end of loading
  int sig = -1;
  while (sig <= 0) {
    {
      std::lock_guard lock(mu_);
      if (done_) return;
    }
    sig = sigtimedwait(&set, nullptr, &tick);
  }
  got_ = sig;
  stop_all_lua();
  std::unique_lock lock(mu_);
  if (cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return done_; })) return;
  fmt::print(stderr, "drover: {} while reading the config, stuck in a C function: stopped\n", sigabbrev_np(sig));
  _exit(128 + sig);
}

void StopWatch::run() {
  auto events = engine_.subscribe(100, {.events = true, .log_lines = false});
  while (!done() && !engine_.finished()) {
    auto item = events->pop(std::chrono::milliseconds(100));
    const auto* ev = item ? std::get_if<Event>(&*item) : nullptr;
    if (ev && ev->kind == EventKind::kShutdownStarted) stop_all_lua();
  }
  events->close();
  if (done()) return;
  stop_all_lua();
  std::unique_lock lock(mu_);
  if (cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return done_; })) return;
  fmt::print(stderr, "drover: every worker has stopped, but Lua is stuck in a C function (os.execute?): exiting "
                     "without waiting for it\n");
  before_exit_();
  _exit(0);
}

}  // namespace drover
