#include "engine/subscription.h"

#include <doctest/doctest.h>

#include <thread>

using namespace drover;
using namespace std::chrono_literals;

namespace {
LogLine text(const std::string& s) {
  LogLine l;
  l.text = s;
  return l;
}
}  // namespace

TEST_CASE("subscription: full queue drops the oldest and counts it") {
  Subscription sub(2, {});
  sub.push(text("1"));
  sub.push(text("2"));
  sub.push(text("3"));
  CHECK(sub.dropped() == 1);
  CHECK(std::get<LogLine>(*sub.pop(0ms)).text == "2");
  CHECK(std::get<LogLine>(*sub.pop(0ms)).text == "3");
  CHECK_FALSE(sub.pop(0ms));
}

TEST_CASE("subscription: the filter keeps events or lines out") {
  Subscription events_only(10, {.events = true, .log_lines = false});
  events_only.push(text("line"));
  events_only.push(Event{EventKind::kPoolAdded});
  auto item = events_only.pop(0ms);
  REQUIRE(item);
  CHECK(std::holds_alternative<Event>(*item));
  CHECK_FALSE(events_only.pop(0ms));
}

TEST_CASE("subscription: pop times out, and close wakes a waiting consumer") {
  Subscription sub(10, {});
  auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(sub.pop(30ms));
  CHECK(std::chrono::steady_clock::now() - t0 >= 25ms);
  std::thread closer([&] {
    std::this_thread::sleep_for(20ms);
    sub.close();
  });
  t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(sub.pop(5s));
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  closer.join();
  CHECK(sub.closed());
  sub.push(text("after close"));
  CHECK_FALSE(sub.pop(0ms));
}
