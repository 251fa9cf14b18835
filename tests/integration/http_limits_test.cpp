// issue 12, points 1-3: the HTTP control plane bounded and unstarvable.
//   - Bodies are refused on the headers, unread: a 1 GB GET body, a 100 MB chunked POST
//     and a 401's big body leave drover's memory flat (the httplib server read each whole:
//     four GETs of 1 GB took drover to 4 GB).
//   - 1,000 idle connections and 100 slowloris ones at once do not starve /healthz or the
//     API (the httplib server's 64 threads did: a 58 s outage).
//   - Host and Origin: a rebinding name or a cross-site page is refused, and a text/plain
//     cross-site POST to workerpoolmanager's routes changes nothing.
//   - The unix socket: mode 0600, no token, and a peer of another uid refused (403) when
//     the mode is widened; TCP always needs a token, whoever asks.
// HttpControl is served in this process, so its memory is this process's VmRSS.
#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <condition_variable>
#include <cstring>
#include <dirent.h>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/support/as_user.h"
#include "tests/support/http_client.h"

using namespace drover;
using namespace drover::test;
using nlohmann::json;

namespace {

long rss_kb() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// Sockets this process holds: both ends of each loopback connection are ours.
size_t open_sockets() {
  size_t n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (dirent* e = readdir(d)) {
    char target[64] = "";
    const std::string link = std::string("/proc/self/fd/") + e->d_name;
    if (readlink(link.c_str(), target, sizeof target - 1) > 0 && std::strncmp(target, "socket:", 7) == 0) ++n;
  }
  closedir(d);
  return n;
}

// Sends a body on fd from a thread of its own, until `total` bytes, a send error (the
// server closed), or stop(). Chunked: each piece framed as a chunk.
class BodySender {
 public:
  BodySender(int fd, uint64_t total, bool chunked) : fd_(fd) {
    timeval tv{0, 200000};  // a blocked send wakes to see stop()
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    thread_ = std::thread([this, total, chunked] {
      const std::string piece(64 * 1024, 'x');
      const std::string framed = chunked ? "10000\r\n" + piece + "\r\n" : piece;
      while (!stop_ && sent_ < total) {
        ssize_t n = send(fd_, framed.data(), framed.size(), MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) break;
        sent_ += static_cast<uint64_t>(n);
      }
      ended_ = true;
    });
  }
  ~BodySender() {
    stop_ = true;
    thread_.join();
  }
  uint64_t sent() const { return sent_; }
  bool ended() const { return ended_; }

 private:
  int fd_;
  std::atomic<uint64_t> sent_{0};
  std::atomic<bool> stop_{false}, ended_{false};
  std::thread thread_;
};

// headers, then a body of `total` bytes sent while the answer is awaited. Returns the
// answer; sent: what went out before the server closed.
struct BigBodyResult {
  std::string answer;
  uint64_t sent = 0;
  bool sender_stopped = false;
};
BigBodyResult send_big_body(int port, const std::string& headers, uint64_t total, bool chunked) {
  BigBodyResult r;
  int fd = connect_to(port);
  REQUIRE(fd >= 0);
  REQUIRE(send(fd, headers.data(), headers.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(headers.size()));
  {
    BodySender body(fd, total, chunked);
    r.answer = read_until(fd, 10s, whole_response);
    // The server dropped the connection: the sender's next sends fail. (Never all of it.)
    r.sender_stopped = wait_until([&] { return body.ended(); }, 10s);
    r.sent = body.sent();
  }
  close(fd);
  return r;
}

int unix_connect(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

std::string unix_exchange(const std::string& path, const std::string& request) {
  int fd = unix_connect(path);
  if (fd < 0) return "<connect: " + std::string(std::strerror(-fd)) + ">";
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string out = read_until(fd, 5000ms, whole_response);
  close(fd);
  return out;
}

std::string body_of(const std::string& raw) {
  const size_t head = raw.find("\r\n\r\n");
  return head == std::string::npos ? "" : raw.substr(head + 4);
}

constexpr uint64_t kGB = 1ull << 30;
constexpr long kRssBoundKb = 10 * 1024;

}  // namespace

TEST_CASE("http limits: a 1 GB GET body - a 100 MB chunked POST - a 401's big body - each refused unread, memory flat") {
  Served s({fake_pool("foo", 1)});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 1); }, 5s));
  const long before = rss_kb();

  // A GET takes no body: its declared gigabyte is refused on the headers.
  BigBodyResult r = send_big_body(
      s.port(), "GET /api/v1/pools HTTP/1.1\r\n" + kHostLine + kAuthLine + "Content-Length: 1073741824\r\n\r\n", kGB,
      false);
  INFO("GET answer: ", r.answer.substr(0, 300));
  CHECK(raw_status(r.answer) == 413);
  CHECK(json::parse(body_of(r.answer))["error"] == "too_large");
  CHECK(r.sender_stopped);
  CHECK(r.sent < 64ull << 20);  // what the sockets' buffers took, not the gigabyte
  MESSAGE("1 GB GET: the client got ", r.sent >> 10, " KB out before drover closed");

  // A chunked body declares nothing: counted as it is read, cut past 64 KB.
  r = send_big_body(s.port(),
                    "POST /api/v1/pools HTTP/1.1\r\n" + kHostLine + kAuthLine +
                        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                    100ull << 20, true);
  INFO("chunked answer: ", r.answer.substr(0, 300));
  CHECK(raw_status(r.answer) == 413);
  CHECK(r.sender_stopped);
  CHECK(r.sent < 64ull << 20);
  MESSAGE("100 MB chunked POST: the client got ", r.sent >> 10, " KB out before drover closed");

  // No token: 401 on the headers, the gigabyte behind them never read.
  r = send_big_body(s.port(),
                    "POST /api/v1/pools HTTP/1.1\r\n" + kHostLine +
                        "Content-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n",
                    kGB, false);
  INFO("401 answer: ", r.answer.substr(0, 300));
  CHECK(raw_status(r.answer) == 401);
  CHECK(r.sender_stopped);
  CHECK(r.sent < 64ull << 20);

  const long grown = rss_kb() - before;
  MESSAGE("VmRSS grew by ", grown, " KB over the three");
  CHECK(grown < kRssBoundKb);
  CHECK_FALSE(s.engine.snapshot().find("x"));
  auto ok = s.client->Get("/healthz");
  REQUIRE(ok);
  CHECK(ok->status == 200);
}

