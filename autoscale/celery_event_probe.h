// CeleryEventProbe: which Celery workers on this host are busy, from the events Celery
// workers publish through their Redis broker. Celery keeps no registry of its workers in
// Redis; instead every worker publishes a worker-heartbeat event every 2 s (on by default,
// -E not needed; --without-heartbeat turns it off) on the pub/sub channel
// "/<db>.celeryev/worker.heartbeat", carrying its node name (name@host), the pid of its
// main process and `active`, the number of tasks it is executing. With -E, task-started
// events (on "/<db>.celeryev/task.multi") say so at once instead of at the next heartbeat.
//
// The probe keeps a PSUBSCRIBE'd connection and each read() takes what has arrived since
// the last, without waiting: a read never blocks on a quiet channel. A worker is listed
// while its heartbeats keep coming (3 of its announced intervals), and dropped at its
// worker-offline event. Made through make_worker_registry_probe (worker_registry_probe.h).
// Thread: one thread at a time (the ProbeRunner's).
#pragma once

#include <map>
#include <memory>
#include <string>


#include "autoscale/redis_probe.h"
#include "autoscale/worker_registry_probe.h"

namespace drover {

Result<std::unique_ptr<QueueProbe>> make_celery_event_probe(const WorkerRegistrySpec& spec, RedisAddress addr);

// One event message as kombu's Redis transport publishes it (a JSON envelope with a
// base64 body); updates `seen` (node "name@host" and pid -> active, last seen). Exposed
// for unit tests. Returns false for a message that is not a Celery worker or task event.
struct CeleryWorkerSeen {
  std::string host;
  int pid = 0;
  long active = 0;
  double expires_at = 0;  // steady seconds after which, without a heartbeat, it is gone
};
bool apply_celery_event(const std::string& payload, double now_s,
                        std::map<std::string, CeleryWorkerSeen>& seen);

}  // namespace drover
