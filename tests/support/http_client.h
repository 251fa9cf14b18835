// Helpers for the HTTP control plane's tests: an engine served by HttpControl on a free
// port, a raw TCP exchange (for requests no well-behaved client would send), and an SSE
// reader that collects a stream's messages on a thread of its own. Header-only.
//
// TCP always needs a token: Served serves with kTestToken unless the options name another,
// and its client sends it; raw requests add kAuthLine.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "control/http_control.h"
#include "engine/engine.h"
#include "tests/support/test_util.h"

namespace drover::test {

inline constexpr const char* kTestToken = "test-token-0123456789abcdef";
// A raw request's header line with kTestToken, and a Host drover takes.
inline const std::string kAuthLine = std::string("Authorization: Bearer ") + kTestToken + "\r\n";
inline const std::string kHostLine = "Host: 127.0.0.1\r\n";

// An engine with pools, served on 127.0.0.1 (or host) at a free port. setup runs before
// start() (set_autoscale_hooks must).
struct Served {
  std::string token;  // the one the server takes and the client sends
  TempDir dir;
  Engine engine{engine_options(dir)};
  HttpControl http;
  std::unique_ptr<httplib::Client> client;

  explicit Served(std::vector<PoolSpec> pools, HttpOptions options = {},
                  const std::function<void(HttpControl&)>& setup = {}, const std::string& host = "127.0.0.1")
      : token(options.token.empty() ? kTestToken : options.token), http(engine, with_token(std::move(options))) {
    REQUIRE(engine.apply(std::move(pools)));
    if (setup) setup(http);
    REQUIRE(http.start(host, 0));
    REQUIRE(http.port() > 0);
    client = std::make_unique<httplib::Client>("127.0.0.1", http.port());
    client->set_bearer_token_auth(token.c_str());
  }
  static HttpOptions with_token(HttpOptions o) {
    if (o.token.empty()) o.token = kTestToken;
    return o;
  }

  int port() const { return http.port(); }
};

// A connected TCP socket to 127.0.0.1:port, or -1.
inline int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Reads what the peer sends until it closes, done(what was read) holds, or the timeout passes.
inline std::string read_until(int fd, std::chrono::milliseconds timeout,
                              const std::function<bool(const std::string&)>& done) {
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[16384];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (done && done(out)) break;
  }
  return out;
}

// ... until `until` appears (never, when empty).
inline std::string read_from(int fd, std::chrono::milliseconds timeout, const std::string& until = "") {
  return read_until(fd, timeout, [&](const std::string& out) { return !until.empty() && out.find(until) != std::string::npos; });
}

// ... until one whole response is in: its headers and Content-Length bytes of body.
inline bool whole_response(const std::string& out) {
  const size_t head = out.find("\r\n\r\n");
  if (head == std::string::npos) return false;
  const size_t cl = out.find("Content-Length: ");
  return cl == std::string::npos || cl > head || out.size() >= head + 4 + std::stoul(out.substr(cl + 16));
}

// Sends bytes as they are (no framing) and returns the answer. half_close: then says it
// is done writing, so that a truncated request ends at once, and reads until the server
// closes (httplib may then drop its answer: it takes a half-closed peer for a gone one).
// Otherwise reads one response: its headers and Content-Length bytes of body.
inline std::string raw_exchange(int port, const std::string& bytes, bool half_close,
                                std::chrono::milliseconds timeout = 3000ms) {
  int fd = connect_to(port);
  if (fd < 0) return "<connect failed>";
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close on a bad request before reading it all
    off += static_cast<size_t>(n);
  }
  if (half_close) shutdown(fd, SHUT_WR);
  std::string out = half_close ? read_from(fd, timeout) : read_until(fd, timeout, whole_response);
  close(fd);
  return out;
}

// The status code of a raw answer ("HTTP/1.1 404 Not Found" -> 404), or 0 without one.
inline int raw_status(const std::string& answer) {
  if (answer.rfind("HTTP/1.", 0) != 0 || answer.size() < 12) return 0;
  return std::atoi(answer.c_str() + 9);
}

// One SSE message: its event name ("message" when none) and data.
struct SseMessage {
  std::string event, data;
  std::chrono::steady_clock::time_point received;
};

// GETs an SSE path on a thread of its own and collects complete messages. stop() closes
// the connection as a client going away does; the destructor stops and joins.
class SseReader {
 public:
  SseReader(int port, std::string path, httplib::Headers headers = {{"Authorization", std::string("Bearer ") + kTestToken}})
      : client_("127.0.0.1", port) {
    client_.set_read_timeout(30, 0);
    thread_ = std::thread([this, path = std::move(path), headers = std::move(headers)] {
      client_.Get(
          path.c_str(), headers,
          [this](const httplib::Response& res) {
            status_ = res.status;
            return true;
          },
          [this](const char* data, size_t len) {
            feed(std::string(data, len));
            return true;
          });
      ended_ = true;
    });
  }
  ~SseReader() {
    stop();
    thread_.join();
  }
  // Closes the connection and waits for the reading thread to see it. Repeated: a stop
  // that lands before the request went out would otherwise be lost.
  void stop() {
    for (int i = 0; i < 500 && !ended_; ++i) {
      client_.stop();
      std::this_thread::sleep_for(10ms);
    }
  }
  int status() const { return status_; }
  bool ended() const { return ended_; }
  std::vector<SseMessage> messages() const {
    std::lock_guard lock(mu_);
    return messages_;
  }
  std::string text() const {
    std::lock_guard lock(mu_);
    return text_;
  }

 private:
  void feed(const std::string& chunk) {
    std::lock_guard lock(mu_);
    text_ += chunk;
    pending_ += chunk;
    for (size_t end; (end = pending_.find("\n\n")) != std::string::npos; pending_.erase(0, end + 2)) {
      SseMessage m{"message", "", std::chrono::steady_clock::now()};
      bool any = false;
      size_t pos = 0;
      const std::string block = pending_.substr(0, end);
      while (pos <= block.size()) {
        size_t nl = block.find('\n', pos);
        std::string line = block.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        if (line.rfind("event: ", 0) == 0) m.event = line.substr(7);
        if (line.rfind("data: ", 0) == 0) {
          m.data += line.substr(6);
          any = true;
        }
        if (nl == std::string::npos) break;
        pos = nl + 1;
      }
      if (any) messages_.push_back(std::move(m));  // comments (": keepalive") carry no data
    }
  }

  httplib::Client client_;
  std::thread thread_;
  std::atomic<int> status_{0};
  std::atomic<bool> ended_{false};
  mutable std::mutex mu_;
  std::string text_, pending_;
  std::vector<SseMessage> messages_;
};

}  // namespace drover::test
