// `drover heartbeat`: a one-shot sender of the heartbeat protocol (engine/heartbeat_message.h).
//
// Two problems shape this file, both from the sender living for a few milliseconds:
//
// The slow joiner. A PUB socket drops every message until the subscriber's subscription
// has travelled back to it, and a fresh connection has not had that time: a plain PUB that
// connects, sends and exits loses the message nearly always. XPUB is the PUB that shows
// its subscriptions to the application, and a SUB cannot tell it from PUB: connect, wait
// for the engine's subscription message (first byte 0x01) with a deadline, then send. No
// subscription within --timeout means no engine is listening there, which the script
// should hear about (exit 1) rather than be told "sent".
//
// The pid. The engine accepts a message for a worker of the pool, or for a descendant of
// one, which it finds by walking /proc up from the pid when it reads the message. This
// process exits as soon as the message is out, so its own pid would race that walk (and
// be a new pid to trace and remember on every call). Its parent is the script that runs
// it: the worker drover spawned (or a descendant of it, for a `sh -c` line or a subshell),
// alive for as long as the worker is and known to the engine from the first call. So the
// default pid is getppid(); --pid overrides it for a wrapper that knows better.
#include "app/heartbeat_command.h"

#include <unistd.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "engine/heartbeat_message.h"

namespace drover {
namespace {

constexpr const char* kHeartbeatUsage = R"(usage: drover heartbeat [options]

Sends one keep-alive to the drover engine that runs this worker, then exits. For worker
scripts: call it every few seconds, more often than the pool's heartbeat timeout.

  --status TEXT         what the worker is doing ("job 42"); the engine keeps the last one
  --busy | --idle       working on a job, or waiting for one (busy-aware scale-down)
  --progress X          progress of the current job, a number in 0..1
  --pid PID             the worker's pid (default: this command's parent, the script)
  --endpoint EP         the engine's socket (default: $DROVER_HEARTBEAT)
  --pool NAME           the pool (default: $DROVER_POOL)
  --timeout SECONDS     how long to wait for the engine (default: 2)
  -h, --help
Exit status: 0 sent; 1 not sent (no endpoint or pool, or no engine listening); 2 bad usage.
)";

constexpr double kDefaultTimeoutS = 2.0;
constexpr double kMaxTimeoutS = 3600.0;

struct HeartbeatArgs {
  std::optional<std::string> endpoint, pool, status;
  std::optional<bool> busy;
  std::optional<double> progress;
  pid_t pid = 0;  // 0: getppid()
  double timeout_s = kDefaultTimeoutS;
};

// A whole-string number, finite; nullopt for "", "1x", "nan".
std::optional<double> parse_number(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (*end != '\0' || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<pid_t> parse_pid(const std::string& s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 10) return std::nullopt;
  long long v = std::stoll(s);
  if (v <= 0 || v > INT_MAX) return std::nullopt;
  return static_cast<pid_t>(v);
}

int usage_error(const std::string& what) {
  fmt::print(stderr, "drover heartbeat: {}\n(drover heartbeat --help for usage)\n", what);
  return 2;
}

// Fills `a`; returns an exit code when the command is done already (help: 0, bad usage: 2).
std::optional<int> parse_heartbeat_args(int argc, char** argv, HeartbeatArgs& a) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    std::string value;
    auto take_value = [&] {
      if (i + 1 >= argc) return false;
      value = argv[++i];
      return true;
    };
    auto needs_value = [&]() -> std::optional<int> { return usage_error(arg + " needs a value"); };
    if (arg == "-h" || arg == "--help") {
      fmt::print("{}", kHeartbeatUsage);
      return 0;
    } else if (arg == "--busy" || arg == "--idle") {
      const bool busy = arg == "--busy";
      if (a.busy && *a.busy != busy) return usage_error("--busy and --idle contradict each other");
      a.busy = busy;
    } else if (arg == "--status") {
      if (!take_value()) return needs_value();
      a.status = value;
    } else if (arg == "--progress") {
      if (!take_value()) return needs_value();
      auto x = parse_number(value);
      if (!x || *x < 0 || *x > 1) return usage_error(fmt::format("--progress wants a number in 0..1, got '{}'", value));
      a.progress = *x;
    } else if (arg == "--pid") {
      if (!take_value()) return needs_value();
      auto pid = parse_pid(value);
      if (!pid) return usage_error(fmt::format("--pid wants a process id, got '{}'", value));
      a.pid = *pid;
    } else if (arg == "--endpoint") {
      if (!take_value()) return needs_value();
      if (value.empty()) return usage_error("--endpoint is empty");
      a.endpoint = value;
    } else if (arg == "--pool") {
      if (!take_value()) return needs_value();
      if (value.empty()) return usage_error("--pool is empty");
      a.pool = value;
    } else if (arg == "--timeout") {
      if (!take_value()) return needs_value();
      auto t = parse_number(value);
      if (!t || *t <= 0 || *t > kMaxTimeoutS)
        return usage_error(fmt::format("--timeout wants seconds in (0, {}], got '{}'", kMaxTimeoutS, value));
      a.timeout_s = *t;
    } else if (!arg.empty() && arg[0] == '-') {
      return usage_error(fmt::format("unknown option '{}'", arg));
    } else {
      return usage_error(fmt::format("unexpected argument '{}'", arg));
    }
  }
  return std::nullopt;
}