TEST_CASE("http limits: 1000 idle and 100 slowloris connections held - /healthz and the API still answer at once") {
  // 2 sockets per connection in this process (the client's and drover's end), 1100+ of them.
  rlimit lim{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &lim) == 0);
  lim.rlim_cur = lim.rlim_max;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &lim) == 0);
  REQUIRE(lim.rlim_cur >= 4096);
  Served s({fake_pool("foo", 1)});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 1); }, 5s));
  const size_t base = open_sockets();

  std::vector<int> idle, slow;
  for (int i = 0; i < 1000; ++i) {
    int fd = connect_to(s.port());
    REQUIRE(fd >= 0);
    idle.push_back(fd);
  }
  const std::string start = "GET /healthz HTTP/1.1\r\n" + kHostLine + "X-Slow: ";
  for (int i = 0; i < 100; ++i) {
    int fd = connect_to(s.port());
    REQUIRE(fd >= 0);
    send(fd, start.data(), start.size(), MSG_NOSIGNAL);
    slow.push_back(fd);
  }
  // Slowloris: one more header byte on each, every second, until the end of the test.
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread loris([&] {
    std::unique_lock lock(mu);
    while (!cv.wait_for(lock, 1s, [&] { return done; }))
      for (int fd : slow) send(fd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
  });
  // drover has taken them all (accepted, not left in the listen backlog): their server
  // ends are open sockets here too.
  CHECK(wait_until([&] { return open_sockets() >= base + 2 * 1100; }, 30s));

  std::chrono::microseconds worst{0};
  for (int i = 0; i < 5; ++i) {
    for (const char* path : {"/healthz", "/api/v1/pools"}) {
      httplib::Client c("127.0.0.1", s.port());  // a new connection each time, as a probe makes
      c.set_bearer_token_auth(kTestToken);
      c.set_read_timeout(10, 0);
      const auto t0 = std::chrono::steady_clock::now();
      auto r = c.Get(path);
      const auto took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
      INFO(path, " took ", took.count(), " us");
      REQUIRE(r);
      CHECK(r->status == 200);
      // The bound tells "answered" from "starved" (httplib's pool: seconds, then a 58 s
      // outage); 500 ms, not less, for a loaded 2-core machine.
      CHECK(took < 500ms);
      worst = std::max(worst, took);
    }
  }
  MESSAGE("with 1000 idle + 100 slowloris connections held, the slowest of 10 requests took ", worst.count(), " us");
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_all();
  loris.join();
  for (int fd : idle) close(fd);
  for (int fd : slow) close(fd);
}

