// HttpControl: drover over HTTP, on its own threads, talking to the engine only through
// its thread-safe handle (a slow client never holds the loop).
//
// Routes (README "HTTP API" has a curl line for each):
//   GET /healthz                     liveness, JSON; open without the token
//   GET /, GET /ui/FILE              the dashboard (web/, embedded); open without the token,
//                                    as it holds no data: it asks for the token and sends it
//                                    as a header with each API request (control/web_routes.cpp)
//   GET /metrics                     Prometheus text (control/prometheus_text.h)
//   workerpoolmanager's routes, plain text as it answers, JSON with Accept: application/json;
//   each also with a trailing slash, as its router took them and its console sends them:
//   GET /tasks, GET /tasks/NAME      status of every active task, or of one
//   GET /list                        task names
//   GET /tasks/NAME/list             its workers (the console's listworkers)
//   and only with wpm_compat (403 otherwise), as they change state without a JSON body:
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
//   GET    /api/v1/pools/NAME/usage             CPU (cores since the previous read) and RSS of
//                                               the pool and of each worker, with descendants
//   PATCH  /api/v1/pools                        {"name": n}: live resize of existing pools, all or
//                                               nothing; answers {"pools": sizes}
//   POST   /api/v1/start, /api/v1/stop          {} every pool, {"pool": NAME} one: start() and stop()
//   POST   /api/v1/signal                       {"signal": "USR1", "pool"?}: kill() to every worker
//   PATCH  /api/v1/config                       {"name": n | false}: the shell's config{}, 0 or false
//                                               removes; all or nothing; answers {"pools": sizes}
//   GET    /api/v1/log?n=&pool=                 the last n lines (n <= kLogTailMaxLines)
//   GET    /api/v1/log/follow?pool=             Server-Sent Events, one `data: {line}` per line
//   GET    /api/v1/events?pool=                 Server-Sent Events, `event: KIND` + `data: {event}`
//   GET    /api/v1/autoscale, POST /api/v1/autoscale/POOL/on|off   through AutoscaleHooks (501 without)
//   the job queue (control/job_routes.cpp) under /api/v1/jobs and /api/v1/topics, and with
//   tasker_compat tasker's POST /TYPE and GET /TYPE/IDENT (control/tasker_routes.cpp)
//
// Errors are 4xx/5xx with {"error", "detail"} (JSON; one line of text on workerpoolmanager's
// routes without Accept: application/json): 400 bad JSON or field, 401 no or wrong token,
// 403 a refused peer, Origin or workerpoolmanager route, 404 unknown pool or route, 405
// (with Allow) a wrong verb on a known path, 409 a conflict, 413 a body over kMaxBody
// (64 KB), 415 a body that is not JSON, 421 a Host that is not this server's, 503 shutting
// down or too many streams. Nothing a request sends can reach the engine but through its
// handle, which validates every change whole before applying any of it.
//
// Who may connect (control/http_admission.cpp), decided on the headers before any body
// byte is read:
//   - TCP (start): always with a token; every route but GET /healthz needs
//     `Authorization: Bearer TOKEN`. Host must be an IP literal, localhost or one of
//     allowed_hosts, and an Origin, when sent, must be this server (DNS rebinding and
//     cross-site requests from a browser; control/request_origin.h).
//   - A unix socket (start_unix): mode 0600, and the peer's uid (SO_PEERCRED) must be
//     ours or root; no token.
//   - workerpoolmanager's routes change state on a GET or a bodyless POST, which a web page
//     can make a browser send: they answer only with wpm_compat, and then also to loopback
//     clients without a token (its console sends none).
//   - A body only on the routes that take one, JSON only (415), at most kMaxBody: a larger
//     declared length is refused unread, a chunked body is cut when it passes the limit.
//
// Threads and limits (control/mhd_server.h): libmicrohttpd, event-driven. The TCP listener
// runs `threads` epoll threads; handlers run on them. Most are a snapshot of the engine and
// quick, but /metrics scans /proc and the autoscale hooks take the Lua lock, so there is
// more than one thread: a slow handler holds only its own thread's connections, and
// /healthz still answers on the others. Up to 4096 connections per listener, each closed
// after 30 s of silence, request headers at most 32 KB. An SSE stream holds no thread while
// it waits: it is parked until its subscription has something or a keep-alive is due.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "autoscale/process_sampler.h"
#include "api/engine_client.h"
#include "engine/engine.h"
#include "engine/status.h"

#include "control/http_request.h"
#include "control/http_router.h"

namespace drover::http {
class MhdServer;
}

