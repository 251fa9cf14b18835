// heartbeat_worker: a C++ worker that tells drover it is alive, and what it is doing, over
// ZeroMQ (cppzmq). It works on pretend jobs (a sleep each) and reports them as it goes.
//
// Run it under drover, from the repository root after scripts/build.sh:
//
//     drover examples/heartbeats.lua
//
// or give it a pool of its own (paths relative to the config file's directory):
//
//     pool "cpp" { cmd = "../build/examples/heartbeat_worker", n = 2, heartbeat = { timeout = 5 } }
//
// With a heartbeat timeout, drover stops and replaces a worker that falls silent for that
// long. The engine keeps what each worker last reported (status, busy, progress).
//
// Environment (drover sets the first two):
//   DROVER_HEARTBEAT     the engine's socket to connect to; unset: run without heartbeats
//   DROVER_POOL          the pool name, sent as the message's first frame (the topic)
//   HEARTBEAT_INTERVAL   seconds between heartbeats, may be fractional (default 1)
//   JOB_SECONDS          how long one pretend job takes (default 2)
//   IDLE_SECONDS         the wait between two jobs (default 1)
//
// The message (format: engine/heartbeat_message.h) is two frames: the pool name, then JSON
//   {"pid": 1234, "status": "job 7", "busy": true, "progress": 0.4}
// sent every HEARTBEAT_INTERVAL and at once whenever a job starts or ends.
//
// SIGTERM (drover's stop signal): the current job is finished, a last heartbeat says so,
// and the worker exits 0, well within drover's grace period if JOB_SECONDS is.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

namespace {

using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

volatile sig_atomic_t g_stop = 0;
void on_term(int) { g_stop = 1; }

// A positive number of seconds from the environment, or the default; exits 2 on garbage
// (a typo in a pool's env should be loud, not a silent default).
double seconds_from_env(const char* name, double fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  double s = std::strtod(v, &end);
  if (*end != '\0' || !std::isfinite(s) || s <= 0) {
    std::fprintf(stderr, "heartbeat_worker: %s must be a positive number of seconds, got '%s'\n", name, v);
    std::exit(2);
  }
  return s;
}

// Sleeps until `until`, or less: a signal (SIGTERM) cuts it short, so the loop sees it.
void sleep_until(Clock::time_point until) {
  auto left = until - Clock::now();
  if (left <= Clock::duration::zero()) return;
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
  timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  nanosleep(&ts, nullptr);  // EINTR is the point, not an error
}

// The socket side: a PUB connected to the engine's SUB. A PUB drops what it sends before
// the engine's subscription has arrived (ZeroMQ's "slow joiner"), so the first beat or two
// may be lost; a worker that keeps sending does not care. A one-shot sender must wait for
// the subscription instead: see app/heartbeat_command.cpp.
class Heartbeat {
 public:
  Heartbeat(std::string endpoint, std::string pool) : pool_(std::move(pool)) {
    if (endpoint.empty()) return;
    sock_.emplace(ctx_, zmq::socket_type::pub);
    sock_->set(zmq::sockopt::linger, 1000);  // at exit, a last beat still gets out
    sock_->connect(endpoint);
  }
  bool enabled() const { return sock_.has_value(); }

  void send(bool busy, const std::string& status, std::optional<double> progress) {
    if (!sock_) return;
    nlohmann::json j{{"pid", getpid()}, {"status", status}, {"busy", busy}};
    if (progress) j["progress"] = std::round(*progress * 100) / 100;
    const std::string body = j.dump();
    // dontwait: with nobody listening a PUB drops anyway; never block a worker on it.
    sock_->send(zmq::buffer(pool_), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    sock_->send(zmq::buffer(body), zmq::send_flags::dontwait);
  }

 private:
  std::string pool_;
  zmq::context_t ctx_{1};
  std::optional<zmq::socket_t> sock_;
};

}  // namespace

int main() {
  setvbuf(stdout, nullptr, _IOLBF, 0);  // drover reads our output from a pipe, line by line
  struct sigaction sa {};
  sa.sa_handler = on_term;  // no SA_RESTART: SIGTERM wakes the sleep
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);

  const double interval_s = seconds_from_env("HEARTBEAT_INTERVAL", 1.0);
  const double job_s = seconds_from_env("JOB_SECONDS", 2.0);
  const double idle_s = seconds_from_env("IDLE_SECONDS", 1.0);
  const char* endpoint = std::getenv("DROVER_HEARTBEAT");
  const char* pool = std::getenv("DROVER_POOL");
  const char* slot_env = std::getenv("DROVER_SLOT");
  const std::string slot = slot_env ? slot_env : "?";
  const std::string me = std::string("heartbeat_worker[") + slot + "]";

  std::optional<Heartbeat> hb;
  try {
    hb.emplace(endpoint ? endpoint : "", pool ? pool : "");
  } catch (const zmq::error_t& e) {
    std::fprintf(stderr, "%s: cannot connect to DROVER_HEARTBEAT '%s': %s\n", me.c_str(), endpoint, e.what());
    return 1;
  }
  if (!hb->enabled()) std::printf("%s: DROVER_HEARTBEAT is not set (not under drover?): no heartbeats\n", me.c_str());

  auto span = [](double s) { return std::chrono::duration_cast<Clock::duration>(Seconds(s)); };
  int job = 0;
  bool busy = false;
  auto now = Clock::now();
  auto job_started = now, phase_end = now + span(idle_s), next_beat = now;
  auto beat = [&](Clock::time_point t) {
    if (busy)
      hb->send(true, "job " + std::to_string(job), std::min(1.0, Seconds(t - job_started).count() / job_s));
    else
      hb->send(false, "idle", std::nullopt);
    next_beat = t + span(interval_s);
  };

  for (;;) {
    now = Clock::now();
    if (now >= phase_end) {
      if (busy) {
        busy = false;
        std::printf("%s: job %d done\n", me.c_str(), job);
        phase_end = now + span(idle_s);
      } else if (!g_stop) {
        busy = true;
        job_started = now;
        phase_end = now + span(job_s);
        std::printf("%s: job %d started\n", me.c_str(), ++job);
      }
      beat(now);  // a change of state is news: say it now, not at the next tick
    }
    if (g_stop && !busy) break;  // a stop between jobs leaves at once; in a job, after it
    if (now >= next_beat) beat(now);
    sleep_until(std::min(next_beat, phase_end));
  }
  hb->send(false, "stopping", std::nullopt);
  std::printf("%s: TERM, finished %d jobs, exiting\n", me.c_str(), job);
  return 0;  // ~Heartbeat lingers up to 1 s for the last message
}
