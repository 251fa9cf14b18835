#include "control/json_views.h"

namespace drover {

using nlohmann::json;

json worker_json(const WorkerSnapshot& w) {
  json j{{"slot", w.slot},           {"pid", w.pid},           {"state", slot_state_name(w.state)},
         {"uptime", w.uptime_s},     {"restarts", w.restarts}, {"last_exit", w.last_exit},
         {"heartbeats", w.heartbeats}};
  if (w.retry_in_s > 0) j["retry_in"] = w.retry_in_s;
  if (w.heartbeat_age_s >= 0) j["heartbeat_age"] = w.heartbeat_age_s;
  if (w.busy) {
    j["busy"] = *w.busy;
    j["busy_from"] = w.busy_from;  // "heartbeat", or the queue whose records said so ("rq")
  }
  if (w.progress) j["progress"] = *w.progress;
  if (!w.status.empty()) j["status"] = w.status;
  return j;
}

json pool_json(const PoolSnapshot& p, bool with_workers) {
  const PoolCounters& c = p.counters;
  json j{{"name", p.spec.name},
         {"n", p.spec.n},
         {"target", p.target},
         {"enabled", p.enabled},
         {"running", p.running},
         {"starting", p.starting},
         {"stopping", p.stopping},
         {"backoff", p.backoff},
         {"flapping", p.flapping},
         {"stalled", p.stalled},
         {"busy", p.busy},
         {"idle", p.idle},
         {"rolling", p.rolling},
         {"removing", p.removing},
         {"cmd", p.spec.argv},
         {"counters",
          {{"started", c.started},
           {"exits_ok", c.exited_ok},
           {"exits_bad", c.exited_bad},
           {"killed", c.killed_after_grace},
           {"spawn_failures", c.spawn_failures},
           {"restarts", c.restarts},
           {"stalls", c.stalls}}}};
  if (with_workers) {
    json ws = json::array();
    for (const auto& w : p.workers) ws.push_back(worker_json(w));
    j["workers"] = std::move(ws);
  }
  return j;
}

}  // namespace drover
