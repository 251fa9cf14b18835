// RedisQueueProbe against a real redis-server: each job library's layout filled the way
// the library fills it, db and password, and the failures (server gone, server hung)
// with their backoff. Command probes and the ProbeRunner have their own files.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "autoscale/redis_probe.h"
#include "tests/support/redis_server.h"

using namespace drover;
using namespace drover::test;

namespace {

using Steady = std::chrono::steady_clock;

std::unique_ptr<QueueProbe> probe(const std::string& url, QueueLayout layout, const std::string& name,
                                  double timeout_s = 1.0, const std::string& ns = "resque") {
  RedisQueueSpec spec;
  spec.url = url;
  spec.layout = layout;
  spec.name = name;
  spec.ns = ns;
  spec.timeout_s = timeout_s;
  auto p = make_redis_probe(spec);
  REQUIRE(p);
  return std::move(*p);
}

// A reading that must have succeeded.
QueueReading good(QueueProbe& p) {
  QueueReading r = p.read();
  INFO("error: ", r.error);
  REQUIRE(r.error.empty());
  REQUIRE(r.depth);
  return r;
}

double seconds_since(Steady::time_point t) {
  return std::chrono::duration<double>(Steady::now() - t).count();
}

}  // namespace

TEST_CASE("redis probe: rq - waiting jobs and the started registry") {
  RedisServer redis;
  for (const char* id : {"a1b2", "c3d4", "e5f6"}) redis.run({"RPUSH", "rq:queue:default", id});
  redis.run({"ZADD", "rq:wip:default", "1700000000", "0f0f"});
  redis.run({"ZADD", "rq:wip:default", "1700000001", "1e1e"});
  redis.run({"RPUSH", "rq:queue:other", "zzzz"});
  auto p = probe(redis.url(), QueueLayout::kRq, "default");
  CHECK(p->describe() == redis.url() + " rq:queue:default");
  QueueReading r = good(*p);
  CHECK(*r.depth == 3);
  REQUIRE(r.inflight);
  CHECK(*r.inflight == 2);
  redis.run({"LPOP", "rq:queue:default"});
  CHECK(*good(*p).depth == 2);  // the same connection, read again
}

TEST_CASE("redis probe: sidekiq - queue:NAME and the busy count of every process") {
  RedisServer redis;
  for (int i = 0; i < 4; ++i)
    redis.run({"LPUSH", "queue:default",
               R"({"class":"HardWorker","args":[)" + std::to_string(i) + R"(],"queue":"default","jid":"j)" +
                   std::to_string(i) + R"("})"});
  redis.run({"SADD", "processes", "web-1:100:0a0b", "web-2:200:0c0d", "web-3:300:0e0f"});
  redis.run({"HSET", "web-1:100:0a0b", "busy", "3", "concurrency", "10", "quiet", "false"});
  redis.run({"HSET", "web-2:200:0c0d", "busy", "2", "concurrency", "10", "quiet", "false"});
  // web-3's hash has expired (a dead process not yet pruned from the set): counts 0.
  QueueReading r = good(*probe(redis.url(), QueueLayout::kSidekiq, "default"));
  CHECK(*r.depth == 4);
  REQUIRE(r.inflight);
  CHECK(*r.inflight == 5);
}

TEST_CASE("redis probe: celery - the queue's own list and the transport's unacked hash") {
  RedisServer redis;
  redis.run({"LPUSH", "celery", R"({"body":"W1tdLHt9XQ==","headers":{"task":"tasks.add"}})"});
  redis.run({"LPUSH", "celery", R"({"body":"W1tdLHt9XQ==","headers":{"task":"tasks.mul"}})"});
  redis.run({"HSET", "unacked", "tag-1", "[...]", "tag-2", "[...]", "tag-3", "[...]"});
  QueueReading r = good(*probe(redis.url(), QueueLayout::kCelery, "celery"));
  CHECK(*r.depth == 2);
  REQUIRE(r.inflight);
  CHECK(*r.inflight == 3);
}