TEST_CASE("http limits: Host and Origin - rebinding names and other sites refused - a cross-site POST changes nothing") {
  HttpOptions options;
  options.wpm_compat = true;
  options.allowed_hosts = {"drover.internal", "proxy.example:8443"};
  Served s({fake_pool("web", 2)}, options);
  REQUIRE(wait_until([&] { return pool_running(s.engine, "web", 2); }, 5s));
  const std::string port = std::to_string(s.port());
  auto get_with_host = [&](const std::string& host) {
    return raw_exchange(s.port(), "GET /api/v1/pools HTTP/1.1\r\nHost: " + host + "\r\n" + kAuthLine + "\r\n", false);
  };
  for (const std::string& host : std::vector<std::string>{"evil.example", "evil.example:" + port, "proxy.example", "127.0.0.1.nip.io",
                                  "localhost.evil.example", "drover.internal:" + port + "x"}) {
    INFO("Host: ", host);
    const std::string raw = get_with_host(host);
    CHECK(raw_status(raw) == 421);
    CHECK(json::parse(body_of(raw))["error"] == "bad_host");
  }
  for (const std::string& host : std::vector<std::string>{"127.0.0.1:" + port, "localhost:" + port, "LOCALHOST", "[::1]:" + port,
                                  "drover.internal", "drover.internal:" + port, "proxy.example:8443", "10.1.2.3"}) {
    INFO("Host: ", host);
    CHECK(raw_status(get_with_host(host)) == 200);
  }

  // Origin: refused unless it is this server.
  const std::string pool = json{{"name", "evil"}, {"cmd", "/bin/true"}}.dump();
  auto post_with_origin = [&](const std::string& origin) {
    return raw_exchange(s.port(),
                        "POST /api/v1/pools HTTP/1.1\r\n" + kHostLine + kAuthLine + "Origin: " + origin +
                            "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(pool.size()) +
                            "\r\n\r\n" + pool,
                        false);
  };
  for (const std::string& origin : std::vector<std::string>{"http://evil.example", "http://evil.example:" + port, "null",
                                    "https://127.0.0.1:" + port, "http://127.0.0.1:1"}) {
    INFO("Origin: ", origin);
    const std::string raw = post_with_origin(origin);
    CHECK(raw_status(raw) == 403);
    CHECK(json::parse(body_of(raw))["error"] == "bad_origin");
  }
  CHECK_FALSE(s.engine.snapshot().find("evil"));
  CHECK(raw_status(post_with_origin("http://127.0.0.1:" + port)) == 201);  // itself: a page drover served
  CHECK(s.engine.snapshot().find("evil"));

  // The form a page on another site can send without asking (text/plain, no token: the
  // workerpoolmanager routes answer loopback without one under wpm_compat).
  const std::string cross_site = "POST /tasks/web/set/cardinality/0 HTTP/1.1\r\nHost: 127.0.0.1:" + port +
                                 "\r\nOrigin: http://evil.example\r\nContent-Type: text/plain\r\n"
                                 "Content-Length: 5\r\n\r\nhello";
  CHECK(raw_status(raw_exchange(s.port(), cross_site, false)) == 403);
  // After a DNS rebinding the page is "same origin" and sends no Origin, but its Host is its name.
  const std::string rebound = "POST /tasks/web/set/cardinality/0 HTTP/1.1\r\nHost: evil.example:" + port +
                              "\r\nContent-Length: 0\r\n\r\n";
  CHECK(raw_status(raw_exchange(s.port(), rebound, false)) == 421);
  // A text/plain body to the JSON API, even with the token and a good Host: 415.
  const std::string text = "PATCH /api/v1/pools/web HTTP/1.1\r\n" + kHostLine + kAuthLine +
                           "Content-Type: text/plain\r\nContent-Length: 8\r\n\r\n{\"n\": 0}";
  CHECK(raw_status(raw_exchange(s.port(), text, false)) == 415);
  CHECK(pool_of(s.engine.snapshot(), "web").spec.n == 2);
  CHECK(pool_running(s.engine, "web", 2));
}

