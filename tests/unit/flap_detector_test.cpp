#include "engine/flap_detector.h"

#include <doctest/doctest.h>

using namespace drover;

TEST_CASE("flapping: more than max_exits bad exits in the window") {
  FakeClock clock;
  FlapDetector f;
  FlapPolicy p{.max_exits = 3, .window_s = 10, .cooldown_s = 30, .give_up_after = 0};
  for (int i = 0; i < 3; ++i) {
    CHECK(f.on_bad_exit(p, clock.now()) == FlapDetector::Verdict::kOk);
    clock.advance(seconds_f(1));
  }
  CHECK(f.on_bad_exit(p, clock.now()) == FlapDetector::Verdict::kFlapping);
  CHECK(f.episodes() == 1);
  CHECK(f.exits_in_window() == 0);  // history starts afresh after the cool-down
}

TEST_CASE("flapping: exits spread wider than the window never flap") {
  FakeClock clock;
  FlapDetector f;
  FlapPolicy p{.max_exits = 2, .window_s = 10};
  for (int i = 0; i < 100; ++i) {
    CHECK(f.on_bad_exit(p, clock.now()) == FlapDetector::Verdict::kOk);
    clock.advance(seconds_f(5.1));  // at most two exits in any 10 s
  }
}

TEST_CASE("flapping: judged for the slot's whole life - not just its start") {
  FakeClock clock;
  FlapDetector f;
  FlapPolicy p{.max_exits = 2, .window_s = 5};
  clock.advance(seconds_f(3600));  // an hour of healthy life first
  CHECK(f.on_bad_exit(p, clock.now()) == FlapDetector::Verdict::kOk);
  CHECK(f.on_bad_exit(p, clock.now()) == FlapDetector::Verdict::kOk);
  CHECK(f.on_bad_exit(p, clock.now()) == FlapDetector::Verdict::kFlapping);
}

TEST_CASE("flapping: give up after the configured number of episodes") {
  FakeClock clock;
  FlapDetector f;
  FlapPolicy p{.max_exits = 1, .window_s = 10, .cooldown_s = 1, .give_up_after = 2};
  f.on_bad_exit(p, clock.now());
  CHECK(f.on_bad_exit(p, clock.now()) == FlapDetector::Verdict::kFlapping);
  f.on_bad_exit(p, clock.now());
  CHECK(f.on_bad_exit(p, clock.now()) == FlapDetector::Verdict::kGiveUp);
  f.reset();
  CHECK(f.episodes() == 0);
}
