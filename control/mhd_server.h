// MhdServer: libmicrohttpd underneath drover's HTTP routes. It owns the daemons (one per
// listener: a TCP socket, a unix socket), turns MHD's calls into HttpRequest and
// HttpResponse values, holds request bodies to a limit, and parks streaming responses
// until they have something to send.
//
// Why libmicrohttpd, and not cpp-httplib's server as before: httplib serves each
// connection on a thread of a fixed pool, so 64 idle or slow (slowloris) connections
// made the API unreachable, /healthz included; it read bodies before routing and before
// the token check, and chunked bodies past its limit; and it has no AF_UNIX listener.
// MHD is event-driven (epoll), asks the application on the headers before reading any
// body byte, and counts connections and idle time itself.
//
// Threads: each listener's daemon runs `threads` epoll threads (MHD's thread pool);
// a connection stays on one of them. The callbacks run there, so a slow handler holds
// only the connections of its thread. A parked (suspended) stream holds no thread: one
// pump thread waits on the streams' wake-ups, their sockets' hang-ups and their
// deadlines, and resumes them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "control/http_request.h"
#include "engine/status.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace drover::http {

struct ServerLimits {
  size_t max_body = 64 * 1024;             // a longer body is refused (413), unread when declared
  size_t header_memory = 32 * 1024;        // per connection, for the request line and headers
  unsigned connections = 4096;             // per listener
  unsigned idle_timeout_s = 30;            // a connection silent this long is closed
  unsigned threads = 4;                    // epoll threads per TCP listener
};

struct ServerCallbacks {
  // On the headers, before any body byte is read: an answer to send at once (the body,
  // if any, is never read and the connection closes), or nullopt to go on.
  std::function<std::optional<HttpResponse>(HttpRequest&)> admit;
  // The whole request: fills the answer. An exception escaping it is the caller's bug;
  // handle must catch its own.
  std::function<void(HttpRequest&, HttpResponse&)> handle;
  // The answer to a chunked body that passed max_body while it was read.
  std::function<HttpResponse(const HttpRequest&)> too_large;
  // True once no stream will have anything more (the engine has finished): every parked
  // stream is then woken to end. Asked by the pump thread a few times a second while
  // streams are open.
  std::function<bool()> streams_over;
};

class MhdServer {
 public:
  MhdServer(ServerLimits limits, ServerCallbacks callbacks);
  // Ends every stream, then stops every daemon and joins its threads; removes the unix
  // socket file.
  ~MhdServer();
  MhdServer(const MhdServer&) = delete;
  MhdServer& operator=(const MhdServer&) = delete;

  // TCP on host:port (port 0: any free one). Returns the port.
  Result<int> listen_tcp(const std::string& host, int port);
  // A unix stream socket at path, mode 0600 from its creation; a stale socket file there
  // is replaced, a live one (something answers on it) is an error.
  Status listen_unix(const std::string& path);

  struct Stream;  // mhd_server.cpp: a streaming response and its connection

 private:
  struct Listener {
    MhdServer* server;
    bool unix_socket;
    std::string path;
    MHD_Daemon* daemon = nullptr;
  };
  Status start_daemon(std::unique_ptr<Listener> listener, int fd, unsigned threads);
  void pump();
  void wake_pump();

  friend struct MhdGlue;
  const ServerLimits limits_;
  const ServerCallbacks callbacks_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::atomic<bool> stopping_{false};

  // The pump: the streams, an eventfd it sleeps on, and its thread.
  std::mutex streams_mu_;
  std::vector<std::shared_ptr<Stream>> streams_;
  int wake_fd_ = -1;
  std::thread pump_thread_;
};

}  // namespace drover::http
