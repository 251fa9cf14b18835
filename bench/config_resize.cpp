// config_resize: what one config{} that resizes 10 pools costs, locally (engine round
// trips: EngineClient calls, each one trip through the engine's inbox) and attached (HTTP
// requests, counted on the wire by a forwarding proxy between the RemoteClient and the
// server). Runs the real config{} binding in a real Lua state; every round flips the ten
// pools between 1 and 2 workers.
//
//   build/bench/config_resize [ROUNDS=50]
//
// The "before" figures in RESULTS.md came from this file as of commit ab3907d, built with
// -DCONFIG_RESIZE_BEFORE against the EngineClient of commit a3c44d0 (before config{} was
// one engine call); the API has moved on since, so that variant is gone from here.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api/local_client.h"
#include "control/http_control.h"
#include "engine/engine.h"
#include "shell/lua/lua_state.h"
#include "shell/remote/remote_client.h"

using namespace drover;
using Wall = std::chrono::steady_clock;

namespace {

constexpr int kPools = 10;
constexpr const char* kToken = "config-resize-bench-token-0123456789";

// Every EngineClient call forwarded and counted.
class CountingClient final : public EngineClient {
 public:
  explicit CountingClient(EngineClient& inner) : inner_(inner) {}
  int calls = 0;
  Result<EngineSnapshot> snapshot() override { return ++calls, inner_.snapshot(); }
  Result<SizeMap> configure(const SizeMap& sizes) override { return ++calls, inner_.configure(sizes); }
  Result<SizeMap> merge_sizes(const SizeMap& sizes) override { return ++calls, inner_.merge_sizes(sizes); }
  Status apply(std::vector<PoolSpec> specs, bool remove_missing) override {
    return ++calls, inner_.apply(std::move(specs), remove_missing);
  }
  Status start(const std::optional<std::string>& pool) override { return ++calls, inner_.start(pool); }
  Status stop(const std::optional<std::string>& pool) override { return ++calls, inner_.stop(pool); }
  Status signal_workers(int sig, const std::optional<std::string>& pool) override {
    return ++calls, inner_.signal_workers(sig, pool);
  }
  Status signal_worker(const std::string& pool, int slot, int sig) override {
    return ++calls, inner_.signal_worker(pool, slot, sig);
  }
  Result<std::vector<LogLine>> log_tail(size_t n, const std::optional<std::string>& pool) override {
    return ++calls, inner_.log_tail(n, pool);
  }
  Result<AutoscaleView> autoscale() override { return ++calls, inner_.autoscale(); }
  Status set_autoscale(const std::string& pool, bool on) override { return ++calls, inner_.set_autoscale(pool, on); }
  std::shared_ptr<Subscription> subscribe(size_t capacity, Subscription::Filter filter) override {
    return ++calls, inner_.subscribe(capacity, filter);
  }
  void report(EventKind kind, std::string pool, std::string text) override {
    inner_.report(kind, std::move(pool), std::move(text));
  }
  void set_queue_gauge(const std::string& pool, const QueueGauge& gauge) override { inner_.set_queue_gauge(pool, gauge); }
  void set_worker_busy(const std::string& pool, std::string source, std::vector<WorkerBusy> workers) override {
    inner_.set_worker_busy(pool, std::move(source), std::move(workers));
  }
  void shutdown() override { inner_.shutdown(); }
  void kill_all() override { inner_.kill_all(); }
  bool wait_finished(Duration timeout) override { return inner_.wait_finished(timeout); }

