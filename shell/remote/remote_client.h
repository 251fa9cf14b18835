// RemoteClient: the EngineClient of `drover attach`, over the control plane's HTTP/JSON
// API (control/http_control.h), so the shell's bindings, help and completion serve
// another drover exactly as they serve the local one: one on another host (TCP, with a
// bearer token), or one of this user's on this host through its unix control socket
// (app/control_socket.h; no token: the socket's mode and the server's peer check are
// the access control).
//
// HTTP is libcurl's: it speaks over a unix socket (CURLOPT_UNIX_SOCKET_PATH), which
// httplib's client cannot. Each call is one request on a kept-alive connection
// (one curl handle), serialized by a mutex (the REPL and the autoscaler's thread may call
// at once): connect within 3 s, answer within 10 s. subscribe() opens the server's
// Server-Sent Event streams (/api/v1/events, /api/v1/log/follow), each on a thread and a
// curl handle of its own, that feed a local Subscription until it is closed; a closed
// one's transfer is aborted from curl's progress callback, within about a second.
//
// What an attached shell does not do to the remote drover: shutdown()/exit() detaches
// (the remote drover and its workers go on), kill_all() is refused, apply() (a reload of
// config files the shell does not have) is refused, and so are autoscale policies (they
// run on the host: autoscale.list() shows the host's). report() of an every() timer of
// the attached shell goes to its own screen.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/engine_client.h"

// libcurl's handle types, as <curl/curl.h> declares them.
typedef void CURL;
struct curl_slist;

namespace drover {

struct RemoteAddress {
  std::string host = "127.0.0.1";
  int port = 8010;
  std::string unix_path;  // set: a drover's control socket, and host/port are not used
  std::string token;      // Bearer token; empty: none
};

// "HOST:PORT", ":PORT", "PORT", "HOST" or "http://HOST:PORT"; a path with a '/' is a
// unix socket ("/run/user/1000/drover/4242/control.sock", "./control.sock").
Result<RemoteAddress> parse_remote_address(const std::string& spec);

class RemoteClient final : public EngineClient {
 public:
  explicit RemoteClient(RemoteAddress address);
  ~RemoteClient() override;  // closes the streams and joins their threads

  // One GET /api/v1/snapshot: the server answers and speaks this API.
  Status check();
  std::string describe() const;  // "127.0.0.1:8010" or the socket's path
  std::string name() const override { return "the drover at " + describe(); }
  bool remote() const override { return true; }

  Result<EngineSnapshot> snapshot() override;
  // Each one request: api/engine_client.h lists the routes.
  Result<SizeMap> configure(const SizeMap& sizes) override;
  Result<SizeMap> merge_sizes(const SizeMap& sizes) override;
  Status apply(std::vector<PoolSpec> specs, bool remove_missing) override;
  Status start(const std::optional<std::string>& pool) override;
  Status stop(const std::optional<std::string>& pool) override;
  Status signal_workers(int sig, const std::optional<std::string>& pool) override;
  Status signal_worker(const std::string& pool, int slot, int sig) override;
  Result<std::vector<LogLine>> log_tail(size_t n, const std::optional<std::string>& pool) override;
  Result<AutoscaleView> autoscale() override;
  Status set_autoscale(const std::string& pool, bool enabled) override;
  // The job queue's routes (control/job_routes.cpp).
  Result<std::vector<jobs::Job>> enqueue_jobs(std::vector<jobs::JobRequest> requests) override;
  Result<jobs::Job> job(jobs::JobId id) override;
  Result<std::vector<jobs::Job>> list_jobs(const jobs::JobFilter& filter) override;
  Result<std::vector<jobs::TopicStats>> job_stats() override;
  Result<History> history(int64_t since_ms, size_t every, const std::string& only) override;
  Result<jobs::Fleet> fleet() override;
  Result<jobs::Job> cancel_job(jobs::JobId id) override;
  Result<jobs::Job> retry_job(jobs::JobId id) override;
  Result<size_t> retry_dead_jobs(const std::optional<std::string>& topic) override;
  Status drop_job(jobs::JobId id) override;
  Result<std::vector<jobs::ScheduleState>> schedules() override;
  Result<jobs::ScheduleState> schedule(const std::string& name) override;
  Result<jobs::ScheduleState> define_schedule(const jobs::Schedule& s) override;
  Result<jobs::ScheduleState> set_schedule_enabled(const std::string& name, bool on) override;
  Result<jobs::Job> run_schedule(const std::string& name) override;
  Status drop_schedule(const std::string& name) override;
  std::shared_ptr<Subscription> subscribe(size_t capacity, Subscription::Filter filter) override;
  void report(EventKind kind, std::string pool, std::string text) override;
  void set_queue_gauge(const std::string&, const QueueGauge&) override {}
  void set_worker_busy(const std::string&, std::string, std::vector<WorkerBusy>) override {}
  void shutdown() override { detached_ = true; }
  void kill_all() override {}
  // True once detached, or once the server has gone (a stream lost its connection and a
  // request failed); never waits on the network.
  bool wait_finished(Duration timeout) override;

 private:
  struct Reply {
    int status = 0;  // 0: no answer at all
    std::string body;
    std::string error;  // transport error or the server's {error, detail}
  };
  Reply request(const std::string& method, const std::string& path, const std::string& body = "");
  // The options every handle of this client has: where, the token, no signals.
  void configure(CURL* c, const std::string& path) const;
  // "Authorization: Bearer TOKEN" for TCP with a token, else null; the caller frees it.
  curl_slist* auth_header() const;
  Status status_of(const Reply& r, const std::string& what);
  // One SSE connection feeding a subscription until either side ends it.
  struct Stream {
    std::shared_ptr<Subscription> sub;
    std::thread thread;
    std::atomic<bool> done{false};
  };
  void run_stream(Stream& s, const std::string& path, bool events);

  RemoteAddress address_;
  std::mutex mu_;
  CURL* http_;  // guarded by mu_
  std::atomic<bool> detached_{false};
  std::atomic<bool> gone_{false};
  std::mutex streams_mu_;
  std::vector<std::unique_ptr<Stream>> streams_;
};

}  // namespace drover
