#include "shell/autoscale/busy_registries.h"

#include <vector>

namespace drover {

void BusyRegistries::set_pools(const EngineSnapshot& snap) {
  pool_registries_.clear();
  for (const PoolSnapshot& ps : snap.pools) {
    const BusyRegistry& b = ps.spec.busy_registry;
    if (!b.enabled()) continue;
    auto layout = queue_layout_from_name(b.layout);
    if (!layout) continue;  // validate_pool_spec let it through: cannot happen
    pool_registries_[ps.spec.name] = WorkerRegistrySpec{b.url, *layout, b.ns, b.timeout_s, ""};
  }
}

void BusyRegistries::sync(const PolicyRegistry& policies) {
  // What each pool should have: its own `busy` field first, else its policy's queue.
  std::map<std::string, Registry> want;
  for (const auto& [pool, spec] : pool_registries_) want[pool] = {spec, kBusyRegistryEvery};
  auto from_policy = [&](const AutoscalePolicy& p) {
    if (p.spec.registry && !want.count(p.spec.pool)) want[p.spec.pool] = {*p.spec.registry, p.spec.every_s};
  };
  for (const auto& [_, p] : policies.policies()) from_policy(*p);
  for (const auto& p : policies.aside_policies()) from_policy(*p);  // a reload in progress: still defined
  for (auto it = installed_.begin(); it != installed_.end();) {
    if (want.count(it->first)) {
      ++it;
      continue;
    }
    probes_.remove(kKeyPrefix + it->first);
    it = installed_.erase(it);
  }
  for (const auto& [pool, r] : want) {
    if (auto it = installed_.find(pool); it != installed_.end() && it->second == r) continue;
    auto probe = make_worker_registry_probe(r.spec);
    if (!probe) {  // checked where the spec was read: only a bug lands here
      client_.report(EventKind::kPolicyWarning, pool, "busy states unknown: " + probe.error().message());
      continue;
    }
    // A failed read tells the engine of no worker, so that after kBusyReportMisses of them
    // (a dead Redis) the workers' busy states are unknown again rather than stale.
    auto on_read = [client = &client_, pool, source = std::string(queue_layout_name(r.spec.layout))](
                       const QueueReading& reading) {
      std::vector<WorkerBusy> busy;
      if (reading.workers)
        for (const RegisteredWorker& w : *reading.workers) busy.push_back({static_cast<pid_t>(w.pid), w.busy});
      client->set_worker_busy(pool, source, std::move(busy));
    };
    probes_.add(kKeyPrefix + pool, std::move(*probe), r.every_s, std::move(on_read));
    installed_[pool] = r;
  }
}

}  // namespace drover
