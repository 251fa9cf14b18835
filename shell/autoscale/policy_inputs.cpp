#include "shell/autoscale/policy_inputs.h"

#include <algorithm>

namespace drover {

namespace {

WorkerCounts counts_of(const PoolSnapshot& ps) { return {ps.target, ps.running, ps.busy, ps.idle, ps.stalled}; }

// A jobs pool without a probe: its topic in drover's own queue (the snapshot's counts, at
// most a second old). Null otherwise, and while there is no job queue yet.
const TopicGauge* own_queue(const std::string& pool, const PoolInputs& in, const EngineSnapshot& snap) {
  const PoolSnapshot* ps = snap.find(pool);
  if (in.probe || !ps || !ps->spec.jobs) return nullptr;
  return snap.find_topic(pool);
}

// The jobs running: the store's count (up to a second old), or the pool's own job
// processes in this snapshot when that is more (a job claimed since the refresh): a
// policy that sized below it would stop a job that has just begun.
double running_jobs(const TopicGauge& t, const PoolSnapshot& ps) {
  return static_cast<double>(std::max<int64_t>(t.running, ps.running + ps.starting));
}

// The mean run time of the attempts that ended since the oldest call of the history that
// came before some of them; since start when none ended within it.
std::optional<double> mean_run_time(double sum, uint64_t count, const std::deque<PolicySample>& history) {
  if (count == 0) return std::nullopt;
  for (const PolicySample& s : history)
    if (s.run_count < count) return (sum - s.run_sum) / static_cast<double>(count - s.run_count);
  return sum / static_cast<double>(count);
}

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
  if (const TopicGauge* t = own_queue(pool, in, r.snap)) {
    // Due jobs only: a delayed job needs no worker yet. Its rate from m.history.
    m.queue = static_cast<double>(t->queued);
    m.inflight = running_jobs(*t, ps);
    m.age = t->oldest_age_s;
    m.run_sum = t->run_time.sum;
    m.run_count = t->run_time.count;
    m.run_time = mean_run_time(m.run_sum, m.run_count, history);
    if (!history.empty() && history.back().queue && m.dt && *m.dt > 0)
      m.queue_rate = (*m.queue - *history.back().queue) / *m.dt;
  } else if (!in.fn_probe) {
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
    if (const TopicGauge* t = own_queue(name, other, r.snap)) {
      v.queue = static_cast<double>(t->queued);
      v.inflight = running_jobs(*t, *r.snap.find(name));
      v.age = t->oldest_age_s;
    }
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
