// The MHD glue. Three things here are not obvious:
//
// Bodies. MHD calls the access handler once on the headers (upload size 0), then with
// each piece of the body, then once more with size 0. The first call runs admission:
// an answer queued there is sent without reading the body (MHD then discards the
// request and closes). A declared Content-Length over the limit is refused there; a
// chunked body can only be counted as it comes, and MHD 0.9.75 accepts no response
// between the headers and the body's end. So a chunked body passing the limit gets its
// 413 written straight onto the socket (nothing else has been written for this request)
// and the connection is dropped at once: nothing more of it is read.
//
// Streams. A streaming response is MHD's content-reader callback. When the stream has
// nothing, the callback suspends the connection and returns 0 (MHD's rule: a 0 without
// suspending busy-loops). The pump thread resumes it when the stream's waker fires,
// when its deadline (a keep-alive) comes, when its client hangs up (MHD does not watch
// a suspended socket, so the pump polls it for POLLRDHUP), or when the server stops.
// Each stream's mutex orders "nothing to send, suspend" against "something came,
// resume", so no wake-up falls between the two.
//
// Shutdown. MHD_stop_daemon aborts when a connection is still suspended. The destructor
// marks the server stopping (no stream suspends again, new ones end at once), stops the
// pump, resumes every parked stream, and only then stops the daemons.
#include "control/mhd_server.h"

#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace drover::http {

