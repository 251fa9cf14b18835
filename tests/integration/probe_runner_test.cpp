// ProbeRunner with real Redis probes: latest() stays instant while a read hangs, the
// rate between two readings, and one warning per change of health.
#include <doctest/doctest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "autoscale/probe_runner.h"
#include "autoscale/redis_probe.h"
#include "tests/support/redis_server.h"

using namespace drover;
using namespace drover::test;

namespace {

using Steady = std::chrono::steady_clock;

std::unique_ptr<QueueProbe> rq_probe(const std::string& url, double timeout_s = 1.0) {
  RedisQueueSpec spec;
  spec.url = url;
  spec.layout = QueueLayout::kRq;
  spec.name = "default";
  spec.timeout_s = timeout_s;
  auto p = make_redis_probe(spec);
  REQUIRE(p);
  return std::move(*p);
}

// What the runner reported through warn, as the engine's log would receive it.
class Warnings {
 public:
  ProbeRunner::Warn sink() {
    return [this](const std::string& key, const std::string& text) {
      std::lock_guard lock(mu_);
      seen_.emplace_back(key, text);
    };
  }
  std::vector<std::pair<std::string, std::string>> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }
  size_t count() const { return seen().size(); }

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> seen_;
};

}  // namespace

TEST_CASE("probe runner: latest() answers at once while a read hangs on a silent server") {
  BlackHole hole;
  ProbeRunner runner;
  runner.add("web", rq_probe(hole.url(), 1.0), 0.05);
  // The probe has connected and sent TYPE: its read now waits for the timeout.
  REQUIRE(wait_until([&] { return hole.take_connection(); }, std::chrono::milliseconds(2000)));
  double slowest_ms = 0;
  int calls = 0;
  const auto until = Steady::now() + std::chrono::milliseconds(300);
  while (Steady::now() < until) {
    const auto t = Steady::now();
    auto s = runner.latest("web");
    slowest_ms = std::max(slowest_ms, std::chrono::duration<double, std::milli>(Steady::now() - t).count());
    ++calls;
    REQUIRE(s);
    CHECK(s->taken_at_s == 0);  // still no reading: the read is in progress
    CHECK(s->describe == hole.url() + " rq:queue:default");
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // a caller's pace, not a spin
  }
  CHECK(slowest_ms < 500);  // never waits on the read in progress (its timeout is 1 s)
  CHECK(runner.list() == std::map<std::string, std::string>{{"web", hole.url() + " rq:queue:default"}});
  MESSAGE(calls, " latest() calls during a hung read, the slowest ", slowest_ms, " ms");
  std::optional<ProbeSample> s;
  CHECK(wait_until([&] { return (s = runner.latest("web")) && s->taken_at_s > 0; }, std::chrono::milliseconds(3000)));
  CHECK(s->reading.error == hole.url() + ": no answer within 1 s");
  CHECK_FALSE(runner.latest("api"));
}

TEST_CASE("probe runner: the rate is the change of depth between two readings") {
  RedisServer redis;
  for (int i = 0; i < 10; ++i) redis.run({"RPUSH", "rq:queue:default", "job" + std::to_string(i)});
  ProbeRunner runner;
  runner.add("web", rq_probe(redis.url()), 0.3);
  std::optional<ProbeSample> first;
  REQUIRE(wait_until([&] { return (first = runner.latest("web")) && first->taken_at_s > 0; },
                     std::chrono::milliseconds(3000)));
  REQUIRE(first->reading.depth);
  CHECK(*first->reading.depth == 10);
  CHECK_FALSE(first->rate);  // one reading: no rate yet
  // Right after a reading, well before the next (0.3 s away): 20 more jobs.
  for (int i = 0; i < 20; ++i) redis.run({"RPUSH", "rq:queue:default", "more" + std::to_string(i)});
  std::optional<ProbeSample> second;
  REQUIRE(wait_until([&] { return (second = runner.latest("web")) && second->taken_at_s > first->taken_at_s; },
                     std::chrono::milliseconds(3000)));
  REQUIRE(second->reading.depth);
  CHECK(*second->reading.depth == 30);
  REQUIRE(second->rate);
  const double dt = second->taken_at_s - first->taken_at_s;
  CHECK(dt == doctest::Approx(0.3).epsilon(0.5));
  CHECK(*second->rate == doctest::Approx(20 / dt));
  CHECK(*second->reading.inflight == 0);
}

TEST_CASE("probe runner: one warning when a probe fails, one when it recovers") {
  RedisServer redis;
  Warnings warnings;
  ProbeRunner runner(warnings.sink());
  runner.add("web", rq_probe(redis.url()), 0.05);
  std::optional<ProbeSample> s;
  REQUIRE(wait_until([&] { return (s = runner.latest("web")) && s->reading.depth; }, std::chrono::milliseconds(3000)));
  CHECK(warnings.count() == 0);  // healthy from the start: nothing to say

  redis.stop();
  REQUIRE(wait_until([&] { return warnings.count() >= 1; }, std::chrono::milliseconds(3000)));
  const std::string failure = "queue probe " + redis.url() + " rq:queue:default: " + redis.url() + ": Connection refused";
  // Readings go on every 50 ms, and connection attempts at 0.5 s and 1.5 s: still one warning.
  const double failed_at = runner.latest("web")->taken_at_s;
  CHECK(wait_until([&] { return runner.latest("web")->taken_at_s > failed_at + 1.6; }, std::chrono::milliseconds(4000)));
  CHECK(runner.latest("web")->reading.error == redis.url() + ": Connection refused");
  CHECK_FALSE(runner.latest("web")->rate);
  REQUIRE(warnings.count() == 1);
  CHECK(warnings.seen()[0] == std::make_pair(std::string("web"), failure));

  redis.start();
  REQUIRE(wait_until([&] { return (s = runner.latest("web")) && s->reading.depth; }, std::chrono::milliseconds(8000)));
  REQUIRE(wait_until([&] { return warnings.count() >= 2; }, std::chrono::milliseconds(1000)));
  CHECK(warnings.count() == 2);
  CHECK(warnings.seen()[1] == std::make_pair(std::string("web"), "queue probe " + redis.url() + " rq:queue:default: recovered"));
}
