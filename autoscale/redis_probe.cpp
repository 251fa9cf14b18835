// RedisQueueProbe: the I/O half of redis_probe.h (URLs and key names are in redis_url.cpp).
//
// One blocking hiredis connection, kept between reads. A read is at most two pipelined
// round trips whatever the layout: first TYPE of the queue key together with the
// in-flight bookkeeping's first step (the rq registry's ZCARD, the SMEMBERS of Sidekiq's
// processes or Resque's workers, Celery's HLEN), then LLEN/ZCARD of the key together with
// one HGET or GET per member found. A Sidekiq fleet of 200 processes costs no more round
// trips than a single one.
//
// The timeout bounds the whole read, not each command: each round trip gets what is left
// of it, so the runner thread is held for at most the timeout, as queue_probe.h promises.
//
// Any failure drops the connection and starts the backoff (see the header). The failure
// text is the address (never the password) and what went wrong, and it is the same text
// at every attempt against the same fault, because ProbeRunner reports each change of
// text: a dead server must give one warning, not one per backoff step.
#include <signal.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "autoscale/redis_probe.h"

namespace drover {

namespace {

using Steady = std::chrono::steady_clock;
constexpr double kFirstRetryS = 0.5;
constexpr double kMaxRetryS = 30;
constexpr double kMaxTimeoutS = 3600;

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;
struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
using Context = std::unique_ptr<redisContext, ContextFree>;
using Command = std::vector<std::string>;

// A zero timeval means "block forever" to SO_RCVTIMEO, so nothing left rounds up to 1 ms.
timeval to_timeval(Steady::duration d) {
  auto us = std::max<int64_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count(), 1000);
  return timeval{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
}

// hiredis writes with write(2), not send(MSG_NOSIGNAL), so a write to a connection the
// server has reset raises SIGPIPE. drover ignores SIGPIPE, but a library cannot count on
// its host (the tests, a future embedder): block it on this thread around the I/O and
// discard one raised meanwhile, unless one was already pending before we started.
class SigpipeShield {
 public:
  SigpipeShield() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeShield() {
    timespec zero{};
    if (!was_pending_)
      while (sigtimedwait(&pipe_, nullptr, &zero) > 0) {
      }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeShield(const SigpipeShield&) = delete;
  SigpipeShield& operator=(const SigpipeShield&) = delete;

 private:
  sigset_t pipe_, old_;
  bool was_pending_ = false;
};

std::string address_text(const RedisAddress& a) {
  if (!a.unix_path.empty()) return fmt::format("unix://{}?db={}", a.unix_path, a.db);
  std::string host = a.host.find(':') != std::string::npos ? "[" + a.host + "]" : a.host;
  return fmt::format("redis://{}{}:{}/{}", a.user.empty() ? "" : a.user + "@", host, a.port, a.db);
}

// "ZCARD rq:wip:default", for error messages; AUTH's arguments are secret.
std::string command_text(const Command& cmd) {
  if (cmd[0] == "AUTH" || cmd.size() < 2) return cmd[0];
  return cmd[0] + " " + cmd[1];
}

// An integer reply, or a bulk string holding one (Sidekiq's `busy` field); anything else is 0.
long reply_number(const redisReply* r) {
  if (r->type == REDIS_REPLY_INTEGER) return static_cast<long>(r->integer);
  long v = 0;
  if (r->type == REDIS_REPLY_STRING) std::from_chars(r->str, r->str + r->len, v);
  return v;
}

class RedisQueueProbe final : public QueueProbe {
 public:
  RedisQueueProbe(RedisQueueSpec spec, RedisAddress addr)
      : spec_(std::move(spec)), addr_(std::move(addr)), key_(redis_queue_key(spec_)), where_(address_text(addr_)) {
    timeout_ = std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(spec_.timeout_s));
  }

  QueueReading read() override {
    try {
      return read_or_throw();
    } catch (const std::exception& e) {  // bad_alloc, json's: a reading, never an escape
      return fail(std::string("internal error: ") + e.what());
    }
  }

  std::string describe() const override { return where_ + " " + key_; }

 private:
  QueueReading read_or_throw() {
    const auto start = Steady::now();
    if (!ctx_ && start < retry_at_) return QueueReading{std::nullopt, std::nullopt, last_error_};
    SigpipeShield shield;
    const auto deadline = start + timeout_;
    const bool reused = ctx_ != nullptr;
    Result<QueueReading> r = query(deadline);
    // A connection kept since the last read may have been closed meanwhile (the server's
    // idle `timeout`, a restart). That says nothing about the server now: ask once afresh.
    if (!r && reused && r.error().code() == Status::Code::kUnavailable && Steady::now() < deadline) {
      ctx_.reset();
      r = query(deadline);
    }
    if (!r) return fail(r.error().message());
    retry_s_ = kFirstRetryS;
    last_error_.clear();
    return std::move(r).value();
  }

