// RemoteClient: the EngineClient of `drover attach HOST:PORT`, over the control plane's
// HTTP/JSON API (control/http_control.h), so the shell's bindings, help and completion
// serve a drover on another host exactly as they serve the local one.
//
// Each call is one or a few requests on a kept-alive connection, serialized by a mutex
// (the REPL and the autoscaler's thread may call at once). subscribe() opens the server's
// Server-Sent Event streams (/api/v1/events, /api/v1/log/follow) on threads of its own
// that feed a local Subscription until it is closed.
//
// What an attached shell does not do to the remote drover: shutdown()/exit() detaches
// (the remote drover and its workers go on), kill_all() is refused, apply() (a reload of
// config files the shell does not have) is refused. report(), set_queue_gauge() and
// set_worker_busy() of a policy run in the attached shell go nowhere but its own screen.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "shell/lua/engine_client.h"

namespace httplib {
class Client;
}

namespace drover {

struct RemoteAddress {
  std::string host = "127.0.0.1";
  int port = 8010;
  std::string token;  // Bearer token; empty: none
};

// "HOST:PORT", ":PORT", "PORT" or "http://HOST:PORT".
Result<RemoteAddress> parse_remote_address(const std::string& spec);

class RemoteClient final : public EngineClient {
 public:
  explicit RemoteClient(RemoteAddress address);
  ~RemoteClient() override;  // closes the streams and joins their threads

  // One GET /api/v1/snapshot: the server answers and speaks this API.
  Status check();
  std::string describe() const;  // "127.0.0.1:8010"

  EngineSnapshot snapshot() override;
  Result<std::map<std::string, int>> configure(const std::map<std::string, int>& sizes) override;
  Status apply(std::vector<PoolSpec> specs, bool remove_missing) override;
  Status remove_pool(const std::string& name) override;
  Status start(const std::optional<std::string>& pool) override;
  Status stop(const std::optional<std::string>& pool) override;
  Status signal_workers(int sig, const std::optional<std::string>& pool) override;
  std::vector<LogLine> log_tail(size_t n, const std::optional<std::string>& pool) override;
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
  Status status_of(const Reply& r, const std::string& what);
  Status set_enabled(const std::string& pool, bool enabled);
  // One SSE connection feeding a subscription until either side ends it.
  struct Stream {
    std::shared_ptr<Subscription> sub;
    std::unique_ptr<httplib::Client> client;
    std::thread thread;
    std::atomic<bool> done{false};
  };
  void run_stream(Stream& s, const std::string& path, bool events);

  RemoteAddress address_;
  std::mutex mu_;
  std::unique_ptr<httplib::Client> http_;
  std::atomic<bool> detached_{false};
  std::atomic<bool> gone_{false};
  std::mutex streams_mu_;
  std::vector<std::unique_ptr<Stream>> streams_;
};

}  // namespace drover