TEST_CASE("redis probe: resque - workers whose current job came from the queue") {
  RedisServer redis;
  for (int ns = 0; ns < 2; ++ns) {
    const std::string n = ns == 0 ? "resque" : "myapp";
    redis.run({"RPUSH", n + ":queue:high", R"({"class":"Archive","args":[1]})"});
    redis.run({"RPUSH", n + ":queue:high", R"({"class":"Archive","args":[2]})"});
    redis.run({"SADD", n + ":workers", "box:11:high,low", "box:12:high,low", "box:13:high,low"});
    redis.run({"SET", n + ":worker:box:11:high,low",
               R"({"queue":"high","run_at":"2026-01-01T00:00:00Z","payload":{"class":"Archive","args":[0]}})"});
    // On `low`, though its arguments hold a "queue" of their own: not counted.
    redis.run({"SET", n + ":worker:box:12:high,low",
               R"({"queue":"low","run_at":"2026-01-01T00:00:00Z","payload":{"class":"Move","args":[{"queue":"high"}]}})"});
    // box:13 is idle: it has no worker key.
  }
  redis.run({"RPUSH", "myapp:queue:high", "{}"});
  QueueReading r = good(*probe(redis.url(), QueueLayout::kResque, "high"));
  CHECK(*r.depth == 2);
  REQUIRE(r.inflight);
  CHECK(*r.inflight == 1);
  auto mine = probe(redis.url(), QueueLayout::kResque, "high", 1.0, "myapp");
  CHECK(mine->describe() == redis.url() + " myapp:queue:high");
  CHECK(*good(*mine).depth == 3);
  CHECK(*good(*probe(redis.url(), QueueLayout::kResque, "low")).inflight == 1);
}

TEST_CASE("redis probe: a sorted set counts, a missing key is 0, another type is an error") {
  RedisServer redis;
  redis.run({"ZADD", "delayed", "10", "a", "20", "b", "30", "c"});
  redis.run({"HSET", "config", "k", "v"});
  redis.run({"SET", "counter", "5"});
  QueueReading z = good(*probe(redis.url(), QueueLayout::kKey, "delayed"));
  CHECK(*z.depth == 3);
  CHECK_FALSE(z.inflight);
  QueueReading none = good(*probe(redis.url(), QueueLayout::kKey, "nothing:here"));
  CHECK(*none.depth == 0);
  CHECK(*good(*probe(redis.url(), QueueLayout::kRq, "empty")).inflight == 0);

  QueueReading h = probe(redis.url(), QueueLayout::kKey, "config")->read();
  CHECK_FALSE(h.depth);
  CHECK(h.error == redis.url() + ": key config is a hash, not a list or sorted set");
  CHECK(probe(redis.url(), QueueLayout::kKey, "counter")->read().error ==
        redis.url() + ": key counter is a string, not a list or sorted set");
  // Sidekiq's `processes` of the wrong type: the reading fails, naming the command.
  redis.run({"SET", "processes", "oops"});
  CHECK(probe(redis.url(), QueueLayout::kSidekiq, "default")->read().error ==
        redis.url() + ": SMEMBERS processes: WRONGTYPE Operation against a key holding the wrong kind of value");
}

TEST_CASE("redis probe: the db index, over TCP and over the unix socket") {
  RedisServer redis;
  for (int i = 0; i < 7; ++i) redis.run({"RPUSH", "jobs", std::to_string(i)}, 3);
  CHECK(*good(*probe(redis.url(3), QueueLayout::kKey, "jobs")).depth == 7);
  CHECK(*good(*probe(redis.url(0), QueueLayout::kKey, "jobs")).depth == 0);
  auto unix_probe = probe("unix://" + redis.unix_path() + "?db=3", QueueLayout::kKey, "jobs");
  CHECK(unix_probe->describe() == "unix://" + redis.unix_path() + "?db=3 jobs");
  CHECK(*good(*unix_probe).depth == 7);
  CHECK(probe(redis.url(99), QueueLayout::kKey, "jobs")->read().error ==
        redis.url(99) + ": SELECT 99: ERR DB index is out of range");
}

