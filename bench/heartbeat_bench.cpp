// heartbeat_bench: what heartbeats cost the engine. Figures, not pass/fail.
//
// 1. Ingest: N real workers (/bin/sleep) in a pool with a heartbeat timeout (stall timers
//    live), and sender threads in this process, each with its own PUB socket, sending
//    valid heartbeats round-robin over the workers' pids as fast as they can, once over
//    ipc:// and once over tcp://127.0.0.1. Reported: messages the engine accepted per
//    second of wall time, and per second of CPU of its loop thread ("on one core"), plus
//    the CPU of its ZeroMQ I/O thread. The machine's cores are shared by the senders, the
//    loop and libzmq's I/O threads, so the per-CPU-second figure is the engine's own rate.
//    The senders offer more than the engine takes; ZeroMQ drops the excess at its queue
//    limits (PUB drops silently), so sent, received, accepted and dropped are counted.
// 2. Steady: N workers each heartbeating once a second (one sender spreads the N beats
//    evenly over each second), for D seconds; the engine's CPU (loop thread, and loop +
//    ZeroMQ threads) as % of one core, against the same engine idle for the same time
//    with nobody connected.
//
//   build/bench/heartbeat_bench [N=1000] [INGEST_S=3] [STEADY_S=10] [SENDERS=1]
#include <dirent.h>
#include <pthread.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "engine/engine.h"

using namespace drover;
using Wall = std::chrono::steady_clock;

namespace {

double seconds_since(Wall::time_point t0) { return std::chrono::duration<double>(Wall::now() - t0).count(); }

// CPU seconds used so far by this process's threads, by thread name: the scheduler's own
// run time in ns (/proc/self/task/TID/schedstat), not the 10 ms ticks of utime/stime,
// which cannot see a thread that wakes a thousand times a second for microseconds.
std::map<std::string, double> thread_cpu() {
  std::map<std::string, double> out;
  DIR* dir = opendir("/proc/self/task");
  if (!dir) return out;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    std::string base = std::string("/proc/self/task/") + e->d_name;
    std::string comm;
    std::getline(std::ifstream(base + "/comm"), comm);
    double ns = 0;
    std::ifstream(base + "/schedstat") >> ns;
    out[comm] += ns / 1e9;
  }
  closedir(dir);
  return out;
}

// The engine's threads: its loop, and the I/O and reaper threads of its ZeroMQ context.
// The senders' context is given a thread-name prefix, so its threads do not count here.
struct EngineCpu {
  double loop = 0, zmq = 0;
};
EngineCpu engine_cpu() {
  EngineCpu c;
  for (const auto& [name, s] : thread_cpu()) {
    if (name == "drover-loop") c.loop += s;
    if (name.rfind("ZMQbg/", 0) == 0) c.zmq += s;
  }
  return c;
}

PoolSpec sleepers(int n) {
  PoolSpec p;
  p.name = "hb";
  p.argv = {"/bin/sleep", "3600"};
  p.n = n;
  p.heartbeat.timeout_s = 30;
  return p;
}