namespace {

constexpr int kListenBacklog = 1024;
// How often the pump asks streams_over() while streams are open.
constexpr auto kOverCheck = std::chrono::milliseconds(250);
// One content-reader call's worth of stream bytes.
constexpr size_t kStreamBlock = 32 * 1024;

std::string sockaddr_host(const sockaddr* a) {
  char host[NI_MAXHOST] = "";
  const socklen_t len = a->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (getnameinfo(a, len, host, sizeof host, nullptr, 0, NI_NUMERICHOST) != 0) return "";
  return host;
}

bool is_loopback(const sockaddr* a) {
  if (a->sa_family == AF_INET)
    return (ntohl(reinterpret_cast<const sockaddr_in*>(a)->sin_addr.s_addr) >> 24) == 127;
  if (a->sa_family == AF_INET6) {
    const in6_addr& v6 = reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    // ::ffff:127.x.y.z on a dual-stack socket.
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

MHD_Result collect_header(void* cls, MHD_ValueKind, const char* key, const char* value) {
  auto& headers = static_cast<HttpRequest*>(cls)->headers;
  auto [it, added] = headers.emplace(key, value ? value : "");
  if (!added) it->second += std::string(", ") + (value ? value : "");  // repeated: one list, as RFC 9110 reads them
  return MHD_YES;
}

MHD_Result collect_param(void* cls, MHD_ValueKind, const char* key, const char* value) {
  static_cast<HttpRequest*>(cls)->params.emplace(key, value ? value : "");
  return MHD_YES;
}

int connection_fd(MHD_Connection* c) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
  return info ? info->connect_fd : -1;
}

std::string status_line_text(int code) {
  const char* reason = MHD_get_reason_phrase_for(static_cast<unsigned>(code));
  return fmt::format("HTTP/1.1 {} {}\r\n", code, reason && *reason ? reason : "Error");
}

}  // namespace

// One request's state, MHD's con_cls: from the headers to the request's end.
struct Exchange {
  HttpRequest req;
};

struct MhdServer::Stream {
  MhdServer* server = nullptr;
  MHD_Connection* connection = nullptr;
  std::shared_ptr<StreamBody> body;
  int fd = -1;
  std::mutex mu;
  bool suspended = false;  // parked by the content reader, until the pump resumes it
  bool gone = false;       // the client hung up, or the server stops: end at the next call
  bool ended = false;      // body said kEnd: send what is pending, then end
  std::string pending;     // produced, not yet handed to MHD
  std::atomic<bool> woken{false};
};

// MHD's C callbacks, with access to MhdServer's insides.
struct MhdGlue {
  static MHD_Result queue(MHD_Connection* c, HttpResponse& res, MhdServer& server) {
    MHD_Response* r = nullptr;
    if (res.stream) {
      auto stream = std::make_shared<MhdServer::Stream>();
      stream->server = &server;
      stream->connection = c;
      stream->body = res.stream;
      stream->fd = connection_fd(c);
      std::weak_ptr<MhdServer::Stream> weak = stream;
      res.stream->set_waker([weak] {
        if (auto s = weak.lock()) {
          s->woken = true;
          s->server->wake_pump();
        }
      });
      r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, kStreamBlock, &read_stream,
                                            new std::shared_ptr<MhdServer::Stream>(stream), &free_stream);
      if (!r) {
        res.stream->finished();
        return MHD_NO;
      }
      std::lock_guard lock(server.streams_mu_);
      server.streams_.push_back(stream);
    } else {
      r = MHD_create_response_from_buffer(res.body.size(), res.body.data(), MHD_RESPMEM_MUST_COPY);
      if (!r) return MHD_NO;
    }
    if (!res.content_type.empty()) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, res.content_type.c_str());
    for (const auto& [name, value] : res.headers) MHD_add_response_header(r, name.c_str(), value.c_str());
    const MHD_Result queued = MHD_queue_response(c, static_cast<unsigned>(res.status), r);
    MHD_destroy_response(r);
    return queued;
  }

  static HttpRequest request_from(MHD_Connection* c, const MhdServer::Listener& l, const char* url, const char* method) {
    HttpRequest req;
    req.method = method;
    req.path = url;
    MHD_get_connection_values(c, MHD_HEADER_KIND, &collect_header, &req);
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, &collect_param, &req);
    req.peer.unix_socket = l.unix_socket;
    if (l.unix_socket) {
      req.peer.address = l.path;
      ucred cred{};
      socklen_t len = sizeof cred;
      if (getsockopt(connection_fd(c), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) req.peer.uid = cred.uid;
    } else if (const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS)) {
      req.peer.address = sockaddr_host(info->client_addr);
      req.peer.loopback = is_loopback(info->client_addr);
    }
    return req;
  }

  static MHD_Result on_request(void* cls, MHD_Connection* c, const char* url, const char* method, const char*,
                               const char* upload_data, size_t* upload_size, void** con_cls) {
    auto& listener = *static_cast<MhdServer::Listener*>(cls);
    MhdServer& server = *listener.server;
    auto* ex = static_cast<Exchange*>(*con_cls);
    if (!ex) {
      ex = new Exchange{request_from(c, listener, url, method)};
      *con_cls = ex;
      if (auto early = server.callbacks_.admit(ex->req)) return queue(c, *early, server);
      return MHD_YES;
    }
    if (*upload_size > 0) {
      if (ex->req.body.size() + *upload_size > server.limits_.max_body) {
        // See the top of this file: MHD takes no response here, so it goes onto the
        // socket as it is, and the connection is dropped with the rest unread.
        HttpResponse res = server.callbacks_.too_large(ex->req);
        std::string raw = status_line_text(res.status) +
                          fmt::format("Content-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                      res.content_type, res.body.size()) +
                          res.body;
        [[maybe_unused]] ssize_t n = send(connection_fd(c), raw.data(), raw.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        shutdown(connection_fd(c), SHUT_WR);
        return MHD_NO;
      }
      ex->req.body.append(upload_data, *upload_size);
      *upload_size = 0;
      return MHD_YES;
    }
    HttpResponse res;
    server.callbacks_.handle(ex->req, res);
    if (res.stream && server.stopping_) {
      res.stream->finished();
      res = HttpResponse{};
      res.status = 503;
      res.set_content("{\"error\":\"unavailable\",\"detail\":\"the server is stopping\"}\n", "application/json");
    }
    return queue(c, res, server);
  }

  static void on_completed(void*, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
    delete static_cast<Exchange*>(*con_cls);
    *con_cls = nullptr;
  }

  static ssize_t read_stream(void* cls, uint64_t, char* buf, size_t max) {
    MhdServer::Stream& s = **static_cast<std::shared_ptr<MhdServer::Stream>*>(cls);
    std::lock_guard lock(s.mu);
    if (s.gone || s.server->stopping_) return MHD_CONTENT_READER_END_WITH_ERROR;
    while (s.pending.empty() && !s.ended) {
      s.woken = false;
      const StreamBody::Next next = s.body->next(s.pending);
      if (next == StreamBody::Next::kEnd) s.ended = true;
      if (next != StreamBody::Next::kWait) continue;
      if (s.woken) continue;  // something came while next() looked
      s.suspended = true;
      MHD_suspend_connection(s.connection);
      s.server->wake_pump();  // it now has one more socket to watch
      return 0;
    }
    if (s.pending.empty()) return MHD_CONTENT_READER_END_OF_STREAM;
    const size_t n = std::min(max, s.pending.size());
    std::memcpy(buf, s.pending.data(), n);
    s.pending.erase(0, n);
    return static_cast<ssize_t>(n);
  }

  static void free_stream(void* cls) {
    auto* holder = static_cast<std::shared_ptr<MhdServer::Stream>*>(cls);
    std::shared_ptr<MhdServer::Stream> s = *holder;
    delete holder;
    s->body->finished();
    std::lock_guard lock(s->server->streams_mu_);
    std::erase(s->server->streams_, s);
  }
};

MhdServer::MhdServer(ServerLimits limits, ServerCallbacks callbacks)
    : limits_(limits), callbacks_(std::move(callbacks)) {
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) throw std::runtime_error(fmt::format("http: eventfd: {}", std::strerror(errno)));
  pump_thread_ = std::thread([this] { pump(); });
}

