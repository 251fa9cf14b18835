// WorkerRegistryProbe: which of a job queue's workers on this host are busy, from the
// records the queue system keeps of its own workers in Redis. It lets drover retire idle
// workers first when they send no heartbeat: the reading goes to Engine::set_worker_busy.
//
//   layout   listing                          one worker                     busy when
//   rq       SMEMBERS rq:workers (keys)       HMGET key pid hostname state   state == "busy"
//   resque   SMEMBERS <ns>:workers            id "host:pid:queues"           <ns>:worker:<id> exists
//   sidekiq  SMEMBERS processes               HMGET id busy info (JSON)      busy > 0
//   celery   (none in Redis: see celery_event_probe.h, the workers' pub/sub heartbeats)
//
// Only workers whose recorded host name equals this host's (gethostname(), which is what
// rq, resque and Sidekiq record) are returned: a registry lists every host's workers.
// A read is two pipelined round trips whatever the number of workers.
//
// Connection, timeout, backoff and error texts are RedisSession's (redis_session.h).
// Thread: one thread at a time (the ProbeRunner's); read() never throws.
#pragma once

#include <memory>
#include <string>

#include "autoscale/queue_probe.h"
#include "autoscale/redis_probe.h"
#include "engine/status.h"

namespace drover {

struct WorkerRegistrySpec {
  std::string url = "redis://127.0.0.1:6379/0";
  QueueLayout layout = QueueLayout::kRq;  // rq, resque, sidekiq or celery
  std::string ns = "resque";              // resque's namespace
  double timeout_s = 1.0;                 // bounds one read; in (0, 60]
  std::string hostname;                   // whose workers to return; empty: this host's

  bool operator==(const WorkerRegistrySpec&) const = default;
};

// Validates the spec and returns a probe whose readings carry `workers` (depth stays
// unknown); connects lazily. kKey has no registry: an error that says so.
Result<std::unique_ptr<QueueProbe>> make_worker_registry_probe(const WorkerRegistrySpec& spec);

// This host's name as the queue systems record it (gethostname()).
std::string local_hostname();

}  // namespace drover