  QueueReading fail(const std::string& what) {
    ctx_.reset();
    last_error_ = where_ + ": " + what;
    retry_at_ = Steady::now() + std::chrono::duration_cast<Steady::duration>(
                                         std::chrono::duration<double>(retry_s_));
    retry_s_ = std::min(retry_s_ * 2, kMaxRetryS);
    return QueueReading{std::nullopt, std::nullopt, last_error_};
  }

  std::string no_answer() const { return fmt::format("no answer within {:g} s", spec_.timeout_s); }

  // Why the connection failed, classified: kUnavailable when the server went away (worth
  // one immediate retry on a fresh connection), kIoError otherwise.
  Status transport_error(int err) const {
    if (ctx_->err == REDIS_ERR_EOF) return Status::unavailable("connection closed by the server");
    if (ctx_->err == REDIS_ERR_IO && (err == EAGAIN || err == EWOULDBLOCK)) return Status::io_error(no_answer());
    if (ctx_->err == REDIS_ERR_IO && (err == ECONNRESET || err == EPIPE)) return Status::unavailable(ctx_->errstr);
    return Status::io_error(ctx_->errstr);
  }

  // Sends the commands in one write and reads their replies in order. A Redis error reply
  // (WRONGTYPE, NOAUTH...) is a failure too, naming its command.
  Result<std::vector<Reply>> round_trip(const std::vector<Command>& cmds, Steady::time_point deadline) {
    auto left = deadline - Steady::now();
    if (left <= Steady::duration::zero()) return Status::io_error(no_answer());
    if (redisSetTimeout(ctx_.get(), to_timeval(left)) != REDIS_OK) return transport_error(errno);
    for (const Command& cmd : cmds) {
      std::vector<const char*> argv;
      std::vector<size_t> lens;
      for (const std::string& a : cmd) argv.push_back(a.data()), lens.push_back(a.size());
      if (redisAppendCommandArgv(ctx_.get(), static_cast<int>(argv.size()), argv.data(), lens.data()) != REDIS_OK)
        return transport_error(errno);
    }
    std::vector<Reply> replies;
    for (const Command& cmd : cmds) {
      void* raw = nullptr;
      if (redisGetReply(ctx_.get(), &raw) != REDIS_OK) return transport_error(errno);
      Reply reply(static_cast<redisReply*>(raw));
      if (reply->type == REDIS_REPLY_ERROR)
        return Status::io_error(fmt::format("{}: {}", command_text(cmd), std::string(reply->str, reply->len)));
      replies.push_back(std::move(reply));
    }
    return replies;
  }

  // Connects, authenticates and selects the db, all within the read's deadline. Only the
  // name lookup of a host name (getaddrinfo, inside hiredis) escapes the deadline.
  Status connect(Steady::time_point deadline) {
    const timeval tv = to_timeval(deadline - Steady::now());
    redisContext* c = addr_.unix_path.empty() ? redisConnectWithTimeout(addr_.host.c_str(), addr_.port, tv)
                                              : redisConnectUnixWithTimeout(addr_.unix_path.c_str(), tv);
    if (!c) return Status::io_error("cannot allocate a hiredis context");
    ctx_.reset(c);
    if (c->err) return Status::io_error(c->errstr);
    std::vector<Command> setup;
    if (!addr_.password.empty())
      setup.push_back(addr_.user.empty() ? Command{"AUTH", addr_.password} : Command{"AUTH", addr_.user, addr_.password});
    if (addr_.db != 0) setup.push_back({"SELECT", std::to_string(addr_.db)});
    if (setup.empty()) return Status::ok();
    auto replies = round_trip(setup, deadline);
    return replies ? Status::ok() : replies.error();
  }

  Result<QueueReading> query(Steady::time_point deadline) {
    if (!ctx_) {
      if (Status st = connect(deadline); !st) return st;
    }
    std::vector<Command> first{{"TYPE", key_}};
    switch (spec_.layout) {
      case QueueLayout::kRq: first.push_back({"ZCARD", "rq:wip:" + spec_.name}); break;
      case QueueLayout::kSidekiq: first.push_back({"SMEMBERS", "processes"}); break;
      case QueueLayout::kCelery: first.push_back({"HLEN", "unacked"}); break;
      case QueueLayout::kResque: first.push_back({"SMEMBERS", spec_.ns + ":workers"}); break;
      case QueueLayout::kKey: break;
    }
    auto r1 = round_trip(first, deadline);
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
      reading.inflight = static_cast<double>(reply_number((*r1)[1].get()));
    if (second.empty()) return reading;

    auto r2 = round_trip(second, deadline);
    if (!r2) return r2.error();
    size_t next = 0;
    if (!reading.depth) reading.depth = static_cast<double>(reply_number((*r2)[next++].get()));
    if (spec_.layout == QueueLayout::kSidekiq) {
      long busy = 0;
      for (; next < r2->size(); ++next) busy += reply_number((*r2)[next].get());
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
  const RedisAddress addr_;
  const std::string key_;
  const std::string where_;  // the address as shown: no password
  Steady::duration timeout_{};
  Context ctx_;
  std::string last_error_;
  Steady::time_point retry_at_{};  // no connection attempt before this
  double retry_s_ = kFirstRetryS;       // the backoff after the next failure
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