MhdServer::~MhdServer() {
  stopping_ = true;
  wake_pump();
  pump_thread_.join();
  {
    std::lock_guard lock(streams_mu_);
    for (auto& s : streams_) {
      std::lock_guard stream_lock(s->mu);
      s->gone = true;
      if (s->suspended) {
        s->suspended = false;
        MHD_resume_connection(s->connection);
      }
    }
  }
  for (auto& l : listeners_) {
    if (l->daemon) MHD_stop_daemon(l->daemon);  // closes the listening socket too
    if (l->unix_socket) unlink(l->path.c_str());
  }
  close(wake_fd_);
}

void MhdServer::wake_pump() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
}

void MhdServer::pump() {
  pthread_setname_np(pthread_self(), "drover-http-sse");
  std::vector<std::shared_ptr<Stream>> parked;
  std::vector<pollfd> fds;
  while (!stopping_) {
    parked.clear();
    fds.assign(1, pollfd{wake_fd_, POLLIN, 0});
    auto now = std::chrono::steady_clock::now();
    auto until = now + std::chrono::hours(1);
    bool any = false;
    {
      std::lock_guard lock(streams_mu_);
      any = !streams_.empty();
      for (auto& s : streams_) {
        std::lock_guard stream_lock(s->mu);
        if (!s->suspended) continue;
        parked.push_back(s);
        fds.push_back(pollfd{s->fd, POLLRDHUP, 0});
        until = std::min(until, s->body->deadline());
      }
    }
    if (any) until = std::min(until, now + kOverCheck);
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count() + 1;
    poll(fds.data(), fds.size(), static_cast<int>(std::max<int64_t>(wait, 0)));
    uint64_t drained;
    [[maybe_unused]] ssize_t n = read(wake_fd_, &drained, sizeof drained);
    if (stopping_) break;
    const bool over = any && callbacks_.streams_over && callbacks_.streams_over();
    now = std::chrono::steady_clock::now();
    for (size_t i = 0; i < parked.size(); ++i) {
      Stream& s = *parked[i];
      const bool hung_up = fds[i + 1].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL);
      std::lock_guard lock(s.mu);
      if (!s.suspended) continue;
      if (hung_up) s.gone = true;
      if (s.gone || s.woken || over || s.body->deadline() <= now) {
        s.suspended = false;
        MHD_resume_connection(s.connection);
      }
    }
  }
}