TEST_CASE("http limits: workerpoolmanager's routes - only with wpm_compat - then local clients need no token") {
  {
    Served s({fake_pool("web", 1)});  // wpm_compat off
    const std::string set = "POST /tasks/web/set/cardinality/3 HTTP/1.1\r\n" + kHostLine + kAuthLine + "\r\n";
    const std::string raw = raw_exchange(s.port(), set, false);
    CHECK(raw_status(raw) == 403);
    CHECK(raw.find("Start drover with --wpm-compat") != std::string::npos);
    CHECK(raw_status(raw_exchange(s.port(), "GET /tasks/web/start HTTP/1.1\r\n" + kHostLine + kAuthLine + "\r\n",
                                  false)) == 403);
    // Reading needs the token, and no mode.
    CHECK(raw_status(raw_exchange(s.port(), "GET /tasks/web HTTP/1.1\r\n" + kHostLine + kAuthLine + "\r\n", false)) ==
          200);
    CHECK(raw_status(raw_exchange(s.port(), "GET /tasks/web HTTP/1.1\r\n" + kHostLine + "\r\n", false)) == 401);
    CHECK(pool_of(s.engine.snapshot(), "web").spec.n == 1);
  }
  HttpOptions options;
  options.wpm_compat = true;
  Served s({fake_pool("web", 1)}, options);
  // Its console sends no token: the /tasks and /list routes answer it on loopback ...
  const std::string set = "POST /tasks/web/set/cardinality/2 HTTP/1.1\r\n" + kHostLine + "Content-Length: 0\r\n\r\n";
  CHECK(raw_status(raw_exchange(s.port(), set, false)) == 200);
  CHECK(pool_of(s.engine.snapshot(), "web").spec.n == 2);
  CHECK(raw_status(raw_exchange(s.port(), "GET /list HTTP/1.1\r\n" + kHostLine + "\r\n", false)) == 200);
  // ... and the JSON API still needs it.
  CHECK(raw_status(raw_exchange(s.port(), "GET /api/v1/pools HTTP/1.1\r\n" + kHostLine + "\r\n", false)) == 401);
  CHECK(raw_status(raw_exchange(s.port(), "GET /metrics HTTP/1.1\r\n" + kHostLine + "\r\n", false)) == 401);
}

TEST_CASE("http limits: the unix socket - mode 0600 - no token - another uid cannot connect, and gets 403 if it can") {
  Served s({fake_pool("foo", 1)});
  TempDir dir;
  // Traversable by others, so that only the socket's own mode keeps them out.
  REQUIRE(chmod(dir.path().c_str(), 0755) == 0);
  const std::string path = dir.file("drover.sock");
  REQUIRE(s.http.start_unix(path));
  struct stat st {};
  REQUIRE(lstat(path.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 07777) == 0600);

  // Ours: no token, and any Host (a browser cannot reach a unix socket).
  std::string raw = unix_exchange(path, "GET /api/v1/pools HTTP/1.1\r\nHost: evil.example\r\n\r\n");
  CHECK(raw_status(raw) == 200);
  CHECK(json::parse(body_of(raw))["pools"][0]["name"] == "foo");
  raw = unix_exchange(path,
                      "PATCH /api/v1/pools/foo HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n"
                      "{\"n\": 2}");
  CHECK(raw_status(raw) == 200);
  CHECK(pool_of(s.engine.snapshot(), "foo").spec.n == 2);

  // nobody cannot even connect: the mode.
  AsUserResult as_nobody = run_as_nobody([&](std::string&) {
    const int fd = unix_connect(path);
    if (fd >= 0) return 0;
    return -fd;
  });
  CHECK(as_nobody.exit_code == EACCES);
  // Widened by hand: nobody connects, and SO_PEERCRED refuses it.
  REQUIRE(chmod(path.c_str(), 0666) == 0);
  as_nobody = run_as_nobody([&](std::string& out) {
    out = unix_exchange(path, "PATCH /api/v1/pools/foo HTTP/1.1\r\nContent-Type: application/json\r\n"
                              "Content-Length: 8\r\n\r\n{\"n\": 0}");
    return 0;
  });
  CHECK(as_nobody.exit_code == 0);
  INFO(as_nobody.out);
  CHECK(raw_status(as_nobody.out) == 403);
  CHECK(json::parse(body_of(as_nobody.out))["error"] == "forbidden");
  CHECK(pool_of(s.engine.snapshot(), "foo").spec.n == 2);

  // A second server on a live socket is refused; a stale socket file is replaced.
  HttpControl other(s.engine);
  Status taken = other.start_unix(path);
  CHECK_FALSE(taken);
  CHECK(taken.message().find("another server is listening there") != std::string::npos);
  const std::string stale = dir.file("stale.sock");
  {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, stale.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    close(fd);  // bound, never listened: what a killed server leaves
  }
  REQUIRE(other.start_unix(stale));
  CHECK(raw_status(unix_exchange(stale, "GET /healthz HTTP/1.1\r\n\r\n")) == 200);
}

