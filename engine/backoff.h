// Backoff: how long a slot waits before its next spawn, from how its last worker ended.
//
// A worker that stayed up at least reset_after is replaced at once (delay 0, in the same
// wake-up that reaped it). So is the first quick exit of a streak: one early death (an
// operator's kill, a lost race) is not yet a crash loop. From the second quick exit in a
// row the delay starts at `initial` and doubles up to `max`. Pure arithmetic: the caller
// passes the uptime; no clock inside.
#pragma once

#include "engine/clock.h"
#include "engine/pool_spec.h"

namespace drover {

class Backoff {
 public:
  // Records an exit after `uptime` and returns the delay before the next spawn.
  Duration on_exit(const BackoffPolicy& policy, Duration uptime);
  void reset() { quick_exits_ = 0; }
  int quick_exits() const { return quick_exits_; }

 private:
  int quick_exits_ = 0;
};

}  // namespace drover
