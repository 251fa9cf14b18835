#include "engine/subscription.h"

#include <doctest/doctest.h>

#include <future>
#include <thread>

using namespace drover;
using namespace std::chrono_literals;

namespace {

LogLine text(const std::string& s) {
  LogLine l;
  l.text = s;
  return l;
}

Event event(EventKind kind) {
  Event e{};
  e.kind = kind;
  return e;
}

std::string text_of(const std::optional<EngineItem>& item) {
  REQUIRE(item);
  REQUIRE(std::holds_alternative<LogLine>(*item));
  return std::get<LogLine>(*item).text;
}

}  // namespace

TEST_CASE("subscription: full queue drops the oldest and counts it") {
  Subscription sub(2, {});
  sub.push(text("1"));
  sub.push(text("2"));
  CHECK(sub.dropped() == 0);
  sub.push(text("3"));
  sub.push(text("4"));
  CHECK(sub.dropped() == 2);
  CHECK(text_of(sub.pop(0ms)) == "3");
  CHECK(text_of(sub.pop(0ms)) == "4");
  CHECK_FALSE(sub.pop(0ms));
}

TEST_CASE("subscription: capacity 0 behaves as 1") {
  Subscription sub(0, {});
  sub.push(text("1"));
  sub.push(text("2"));
  CHECK(sub.dropped() == 1);
  CHECK(text_of(sub.pop(0ms)) == "2");
}

TEST_CASE("subscription: the filter keeps events or lines out, without counting drops") {
  Subscription events_only(10, {.events = true, .log_lines = false});
  events_only.push(text("line"));
  events_only.push(event(EventKind::kPoolAdded));
  auto item = events_only.pop(0ms);
  REQUIRE(item);
  CHECK(std::get<Event>(*item).kind == EventKind::kPoolAdded);
  CHECK_FALSE(events_only.pop(0ms));
  CHECK(events_only.dropped() == 0);

  Subscription lines_only(10, {.events = false, .log_lines = true});
  lines_only.push(event(EventKind::kPoolAdded));
  lines_only.push(text("line"));
  CHECK(text_of(lines_only.pop(0ms)) == "line");
  CHECK_FALSE(lines_only.pop(0ms));
}

TEST_CASE("subscription: pop waits about its timeout, and wakes early for a push") {
  Subscription sub(10, {});
  auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(sub.pop(30ms));
  auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(waited >= 25ms);
  CHECK(waited < 2s);

  std::thread pusher([&] {
    std::this_thread::sleep_for(20ms);
    sub.push(text("late"));
  });
  t0 = std::chrono::steady_clock::now();
  CHECK(text_of(sub.pop(10s)) == "late");
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  pusher.join();
}

TEST_CASE("subscription: close wakes a consumer blocked in another thread") {
  Subscription sub(10, {});
  auto consumer = std::async(std::launch::async, [&] { return sub.pop(Duration::max()); });
  // An unbounded wait must really wait (Duration::max() must not overflow into "now").
  CHECK(consumer.wait_for(50ms) == std::future_status::timeout);
  sub.close();
  REQUIRE(consumer.wait_for(5s) == std::future_status::ready);
  CHECK_FALSE(consumer.get());
  CHECK(sub.closed());
}

TEST_CASE("subscription: after close, what was queued drains, then nothing more") {
  Subscription sub(10, {});
  sub.push(text("a"));
  sub.push(text("b"));
  sub.close();
  sub.push(text("after close"));  // a no-op
  CHECK(text_of(sub.pop(0ms)) == "a");
  CHECK(text_of(sub.pop(10s)) == "b");
  auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(sub.pop(10s));  // closed and drained: no wait at all
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
  CHECK(sub.dropped() == 0);
}
