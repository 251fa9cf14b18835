// CeleryEventProbe: a pub/sub reader over RedisSession (see the header).
//
// Reading without blocking: hiredis's blocking API would wait for the next message, and
// a timeout there breaks the context. So after the PSUBSCRIBE round trip, a read takes
// what the socket holds (poll with a zero timeout, redisBufferRead) and parses replies
// from hiredis's reader until none is left. A connection lost is found here as EOF and
// handled as any failure: dropped, backoff, subscribed again on the next connection.
#include "autoscale/celery_event_probe.h"

#include <poll.h>

#include <chrono>
#include <climits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "autoscale/redis_session.h"

namespace drover {

namespace {

using Steady = RedisSession::Steady;
using nlohmann::json;

constexpr size_t kMaxMessagesPerRead = 100000;  // a flood is taken over several reads
constexpr double kDefaultFreqS = 2;             // Celery's worker heartbeat interval
constexpr int kMissedBeats = 3;

double steady_s() { return std::chrono::duration<double>(Steady::now().time_since_epoch()).count(); }

std::string base64_decode(const std::string& in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  int bits = 0, acc = 0;
  for (char c : in) {
    int v = value(c);
    if (v < 0) continue;  // '=' padding, line breaks
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

// One event dict: worker-heartbeat/-online set `active`, worker-offline forgets, and
// task-started marks busy until the next heartbeat says how many are active.
bool apply_one(const json& ev, double now_s, std::map<std::string, CeleryWorkerSeen>& seen) {
  if (!ev.is_object()) return false;
  auto type = ev.find("type");
  auto node = ev.find("hostname");
  auto pid = ev.find("pid");
  if (type == ev.end() || !type->is_string() || node == ev.end() || !node->is_string()) return false;
  const std::string t = type->get<std::string>();
  const std::string name = node->get<std::string>();
  if (t == "worker-offline") return seen.erase(name), true;
  const bool beat = t == "worker-heartbeat" || t == "worker-online";
  if (!beat && t != "task-started") return t.rfind("task-", 0) == 0 || t.rfind("worker-", 0) == 0;
  if (pid == ev.end() || !pid->is_number_integer()) return false;
  const long long p = pid->get<long long>();
  if (p <= 0 || p > INT_MAX) return false;
  CeleryWorkerSeen& w = seen[name];
  const size_t at = name.find('@');
  w.host = at == std::string::npos ? name : name.substr(at + 1);  // the node name is name@host
  w.pid = static_cast<int>(p);
  if (beat) {
    auto active = ev.find("active");
    w.active = active != ev.end() && active->is_number_integer() ? active->get<long>() : 0;
    auto freq = ev.find("freq");
    const double f = freq != ev.end() && freq->is_number() && freq->get<double>() > 0 ? freq->get<double>() : kDefaultFreqS;
    w.expires_at = now_s + kMissedBeats * f;
  } else {
    w.active = std::max(w.active, 1L);
    if (w.expires_at < now_s) w.expires_at = now_s + kMissedBeats * kDefaultFreqS;
  }
  return true;
}

class CeleryEventProbe final : public QueueProbe {
 public:
  CeleryEventProbe(WorkerRegistrySpec spec, RedisAddress addr)
      : spec_(std::move(spec)),
        pattern_(fmt::format("/{}.celeryev/*", addr.db)),
        session_(std::move(addr), spec_.timeout_s) {
    if (spec_.hostname.empty()) spec_.hostname = local_hostname();
  }

  QueueReading read() override {
    Status st = session_.exchange([&](Steady::time_point deadline) {
      try {
        return take(deadline);
      } catch (const std::exception& e) {
        return Status::io_error(std::string("internal error: ") + e.what());
      }
    });
    QueueReading r;
    if (!st) {
      r.error = st.message();
      return r;
    }
    const double now = steady_s();
    std::erase_if(seen_, [now](const auto& kv) { return kv.second.expires_at < now; });
    std::vector<RegisteredWorker> out;
    for (const auto& [_, w] : seen_)
      if (w.host == spec_.hostname) out.push_back({w.host, w.pid, w.active > 0});
    r.workers = std::move(out);
    return r;
  }

  std::string describe() const override {
    return fmt::format("{} PSUBSCRIBE {} (Celery worker events) on {}", session_.where(), pattern_, spec_.hostname);
  }

 private:
  Status take(Steady::time_point deadline) {
    if (subscribed_on_ != session_.connection_count()) {
      auto r = session_.round_trip({{"PSUBSCRIBE", pattern_}}, deadline);
      if (!r) return r.error();
      subscribed_on_ = session_.connection_count();
    }
    redisContext* c = session_.context();
    const double now = steady_s();
    for (size_t taken = 0; taken < kMaxMessagesPerRead;) {
      void* raw = nullptr;
      if (redisGetReplyFromReader(c, &raw) != REDIS_OK) return Status::io_error(c->errstr);
      if (raw) {
        RedisSession::Reply reply(static_cast<redisReply*>(raw));
        ++taken;
        // ["pmessage", pattern, channel, payload]
        if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 4)
          apply_celery_event(redis_reply_text(reply->element[3]), now, seen_);
        continue;
      }
      pollfd pfd{c->fd, POLLIN, 0};
      if (poll(&pfd, 1, 0) <= 0) break;  // nothing more has arrived
      if (redisBufferRead(c) != REDIS_OK)
        return c->err == REDIS_ERR_EOF ? Status::unavailable("connection closed by the server")
                                       : Status::io_error(c->errstr);
    }
    return Status::ok();
  }

  WorkerRegistrySpec spec_;
  const std::string pattern_;
  RedisSession session_;
  uint64_t subscribed_on_ = 0;  // the connection the PSUBSCRIBE was sent on
  std::map<std::string, CeleryWorkerSeen> seen_;  // by node name
};

}  // namespace

bool apply_celery_event(const std::string& payload, double now_s, std::map<std::string, CeleryWorkerSeen>& seen) {
  auto envelope = json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!envelope.is_object()) return false;
  auto body = envelope.find("body");
  if (body == envelope.end() || !body->is_string()) return false;
  std::string text = body->get<std::string>();
  auto props = envelope.find("properties");
  if (props != envelope.end() && props->is_object() && props->value("body_encoding", "") == "base64")
    text = base64_decode(text);
  auto events = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!events.is_array()) return apply_one(events, now_s, seen);  // task.multi batches them in a list
  bool any = false;
  for (const json& ev : events) any = apply_one(ev, now_s, seen) || any;
  return any;
}

Result<std::unique_ptr<QueueProbe>> make_celery_event_probe(const WorkerRegistrySpec& spec, RedisAddress addr) {
  return std::unique_ptr<QueueProbe>(std::make_unique<CeleryEventProbe>(spec, std::move(addr)));
}

}  // namespace drover
