// Heartbeats end to end in-process: real fake_worker processes, a real ZeroMQ PUB socket
// in the test speaking for them (the workers themselves are tested with the example
// workers), the engine's stall timers, busy-aware scale-down, and garbage on the socket.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "engine/engine.h"
#include "tests/support/test_util.h"

using namespace drover;
using namespace drover::test;
using namespace std::chrono_literals;

namespace {

using Clock_ = std::chrono::steady_clock;

// A PUB socket connected to the engine's heartbeat endpoint, sending as a worker would.
class Sender {
 public:
  explicit Sender(const std::string& endpoint) : ctx_(zmq_ctx_new()), sock_(zmq_socket(ctx_, ZMQ_PUB)) {
    int linger = 0;
    zmq_setsockopt(sock_, ZMQ_LINGER, &linger, sizeof linger);
    REQUIRE(zmq_connect(sock_, endpoint.c_str()) == 0);
  }
  ~Sender() {
    zmq_close(sock_);
    zmq_ctx_term(ctx_);
  }
  void send(const std::vector<std::string>& frames) {
    for (size_t i = 0; i < frames.size(); ++i)
      zmq_send(sock_, frames[i].data(), frames[i].size(), i + 1 < frames.size() ? ZMQ_SNDMORE : 0);
  }
  void beat(const std::string& pool, pid_t pid, const std::string& extra = "") {
    send({pool, fmt::format(R"({{"pid": {}{}}})", pid, extra.empty() ? "" : ", " + extra)});
  }
  // PUB drops messages until the engine's subscription has arrived: send until one counts.
  // Then wait until the beats still in flight have landed (the engine takes heartbeats in
  // batches, 50 ms apart), so that counts taken afterwards start from a quiet socket.
  void wait_joined(Engine& e, const std::string& pool, pid_t pid) {
    const uint64_t before = e.snapshot().heartbeat.accepted;
    REQUIRE(wait_until([&] {
      beat(pool, pid);
      std::this_thread::sleep_for(5ms);
      return e.snapshot().heartbeat.accepted > before;
    }, 5000ms));
    uint64_t last = e.snapshot().heartbeat.received;
    REQUIRE(wait_until([&] {
      std::this_thread::sleep_for(120ms);
      const uint64_t now = e.snapshot().heartbeat.received;
      return std::exchange(last, now) == now;
    }, 5000ms));
  }

 private:
  void* ctx_;
  void* sock_;
};

const WorkerSnapshot& worker_with_pid(const EngineSnapshot& snap, const std::string& pool, pid_t pid) {
  for (const auto& w : pool_of(snap, pool).workers)
    if (w.pid == pid) return w;
  throw std::runtime_error(fmt::format("no worker {} in {}", pid, pool));
}

PoolSpec hb_pool(const std::string& name, int n, double timeout, bool require = false,
                 std::vector<std::string> args = {"sleep"}) {
  PoolSpec p = fake_pool(name, n, std::move(args));
  p.heartbeat.timeout_s = timeout;
  p.heartbeat.require = require;
  p.grace_s = 0.5;
  return p;
}

}  // namespace