// From the option, else the environment; empty when neither says.
std::string option_or_env(const std::optional<std::string>& option, const char* var) {
  if (option) return *option;
  const char* env = std::getenv(var);
  return env ? env : "";
}

std::string heartbeat_json(const HeartbeatArgs& a, pid_t pid) {
  nlohmann::json j;
  j["pid"] = pid;
  if (a.status) j["status"] = *a.status;
  if (a.busy) j["busy"] = *a.busy;
  if (a.progress) j["progress"] = *a.progress;
  // A status from a script may be any bytes: replace invalid UTF-8 rather than throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Connects, waits for the engine's subscription, sends [pool, json]. An error message, or
// nullopt when the message was handed over.
std::optional<std::string> send_heartbeat(const std::string& endpoint, const std::string& pool,
                                          const std::string& json, double timeout_s) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  const int timeout_ms = static_cast<int>(std::ceil(timeout_s * 1000));
  zmq::context_t ctx(1);
  zmq::socket_t sock(ctx, zmq::socket_type::xpub);
  // Closing waits this long for the message to leave; the context's destructor blocks on it.
  sock.set(zmq::sockopt::linger, timeout_ms);
  try {
    sock.connect(endpoint);
  } catch (const zmq::error_t& e) {
    return fmt::format("cannot connect to '{}': {}", endpoint, e.what());
  }
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0)
      return fmt::format("no drover engine subscribed on {} within {} s (is drover running, and is this its endpoint?)",
                         endpoint, timeout_s);
    zmq::pollitem_t item{sock.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, left);
    if (!(item.revents & ZMQ_POLLIN)) continue;
    zmq::message_t msg;
    if (!sock.recv(msg, zmq::recv_flags::dontwait)) continue;
    // 0x01 + topic is a subscription (0x00 an unsubscription); the engine subscribes to "".
    if (msg.size() >= 1 && static_cast<const unsigned char*>(msg.data())[0] == 1) break;
  }
  sock.send(zmq::buffer(pool), zmq::send_flags::sndmore);
  sock.send(zmq::buffer(json), zmq::send_flags::none);
  return std::nullopt;  // the destructors flush it, for at most `linger`
}

}  // namespace

int run_heartbeat_command(int argc, char** argv) {
  HeartbeatArgs a;
  if (auto done = parse_heartbeat_args(argc, argv, a)) return *done;
  const std::string endpoint = option_or_env(a.endpoint, "DROVER_HEARTBEAT");
  if (endpoint.empty()) {
    fmt::print(stderr, "drover heartbeat: DROVER_HEARTBEAT is not set: run this from a drover worker, or give --endpoint\n");
    return 1;
  }
  const std::string pool = option_or_env(a.pool, "DROVER_POOL");
  if (pool.empty()) {
    fmt::print(stderr, "drover heartbeat: DROVER_POOL is not set: run this from a drover worker, or give --pool\n");
    return 1;
  }
  const std::string json = heartbeat_json(a, a.pid ? a.pid : getppid());
  if (pool.size() > kMaxHeartbeatBytes || json.size() > kMaxHeartbeatBytes)
    return usage_error(fmt::format("the message is over {} bytes (a long --status?)", kMaxHeartbeatBytes));
  try {
    if (auto err = send_heartbeat(endpoint, pool, json, a.timeout_s)) {
      fmt::print(stderr, "drover heartbeat: {}\n", *err);
      return 1;
    }
  } catch (const zmq::error_t& e) {
    fmt::print(stderr, "drover heartbeat: {}: {}\n", endpoint, e.what());
    return 1;
  }
  return 0;
}

}  // namespace drover
