// HttpControl: drover over HTTP, on its own threads, talking to the engine only through
// its thread-safe handle (a slow client never holds the loop).
//
// This first slice of the control plane (issue 6) serves:
//   GET /healthz                     liveness, JSON
//   GET /metrics                     Prometheus text (control/prometheus_text.h)
//   workerpoolmanager's routes, plain text as it answers, JSON with Accept: application/json:
//   GET /tasks, GET /tasks/NAME      status of every active task, or of one
//   GET /list                        task names
//   POST|PUT|GET /tasks/NAME/start   start the pool
//   DELETE /tasks[/NAME], POST|PUT /tasks/NAME/stop
//   POST|PUT|GET /tasks/NAME/set/cardinality/N
//   the JSON API: GET /api/v1/pools[/NAME], PATCH /api/v1/pools/NAME {"n", "enabled"},
//   DELETE /api/v1/pools/NAME, PATCH /api/v1/config {"name": n|false}, GET /api/v1/log?n=&pool=
// Errors are 4xx/5xx with {"error", "detail"} (JSON) or one line of text. Bodies are
// capped; no route reads one yet.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "autoscale/process_sampler.h"
#include "engine/engine.h"
#include "engine/status.h"

namespace httplib {
class Server;
}

namespace drover {

class HttpControl {
 public:
  explicit HttpControl(Engine& engine);
  ~HttpControl();  // stops serving and joins
  HttpControl(const HttpControl&) = delete;
  HttpControl& operator=(const HttpControl&) = delete;

  // Binds host:port (port 0: any free one) and serves on a thread of its own.
  Status start(const std::string& host, int port);
  int port() const { return port_; }

 private:
  void routes();
  void api_routes();
  // The /metrics usage series: a /proc scan over the snapshot's worker pids, on the
  // request's thread (never the engine loop's).
  std::map<std::string, ProcessTotals> sample_usage(const EngineSnapshot& snap);
  Engine& engine_;
  // httplib serves each connection on a thread of its own; the sampler keeps the last
  // scrape's per-pid times, so one scrape at a time uses it.
  std::mutex sampler_mu_;
  ProcessSampler sampler_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

// "HOST:PORT" or ":PORT" (host 127.0.0.1) or "PORT".
Result<std::pair<std::string, int>> parse_listen_address(const std::string& spec);

}  // namespace drover