std::vector<pid_t> start_pool(Engine& e, int n) {
  if (!e.apply({sleepers(n)})) std::abort();
  while (true) {
    auto snap = e.snapshot();
    std::vector<pid_t> pids;
    for (const auto& w : snap.pools.at(0).workers)
      if (w.state == SlotState::kRunning) pids.push_back(w.pid);
    if (static_cast<int>(pids.size()) == n) return pids;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// One message per worker, built once: the senders only copy bytes.
std::vector<std::string> messages_for(const std::vector<pid_t>& pids) {
  std::vector<std::string> out;
  for (size_t i = 0; i < pids.size(); ++i)
    out.push_back(fmt::format(R"({{"pid": {}, "busy": {}, "status": "job {}"}})", pids[i], i % 2 ? "true" : "false", i));
  return out;
}

void* sender_context() {
  void* ctx = zmq_ctx_new();
  zmq_ctx_set(ctx, ZMQ_THREAD_NAME_PREFIX, 7);  // "7/ZMQbg/...": not the engine's
  return ctx;
}

void* connect_pub(void* ctx, const std::string& endpoint) {
  void* s = zmq_socket(ctx, ZMQ_PUB);
  int hwm = 100000, linger = 0;
  zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
  zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
  zmq_connect(s, endpoint.c_str());
  return s;
}

void send(void* s, const std::string& topic, const std::string& json) {
  zmq_send(s, topic.data(), topic.size(), ZMQ_SNDMORE);
  zmq_send(s, json.data(), json.size(), 0);
}

// Sends until the engine has accepted one: PUB drops everything before the engine's
// subscription arrives (the slow joiner).
void join(Engine& e, void* s, const std::string& json) {
  const uint64_t before = e.snapshot().heartbeat.accepted;
  while (e.snapshot().heartbeat.accepted == before) {
    send(s, "hb", json);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// Waits until nothing more arrives: the engine takes heartbeats in batches 50 ms apart,
// so two looks 120 ms apart that agree mean the queues are empty. Returns the stats then.
HeartbeatStats settle(Engine& e) {
  auto last = e.snapshot().heartbeat;
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(120));
    auto now = e.snapshot().heartbeat;
    if (now.received == last.received) return now;
    last = std::move(now);
  }
}

void ingest(const std::string& label, const std::string& endpoint, int n, double secs, int senders) {
  EngineOptions o;
  if (!endpoint.empty()) o.heartbeat_endpoints = {endpoint};
  Engine e(o);
  auto pids = start_pool(e, n);
  auto msgs = messages_for(pids);
  const std::string ep = e.snapshot().heartbeat.worker_endpoint;
  void* ctx = sender_context();
  std::vector<void*> socks;
  for (int i = 0; i < senders; ++i) {
    socks.push_back(connect_pub(ctx, ep));
    join(e, socks.back(), msgs[0]);
  }
  const auto before = settle(e);  // the joins' stragglers are not in the window
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> sent{0};
  std::vector<std::thread> threads;
  const EngineCpu cpu0 = engine_cpu();
  const auto t0 = Wall::now();
  for (int i = 0; i < senders; ++i)
    threads.emplace_back([&, i] {
      pthread_setname_np(pthread_self(), "hb-sender");
      uint64_t k = static_cast<uint64_t>(i), mine = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        for (int b = 0; b < 256; ++b, ++mine) send(socks[i], "hb", msgs[k++ % msgs.size()]);
      }
      sent += mine;
    });
  std::this_thread::sleep_for(std::chrono::duration<double>(secs));
  stop = true;
  for (auto& t : threads) t.join();
  // Rates over the window only: what is still queued when it closes is not in them.
  const double wall = seconds_since(t0);
  const auto after = e.snapshot().heartbeat;
  const EngineCpu cpu1 = engine_cpu();
  const double accepted = static_cast<double>(after.accepted - before.accepted);
  const double loop_cpu = cpu1.loop - cpu0.loop, zmq_cpu = cpu1.zmq - cpu0.zmq;
  // Counts once the queues have drained: every message sent was received or dropped.
  const auto last = settle(e);
  const uint64_t received = last.received - before.received;
  const uint64_t ignored = (last.malformed + last.oversized + last.unknown_pid) -
                           (before.malformed + before.oversized + before.unknown_pid);
  const uint64_t total_sent = sent;
  const uint64_t dropped = total_sent > received ? total_sent - received : 0;
  fmt::print("| {} | {} | {:.0f} | **{:.0f}** | {:.0f} % | {:.0f} % | {} | {} | {} | {} ({:.0f} %) | {} |\n", label,
             senders, accepted / wall, loop_cpu > 0 ? accepted / loop_cpu : 0.0, 100 * loop_cpu / wall,
             100 * zmq_cpu / wall, total_sent, received, last.accepted - before.accepted, dropped,
             total_sent ? 100.0 * static_cast<double>(dropped) / static_cast<double>(total_sent) : 0.0, ignored);
  for (void* s : socks) zmq_close(s);
  zmq_ctx_term(ctx);
}

void steady(int n, double secs) {
  Engine e;
  auto pids = start_pool(e, n);
  auto msgs = messages_for(pids);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let bring-up settle

  // Baseline: the same engine and workers, nobody connected. (Taken before the join, so
  // that the one worker it beats for is never silent past its timeout, however long.)
  EngineCpu c0 = engine_cpu();
  auto t0 = Wall::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(secs));
  double idle_wall = seconds_since(t0);
  EngineCpu c1 = engine_cpu();

  void* ctx = sender_context();
  void* s = connect_pub(ctx, e.snapshot().heartbeat.worker_endpoint);
  join(e, s, msgs[0]);
  const auto before = settle(e);
  const uint64_t stalls_before = e.snapshot().pools.at(0).counters.stalls;

  // Every worker once a second, the beats spread evenly over the second.
  const auto step = std::chrono::duration<double>(1.0 / n);
  EngineCpu c2 = engine_cpu();
  t0 = Wall::now();
  auto next = t0;
  for (uint64_t k = 0; seconds_since(t0) < secs; ++k) {
    send(s, "hb", msgs[k % msgs.size()]);
    next += std::chrono::duration_cast<Wall::duration>(step);
    std::this_thread::sleep_until(next);
  }
  double busy_wall = seconds_since(t0);
  EngineCpu c3 = engine_cpu();
  auto snap = e.snapshot();
  double max_age = 0;
  for (const auto& w : snap.pools.at(0).workers) max_age = std::max(max_age, w.heartbeat_age_s);
  const double loop_s = c3.loop - c2.loop, zmq_s = c3.zmq - c2.zmq;
  const uint64_t accepted = snap.heartbeat.accepted - before.accepted;
  fmt::print("| idle ({} workers, no heartbeats) | {:.2f} % | {:.2f} % | {:.2f} % | | |\n", n,
             100 * (c1.loop - c0.loop) / idle_wall, 100 * (c1.zmq - c0.zmq) / idle_wall,
             100 * ((c1.loop + c1.zmq) - (c0.loop + c0.zmq)) / idle_wall);
  fmt::print("| {} workers x 1 heartbeat/s | **{:.2f} %** | {:.2f} % | **{:.2f} %** | {} | {:.2f} s |\n", n,
             100 * loop_s / busy_wall, 100 * zmq_s / busy_wall, 100 * (loop_s + zmq_s) / busy_wall,
             snap.pools.at(0).counters.stalls - stalls_before, max_age);
  fmt::print("\n{} heartbeats accepted in {:.1f} s: {:.2f} us of loop CPU and {:.2f} us of ZeroMQ-thread CPU each.\n"
             "CPU is the scheduler's run time per thread (/proc/self/task/TID/schedstat).\n",
             accepted, busy_wall, accepted ? 1e6 * loop_s / static_cast<double>(accepted) : 0.0,
             accepted ? 1e6 * zmq_s / static_cast<double>(accepted) : 0.0);
  zmq_close(s);
  zmq_ctx_term(ctx);
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 1000;
  double ingest_s = argc > 2 ? std::atof(argv[2]) : 3;
  double steady_s = argc > 3 ? std::atof(argv[3]) : 10;
  int senders = argc > 4 ? std::atoi(argv[4]) : 1;
  if (n < 1 || ingest_s <= 0 || steady_s <= 0 || senders < 1) {
    std::fprintf(stderr, "usage: heartbeat_bench [N=1000] [INGEST_S=3] [STEADY_S=10] [SENDERS=1]\n");
    return 2;
  }
  fmt::print("heartbeat_bench: {} workers of /bin/sleep, {} cores\n\n", n, std::thread::hardware_concurrency());
  fmt::print("Ingest, {} s per row (goal: 200,000 messages/s on one core):\n\n", ingest_s);
  fmt::print("| transport | senders | accepted/s (wall) | accepted per loop-thread CPU s | loop CPU | ZeroMQ I/O CPU "
             "| sent | received | accepted | dropped | ignored |\n");
  fmt::print("|---|---|---|---|---|---|---|---|---|---|---|\n");
  ingest("ipc", "", n, ingest_s, senders);
  ingest("tcp", "tcp://127.0.0.1:*", n, ingest_s, senders);
  fmt::print("\nRates over the window; counts once the queues drained (dropped: by ZeroMQ at its queue\n"
             "limits, sent - received; ignored: received but not accepted).\n");
  fmt::print("\nSteady, {} s (goal: under 1 % of a core):\n\n", steady_s);
  fmt::print("| load | loop thread | ZeroMQ threads | loop + ZeroMQ | stalls | max heartbeat age |\n"
             "|---|---|---|---|---|---|\n");
  steady(n, steady_s);
  return 0;
}