TEST_CASE("redis probe: a password, an ACL user, and a wrong password") {
  RedisServer redis({"--requirepass", "s3cr:t@"});
  redis.run({"RPUSH", "jobs", "a", "b"});
  redis.run({"ACL", "SETUSER", "probe", "on", ">probe-pw", "~*", "+@read", "+@connection"});
  auto p = probe(redis.url(0, "s3cr%3At%40"), QueueLayout::kKey, "jobs");
  CHECK(p->describe() == redis.url() + " jobs");  // no password shown
  CHECK(*good(*p).depth == 2);
  CHECK(*good(*probe("redis://probe:probe-pw@127.0.0.1:" + std::to_string(redis.port()) + "/0", QueueLayout::kKey,
                     "jobs"))
             .depth == 2);

  QueueReading wrong = probe(redis.url(0, "nope"), QueueLayout::kKey, "jobs")->read();
  CHECK_FALSE(wrong.depth);
  CHECK(wrong.error == redis.url() + ": AUTH: WRONGPASS invalid username-password pair or user is disabled.");
  CHECK(wrong.error.find("nope") == std::string::npos);
  CHECK(probe(redis.url(), QueueLayout::kKey, "jobs")->read().error ==
        redis.url() + ": TYPE jobs: NOAUTH Authentication required.");
}

TEST_CASE("redis probe: a server gone - a quick error, the backoff, recovery on restart") {
  RedisServer redis;
  redis.run({"RPUSH", "rq:queue:default", "x"});
  auto p = probe(redis.url(), QueueLayout::kRq, "default");
  CHECK(*good(*p).depth == 1);
  redis.stop();

  // The kept connection is found closed, and a fresh one is refused: that is the error.
  const auto failed_at = Steady::now();
  QueueReading r;
  CHECK_NOTHROW(r = p->read());
  const double first_s = seconds_since(failed_at);
  CHECK_FALSE(r.depth);
  CHECK(r.error == redis.url() + ": Connection refused");
  CHECK(first_s < 0.5);
  // Within the backoff: the same error, without a connection attempt (the hung server
  // below shows it by time: an attempt there would wait out the timeout).
  const auto again = Steady::now();
  CHECK(p->read().error == r.error);
  MESSAGE("read against a stopped server: ", first_s * 1000, " ms; during the backoff: ",
          seconds_since(again) * 1000, " ms");

  redis.start();  // empty: no persistence
  QueueReading back;
  CHECK(wait_until([&] { return (back = p->read()).error.empty(); }, std::chrono::milliseconds(5000)));
  const double recovered_s = seconds_since(failed_at);
  CHECK(recovered_s >= 0.5);  // not before the first backoff step
  CHECK(recovered_s < 3.0);
  REQUIRE(back.depth);
  CHECK(*back.depth == 0);
}

TEST_CASE("redis probe: a server that takes the connection and never answers - the timeout") {
  BlackHole hole;
  auto p = probe(hole.url(), QueueLayout::kRq, "default", 0.3);
  const auto start = Steady::now();
  QueueReading r = p->read();
  const double took = seconds_since(start);
  CHECK_FALSE(r.depth);
  CHECK(r.error == hole.url() + ": no answer within 0.3 s");
  CHECK(took >= 0.25);
  CHECK(took < 2.0);
  CHECK(hole.take_connection());  // it did connect: the wait was for the reply
  // Within the backoff: the same error at once. A second attempt would wait out the
  // 0.3 s timeout again, and the server would see a second connection.
  const auto again = Steady::now();
  CHECK(p->read().error == r.error);
  CHECK(seconds_since(again) < 0.2);
  hole.take_connection();  // accepts a second connection, if the probe made one
  CHECK(hole.taken() == 1);
  MESSAGE("read against a hung server (timeout 0.3 s): ", took * 1000, " ms");
}