 private:
  EngineClient& inner_;
};

// A TCP forwarder on a free loopback port that counts the HTTP requests going through it
// (their request lines: " HTTP/1.1\r\n"), one thread per connection.
class CountingProxy {
 public:
  explicit CountingProxy(int target_port) : target_(target_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(listen_fd_, 8) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      std::perror("config_resize: proxy");
      std::exit(1);
    }
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] {
      for (;;) {
        int c = accept(listen_fd_, nullptr, nullptr);
        if (c < 0) return;  // shut down
        conns_.emplace_back([this, c] { forward(c); });
      }
    });
  }
  ~CountingProxy() {
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    acceptor_.join();
    for (auto& t : conns_) t.join();
  }
  int port() const { return port_; }
  std::atomic<int> requests{0};

 private:
  void forward(int client) {
    int server = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(target_));
    if (connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(client);
      close(server);
      return;
    }
    pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    char buf[65536];
    for (;;) {
      if (poll(fds, 2, -1) < 0) break;
      bool done = false;
      for (int i = 0; i < 2 && !done; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t got = read(fds[i].fd, buf, sizeof buf);
        if (got <= 0) {
          done = true;
          break;
        }
        if (i == 0)
          for (std::string_view s(buf, static_cast<size_t>(got)); s.find(" HTTP/1.1\r\n") != s.npos;
               s.remove_prefix(s.find(" HTTP/1.1\r\n") + 1))
            ++requests;
        for (ssize_t off = 0; off < got;) {
          ssize_t put = write(fds[1 - i].fd, buf + off, static_cast<size_t>(got - off));
          if (put <= 0) {
            done = true;
            break;
          }
          off += put;
        }
      }
      if (done) break;
    }
    close(client);
    close(server);
  }

  int target_, port_ = 0, listen_fd_ = -1;
  std::thread acceptor_;
  std::vector<std::thread> conns_;  // acceptor thread only, until joined
};

std::string resize_code(int n) {
  std::string code = "return config{";
  for (int i = 0; i < kPools; ++i) code += "p" + std::to_string(i) + " = " + std::to_string(n) + ", ";
  return code + "}";
}

// ROUNDS config{} calls through `client`; each round's cost read from count() before and after.
template <class Count>
void measure(const char* where, EngineClient& client, int rounds, Count count) {
  ShellContext ctx(client);
  std::FILE* devnull = std::fopen("/dev/null", "w");
  ctx.out = devnull;
  LuaState lua(ctx);
  lua_State* L = lua.get();
  std::vector<double> ms;
  int trips = 0;
  for (int i = 0; i < rounds; ++i) {
    const std::string code = resize_code(1 + (i + 1) % 2);
    const int before = count();
    auto t0 = Wall::now();
    if (luaL_loadstring(L, code.c_str()) != LUA_OK || lua.call(0, 1) != LUA_OK) {
      std::fprintf(stderr, "config_resize: %s\n", lua_tostring(L, -1));
      std::exit(1);
    }
    ms.push_back(std::chrono::duration<double, std::milli>(Wall::now() - t0).count());
    lua_pop(L, 1);
    trips = count() - before;
  }
  std::sort(ms.begin(), ms.end());
  std::printf("  %-9s %3d round trips per config{}   p50 %7.3f ms   max %7.3f ms\n", where, trips, ms[ms.size() / 2],
              ms.back());
  std::fclose(devnull);
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 50;
  EngineOptions opts;
  opts.log_path = "/dev/null";
  Engine engine(opts);
  std::vector<PoolSpec> pools;
  for (int i = 0; i < kPools; ++i) {
    PoolSpec p;
    p.name = "p" + std::to_string(i);
    p.argv = {"/bin/sleep", "3600"};
    p.n = 1;
    pools.push_back(p);
  }
  if (!engine.apply(pools)) return 1;
  HttpOptions http_opts;
  http_opts.token = kToken;
  HttpControl http(engine, http_opts);
  if (!http.start("127.0.0.1", 0)) return 1;
  CountingProxy proxy(http.port());

  std::printf("config_resize: config{} of %d pools (1 <-> 2 workers), %d rounds\n", kPools, rounds);
  LocalClient local_engine(engine);
  CountingClient local(local_engine);
  measure("local", local, rounds, [&] { return local.calls; });
  RemoteAddress address;
  address.port = proxy.port();
  address.token = kToken;
  RemoteClient remote(address);
  measure("attached", remote, rounds, [&] { return proxy.requests.load(); });

  engine.shutdown();
  engine.wait_finished(Duration::max());
  return 0;
}
