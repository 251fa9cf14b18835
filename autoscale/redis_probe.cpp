// RedisQueueProbe: the I/O half of redis_probe.h (URLs and key names are in redis_url.cpp).
//
// One blocking hiredis connection, kept between reads. A read is at most two pipelined
// round trips whatever the layout: first TYPE of the queue key together with the
// in-flight bookkeeping's first step (the rq registry's ZCARD, the SMEMBERS of Sidekiq's
// processes or Resque's workers, Celery's HLEN), then LLEN/ZCARD of the key together with
// one HGET or GET per member found. A Sidekiq fleet of 200 processes costs no more round
// trips than a single one.
//
// The connection, its deadline, backoff and error texts are RedisSession's (redis_session.h).
#include <chrono>
#include <cmath>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "autoscale/redis_probe.h"
#include "autoscale/redis_session.h"

namespace drover {

namespace {

constexpr double kMaxTimeoutS = 3600;
using Command = RedisSession::Command;
using Steady = RedisSession::Steady;

class RedisQueueProbe final : public QueueProbe {
 public:
  RedisQueueProbe(RedisQueueSpec spec, RedisAddress addr)
      : spec_(std::move(spec)), key_(redis_queue_key(spec_)), session_(std::move(addr), spec_.timeout_s) {}

  QueueReading read() override {
    QueueReading reading;
    Status st = session_.exchange([&](Steady::time_point deadline) {
      try {
        auto r = query(deadline);
        if (!r) return r.error();
        reading = std::move(*r);
        return Status::ok();
      } catch (const std::exception& e) {  // bad_alloc, json's: a failed reading, never an escape
        return Status::io_error(std::string("internal error: ") + e.what());
      }
    });
    if (!st) return QueueReading{std::nullopt, std::nullopt, st.message()};
    return reading;
  }

  std::string describe() const override { return session_.where() + " " + key_; }

 private:
  Result<QueueReading> query(Steady::time_point deadline) {
    std::vector<Command> first{{"TYPE", key_}};
    switch (spec_.layout) {
      case QueueLayout::kRq: first.push_back({"ZCARD", "rq:wip:" + spec_.name}); break;
      case QueueLayout::kSidekiq: first.push_back({"SMEMBERS", "processes"}); break;
      case QueueLayout::kCelery: first.push_back({"HLEN", "unacked"}); break;
      case QueueLayout::kResque: first.push_back({"SMEMBERS", spec_.ns + ":workers"}); break;
      case QueueLayout::kKey: break;
    }
    auto r1 = session_.round_trip(first, deadline);
    if (!r1) return r1.error();
    const std::string type((*r1)[0]->str, (*r1)[0]->len);

    QueueReading reading;
    std::vector<Command> second;
    if (type == "list") second.push_back({"LLEN", key_});
    else if (type == "zset") second.push_back({"ZCARD", key_});
    else if (type == "none") reading.depth = 0;  // an empty queue: Redis deletes empty lists
    else return Status::invalid(fmt::format("key {} is a {}, not a list or sorted set", key_, type));
    // The members whose jobs are counted in the second round trip (processes, workers).
    std::vector<std::string> members;
    if (spec_.layout == QueueLayout::kSidekiq || spec_.layout == QueueLayout::kResque) {
      const redisReply* set = (*r1)[1].get();
      for (size_t i = 0; set->type == REDIS_REPLY_ARRAY && i < set->elements; ++i)
        members.emplace_back(set->element[i]->str, set->element[i]->len);
    }
    for (const std::string& m : members)
      second.push_back(spec_.layout == QueueLayout::kSidekiq ? Command{"HGET", m, "busy"}
                                                             : Command{"GET", spec_.ns + ":worker:" + m});
    if (spec_.layout == QueueLayout::kRq || spec_.layout == QueueLayout::kCelery)
      reading.inflight = static_cast<double>(redis_reply_number((*r1)[1].get()));
    if (second.empty()) return reading;

    auto r2 = session_.round_trip(second, deadline);
    if (!r2) return r2.error();
    size_t next = 0;
    if (!reading.depth) reading.depth = static_cast<double>(redis_reply_number((*r2)[next++].get()));
    if (spec_.layout == QueueLayout::kSidekiq) {
      long busy = 0;
      for (; next < r2->size(); ++next) busy += redis_reply_number((*r2)[next].get());
      reading.inflight = static_cast<double>(busy);
    } else if (spec_.layout == QueueLayout::kResque) {
      long working = 0;
      for (; next < r2->size(); ++next) working += resque_works_on_queue((*r2)[next].get());
      reading.inflight = static_cast<double>(working);
    }
    return reading;
  }

  // A busy Resque worker's key holds {"queue":"NAME","run_at":...,"payload":{...}}; an
  // idle one has none. Parsed rather than searched, because job arguments are free JSON
  // and may well hold a "queue" of their own.
  bool resque_works_on_queue(const redisReply* r) const {
    if (r->type != REDIS_REPLY_STRING) return false;
    auto job = nlohmann::json::parse(r->str, r->str + r->len, nullptr, /*allow_exceptions=*/false);
    if (!job.is_object()) return false;
    auto q = job.find("queue");
    return q != job.end() && q->is_string() && q->get<std::string>() == spec_.name;
  }

  const RedisQueueSpec spec_;
  const std::string key_;
  RedisSession session_;
};

}  // namespace

Result<std::unique_ptr<QueueProbe>> make_redis_probe(const RedisQueueSpec& spec) {
  auto addr = parse_redis_url(spec.url);
  if (!addr) return addr.error();
  if (spec.name.empty()) return Status::invalid("redis probe: empty queue name");
  if (spec.layout == QueueLayout::kResque && spec.ns.empty())
    return Status::invalid("redis probe: empty resque namespace");
  if (!(spec.timeout_s > 0 && spec.timeout_s <= kMaxTimeoutS))
    return Status::invalid(fmt::format("redis probe: timeout {:g} s out of range (0, {:g}]", spec.timeout_s,
                                       kMaxTimeoutS));
  return std::unique_ptr<QueueProbe>(std::make_unique<RedisQueueProbe>(spec, std::move(*addr)));
}

}  // namespace drover
