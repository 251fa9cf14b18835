// RedisSession: one blocking hiredis connection with the conventions every Redis reader
// of drover follows (redis_probe.h tells them from the user's side):
//
// - Made on first use and kept. exchange()'s timeout bounds a whole exchange: connect,
//   AUTH/SELECT and every round trip share it, each getting what is left.
// - A kept connection found closed by the server (idle `timeout`, a restart) is replaced
//   at once, within the same exchange: that says nothing about the server now.
// - Any failure drops the connection and starts a backoff (0.5 s doubling to 30 s):
//   exchanges before it ends return the last error at once, without I/O. A success resets it.
// - Errors read "<address>: <what>", never with the password, and the same text at every
//   attempt against the same fault (ProbeRunner reports each change of text).
//
// Used by the queue probe (redis_probe.cpp) and the worker registries
// (worker_registry_probe.cpp). Includes hiredis: for autoscale/ sources only.
// Thread: one thread at a time (the ProbeRunner's).
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autoscale/redis_probe.h"
#include "engine/status.h"

namespace drover {

class RedisSession {
 public:
  using Steady = std::chrono::steady_clock;
  using Command = std::vector<std::string>;
  struct ReplyFree {
    void operator()(redisReply* r) const { freeReplyObject(r); }
  };
  using Reply = std::unique_ptr<redisReply, ReplyFree>;

  RedisSession(RedisAddress addr, double timeout_s);
  ~RedisSession();
  RedisSession(const RedisSession&) = delete;
  RedisSession& operator=(const RedisSession&) = delete;

  // Connects if needed and calls query(deadline), which talks through round_trip(). A
  // failed query (kUnavailable from round_trip on a kept connection: retried once afresh)
  // drops the connection and starts the backoff. Returns ok, or the error as its text.
  Status exchange(const std::function<Status(Steady::time_point deadline)>& query);

  // Sends the commands in one write and reads their replies in order. A Redis error reply
  // (WRONGTYPE, NOAUTH...) is a failure too, naming its command.
  Result<std::vector<Reply>> round_trip(const std::vector<Command>& cmds, Steady::time_point deadline);

  // The live connection inside query() (for a subscriber's fd); null outside.
  redisContext* context() { return ctx_.get(); }
  bool connected() const { return ctx_ != nullptr; }
  // Counts connections made: a subscriber knows from it that it must subscribe again.
  uint64_t connection_count() const { return connections_; }
  // "redis://127.0.0.1:6379/0": the address as shown, no password.
  const std::string& where() const { return where_; }
  std::string no_answer() const;

 private:
  struct ContextFree {
    void operator()(redisContext* c) const { redisFree(c); }
  };
  Status connect(Steady::time_point deadline);
  Status transport_error(int err) const;
  Status fail(const std::string& what);

  const RedisAddress addr_;
  const double timeout_s_;
  const std::string where_;
  std::unique_ptr<redisContext, ContextFree> ctx_;
  uint64_t connections_ = 0;
  std::string last_error_;
  Steady::time_point retry_at_{};  // no connection attempt before this
  double retry_s_;                 // the backoff after the next failure
};

// An integer reply, or a bulk string holding one (Sidekiq's `busy` field); anything else is 0.
long redis_reply_number(const redisReply* r);
// A string (or status) reply's text; empty for anything else (nil included).
std::string redis_reply_text(const redisReply* r);

}  // namespace drover
