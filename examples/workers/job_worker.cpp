// A worker-mode worker for drover's job queue, in C++ (cppzmq + nlohmann-json).
//
// Run it as a pool with jobs = { mode = "worker", prefetch = N }: drover gives it
// DROVER_JOBS, DROVER_POOL, DROVER_SLOT and DROVER_JOBS_PREFETCH. It keeps N jobs in
// hand, runs handle() on each in the order they came, and says done or fail with the next
// `ready` in the same message. SIGTERM (drover's stop signal) lets the job in hand finish.
// The protocol is jobs/worker_broker.h in drover's source.
//
// handle() here is a no-op that answers with the time it received the job (CLOCK_REALTIME,
// microseconds): bench/jobs_worker_bench measures drover with it. Replace it with the work.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <deque>
#include <string>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

using json = nlohmann::json;

namespace {

volatile sig_atomic_t stopping = 0;

int64_t now_us() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

// The work: a result (kept as the job's) or an exception (the job fails).
std::string handle(const json& args, int64_t received_us) {
  if (args.contains("fail")) throw std::runtime_error("asked to fail");
  return std::to_string(received_us);
}

}  // namespace

int main() {
  const char* endpoint = std::getenv("DROVER_JOBS");
  const char* pool = std::getenv("DROVER_POOL");
  const char* slot = std::getenv("DROVER_SLOT");
  if (!endpoint || !pool || !slot) return 2;
  const char* prefetch_env = std::getenv("DROVER_JOBS_PREFETCH");
  const int prefetch = prefetch_env ? std::atoi(prefetch_env) : 1;
  signal(SIGTERM, [](int) { stopping = 1; });

  zmq::context_t ctx(1);
  zmq::socket_t sock(ctx, zmq::socket_type::dealer);
  sock.set(zmq::sockopt::linger, 2000);
  sock.connect(endpoint);
  const json me = {{"pool", pool}, {"slot", std::atoi(slot)}, {"pid", getpid()}};
  json hello = me;
  hello["ready"] = prefetch;
  sock.send(zmq::buffer(hello.dump()), zmq::send_flags::none);

  std::deque<std::pair<json, int64_t>> jobs;  // the job and when it came
  while (!stopping) {
    zmq::message_t msg;
    // Block for the next message only with nothing in hand; wake now and then for SIGTERM.
    if (jobs.empty()) {
      zmq::pollitem_t item{sock.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(500));
    }
    while (sock.recv(msg, zmq::recv_flags::dontwait)) {
      json m = json::parse(msg.to_string_view(), nullptr, false);
      if (m.is_object() && m.contains("job")) jobs.emplace_back(std::move(m["job"]), now_us());
    }
    if (jobs.empty()) continue;
    auto [job, received] = std::move(jobs.front());
    jobs.pop_front();
    json reply = me;
    try {
      reply["result"] = handle(job["args"], received);
      reply["done"] = job["id"];
    } catch (const std::exception& e) {
      reply["error"] = e.what();
      reply["fail"] = job["id"];
    }
    reply["ready"] = 1;
    sock.send(zmq::buffer(reply.dump()), zmq::send_flags::none);
  }
  return 0;
}
