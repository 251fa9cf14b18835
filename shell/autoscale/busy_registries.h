// BusyRegistries: which queue system's records of its workers (worker_registry_probe.h)
// are read for each pool's busy states, so that a scale-down stops idle workers first. A
// pool's own `busy` field wins, read every kBusyRegistryEvery s; else its policy's
// redis{} queue names one, read on the policy's schedule. The probes run on the
// ProbeRunner under "busy:" + pool, and each reading goes to the engine (set_worker_busy)
// from the probe thread. Apart from the Autoscaler because it follows the pools' specs
// and the defined policies, not time: it changes only when either does.
//
// Not thread-safe: the Lua lock guards it, as it does the Autoscaler.
#pragma once

#include <map>
#include <string>

#include "autoscale/probe_runner.h"
#include "autoscale/worker_registry_probe.h"
#include "shell/autoscale/policy_registry.h"
#include "api/engine_client.h"

namespace drover {

inline constexpr double kBusyRegistryEvery = 1.0;  // s between reads of a pool's `busy` registry

class BusyRegistries {
 public:
  // Worker registries share the ProbeRunner with the queue probes, under this prefix.
  static constexpr const char* kKeyPrefix = "busy:";

  BusyRegistries(ProbeRunner& probes, EngineClient& client) : probes_(probes), client_(client) {}

  // Reads the pools' `busy` fields from a snapshot; call after the pools change.
  void set_pools(const EngineSnapshot& snap);
  // Installs and removes registry probes to match the pools and the policies (the live
  // ones and those a reload has put aside, which are still defined).
  void sync(const PolicyRegistry& policies);

 private:
  struct Registry {
    WorkerRegistrySpec spec;
    double every_s = 1;
    bool operator==(const Registry&) const = default;
  };
  ProbeRunner& probes_;
  EngineClient& client_;
  std::map<std::string, WorkerRegistrySpec> pool_registries_;  // pools' busy fields
  std::map<std::string, Registry> installed_;                  // in probes_, under kKeyPrefix + pool
};

}  // namespace drover