TEST_CASE("http limits: TCP needs a token - start() refuses without one - nobody's request without it is a 401") {
  TempDir dir;
  Engine engine(engine_options(dir));
  HttpControl bare(engine);
  Status refused = bare.start("127.0.0.1", 0);
  CHECK_FALSE(refused);
  CHECK(refused.message().find("the HTTP listener needs a token") != std::string::npos);

  Served s({fake_pool("foo", 1)});
  const int port = s.port();
  // Over TCP the uid does not matter: the token does.
  AsUserResult r = run_as_nobody([&](std::string& out) {
    out = raw_exchange(port, "GET /api/v1/pools HTTP/1.1\r\n" + kHostLine + "\r\n", false);
    out += "\n----\n" + raw_exchange(port, "GET /api/v1/pools HTTP/1.1\r\n" + kHostLine + kAuthLine + "\r\n", false);
    return 0;
  });
  REQUIRE(r.exit_code == 0);
  const size_t split = r.out.find("\n----\n");
  REQUIRE(split != std::string::npos);
  CHECK(raw_status(r.out.substr(0, split)) == 401);
  CHECK(raw_status(r.out.substr(split + 6)) == 200);
}

TEST_CASE("http limits: quiet streams park - no busy loop - keep-alives still come, and a gone client is noticed") {
  HttpOptions options;
  options.keepalive = 300ms;
  Served s({fake_pool("quiet", 1)}, options);
  REQUIRE(wait_until([&] { return pool_running(s.engine, "quiet", 1); }, 5s));
  std::vector<int> fds;
  for (int i = 0; i < 10; ++i) {
    int fd = connect_to(s.port());
    REQUIRE(fd >= 0);
    const std::string req = "GET /api/v1/log/follow?pool=quiet HTTP/1.1\r\n" + kHostLine + kAuthLine + "\r\n";
    send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    REQUIRE(raw_status(read_from(fd, 3000ms, "\r\n\r\n")) == 200);
    fds.push_back(fd);
  }
  rusage before{}, after{};
  getrusage(RUSAGE_SELF, &before);
  const auto t0 = std::chrono::steady_clock::now();
  // The window: until each stream has had three keep-alives (~1 s), read as they come.
  for (int fd : fds) {
    std::string text = read_until(fd, 5000ms, [](const std::string& t) {
      size_t n = 0;
      for (size_t pos = 0; (pos = t.find(": keepalive", pos)) != std::string::npos; ++pos) ++n;
      return n >= 3;
    });
    CHECK(text.find(": keepalive") != std::string::npos);
  }
  getrusage(RUSAGE_SELF, &after);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = (after.ru_utime.tv_sec - before.ru_utime.tv_sec) + (after.ru_stime.tv_sec - before.ru_stime.tv_sec) +
                     ((after.ru_utime.tv_usec - before.ru_utime.tv_usec) + (after.ru_stime.tv_usec - before.ru_stime.tv_usec)) / 1e6;
  MESSAGE("10 quiet streams: ", cpu * 1000, " ms of CPU in ", wall * 1000, " ms");
  // A busy loop would burn a core (about wall); parked streams cost next to nothing.
  CHECK(cpu < wall * 0.25);
  CHECK(s.http.open_streams() == 10);
  for (int fd : fds) close(fd);
  CHECK(wait_until([&] { return s.http.open_streams() == 0; }, 3s));
}

TEST_CASE("http limits: drover raises its fd limit for 1000+ connections - its workers keep the one it started with") {
  rlimit lim{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &lim) == 0);
  REQUIRE(lim.rlim_max > 1024);
  lim.rlim_cur = 1024;  // as a login shell's default
  REQUIRE(setrlimit(RLIMIT_NOFILE, &lim) == 0);
  Served s({fake_pool("foo", 1)});  // the engine and HttpControl raise it
  REQUIRE(getrlimit(RLIMIT_NOFILE, &lim) == 0);
  CHECK(lim.rlim_cur == lim.rlim_max);
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 1); }, 5s));
  const pid_t worker = running_pids(s.engine.snapshot(), "foo")[0];
  std::ifstream in("/proc/" + std::to_string(worker) + "/limits");
  std::string soft;
  for (std::string line; std::getline(in, line);)
    if (line.rfind("Max open files", 0) == 0) soft = line.substr(26, 21);
  INFO("worker's limits line: ", soft);
  CHECK(std::stol(soft) == 1024);
}
