// WorkerRegistryProbe: the Redis reads behind worker_registry_probe.h.
//
// Two pipelined round trips: the listing (SMEMBERS), then one command per member. The
// registries are read as their systems write them (checked against their sources):
// rq 1.13 worker.py register_birth() and set_state(); resque's worker.rb (`workers` set
// of "host:pid:queues", `worker:<id>` set while working, deleted when done); Sidekiq 6's
// launcher.rb heartbeat (`processes` set; per process a hash with busy and info).
// A member whose record is missing or unreadable (it is registering or dying) is left
// out, not guessed at: the engine keeps the last word for a few reads anyway.
#include "autoscale/worker_registry_probe.h"

#include <unistd.h>

#include <charconv>
#include <climits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "autoscale/celery_event_probe.h"
#include "autoscale/redis_session.h"

namespace drover {

namespace {

using Command = RedisSession::Command;
using Steady = RedisSession::Steady;

int parse_pid(std::string_view s) {
  int pid = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), pid);
  return ec == std::errc() && end == s.data() + s.size() && pid > 0 ? pid : 0;
}

class WorkerRegistryProbe final : public QueueProbe {
 public:
  WorkerRegistryProbe(WorkerRegistrySpec spec, RedisAddress addr)
      : spec_(std::move(spec)), session_(std::move(addr), spec_.timeout_s) {
    if (spec_.hostname.empty()) spec_.hostname = local_hostname();
  }

  QueueReading read() override {
    std::vector<RegisteredWorker> workers;
    Status st = session_.exchange([&](Steady::time_point deadline) {
      try {
        return query(deadline, workers);
      } catch (const std::exception& e) {  // bad_alloc: a failed reading, never an escape
        return Status::io_error(std::string("internal error: ") + e.what());
      }
    });
    QueueReading r;
    if (!st) r.error = st.message();
    else r.workers = std::move(workers);
    return r;
  }

  std::string describe() const override {
    return fmt::format("{} {} workers on {}", session_.where(), listing_key(), spec_.hostname);
  }

 private:
  std::string listing_key() const {
    switch (spec_.layout) {
      case QueueLayout::kResque: return spec_.ns + ":workers";
      case QueueLayout::kSidekiq: return "processes";
      default: return "rq:workers";
    }
  }

  Status query(Steady::time_point deadline, std::vector<RegisteredWorker>& out) {
    auto r1 = session_.round_trip({{"SMEMBERS", listing_key()}}, deadline);
    if (!r1) return r1.error();
    std::vector<std::string> members;
    const redisReply* set = (*r1)[0].get();
    for (size_t i = 0; set->type == REDIS_REPLY_ARRAY && i < set->elements; ++i)
      members.push_back(redis_reply_text(set->element[i]));
    if (spec_.layout == QueueLayout::kResque) return resque(members, deadline, out);
    std::vector<Command> second;
    for (const std::string& m : members)
      second.push_back(spec_.layout == QueueLayout::kRq ? Command{"HMGET", m, "pid", "hostname", "state"}
                                                        : Command{"HMGET", m, "busy", "info"});
    if (second.empty()) return Status::ok();
    auto r2 = session_.round_trip(second, deadline);
    if (!r2) return r2.error();
    for (size_t i = 0; i < r2->size(); ++i) {
      const redisReply* fields = (*r2)[i].get();
      if (fields->type != REDIS_REPLY_ARRAY) continue;
      RegisteredWorker w;
      if (spec_.layout == QueueLayout::kRq) {
        if (fields->elements != 3) continue;
        w.pid = parse_pid(redis_reply_text(fields->element[0]));
        w.host = redis_reply_text(fields->element[1]);
        w.busy = redis_reply_text(fields->element[2]) == "busy";
      } else {
        if (fields->elements != 2 || !sidekiq_info(redis_reply_text(fields->element[1]), w)) continue;
        w.busy = redis_reply_number(fields->element[0]) > 0;
      }
      if (w.pid > 0 && w.host == spec_.hostname) out.push_back(std::move(w));
    }
    return Status::ok();
  }

  // resque ids are "host:pid:queue1,queue2": the id names the worker; its `worker:<id>`
  // key exists while it works (the job's JSON), so EXISTS is enough.
  Status resque(const std::vector<std::string>& ids, Steady::time_point deadline, std::vector<RegisteredWorker>& out) {
    std::vector<Command> exists;
    std::vector<RegisteredWorker> mine;
    for (const std::string& id : ids) {
      size_t a = id.find(':');
      size_t b = a == std::string::npos ? a : id.find(':', a + 1);
      if (b == std::string::npos) continue;
      RegisteredWorker w{id.substr(0, a), parse_pid(std::string_view(id).substr(a + 1, b - a - 1)), false};
      if (w.pid <= 0 || w.host != spec_.hostname) continue;
      mine.push_back(std::move(w));
      exists.push_back({"EXISTS", spec_.ns + ":worker:" + id});
    }
    if (exists.empty()) return Status::ok();
    auto r = session_.round_trip(exists, deadline);
    if (!r) return r.error();
    for (size_t i = 0; i < mine.size(); ++i) mine[i].busy = redis_reply_number((*r)[i].get()) > 0;
    out.insert(out.end(), mine.begin(), mine.end());
    return Status::ok();
  }

  // Sidekiq's info: {"hostname": "...", "pid": 4242, "identity": "...", ...}.
  static bool sidekiq_info(const std::string& text, RegisteredWorker& w) {
    auto info = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!info.is_object()) return false;
    auto host = info.find("hostname");
    auto pid = info.find("pid");
    if (host == info.end() || !host->is_string() || pid == info.end() || !pid->is_number_integer()) return false;
    w.host = host->get<std::string>();
    const auto p = pid->get<long long>();
    w.pid = p > 0 && p <= INT_MAX ? static_cast<int>(p) : 0;
    return true;
  }

  WorkerRegistrySpec spec_;
  RedisSession session_;
};

}  // namespace

std::string local_hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

Result<std::unique_ptr<QueueProbe>> make_worker_registry_probe(const WorkerRegistrySpec& spec) {
  auto addr = parse_redis_url(spec.url);
  if (!addr) return addr.error();
  if (!(spec.timeout_s > 0 && spec.timeout_s <= 60))
    return Status::invalid(fmt::format("worker registry: timeout {:g} s out of range (0, 60]", spec.timeout_s));
  switch (spec.layout) {
    case QueueLayout::kKey:
      return Status::invalid("worker registry: a plain key has no workers' records (use rq, resque, sidekiq or celery)");
    case QueueLayout::kResque:
      if (spec.ns.empty()) return Status::invalid("worker registry: empty resque namespace");
      break;
    case QueueLayout::kCelery: return make_celery_event_probe(spec, std::move(*addr));
    default: break;
  }
  return std::unique_ptr<QueueProbe>(std::make_unique<WorkerRegistryProbe>(spec, std::move(*addr)));
}

}  // namespace drover
