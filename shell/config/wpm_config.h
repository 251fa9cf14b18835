// workerpoolmanager's JSON task config (`drover --wpm-config tasks.json`), read with its
// own semantics so that its users' configs and workers run under drover unchanged:
//
//   { "port": 8010,
//     "keepalives": { "host": "localhost", "inbound_port": 5591, "stall_timeout": 10000,
//                     "grace_period": 1000 },
//     "path": "tasks/", "filesuffix": "Task.php",
//     "autotasks": { "Example": { "cardinality": 2, "cmd": "/usr/bin/php", "args": ["x"] } } }
//
// - Every file in `path` (relative: to the JSON file's directory) whose name ends with
//   `filesuffix` is a task named by the file name without the suffix, run as that file,
//   one worker. Tasks named in `autotasks` start with drover; the others are defined
//   stopped (PoolSpec::autostart = false) until start "Name", as in workerpoolmanager.
//   An autotask must name a discovered task; its cardinality (if > 0), cmd and args (if
//   given) override the file's.
// - Times are milliseconds there, seconds here. A worker that never sends a keep-alive is
//   stalled after stall_timeout (default 60 s): heartbeat = { timeout, require = true }.
//   grace_period (default 100 ms) is the SIGTERM -> SIGKILL grace, per task or global.
// - Keep-alives arrive on tcp://HOST:inbound_port (default localhost:5591), which is what
//   their workers connect to: heartbeat_endpoint. `port` (HTTP control) is kept for the
//   control plane. capture_output, internal_port and pidfile are accepted and ignored:
//   drover always captures output, needs no internal proxy, and has --pid-file.
#pragma once

#include <string>
#include <vector>

#include "engine/pool_spec.h"
#include "engine/status.h"

namespace drover {

struct WpmConfig {
  std::vector<PoolSpec> pools;     // sorted by name
  std::string heartbeat_endpoint;  // "tcp://127.0.0.1:5591"
  int http_port = 8010;
};

Result<WpmConfig> load_wpm_config(const std::string& path);

}  // namespace drover