Status MhdServer::start_daemon(std::unique_ptr<Listener> listener, int fd, unsigned threads) {
  // Every listener the same: epoll on internal threads, suspend/resume for streams, the
  // limits, and our own listening socket (made here, so a unix one gets its mode first).
  const unsigned per_thread_flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC;
  listener->daemon = MHD_start_daemon(
      per_thread_flags, 0, nullptr, nullptr, &MhdGlue::on_request, listener.get(),  //
      MHD_OPTION_LISTEN_SOCKET, fd,                                                 //
      MHD_OPTION_THREAD_POOL_SIZE, threads,                                         //
      MHD_OPTION_CONNECTION_LIMIT, limits_.connections,                             //
      MHD_OPTION_CONNECTION_TIMEOUT, limits_.idle_timeout_s,                        //
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, limits_.header_memory,                    //
      MHD_OPTION_NOTIFY_COMPLETED, &MhdGlue::on_completed, nullptr,                 //
      MHD_OPTION_END);
  if (!listener->daemon) {
    close(fd);
    return Status::io_error("http: libmicrohttpd would not start a daemon on the socket");
  }
  listeners_.push_back(std::move(listener));
  return Status::ok();
}

Result<int> MhdServer::listen_tcp(const std::string& host, int port) {
  const std::string where = fmt::format("--http: cannot listen on {}:{}", host, port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || !found)
    return Status::io_error(where);
  int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  // Only SO_REUSEADDR, not SO_REUSEPORT: a second drover on the same port must fail, not share it.
  int yes = 1;
  const bool bound = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes) == 0 &&
                     bind(fd, found->ai_addr, found->ai_addrlen) == 0 && listen(fd, kListenBacklog) == 0;
  freeaddrinfo(found);
  if (!bound) {
    if (fd >= 0) close(fd);
    return Status::io_error(where);
  }
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
  const int bound_port = ntohs(local.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&local)->sin6_port
                                                           : reinterpret_cast<sockaddr_in*>(&local)->sin_port);
  if (Status s = start_daemon(std::make_unique<Listener>(Listener{this, false, ""}), fd, limits_.threads); !s) return s;
  return bound_port;
}

Status MhdServer::listen_unix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    return Status::invalid(fmt::format("--http-socket {}: a socket path is 1 to {} bytes", path, sizeof addr.sun_path - 1));
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const auto fail = [&](const char* what, int fd) {
    const int e = errno;
    if (fd >= 0) close(fd);
    return Status::io_error(fmt::format("--http-socket {}: {}: {}", path, what, std::strerror(e)));
  };
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return Status::invalid(fmt::format("--http-socket {}: exists and is not a socket; not replaced", path));
    // A socket file is stale unless something still answers on it.
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool live = probe >= 0 && connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    if (probe >= 0) close(probe);
    if (live) return Status::io_error(fmt::format("--http-socket {}: another server is listening there", path));
    if (unlink(path.c_str()) != 0) return fail("cannot remove the stale socket", -1);
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return fail("socket", -1);
  // The file takes the socket inode's mode (less the umask) at bind: 0600 from its first
  // moment, with no window, and without touching the process-wide umask that workers
  // spawned meanwhile would inherit.
  if (fchmod(fd, 0600) != 0) return fail("fchmod", fd);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return fail("bind", fd);
  if (chmod(path.c_str(), 0600) != 0 || listen(fd, kListenBacklog) != 0) {
    unlink(path.c_str());
    return fail("listen", fd);
  }
  // Local clients are few: two threads, so one slow handler does not hold the other.
  return start_daemon(std::make_unique<Listener>(Listener{this, true, path}), fd, 2);
}

}  // namespace drover::http
