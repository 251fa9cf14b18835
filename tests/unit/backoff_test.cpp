#include "engine/backoff.h"

#include <doctest/doctest.h>

using namespace drover;

TEST_CASE("backoff: a worker that stayed up is replaced at once") {
  Backoff b;
  BackoffPolicy p;  // 0.1 doubling to 30, reset after 1 s
  CHECK(b.on_exit(p, seconds_f(5)) == Duration::zero());
  CHECK(b.quick_exits() == 0);
}

TEST_CASE("backoff: quick exits double from initial up to the cap") {
  Backoff b;
  BackoffPolicy p{.initial_s = 0.1, .max_s = 1.0, .factor = 2, .reset_after_s = 1};
  CHECK(b.on_exit(p, seconds_f(0.01)) == Duration::zero());  // one early death is not a loop
  CHECK(to_seconds(b.on_exit(p, seconds_f(0.01))) == doctest::Approx(0.1));
  CHECK(to_seconds(b.on_exit(p, seconds_f(0.01))) == doctest::Approx(0.2));
  CHECK(to_seconds(b.on_exit(p, seconds_f(0.01))) == doctest::Approx(0.4));
  CHECK(to_seconds(b.on_exit(p, seconds_f(0.01))) == doctest::Approx(0.8));
  CHECK(to_seconds(b.on_exit(p, seconds_f(0.01))) == doctest::Approx(1.0));
  for (int i = 0; i < 200; ++i) b.on_exit(p, seconds_f(0));  // no overflow on long streaks
  CHECK(to_seconds(b.on_exit(p, seconds_f(0))) == doctest::Approx(1.0));
}

TEST_CASE("backoff: one healthy run resets the streak") {
  Backoff b;
  BackoffPolicy p;
  b.on_exit(p, seconds_f(0.1));
  b.on_exit(p, seconds_f(0.1));
  CHECK(b.quick_exits() == 2);
  CHECK(b.on_exit(p, seconds_f(p.reset_after_s)) == Duration::zero());
  CHECK(b.on_exit(p, seconds_f(0.1)) == Duration::zero());
  CHECK(to_seconds(b.on_exit(p, seconds_f(0.1))) == doctest::Approx(p.initial_s));
}
