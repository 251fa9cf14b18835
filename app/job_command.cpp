// `drover job`: worker mode's client for shell scripts (jobs/worker_broker.h has the
// protocol). A worker-mode pool's script loops:
//
//   while job=$(drover job next); do
//     read -r id args <<<"$job"
//     if work "$args"; then drover job done "$id"; else drover job fail "$id" "why"; fi
//   done
//
// Each call is its own connection, acting for the worker's slot (DROVER_POOL, DROVER_SLOT):
// the job a `next` received is held by the slot, not by that short-lived process, and goes
// back when the worker itself exits. The pid sent is the parent's (the script: the worker
// or a descendant of it), as `drover heartbeat` does, for busy-aware scale-down.
#include "app/job_command.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

namespace drover {
namespace {

using json = nlohmann::json;

const char* kUsage = R"(usage: drover job next [--timeout S]
       drover job done ID [RESULT]
       drover job fail ID [ERROR]

For the workers of a pool with jobs = { mode = "worker" } (DROVER_JOBS, DROVER_POOL and
DROVER_SLOT come from drover). `next` waits for a job and prints "ID ARGS" (ARGS as one
line of JSON); `done`/`fail` record its end and wait until drover has it. Exit status:
0 done; 1 refused or no drover; 2 bad usage; 3 `next` timed out.
)";

struct Target {
  std::string endpoint, pool;
  int slot = -1;
};

std::optional<Target> target_from_env(std::string& why) {
  Target t;
  const char* ep = std::getenv("DROVER_JOBS");
  const char* pool = std::getenv("DROVER_POOL");
  const char* slot = std::getenv("DROVER_SLOT");
  if (!ep || !*ep) why = "DROVER_JOBS is not set: run this from a worker of a pool with jobs = { mode = \"worker\" }";
  else if (!pool || !*pool) why = "DROVER_POOL is not set: run this from a drover worker";
  else if (!slot || !*slot) why = "DROVER_SLOT is not set: run this from a drover worker";
  if (!why.empty()) return std::nullopt;
  t.endpoint = ep;
  t.pool = pool;
  t.slot = std::atoi(slot);
  return t;
}

json hello(const Target& t) { return json{{"pool", t.pool}, {"slot", t.slot}, {"pid", getppid()}}; }

// Waits for one message; nullopt past the deadline (timeout_s <= 0: none).
std::optional<json> receive(zmq::socket_t& sock, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  for (;;) {
    long wait = -1;
    if (timeout_s > 0) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      wait = static_cast<long>(left.count());
    }
    zmq::pollitem_t item{sock.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(wait));
    zmq::message_t msg;
    if (!sock.recv(msg, zmq::recv_flags::dontwait)) continue;
    json m = json::parse(msg.to_string_view(), nullptr, false);
    if (m.is_object()) return m;
  }
}

int next(const Target& t, double timeout_s) {
  zmq::context_t ctx(1);
  zmq::socket_t sock(ctx, zmq::socket_type::dealer);
  sock.set(zmq::sockopt::linger, 0);
  sock.connect(t.endpoint);
  json m = hello(t);
  m["ready"] = 1;
  sock.send(zmq::buffer(m.dump()), zmq::send_flags::none);
  for (;;) {
    auto reply = receive(sock, timeout_s);
    if (!reply) {
      fmt::print(stderr, "drover job next: no job within {} s\n", timeout_s);
      return 3;
    }
    if (reply->contains("error")) {
      fmt::print(stderr, "drover job next: {}\n", (*reply)["error"].get<std::string>());
      return 1;
    }
    if (!reply->contains("job")) continue;  // a cancel of a job it no longer holds
    const json& j = (*reply)["job"];
    fmt::print("{} {}\n", j["id"].get<int64_t>(), j["args"].dump());
    return 0;
  }
}

int end(const Target& t, const std::string& verb, int64_t id, const std::string& text, double timeout_s) {
  zmq::context_t ctx(1);
  zmq::socket_t sock(ctx, zmq::socket_type::dealer);
  sock.set(zmq::sockopt::linger, 0);
  sock.connect(t.endpoint);
  json m = hello(t);
  m[verb] = id;
  m[verb == "done" ? "result" : "error"] = text;
  m["ack"] = true;
  sock.send(zmq::buffer(m.dump(-1, ' ', false, json::error_handler_t::replace)), zmq::send_flags::none);
  auto reply = receive(sock, timeout_s);
  if (!reply) {
    fmt::print(stderr, "drover job {}: no answer from drover on {} within {} s\n", verb, t.endpoint, timeout_s);
    return 1;
  }
  if (reply->contains("error")) {
    fmt::print(stderr, "drover job {}: {}\n", verb, (*reply)["error"].get<std::string>());
    return 1;
  }
  return 0;
}

}  // namespace

int run_job_command(int argc, char** argv) {
  CLI::App app("drover job: worker mode's client for scripts", "drover job");
  app.set_help_flag();
  app.require_subcommand(1, 1);
  double timeout_s = 0, ack_timeout_s = 10;
  int64_t id = 0;
  std::string text;
  auto* next_cmd = app.add_subcommand("next", "wait for a job; print \"ID ARGS\"");
  next_cmd->add_option("--timeout", timeout_s, "give up after S seconds (exit 3); default: wait")->check(CLI::NonNegativeNumber);
  auto* done_cmd = app.add_subcommand("done", "the job is done");
  auto* fail_cmd = app.add_subcommand("fail", "the job failed (retried after a backoff, or dead)");
  for (auto* c : {done_cmd, fail_cmd}) {
    c->add_option("ID", id, "the job's id, from `drover job next`")->required()->check(CLI::PositiveNumber);
    c->add_option(c == done_cmd ? "RESULT" : "ERROR", text, "kept with the job (its last 4 KB)");
    c->add_option("--timeout", ack_timeout_s, "wait this long for drover to record it")->check(CLI::PositiveNumber);
  }
  const bool help = argc >= 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h");
  if (argc < 2 || help) {
    std::fputs(kUsage, help ? stdout : stderr);
    return help ? 0 : 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "drover job: {}\n{}", e.what(), kUsage);
    return 2;
  }
  std::string why;
  auto target = target_from_env(why);
  if (!target) {
    fmt::print(stderr, "drover job: {}\n", why);
    return 1;
  }
  try {
    if (next_cmd->parsed()) return next(*target, timeout_s);
    return end(*target, done_cmd->parsed() ? "done" : "fail", id, text, ack_timeout_s);
  } catch (const zmq::error_t& e) {
    fmt::print(stderr, "drover job: {}: {}\n", target->endpoint, e.what());
    return 1;
  }
}

}  // namespace drover
