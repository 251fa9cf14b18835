// QueueProbe: one source of queue depth for an autoscaled pool (a Redis list, a command's
// output). A probe's read() may block for up to its own timeout, so it is only ever
// called on a ProbeRunner thread: never on the engine loop, never under the Lua lock.
//
// A reading carries what was learnt, or why nothing was: depth nil plus an error. A probe
// keeps its own connection state (a Redis probe reconnects with backoff), so a dead
// server costs one failed attempt per backoff step, not one timeout per read.
#pragma once

#include <optional>
#include <string>

namespace drover {

struct QueueReading {
  std::optional<double> depth;     // jobs waiting; nullopt when unknown
  std::optional<double> inflight;  // jobs already being worked on, from the queue's own
                                   // bookkeeping (rq's started registry, Sidekiq's busy)
  std::string error;               // non-empty: why depth is unknown ("connection refused")
};

class QueueProbe {
 public:
  virtual ~QueueProbe() = default;
  // Blocks at most the probe's timeout. Never throws: failures are readings with error set.
  virtual QueueReading read() = 0;
  // What it reads, for logs and autoscale.list(): "redis://127.0.0.1:6379/0 rq:queue:default".
  // Never holds a password.
  virtual std::string describe() const = 0;
};

}  // namespace drover
