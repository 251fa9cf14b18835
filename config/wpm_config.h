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
//   one worker. An autotask must name a discovered task; its cardinality (if > 0), cmd
//   (if non-empty) and args (if non-empty) override the file's, and its file must be
//   executable unless a cmd is given.
// - Tasks named in `autotasks` start with drover. The others are pools that exist but are
//   stopped: PoolSpec::autostart = false with their n (1) kept, so `start "Name"` (shell,
//   HTTP) brings them up as workerpoolmanager's start does, and `config{Name = 3}` sizes
//   them. They show in status() with 0 running. (Not n = 0: that would lose the size to
//   start with, and would make an operator's `start` a no-op.)
// - Times are milliseconds there, seconds here. A worker that never sends a keep-alive is
//   stalled after stall_timeout (default 60 s): heartbeat = { timeout, require = true },
//   as the original sets LastAliveAt to the start time. grace_period (default 100 ms) is
//   the SIGTERM -> SIGKILL grace. Both may also be given per autotask. 0 means the default.
// - Keep-alives arrive on tcp://HOST:inbound_port, which is what their workers connect to:
//   heartbeat_endpoint. HOST "localhost" (or none) binds 127.0.0.1; any other value is
//   bound as written, so it must be an address or an interface name ("0.0.0.0", "eth0"):
//   ZeroMQ does not resolve names for bind.
// - `port`: drover serves its HTTP control plane (workerpoolmanager's /tasks routes, which
//   its wpconsole talks to) on 127.0.0.1:port unless --http says where; never on every
//   interface, as workerpoolmanager did: beyond loopback --http and a token are needed.
//   0 is any free port (stderr says which); without "port" there is no HTTP, as
//   workerpoolmanager's ":0" was unreachable. `pidfile` is drover's pid file unless
//   --pid-file is given (relative: to drover's cwd, as there). capture_output and
//   internal_port are accepted and ignored: drover always captures output and needs no
//   internal proxy.
//
// Errors name the file and the key ("tasks.json: autotasks.Foo: cannot find task Foo"),
// or for a syntax error the line, column and byte offset.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/pool_spec.h"
#include "engine/status.h"

namespace drover {

struct WpmConfig {
  std::vector<PoolSpec> pools;     // sorted by name; every discovered task, started or not
  std::string heartbeat_endpoint;  // "tcp://127.0.0.1:5591"
  std::optional<int> http_port;    // "port"; none: no HTTP unless --http
  std::string pidfile;             // as written; empty: none
};

// Reads and checks the whole file; touches nothing else. Any thread.
Result<WpmConfig> load_wpm_config(const std::string& path);

}  // namespace drover
