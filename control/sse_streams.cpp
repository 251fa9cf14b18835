// Server-Sent Events: GET /api/v1/log/follow (one `data: {line}` per log line) and
// GET /api/v1/events (`event: KIND` and `data: {event}`), both with ?pool=.
//
// A stream is httplib's chunked content provider, which httplib calls in a loop on the
// connection's thread until it says done or fails. Each call waits up to kSlice on the
// stream's own engine Subscription, writes what came, and checks the ways a stream ends:
//   - The client went away. httplib 0.11 gives a handler no socket, and its is_writable()
//     only waits for buffer room, so a quiet stream would notice a gone client at its
//     second keep-alive write, 30 s on, holding a thread and a subscription all along.
//     So the stream finds its connection's socket once, by the addresses httplib puts in
//     the request, and polls it for hang-up at every call.
//   - The engine finished shutting down: what is queued is sent, then the stream ends.
//   - The server stops (HttpControl's destructor): httplib stops calling.
// However it ends, the releaser closes the subscription (the engine lets go of it at its
// next published line) and frees the stream's place under max_streams.
#include <dirent.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>

#include <httplib.h>

#include <fmt/format.h>

#include "control/http_control.h"
#include "control/http_reply.h"
#include "control/snapshot_json.h"

namespace drover {

using namespace http;

namespace {

using SteadyClock_ = std::chrono::steady_clock;

// How long one provider call waits for the engine: the bound on noticing a gone client
// or a stopping server.
constexpr auto kSlice = std::chrono::milliseconds(200);
// Items a slow client may fall behind by before the oldest are dropped (and said so):
// with 32 streams of 4096 lines of ~200 bytes, at most ~26 MB held for slow clients.
constexpr size_t kQueue = 4096;
// One write's worth: a burst is sent in chunks of about this size.
constexpr size_t kBatchBytes = 64 * 1024;

std::string numeric_host(const sockaddr_storage& a, socklen_t len, int* port) {
  char host[NI_MAXHOST] = "", serv[NI_MAXSERV] = "";
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&a), len, host, sizeof host, serv, sizeof serv,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return "";
  *port = std::atoi(serv);
  return host;
}

// The connected socket whose peer and local addresses are the request's, or -1. The fd
// stays this connection's while its handler runs: httplib closes it only afterwards.
int find_connection_fd(const httplib::Request& req) {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return -1;
  int found = -1;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    const int fd = std::atoi(e->d_name);
    struct stat st {};
    if (fd == dirfd(dir) || fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_storage peer{}, local{};
    socklen_t peer_len = sizeof peer, local_len = sizeof local;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0)
      continue;
    int peer_port = -1, local_port = -1;
    if (numeric_host(peer, peer_len, &peer_port) == req.remote_addr && peer_port == req.remote_port &&
        !numeric_host(local, local_len, &local_port).empty() && local_port == req.local_port) {
      found = fd;
      break;
    }
  }
  closedir(dir);
  return found;
}

// The client closed its end (or the connection broke). Bytes it sent (a pipelined
// request) are left unread and do not count.
bool peer_gone(int fd) {
  if (fd < 0) return false;
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLHUP | POLLERR | POLLRDHUP | POLLNVAL)) return true;
  char c;
  ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

struct Stream {
  Engine& engine;
  std::shared_ptr<Subscription> sub;
  std::optional<std::string> pool;
  std::chrono::milliseconds keepalive;
  int fd = -1;
  SteadyClock_::time_point last_write = SteadyClock_::now();
  uint64_t dropped_told = 0;

  // One SSE message for an item, or "" when ?pool= filters it out. JSON has no raw
  // newline, so each message is a single data line.
  std::string frame(const EngineItem& item) const {
    if (const LogLine* l = std::get_if<LogLine>(&item))
      return pool && l->pool != *pool ? "" : "data: " + dump(log_line_json(*l)) + "\n\n";
    const Event& ev = std::get<Event>(item);
    if (pool && ev.pool != *pool) return "";
    return fmt::format("event: {}\ndata: {}\n\n", event_kind_name(ev.kind), dump(event_json(ev)));
  }

  // httplib's provider call: false ends the connection, sink.done() ends the stream.
  bool pump(httplib::DataSink& sink) {
    std::string out;
    auto item = sub->pop(kSlice);
    const bool had_items = item.has_value();
    while (item) {
      out += frame(*item);
      if (out.size() >= kBatchBytes) break;
      item = sub->pop(Duration::zero());
    }
    if (uint64_t dropped = sub->dropped(); dropped > dropped_told) {
      out += fmt::format(": {} items dropped: this client fell behind\n\n", dropped - dropped_told);
      dropped_told = dropped;
    }
    const auto now = SteadyClock_::now();
    if (out.empty() && now - last_write >= keepalive) out = ": keepalive\n\n";
    if (!out.empty()) {
      if (!sink.write(out.data(), out.size())) return false;
      last_write = now;
    }
    if (peer_gone(fd)) return false;
    if (!had_items && engine.finished()) sink.done();
    return true;
  }
};

}  // namespace

void HttpControl::stream_routes() {
  on("GET", "/api/v1/log/follow",
     [this](const httplib::Request& req, httplib::Response& res) { serve_stream(req, res, true); });
  on("GET", "/api/v1/events",
     [this](const httplib::Request& req, httplib::Response& res) { serve_stream(req, res, false); });
}

void HttpControl::serve_stream(const httplib::Request& req, httplib::Response& res, bool log_lines) {
  std::optional<std::string> pool;
  if (req.has_param("pool")) pool = req.get_param_value("pool");
  {
    EngineSnapshot snap = engine_.snapshot();
    if (snap.shutting_down) return fail(req, res, 503, "unavailable", "the engine is shutting down");
    if (pool && !snap.find(*pool)) return fail(req, res, 404, "not_found", fmt::format("no pool named \"{}\"", *pool));
  }
  if (streams_.fetch_add(1) >= options_.max_streams) {
    streams_.fetch_sub(1);
    return fail(req, res, 503, "too_many_streams",
                fmt::format("{} streams are open, the most this server serves at once", options_.max_streams));
  }
  std::shared_ptr<Stream> stream;
  try {
    stream = std::make_shared<Stream>(Stream{engine_,
                                             engine_.subscribe(kQueue, {.events = !log_lines, .log_lines = log_lines}),
                                             pool, options_.keepalive, find_connection_fd(req)});
  } catch (...) {
    streams_.fetch_sub(1);
    throw;
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");  // a proxy in front must not hold the stream back
  res.set_chunked_content_provider(
      "text/event-stream", [stream](size_t, httplib::DataSink& sink) { return stream->pump(sink); },
      [this, stream](bool) {
        stream->sub->close();
        streams_.fetch_sub(1);
      });
}

}  // namespace drover
