// HttpControl: drover over HTTP, on its own threads, talking to the engine only through
// its thread-safe handle (a slow client never holds the loop).
//
// Routes (README "HTTP API" has a curl line for each):
//   GET /healthz                     liveness, JSON; open even when a token is configured
//   GET /metrics                     Prometheus text (control/prometheus_text.h)
//   workerpoolmanager's routes, plain text as it answers, JSON with Accept: application/json;
//   each also with a trailing slash, as its router took them and its console sends them:
//   GET /tasks, GET /tasks/NAME      status of every active task, or of one
//   GET /list                        task names
//   GET /tasks/NAME/list             its workers (the console's listworkers)
//   POST|PUT|GET /tasks/NAME/start   start the pool
//   DELETE /tasks[/NAME], POST|PUT /tasks/NAME/stop
//   POST|PUT|GET /tasks/NAME/set/cardinality/N
//   the JSON API (control/api_routes.cpp, control/sse_streams.cpp):
//   GET    /api/v1/snapshot                     the whole EngineSnapshot (control/snapshot_json.h)
//   GET    /api/v1/pools                        every pool; POST: define one (201, 409 if it exists)
//   GET    /api/v1/pools/NAME                   one pool with its workers
//   PATCH  /api/v1/pools/NAME                   {"n", "enabled", "cmd", "env"}: resize, stop/start, roll
//   DELETE /api/v1/pools/NAME                   stop and remove
//   GET    /api/v1/pools/NAME/workers           its workers
//   POST   /api/v1/pools/NAME/workers/SLOT/signal   {"signal": "HUP" | 1}
//   PATCH  /api/v1/config                       {"name": n | false}: the shell's config{}
//   GET    /api/v1/log?n=&pool=                 the last n lines
//   GET    /api/v1/log/follow?pool=             Server-Sent Events, one `data: {line}` per line
//   GET    /api/v1/events?pool=                 Server-Sent Events, `event: KIND` + `data: {event}`
//   GET    /api/v1/autoscale, POST /api/v1/autoscale/POOL/on|off   through AutoscaleHooks (501 without)
//
// Errors are 4xx/5xx with {"error", "detail"} (JSON; one line of text on workerpoolmanager's
// routes without Accept: application/json): 400 bad JSON or field, 401 no or wrong token,
// 404 unknown pool or route, 405 (with Allow) a wrong verb on a known path, 409 a conflict,
// 413 a body over kMaxBody (64 KB), 415 a body that is not JSON, 503 shutting down or too
// many streams. Nothing a request sends can reach the engine but through its handle, which
// validates every change whole before applying any of it.
//
// Threads: httplib serves each connection on a thread of a fixed pool (HttpOptions::threads).
// An event stream holds its thread for as long as the client stays, so at most
// max_streams of them run at once and the rest of the pool stays free for other routes.
// A kept-alive idle connection holds a thread for up to 5 s (httplib's keep-alive timeout).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "autoscale/process_sampler.h"
#include "engine/engine.h"
#include "engine/status.h"

namespace httplib {
class Server;
class ContentReader;
struct Request;
struct Response;
}  // namespace httplib

namespace drover {

struct HttpOptions {
  // Empty: no token, and start() accepts loopback addresses only. Otherwise every request
  // but GET /healthz needs `Authorization: Bearer TOKEN`, from loopback too.
  std::string token;
  size_t threads = 64;      // httplib's connection threads
  int max_streams = 32;     // concurrent SSE streams; more get 503
  std::chrono::milliseconds keepalive{15000};  // an SSE comment after this much silence
};

// The autoscaler's routes, wired by whoever owns it (the shell): HttpControl only maps
// them to HTTP. Each hook runs on an HTTP connection thread, concurrently with others
// and with the shell; it must take its own locks (the Lua lock) and return promptly.
// An unset hook makes its route answer 501.
struct AutoscaleHooks {
  // GET /api/v1/autoscale: the body to send, e.g. {"policies": [{"pool", "enabled", ...}]}.
  std::function<Result<nlohmann::json>()> list;
  // POST /api/v1/autoscale/POOL/on|off: kNotFound (404) when POOL has no policy.
  std::function<Status(const std::string& pool, bool on)> set_enabled;
};

class HttpControl {
 public:
  explicit HttpControl(Engine& engine, HttpOptions options = {});
  ~HttpControl();  // stops serving, ends every stream, and joins
  HttpControl(const HttpControl&) = delete;
  HttpControl& operator=(const HttpControl&) = delete;

  // Before start(): the routes read the hooks without a lock.
  void set_autoscale_hooks(AutoscaleHooks hooks) { autoscale_ = std::move(hooks); }

  // Binds host:port (port 0: any free one) and serves on a thread of its own. Refuses an
  // address other than loopback when no token is configured.
  Status start(const std::string& host, int port);
  int port() const { return port_; }
  // SSE streams being served now.
  int open_streams() const { return streams_.load(); }

 private:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
  // Registers a route and remembers its path pattern, so a wrong verb on it answers 405
  // with Allow. bodyless: the route takes no body and never reads one (workerpoolmanager's
  // clients POST without a body or a Content-Length).
  void on(const std::string& method, const std::string& pattern, Handler h, bool bodyless = false);
  void with_reader(const std::string& method, const std::string& pattern,
                   std::function<void(const httplib::Request&, httplib::Response&, const httplib::ContentReader&)> h);
  void refuse_other_verbs();
  std::string allowed_methods(const std::string& path) const;
  bool authorized(const httplib::Request& req) const;

  void routes();         // http_control.cpp: health, metrics, workerpoolmanager's routes
  void api_routes();     // api_routes.cpp: /api/v1
  void stream_routes();  // sse_streams.cpp: /api/v1/log/follow, /api/v1/events
  void serve_stream(const httplib::Request& req, httplib::Response& res, bool log_lines);
  // The /metrics usage series: a /proc scan over the snapshot's worker pids, on the
  // request's thread (never the engine loop's).
  std::map<std::string, ProcessTotals> sample_usage(const EngineSnapshot& snap);

  Engine& engine_;
  const HttpOptions options_;
  AutoscaleHooks autoscale_;
  // httplib serves each connection on a thread of its own; the sampler keeps the last
  // scrape's per-pid times, so one scrape at a time uses it.
  std::mutex sampler_mu_;
  ProcessSampler sampler_;
  // Routes that read a pool's spec, change it and apply it whole (POST and PATCH of a
  // pool) take turns, so two of them cannot both pass "no such pool" or undo each other.
  std::mutex define_mu_;
  std::atomic<int> streams_{0};
  struct KnownPath {
    std::string pattern;
    std::regex re;
    std::set<std::string> methods;
  };
  std::vector<KnownPath> known_paths_;  // written before start(), read-only after
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<bool> listen_done_{false};  // httplib's accept loop has returned
  int listen_fd_ = -1;  // httplib's listening socket, seen as it is created
  int port_ = 0;
};

// "HOST:PORT" or ":PORT" (host 127.0.0.1) or "PORT".
Result<std::pair<std::string, int>> parse_listen_address(const std::string& spec);
inline constexpr const char* kDefaultHttpAddress = "127.0.0.1:8010";

}  // namespace drover