TEST_CASE("heartbeat: workers get DROVER_HEARTBEAT in a private runtime dir") {
  TempDir dir;
  Engine e(engine_options(dir));
  REQUIRE(e.apply({fake_pool("w", 1)}));
  REQUIRE(wait_until([&] { return pool_running(e, "w", 1); }, 5000ms));
  const auto snap = e.snapshot();
  const std::string ep = snap.heartbeat.worker_endpoint;
  REQUIRE(ep.rfind("ipc://", 0) == 0);
  CHECK(proc_env(running_pids(snap, "w")[0], "DROVER_HEARTBEAT") == ep);
  std::string runtime = ep.substr(6, ep.rfind('/') - 6);
  struct stat st;
  REQUIRE(stat(runtime.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
}

TEST_CASE("heartbeat: a worker that keeps heartbeating outlives several timeouts - its status is shown") {
  TempDir dir;
  Engine e(engine_options(dir));
  REQUIRE(e.apply({hb_pool("hb", 1, 0.3, /*require=*/true)}));
  REQUIRE(wait_until([&] { return pool_running(e, "hb", 1); }, 5000ms));
  const pid_t pid = running_pids(e.snapshot(), "hb")[0];
  Sender s(e.snapshot().heartbeat.worker_endpoint);
  s.wait_joined(e, "hb", pid);
  const auto end = Clock_::now() + 1200ms;  // four timeouts
  while (Clock_::now() < end) {
    s.beat("hb", pid, R"("status": "job 42", "busy": true, "progress": 0.25)");
    std::this_thread::sleep_for(50ms);
  }
  const auto snap = e.snapshot();
  const auto& w = worker_with_pid(snap, "hb", pid);
  CHECK(pool_of(snap, "hb").counters.stalls == 0);
  CHECK(w.state == SlotState::kRunning);
  CHECK(w.heartbeats >= 10);
  CHECK(w.heartbeat_age_s >= 0);
  CHECK(w.heartbeat_age_s < 0.3);
  CHECK(w.status == "job 42");
  REQUIRE(w.busy.has_value());
  CHECK(*w.busy);
  REQUIRE(w.progress.has_value());
  CHECK(*w.progress == doctest::Approx(0.25));
  CHECK(pool_of(snap, "hb").busy == 1);
  CHECK(pool_of(snap, "hb").idle == 0);
}

TEST_CASE("heartbeat: a silent worker is stalled at the deadline - TERMed - replaced - counted") {
  TempDir dir;
  Engine e(engine_options(dir));
  REQUIRE(e.apply({hb_pool("hb", 1, 0.4)}));
  REQUIRE(wait_until([&] { return pool_running(e, "hb", 1); }, 5000ms));
  const pid_t pid = running_pids(e.snapshot(), "hb")[0];
  REQUIRE(wait_until([&] { return catches_signal(pid, SIGTERM); }, 2000ms));
  auto events = e.subscribe(1000, {.events = true, .log_lines = false});
  Sender s(e.snapshot().heartbeat.worker_endpoint);
  s.wait_joined(e, "hb", pid);
  s.beat("hb", pid);
  const auto last_beat = Clock_::now();  // silence from here on
  Event stalled{};
  REQUIRE(wait_until([&] {
    while (auto item = events->pop(Duration::zero()))
      if (const Event* ev = std::get_if<Event>(&*item); ev && ev->kind == EventKind::kWorkerStalled) stalled = *ev;
    return stalled.pid != 0;
  }, 3000ms));
  const double after = std::chrono::duration<double>(Clock_::now() - last_beat).count();
  CHECK(stalled.pid == pid);
  CHECK(after >= 0.39);
  // At this pool's timeout, not at another one (the default is 30 s); how close to 0.4 s
  // it lands is a latency figure (bench/heartbeat_bench), not a behaviour.
  CHECK(after < 1.5);
  // Stopped with the pool's signal (fake_worker exits 0 on TERM), then replaced.
  REQUIRE(wait_until([&] {
    auto now = running_pids(e.snapshot(), "hb");
    return now.size() == 1 && now[0] != pid;
  }, 3000ms));
  CHECK_FALSE(pid_alive(pid));
  const auto snap = e.snapshot();
  const auto& pool = pool_of(snap, "hb");
  CHECK(pool.counters.stalls == 1);
  CHECK(pool.counters.exited_bad == 1);  // exit 0 on TERM, yet a stall is a bad exit
  CHECK(pool.counters.exited_ok == 0);
  CHECK(pool.counters.killed_after_grace == 0);
  CHECK(pool.workers[0].last_exit.find("stalled") != std::string::npos);
  // The replacement has said nothing and `require` is off: it is not judged yet.
  std::this_thread::sleep_for(600ms);
  CHECK(pool_of(e.snapshot(), "hb").counters.stalls == 1);
}

TEST_CASE("heartbeat: a stalled worker that ignores TERM is KILLed at grace") {
  TempDir dir;
  Engine e(engine_options(dir));
  PoolSpec p = hb_pool("stubborn", 1, 0.3, /*require=*/true, {"ignore-term"});
  p.grace_s = 0.3;
  p.backoff.initial_s = 5;  // one stall is enough to look at
  REQUIRE(e.apply({p}));
  REQUIRE(wait_until([&] { return pool_running(e, "stubborn", 1); }, 5000ms));
  const pid_t pid = running_pids(e.snapshot(), "stubborn")[0];
  // Never heartbeats: `require` stalls it 0.3 s after its start, KILL 0.3 s later.
  REQUIRE(wait_until([&] { return !pid_alive(pid); }, 3000ms));
  REQUIRE(wait_until([&] { return pool_of(e.snapshot(), "stubborn").counters.stalls == 1 &&
                                  pool_of(e.snapshot(), "stubborn").counters.killed_after_grace == 1; }, 2000ms));
  CHECK(log_contains(e, "stalled pid " + std::to_string(pid)));
  CHECK(log_contains(e, "killed-after-grace pid " + std::to_string(pid)));
}

TEST_CASE("heartbeat: garbage on the socket is counted and ignored - never a false alive") {
  TempDir dir;
  Engine e(engine_options(dir));
  REQUIRE(e.apply({hb_pool("victim", 1, 0.8, /*require=*/true), fake_pool("other", 1)}));
  REQUIRE(wait_until([&] { return pool_running(e, "victim", 1) && pool_running(e, "other", 1); }, 5000ms));
  const pid_t victim = running_pids(e.snapshot(), "victim")[0];
  const pid_t other = running_pids(e.snapshot(), "other")[0];
  Sender s(e.snapshot().heartbeat.worker_endpoint);
  s.wait_joined(e, "other", other);
  const auto before = e.snapshot().heartbeat;

  // Every way to be wrong about the victim: wrong pool, wrong pid, wrong frames, bad JSON.
  std::mt19937 rng(42);
  auto junk = [&](size_t n) {
    std::string out(n, '\0');
    for (auto& c : out) c = static_cast<char>(rng());
    return out;
  };
  std::vector<std::vector<std::string>> messages = {
      {"other", fmt::format(R"({{"pid": {}}})", victim)},   // right pid, wrong pool
      {"victim", fmt::format(R"({{"pid": {}}})", other)},   // right pool, another's pid
      {"victim", R"({"pid": 1})"},
      {"victim", R"({"pid": -5})"},
      {"victim", R"({"pid": 99999999999})"},
      {"victim", R"({"pid": "12x"})"},
      {"victim", R"({"pid": null})"},
      {"victim", R"({"status": "no pid"})"},
      {"victim", fmt::format(R"({{"pid": {})", victim)},    // truncated JSON
      {"victim", fmt::format(R"([{}])", victim)},           // not an object
      {fmt::format(R"({{"pid": {}}})", victim)},            // one frame
      {"victim", fmt::format(R"({{"pid": {}}})", victim), "extra"},
      {"a", "b", "c", "d", "e", "f"},
      {"victim", std::string(100 * 1024, ' ') + fmt::format(R"({{"pid": {}}})", victim)},  // oversized frame
  };
  const uint64_t wrong_sender = 3, bad_form = 10, oversized = 1;
  for (int i = 0; i < 300; ++i) {
    std::vector<std::string> frames(1 + rng() % 4);
    for (auto& f : frames) f = junk(rng() % 300);
    messages.push_back(frames);
  }
  for (auto& m : messages) s.send(m);
  const uint64_t sent = messages.size();
  const bool all_in = wait_until([&] { return e.snapshot().heartbeat.received - before.received == sent; }, 3000ms);
  INFO("received ", e.snapshot().heartbeat.received - before.received, " of ", sent);
  REQUIRE(all_in);
  // Over the socket's limit: libzmq cuts the sender off (and drops whatever of its
  // messages is still queued), so this one is never received at all.
  s.send({"victim", std::string(2 << 20, 'x')});

  // The victim is stalled on time: nothing above counted as its heartbeat.
  REQUIRE(wait_until([&] { return pool_of(e.snapshot(), "victim").counters.stalls == 1; }, 3000ms));
  const auto snap = e.snapshot();
  const auto& hb = snap.heartbeat;
  CHECK(hb.accepted == before.accepted);
  CHECK(hb.unknown_pid - before.unknown_pid == wrong_sender);
  CHECK(hb.malformed - before.malformed == bad_form + 300);
  CHECK(hb.oversized - before.oversized == oversized);
  CHECK(hb.received == hb.accepted + hb.malformed + hb.oversized + hb.unknown_pid);
  // The other pool's worker was never stalled and is still there; the engine answers.
  CHECK(running_pids(snap, "other") == std::vector<pid_t>{other});
  CHECK(log_contains(e, "heartbeat ignored"));
  // And a well-formed heartbeat still gets through afterwards (a fresh socket: the old
  // one was disconnected for its 2 MiB frame).
  Sender again(snap.heartbeat.worker_endpoint);
  again.wait_joined(e, "other", other);
}

TEST_CASE("heartbeat: a descendant of a worker speaks for it - sh -c lines work") {
  TempDir dir;
  Engine e(engine_options(dir));
  PoolSpec p;
  p.name = "shell";
  // Shell syntax, so /bin/sh stays the worker and fake_worker runs as its child.
  p.argv = {"/bin/sh", "-c", fmt::format("{} sleep; true", fake_worker_path())};
  p.n = 1;
  p.heartbeat.timeout_s = 0.5;
  p.heartbeat.require = true;
  REQUIRE(e.apply({p}));
  REQUIRE(wait_until([&] { return pool_running(e, "shell", 1); }, 5000ms));
  const pid_t sh = running_pids(e.snapshot(), "shell")[0];
  pid_t child = 0;
  REQUIRE(wait_until([&] {
    auto c = children_of(sh);
    if (!c.empty()) child = c[0];
    return child > 0;
  }, 3000ms));
  Sender s(e.snapshot().heartbeat.worker_endpoint);
  s.wait_joined(e, "shell", child);
  for (int i = 0; i < 20; ++i) {
    s.beat("shell", child, R"("status": "from the child")");
    std::this_thread::sleep_for(50ms);
  }
  const auto snap = e.snapshot();
  CHECK(pool_of(snap, "shell").counters.stalls == 0);
  CHECK(worker_with_pid(snap, "shell", sh).status == "from the child");
}

TEST_CASE("heartbeat: scale-down stops idle workers first - then the newest - busy ones last") {
  TempDir dir;
  Engine e(engine_options(dir));
  // Grown one at a time, so the start order is known: pids[0] oldest.
  std::vector<pid_t> pids;
  for (int n = 1; n <= 5; ++n) {
    if (n == 1)
      REQUIRE(e.apply({fake_pool("jobs", 1)}));
    else
      REQUIRE(e.configure({{"jobs", n}}));
    REQUIRE(wait_until([&] { return pool_running(e, "jobs", n); }, 5000ms));
    for (pid_t pid : running_pids(e.snapshot(), "jobs"))
      if (std::find(pids.begin(), pids.end(), pid) == pids.end()) pids.push_back(pid);
  }
  REQUIRE(pids.size() == 5);
  Sender s(e.snapshot().heartbeat.worker_endpoint);
  s.wait_joined(e, "jobs", pids[0]);
  // Two busy, one idle (the oldest), two that never say: shrink to 3, then to 1.
  const pid_t busy1 = pids[3], busy2 = pids[4], idle = pids[0];
  s.beat("jobs", busy1, R"("busy": true)");
  s.beat("jobs", busy2, R"("busy": true)");
  s.beat("jobs", idle, R"("busy": false)");
  REQUIRE(wait_until([&] {
    auto p = pool_of(e.snapshot(), "jobs");
    return p.busy == 2 && p.idle == 1;
  }, 2000ms));
  REQUIRE(e.configure({{"jobs", 3}}));
  REQUIRE(wait_until([&] { return pool_running(e, "jobs", 3); }, 5000ms));
  auto three = running_pids(e.snapshot(), "jobs");
  // The idle one went first although it is the oldest, then the newer of the two that
  // never said; the busy ones, the newest of all, stayed.
  CHECK(std::find(three.begin(), three.end(), idle) == three.end());
  CHECK(std::find(three.begin(), three.end(), pids[2]) == three.end());
  CHECK(std::find(three.begin(), three.end(), pids[1]) != three.end());
  CHECK(std::find(three.begin(), three.end(), busy1) != three.end());
  CHECK(std::find(three.begin(), three.end(), busy2) != three.end());
  REQUIRE(e.configure({{"jobs", 1}}));
  REQUIRE(wait_until([&] { return pool_running(e, "jobs", 1); }, 5000ms));
  auto one = running_pids(e.snapshot(), "jobs");
  // Only busy ones were left to choose from: the newest went, the older busy one stays.
  CHECK(one == std::vector<pid_t>{busy1});
}

TEST_CASE("heartbeat: a policy change applies to running workers from now") {
  TempDir dir;
  Engine e(engine_options(dir));
  PoolSpec p = fake_pool("late", 1);
  REQUIRE(e.apply({p}));
  REQUIRE(wait_until([&] { return pool_running(e, "late", 1); }, 5000ms));
  const pid_t pid = running_pids(e.snapshot(), "late")[0];
  std::this_thread::sleep_for(400ms);  // older than the timeout about to be set
  p.heartbeat = {.timeout_s = 0.4, .require = true};
  const auto t0 = Clock_::now();
  REQUIRE(e.apply({p}));
  // Not stalled at once for silence nobody asked of it: a full timeout from the change.
  REQUIRE(wait_until([&] { return pool_of(e.snapshot(), "late").counters.stalls == 1; }, 3000ms));
  CHECK(std::chrono::duration<double>(Clock_::now() - t0).count() >= 0.39);
  REQUIRE(wait_until([&] {
    auto now = running_pids(e.snapshot(), "late");
    return now.size() == 1 && now[0] != pid;
  }, 3000ms));
  // A policy change is no launch change: nothing was rolled, only the stall replaced it.
  CHECK(pool_of(e.snapshot(), "late").counters.started == 2);
}

TEST_CASE("heartbeat: the engine refuses an endpoint it cannot bind - with the reason") {
  TempDir dir;
  EngineOptions o = engine_options(dir);
  o.heartbeat_endpoints = {"tcp://256.1.1.1:1"};
  try {
    Engine e(o);
    FAIL("engine started with an unbindable heartbeat endpoint");
  } catch (const std::exception& ex) {
    CHECK(std::string(ex.what()).find("tcp://256.1.1.1:1") != std::string::npos);
  }
  // A tcp endpoint with a wildcard port comes back resolved.
  o.heartbeat_endpoints = {"tcp://127.0.0.1:*"};
  Engine e(o);
  const std::string ep = e.snapshot().heartbeat.worker_endpoint;
  CHECK(ep.rfind("tcp://127.0.0.1:", 0) == 0);
  CHECK(ep.find('*') == std::string::npos);
}
