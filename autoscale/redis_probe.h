// RedisQueueProbe: queue depth from Redis through hiredis, with the key layouts of the
// real job queues:
//
//   layout   waiting jobs (LLEN)            in flight
//   resque   <ns>:queue:NAME  (ns resque)   workers of <ns>:workers whose <ns>:worker:ID job is on NAME
//   rq       rq:queue:NAME                  ZCARD rq:wip:NAME (the started-job registry)
//   sidekiq  queue:NAME                     sum of the `busy` field of every process in `processes`
//   celery   NAME                           HLEN unacked (the redis transport's reserved jobs)
//   key      NAME as given                  none
//
// A key of type zset is counted with ZCARD, a missing key is 0, any other type an error.
// The URL is redis://[[user]:password@]host[:port][/db] or unix:///path/to/sock[?db=N]
// (user and password percent-decoded; a unix URL takes them as &user=U&password=P);
// the password is sent with AUTH and never shown by describe() or in an error.
//
// Connection: made on the first read and kept. The timeout bounds a whole read: connect,
// AUTH/SELECT and the (at most two, pipelined) round trips share it. A kept connection
// found closed by the server is replaced at once, within the same read. After a failure
// the probe drops the connection and does not try again until a backoff (0.5 s doubling
// to 30 s) has passed: reads in between return the last error at once. A success resets it.
// Errors read "<address>: <what>" ("redis://127.0.0.1:6379/0: Connection refused"), the
// same text at every attempt against the same fault.
// Thread: one thread at a time (the ProbeRunner's).
#pragma once

#include <memory>
#include <string>

#include "autoscale/queue_probe.h"
#include "engine/status.h"

namespace drover {

enum class QueueLayout { kResque, kRq, kSidekiq, kCelery, kKey };

// "resque", "rq", "sidekiq", "celery", "key".
Result<QueueLayout> queue_layout_from_name(const std::string& name);
const char* queue_layout_name(QueueLayout layout);

struct RedisAddress {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string unix_path;  // non-empty: a unix socket instead of host:port
  int db = 0;
  std::string user;       // ACL user (Redis 6); empty: AUTH with the password alone
  std::string password;
};

// Parses a redis:// or unix:// URL. Errors name the part that is wrong.
Result<RedisAddress> parse_redis_url(const std::string& url);

struct RedisQueueSpec {
  std::string url = "redis://127.0.0.1:6379/0";
  QueueLayout layout = QueueLayout::kKey;
  std::string name;            // the queue name (or the whole key, for kKey)
  std::string ns = "resque";   // resque's namespace
  double timeout_s = 1.0;      // bounds a whole read, connect included; in (0, 3600]
};

// The list key a layout keeps NAME's waiting jobs in: ("rq", "default") -> "rq:queue:default".
std::string redis_queue_key(const RedisQueueSpec& spec);

// Validates the spec (URL, name) and returns a probe; connects lazily on first read().
Result<std::unique_ptr<QueueProbe>> make_redis_probe(const RedisQueueSpec& spec);

}  // namespace drover
