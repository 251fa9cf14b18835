#include "shell/autoscale/policy_inputs.h"

namespace drover {

namespace {

WorkerCounts counts_of(const PoolSnapshot& ps) { return {ps.target, ps.running, ps.busy, ps.idle, ps.stalled}; }

}  // namespace

PolicyMetrics build_policy_metrics(const std::string& pool, const TickReadings& r,
                                   const std::map<std::string, PoolInputs>& pools, double now,
                                   std::optional<double> dt, const std::deque<PolicySample>& history, int budget) {
  const PoolSnapshot& ps = *r.snap.find(pool);
  const PoolInputs& in = pools.at(pool);
  PolicyMetrics m;
  m.name = pool;
  m.now = now;
  m.dt = dt;
  m.queue = in.queue;
  if (!in.fn_probe) {
    if (m.queue) {
      m.queue_rate = in.rate;
      m.inflight = in.inflight;
    }
  } else if (!history.empty() && history.back().queue && m.queue && m.dt && *m.dt > 0) {
    m.queue_rate = (*m.queue - *history.back().queue) / *m.dt;
  }
  const SystemSample& sys = r.sys;
  m.load1 = sys.load1;
  m.load5 = sys.load5;
  m.load15 = sys.load15;
  if (sys.cpu >= 0) m.cpu = sys.cpu;
  m.cpus = sys.cpus;
  m.mem_available = static_cast<double>(sys.mem_available_bytes);
  m.mem_total = static_cast<double>(sys.mem_total_bytes);
  m.workers = counts_of(ps);
  if (auto it = r.procs.find(pool); it != r.procs.end()) {
    m.pool_cpu = it->second.cpu;
    m.pool_rss = static_cast<double>(it->second.rss_bytes);
    m.pool_processes = it->second.processes;
  }
  m.min = in.limits.min;
  m.max = in.limits.max;
  if (budget > 0) m.budget = budget;
  for (const auto& [name, other] : pools) {
    PoolView v;
    v.queue = other.queue;
    if (v.queue) v.inflight = other.inflight;
    if (const PoolSnapshot* os = r.snap.find(name)) v.workers = counts_of(*os);
    v.min = other.limits.min;
    v.max = other.limits.max;
    m.pools[name] = v;
  }
  m.history = history;
  record_history(m);
  return m;
}

}  // namespace drover
