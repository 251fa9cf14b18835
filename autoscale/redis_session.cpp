// RedisSession: the connection half of drover's Redis readers (see the header).
//
// The deadline covers the whole exchange, not each command: each round trip gets what is
// left of it, so the runner thread is held for at most the timeout, as queue_probe.h
// promises. Only the name lookup of a host name (getaddrinfo, inside hiredis) escapes it.
#include "autoscale/redis_session.h"

#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include <fmt/format.h>

namespace drover {

namespace {

constexpr double kFirstRetryS = 0.5;
constexpr double kMaxRetryS = 30;

// A zero timeval means "block forever" to SO_RCVTIMEO, so nothing left rounds up to 1 ms.
timeval to_timeval(RedisSession::Steady::duration d) {
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
std::string command_text(const RedisSession::Command& cmd) {
  if (cmd[0] == "AUTH" || cmd.size() < 2) return cmd[0];
  return cmd[0] + " " + cmd[1];
}

}  // namespace

long redis_reply_number(const redisReply* r) {
  if (r->type == REDIS_REPLY_INTEGER) return static_cast<long>(r->integer);
  long v = 0;
  if (r->type == REDIS_REPLY_STRING) std::from_chars(r->str, r->str + r->len, v);
  return v;
}

std::string redis_reply_text(const redisReply* r) {
  if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) return {};
  return std::string(r->str, r->len);
}

RedisSession::RedisSession(RedisAddress addr, double timeout_s)
    : addr_(std::move(addr)), timeout_s_(timeout_s), where_(address_text(addr_)), retry_s_(kFirstRetryS) {}

RedisSession::~RedisSession() = default;

std::string RedisSession::no_answer() const { return fmt::format("no answer within {:g} s", timeout_s_); }

Status RedisSession::exchange(const std::function<Status(Steady::time_point)>& query) {
  const auto start = Steady::now();
  if (!ctx_ && start < retry_at_) return Status::io_error(last_error_);
  SigpipeShield shield;
  const auto deadline =
      start + std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(timeout_s_));
  const bool reused = ctx_ != nullptr;
  Status st = ctx_ ? Status::ok() : connect(deadline);
  if (st) st = query(deadline);
  // A connection kept since the last exchange may have been closed meanwhile (the
  // server's idle `timeout`, a restart). That says nothing about the server now: once afresh.
  if (!st && reused && st.code() == Status::Code::kUnavailable && Steady::now() < deadline) {
    ctx_.reset();
    st = connect(deadline);
    if (st) st = query(deadline);
  }
  if (!st) return fail(st.message());
  retry_s_ = kFirstRetryS;
  last_error_.clear();
  return Status::ok();
}

Status RedisSession::fail(const std::string& what) {
  ctx_.reset();
  last_error_ = where_ + ": " + what;
  retry_at_ = Steady::now() + std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(retry_s_));
  retry_s_ = std::min(retry_s_ * 2, kMaxRetryS);
  return Status::io_error(last_error_);
}

// Why the connection failed, classified: kUnavailable when the server went away (worth
// one immediate retry on a fresh connection), kIoError otherwise.
Status RedisSession::transport_error(int err) const {
  if (ctx_->err == REDIS_ERR_EOF) return Status::unavailable("connection closed by the server");
  if (ctx_->err == REDIS_ERR_IO && (err == EAGAIN || err == EWOULDBLOCK)) return Status::io_error(no_answer());
  if (ctx_->err == REDIS_ERR_IO && (err == ECONNRESET || err == EPIPE)) return Status::unavailable(ctx_->errstr);
  return Status::io_error(ctx_->errstr);
}

Result<std::vector<RedisSession::Reply>> RedisSession::round_trip(const std::vector<Command>& cmds,
                                                                   Steady::time_point deadline) {
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

// Connects, authenticates and selects the db, all within the deadline.
Status RedisSession::connect(Steady::time_point deadline) {
  const timeval tv = to_timeval(deadline - Steady::now());
  redisContext* c = addr_.unix_path.empty() ? redisConnectWithTimeout(addr_.host.c_str(), addr_.port, tv)
                                            : redisConnectUnixWithTimeout(addr_.unix_path.c_str(), tv);
  if (!c) return Status::io_error("cannot allocate a hiredis context");
  ctx_.reset(c);
  ++connections_;
  if (c->err) return Status::io_error(c->errstr);
  std::vector<Command> setup;
  if (!addr_.password.empty())
    setup.push_back(addr_.user.empty() ? Command{"AUTH", addr_.password} : Command{"AUTH", addr_.user, addr_.password});
  if (addr_.db != 0) setup.push_back({"SELECT", std::to_string(addr_.db)});
  if (setup.empty()) return Status::ok();
  auto replies = round_trip(setup, deadline);
  return replies ? Status::ok() : replies.error();
}

}  // namespace drover
