// Supervisor, the busy-registry part: busy/idle states that a job queue keeps of its own
// workers (rq's worker hashes, Resque's worker keys, Sidekiq's processes, Celery's
// worker heartbeats), read by a probe outside the engine and posted here, so that a
// scale-down retires idle workers first even when the workers send no heartbeat.
//
// A report names pids, not slots: the queue knows the process that registered, which is
// the worker drover spawned or a descendant of it (`sh -c`, `bundle exec`). The lookup is
// the heartbeats' (worker_of): a hash hit for known pids, a bounded /proc walk otherwise.
//
// A report is a full listing of the queue's workers on this host, so a worker left out
// has unregistered, or the probe read a moment before it registered. One omission says
// little; kBusyReportMisses in a row and the worker is unknown again: scale-down then
// treats it as it treats any worker nobody vouches for, between idle and busy.
#include <unordered_map>

#include "engine/supervisor.h"

namespace drover {

void Supervisor::set_worker_busy(const std::string& pool_name, const std::string& source,
                                 const std::vector<WorkerBusy>& workers) {
  Pool* pool = find_pool(pool_name);
  if (!pool) return;  // removed meanwhile: the report is late, not wrong
  pool->busy_source = source;
  // Several pids may map to one worker (a wrapper and its child both registered): busy wins.
  std::unordered_map<Slot*, bool> told;
  for (const WorkerBusy& w : workers) {
    if (w.pid <= 0) continue;
    Pool* owner = nullptr;
    Slot* slot = worker_of(w.pid, &owner);
    if (!slot || owner != pool) continue;  // another pool's worker, or not drover's at all
    told[slot] = told[slot] || w.busy;
  }
  for (auto& [idx, slot] : pool->slots) {
    if (!slot->has_process()) continue;
    if (auto it = told.find(slot.get()); it != told.end()) {
      slot->registry_busy = it->second;
      slot->registry_misses = 0;
    } else if (slot->registry_busy && ++slot->registry_misses >= kBusyReportMisses) {
      slot->registry_busy.reset();
      slot->registry_misses = 0;
    }
  }
}

}  // namespace drover
