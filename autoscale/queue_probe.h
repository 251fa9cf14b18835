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
#include <vector>

namespace drover {

// One worker as its job queue records it (worker_registry_probe.h): where it runs, its
// pid there (as the worker reported it), and whether it is working on a job.
struct RegisteredWorker {
  std::string host;
  int pid = 0;
  bool busy = false;

  bool operator==(const RegisteredWorker&) const = default;
};

struct QueueReading {
  std::optional<double> depth;     // jobs waiting; nullopt when unknown
  std::optional<double> inflight;  // jobs already being worked on, from the queue's own
                                   // bookkeeping (rq's started registry, Sidekiq's busy)
  std::string error;               // non-empty: why depth is unknown ("connection refused")
  // A worker registry's reading (worker_registry_probe.h): the workers on this host; depth
  // stays nullopt. nullopt: not a registry, or the read failed (error says why).
  std::optional<std::vector<RegisteredWorker>> workers;
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
