// Worker registry probes (autoscale/worker_registry_probe.h, celery_event_probe.h)
// against a real redis-server holding hand-written records in each system's layout, as
// their sources write them: only this host's workers come back, with the right busy.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include "autoscale/celery_event_probe.h"
#include "autoscale/worker_registry_probe.h"
#include "tests/support/redis_server.h"
#include "tests/support/test_util.h"

using namespace drover;
using namespace drover::test;

namespace {

std::unique_ptr<QueueProbe> registry(const std::string& url, QueueLayout layout, const std::string& ns = "resque") {
  WorkerRegistrySpec spec;
  spec.url = url;
  spec.layout = layout;
  spec.ns = ns;
  spec.hostname = "here";  // the "other" host's records must be left out
  auto probe = make_worker_registry_probe(spec);
  REQUIRE_MESSAGE(probe, probe.error().message());
  return std::move(*probe);
}

std::map<int, bool> by_pid(const QueueReading& r) {
  INFO(r.error);
  REQUIRE(r.workers.has_value());
  std::map<int, bool> out;
  for (const auto& w : *r.workers) {
    CHECK(w.host == "here");
    out[w.pid] = w.busy;
  }
  return out;
}

// A kombu envelope of a Celery event, as its Redis transport publishes it (base64 body).
std::string celery_message(const std::string& event_json) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  int val = 0, bits = -6;
  for (unsigned char c : event_json) {
    val = (val << 8) + c;
    bits += 8;
    while (bits >= 0) {
      b64.push_back(k[(val >> bits) & 0x3F]);
      bits -= 6;
    }
  }
  if (bits > -6) b64.push_back(k[((val << 8) >> (bits + 8)) & 0x3F]);
  while (b64.size() % 4) b64.push_back('=');
  return R"({"body": ")" + b64 +
         R"(", "content-encoding": "utf-8", "content-type": "application/json", "headers": {}, "properties": {"delivery_mode": 1, "delivery_info": {"exchange": "celeryev", "routing_key": "worker.heartbeat"}, "priority": 0, "body_encoding": "base64", "delivery_tag": "x"}})";
}

}  // namespace

TEST_CASE("worker registry: rq - worker hashes listed in rq:workers - state busy") {
  RedisServer redis;
  // rq 1.13 register_birth(): the key in rq:workers, a hash with pid, hostname, state.
  redis.run({"SADD", "rq:workers", "rq:worker:a", "rq:worker:b", "rq:worker:c", "rq:worker:gone"});
  redis.run({"HSET", "rq:worker:a", "pid", "101", "hostname", "here", "state", "busy", "current_job", "j1"});
  redis.run({"HSET", "rq:worker:b", "pid", "102", "hostname", "here", "state", "idle"});
  redis.run({"HSET", "rq:worker:c", "pid", "103", "hostname", "other", "state", "busy"});
  // rq:worker:gone has expired: listed, but no hash. Left out, not guessed.
  auto probe = registry(redis.url(), QueueLayout::kRq);
  CHECK(by_pid(probe->read()) == std::map<int, bool>{{101, true}, {102, false}});
  redis.run({"HSET", "rq:worker:b", "state", "busy"});
  CHECK(by_pid(probe->read()) == std::map<int, bool>{{101, true}, {102, true}});
  CHECK(probe->read().depth == std::nullopt);  // a registry says nothing of the queue
}

TEST_CASE("worker registry: resque - ids in <ns>:workers - busy while <ns>:worker:<id> exists") {
  RedisServer redis;
  redis.run({"SADD", "jobs:workers", "here:201:high,low", "here:202:low", "other:203:low", "garbage"});
  redis.run({"SET", "jobs:worker:here:201:high,low", R"({"queue":"high","run_at":"x","payload":{}})"});
  redis.run({"SET", "jobs:worker:here:202:low:started", "2024-01-01"});  // always there: not a job
  redis.run({"SET", "jobs:worker:other:203:low", R"({"queue":"low"})"});
  auto probe = registry(redis.url(), QueueLayout::kResque, "jobs");
  CHECK(by_pid(probe->read()) == std::map<int, bool>{{201, true}, {202, false}});
}

TEST_CASE("worker registry: sidekiq - processes with a busy count and info JSON") {
  RedisServer redis;
  redis.run({"SADD", "processes", "here:301:0a0b", "here:302:0c0d", "other:303:0e0f", "here:304:dead"});
  redis.run({"HSET", "here:301:0a0b", "busy", "2", "info", R"({"hostname":"here","pid":301,"concurrency":5})"});
  redis.run({"HSET", "here:302:0c0d", "busy", "0", "info", R"({"hostname":"here","pid":302,"concurrency":5})"});
  redis.run({"HSET", "other:303:0e0f", "busy", "1", "info", R"({"hostname":"other","pid":303})"});
  auto probe = registry(redis.url(), QueueLayout::kSidekiq);
  CHECK(by_pid(probe->read()) == std::map<int, bool>{{301, true}, {302, false}});
}

TEST_CASE("worker registry: celery - worker heartbeats on the event channel") {
  RedisServer redis;
  auto probe = registry(redis.url(), QueueLayout::kCelery);
  CHECK(by_pid(probe->read()).empty());  // subscribes; nothing said yet
  const std::string channel = "/0.celeryev/worker.heartbeat";
  redis.run({"PUBLISH", channel,
             celery_message(R"({"type": "worker-heartbeat", "hostname": "w1@here", "pid": 401, "active": 1, "freq": 2.0})")});
  redis.run({"PUBLISH", channel,
             celery_message(R"({"type": "worker-heartbeat", "hostname": "w2@here", "pid": 402, "active": 0, "freq": 2.0})")});
  redis.run({"PUBLISH", channel,
             celery_message(R"({"type": "worker-heartbeat", "hostname": "w3@other", "pid": 403, "active": 2})")});
  // PUBLISH returned: the server has written the messages to the subscriber's socket.
  std::map<int, bool> seen;
  REQUIRE(wait_until([&] { return (seen = by_pid(probe->read())).size() == 2; }, 5000ms));
  CHECK(seen == std::map<int, bool>{{401, true}, {402, false}});
  // -E's task-started says busy at once; worker-offline forgets the worker.
  redis.run({"PUBLISH", "/0.celeryev/task.multi",
             celery_message(R"([{"type": "task-started", "hostname": "w2@here", "pid": 402, "uuid": "u"}])")});
  redis.run({"PUBLISH", "/0.celeryev/worker.offline",
             celery_message(R"({"type": "worker-offline", "hostname": "w1@here", "pid": 401, "active": 0})")});
  REQUIRE(wait_until([&] { return (seen = by_pid(probe->read())).size() == 1; }, 5000ms));
  CHECK(seen == std::map<int, bool>{{402, true}});
}

TEST_CASE("worker registry: a dead server is an error reading and a plain key has no registry") {
  RedisServer redis;
  auto probe = registry(redis.url(), QueueLayout::kRq);
  redis.stop();
  QueueReading r = probe->read();
  CHECK_FALSE(r.workers.has_value());
  CHECK(r.error.find(std::to_string(redis.port())) != std::string::npos);
  WorkerRegistrySpec key;
  key.layout = QueueLayout::kKey;
  auto none = make_worker_registry_probe(key);
  REQUIRE_FALSE(none);
  CHECK(none.error().message().find("no workers' records") != std::string::npos);
}
