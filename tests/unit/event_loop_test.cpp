#include "engine/event_loop.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "engine/inbox.h"

using namespace drover;

TEST_CASE("event loop: timers fire in deadline order and cancelled ones never") {
  EventLoop loop(SteadyClock::instance());
  std::vector<int> fired;
  auto now = SteadyClock::instance().now();
  loop.add_timer(now + std::chrono::milliseconds(30), [&] { fired.push_back(3); loop.stop(); });
  loop.add_timer(now + std::chrono::milliseconds(10), [&] { fired.push_back(1); });
  auto cancelled = loop.add_timer(now + std::chrono::milliseconds(20), [&] { fired.push_back(2); });
  loop.cancel_timer(cancelled);
  loop.run();
  CHECK(fired == std::vector<int>{1, 3});
  CHECK(loop.pending_timers() == 0);
}

TEST_CASE("event loop: fd watch reports readable data - unwatch stops it") {
  EventLoop loop(SteadyClock::instance());
  int p[2];
  REQUIRE(pipe(p) == 0);
  int reads = 0;
  loop.watch(p[0], [&](uint32_t) {
    char c;
    CHECK(read(p[0], &c, 1) == 1);
    CHECK(c == 'x');
    ++reads;
    loop.unwatch(p[0]);  // a callback may remove its own watch
    loop.add_timer_after(std::chrono::milliseconds(20), [&] { loop.stop(); });
  });
  REQUIRE(write(p[1], "xx", 2) == 2);
  loop.run();
  CHECK(reads == 1);  // the second byte is never read: the watch is gone
  close(p[0]);
  close(p[1]);
}

TEST_CASE("inbox: commands from other threads run on the loop thread - in order") {
  EventLoop loop(SteadyClock::instance());
  Inbox inbox(loop);
  loop.set_on_wake([&] { inbox.drain(); });
  std::thread::id loop_thread;
  std::thread t([&] {
    loop_thread = std::this_thread::get_id();
    loop.run();
  });
  std::vector<int> seen;
  for (int i = 0; i < 100; ++i) inbox.post([&seen, i] { seen.push_back(i); });
  std::optional<int> answer = inbox.call([&] {
    CHECK(std::this_thread::get_id() == loop_thread);
    return static_cast<int>(seen.size());
  });
  CHECK(answer == std::optional<int>(100));
  CHECK_THROWS_AS(inbox.call([]() -> int { throw std::runtime_error("bad command"); }), std::runtime_error);
  // The loop survived the throwing command.
  CHECK(inbox.call([] { return 7; }) == std::optional<int>(7));
  inbox.post([&] { loop.stop(); });
  t.join();
  for (int i = 0; i < 100; ++i) CHECK(seen[i] == i);
  // Closed (the engine has finished): a call is answered with nullopt and never runs.
  inbox.close();
  bool ran = false;
  CHECK_FALSE(inbox.call([&] { ran = true; return 1; }).has_value());
  CHECK_FALSE(inbox.call([&] { ran = true; }).has_value());
  CHECK_FALSE(ran);
}

TEST_CASE("event loop: the longest wake-up is kept until taken - then starts over") {
  FakeClock clock;
  EventLoop loop(clock);
  // One wake-up of 40 ms of (fake) work, then one of 5 ms.
  loop.add_timer(clock.now(), [&] {
    clock.advance(std::chrono::milliseconds(40));
    loop.stop();
  });
  loop.run();
  CHECK(loop.take_max_busy() == std::chrono::milliseconds(40));
  CHECK(loop.take_max_busy() == Duration::zero());
  loop.add_timer(clock.now(), [&] {
    clock.advance(std::chrono::milliseconds(5));
    loop.stop();
  });
  loop.run();
  CHECK(loop.take_max_busy() == std::chrono::milliseconds(5));
}