namespace drover {

struct HttpOptions {
  // Needed by start() (TCP): every request on it but GET /healthz must carry
  // `Authorization: Bearer TOKEN`, from loopback too. start_unix() needs none.
  std::string token;
  // Host names (with or without :port) a TCP request may name in Host and Origin, beyond
  // IP literals and localhost: e.g. the name a reverse proxy forwards as.
  std::vector<std::string> allowed_hosts;
  // workerpoolmanager's routes: with false they answer 403. With true they answer, and
  // its /tasks and /list routes also to loopback TCP clients without a token.
  bool wpm_compat = false;
  // tasker's POST /TYPE and GET /TYPE/IDENT (control/tasker_routes.cpp): off, those paths
  // are 404s as any unknown one.
  bool tasker_compat = false;
  size_t threads = 4;       // epoll threads of the TCP listener
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
  // The routes of what lives beside the engine call this client: the job queue's
  // (job_routes.cpp) and the history's (history_routes.cpp); unset, they answer 501. It
  // must outlive the server.
  void set_api_client(EngineClient* client) { client_ = client; }

  // Binds host:port (port 0: any free one) and serves it. Refuses to start without a
  // token, loopback included.
  Status start(const std::string& host, int port);
  // Serves the same routes on a unix stream socket at path, mode 0600; a stale socket file
  // there is replaced. Peers must run as our uid or root (SO_PEERCRED), else 403.
  Status start_unix(const std::string& path);
  int port() const { return port_; }
  // SSE streams being served now.
  int open_streams() const { return streams_.load(); }

 private:
  using Handler = http::Handler;
  // Registers a route (control/http_router.h). traits: whether it takes a JSON body and
  // whether it is one of workerpoolmanager's, checked before any body byte is read.
  void on(const std::string& method, const std::string& pattern, Handler h, http::RouteTraits traits = {});
  // On the headers (control/http_admission.cpp): an answer that refuses the request, or
  // nullopt. Fills req.matches when a route takes it.
  std::optional<http::HttpResponse> admit(http::HttpRequest& req) const;
  // The whole request: its route's answer, exceptions mapped to 500 or 503.
  void handle(http::HttpRequest& req, http::HttpResponse& res);
  Status serve();  // the server, made on the first start()

  void routes();         // http_control.cpp: health, metrics, workerpoolmanager's routes
  void api_routes();     // api_routes.cpp: /api/v1
  void job_routes();     // job_routes.cpp: /api/v1/jobs, /api/v1/topics
  void history_routes();   // history_routes.cpp: /api/v1/history
  void schedule_routes();  // schedule_routes.cpp: /api/v1/schedules
  void web_routes();       // web_routes.cpp: the dashboard at / and /ui/FILE
  void tasker_routes();  // tasker_routes.cpp: POST /TYPE, GET /TYPE/IDENT; last, as they match widely
  // The snapshot a response shows: secrets in pool env masked unless ?secrets=1.
  EngineSnapshot shown_snapshot(const http::HttpRequest& req);
  void stream_routes();  // sse_streams.cpp: /api/v1/log/follow, /api/v1/events
  void serve_stream(const http::HttpRequest& req, http::HttpResponse& res, bool log_lines);
  // The /metrics usage series: a /proc scan over the snapshot's worker pids, on the
  // request's thread (never the engine loop's).
  std::map<std::string, ProcessTotals> sample_usage(const EngineSnapshot& snap);

  Engine& engine_;
  const HttpOptions options_;
  AutoscaleHooks autoscale_;
  EngineClient* client_ = nullptr;
  // Handlers run on several server threads; the sampler keeps the last scrape's per-pid
  // times, so one scrape at a time uses it.
  std::mutex sampler_mu_;
  ProcessSampler sampler_;
  // GET /api/v1/pools/NAME/usage's own sampler, so the dashboard's polls do not shorten
  // the interval /metrics rates are taken over.
  std::mutex usage_mu_;
  ProcessSampler usage_sampler_;
  // Routes that read a pool's spec, change it and apply it whole (POST and PATCH of a
  // pool) take turns, so two of them cannot both pass "no such pool" or undo each other.
  std::mutex define_mu_;
  std::atomic<int> streams_{0};
  http::HttpRouter router_;  // written before start(), read-only after
  std::unique_ptr<http::MhdServer> server_;
  std::atomic<int> port_{0};  // read by admission (Origin) on the server threads
};

// "HOST:PORT" or ":PORT" (host 127.0.0.1) or "PORT".
Result<std::pair<std::string, int>> parse_listen_address(const std::string& spec);
inline constexpr const char* kDefaultHttpAddress = "127.0.0.1:8010";

}  // namespace drover
