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
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "app/options.h"
#include "engine/heartbeat_message.h"

namespace drover {
namespace {

// From the option, else the environment; empty when neither says.
std::string option_or_env(const std::optional<std::string>& option, const char* var) {
  if (option) return *option;
  const char* env = std::getenv(var);
  return env ? env : "";
}

std::string heartbeat_json(const HeartbeatOptions& a, pid_t pid) {
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
  auto parsed = parse_heartbeat_options(args_of(argc, argv, 1));
  std::fputs(parsed.out.c_str(), stdout);
  std::fputs(parsed.err.c_str(), stderr);
  if (!parsed.options) return parsed.exit_code;
  const HeartbeatOptions& a = *parsed.options;
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
  if (pool.size() > kMaxHeartbeatBytes || json.size() > kMaxHeartbeatBytes) {
    fmt::print(stderr, "drover heartbeat: the message is over {} bytes (a long --status?)\n"
               "(drover heartbeat --help for usage)\n", kMaxHeartbeatBytes);
    return 2;
  }
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
