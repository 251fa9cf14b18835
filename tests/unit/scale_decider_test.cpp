#include "autoscale/scale_decider.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

using namespace drover;

namespace {

ScaleLimits limits(int min, int max, double cooldown, int up = 0, int down = 0) {
  return ScaleLimits{.min = min, .max = max, .cooldown_s = cooldown, .max_step_up = up, .max_step_down = down};
}

}  // namespace

TEST_CASE("scale_decider: growth is immediate and rounds up") {
  ScaleDecider d(limits(0, 100, 30));
  ScaleDecision s = d.decide(0, 2, 7.1);
  CHECK(s.recommended == 8);
  CHECK(s.target == 8);
  CHECK(s.changed);
  CHECK(s.note == "");
  // Float noise just above an integer is that integer.
  CHECK(d.decide(1, 8, 0.1 * 3 / 0.1).recommended == 3);
  CHECK(d.decide(2, 8, 3.0).recommended == 3);
  CHECK(d.decide(3, 8, 3.001).recommended == 4);
}

TEST_CASE("scale_decider: holding the size is no change") {
  ScaleDecider d(limits(0, 100, 30));
  ScaleDecision s = d.decide(0, 5, 5);
  CHECK(s.target == 5);
  CHECK_FALSE(s.changed);
  CHECK(s.note == "");
}

TEST_CASE("scale_decider: shrinking waits out the stabilization window") {
  ScaleDecider d(limits(0, 100, 30));
  CHECK(d.decide(0, 1, 10).target == 10);
  ScaleDecision s = d.decide(5, 10, 3);
  CHECK(s.recommended == 3);
  CHECK(s.target == 10);
  CHECK_FALSE(s.changed);
  CHECK(s.note == "held by cooldown (10, 25 s left)");
  CHECK(d.decide(20, 10, 6).target == 10);
  // At 30 s the 10 of t=0 leaves the window; the highest left is the 6 of t=20.
  s = d.decide(30, 10, 2);
  CHECK(s.target == 6);
  CHECK(s.changed);
  CHECK(s.note == "held by cooldown (6, 20 s left)");
  CHECK(d.decide(49, 6, 2).target == 6);
  s = d.decide(50, 6, 2);
  CHECK(s.target == 2);
  CHECK(s.note == "");
}

TEST_CASE("scale_decider: growth in the window extends the hold") {
  ScaleDecider d(limits(0, 100, 10));
  d.decide(0, 0, 4);
  d.decide(8, 4, 4);  // the latest 4 is at t=8
  CHECK(d.decide(12, 4, 1).target == 4);
  CHECK(d.decide(17, 4, 1).note == "held by cooldown (4, 1 s left)");
  CHECK(d.decide(18, 4, 1).target == 1);
}

TEST_CASE("scale_decider: an old high recommendation never makes the pool grow") {
  // The pool was kept at 5 (a budget cut it) while the policy asked for 10.
  ScaleDecider d(limits(0, 100, 30));
  d.decide(0, 5, 10);
  ScaleDecision s = d.decide(5, 5, 3);
  CHECK(s.target == 5);
  CHECK(s.note == "held by cooldown (5, 25 s left)");
}

TEST_CASE("scale_decider: cooldown 0 shrinks at once") {
  ScaleDecider d(limits(0, 100, 0));
  CHECK(d.decide(0, 0, 9).target == 9);
  ScaleDecision s = d.decide(0.5, 9, 1);
  CHECK(s.target == 1);
  CHECK(s.note == "");
}

TEST_CASE("scale_decider: reset forgets the window") {
  ScaleDecider d(limits(0, 100, 60));
  d.decide(0, 0, 9);
  d.reset();
  CHECK(d.decide(1, 9, 2).target == 2);
}

TEST_CASE("scale_decider: answers outside the limits are clamped and said so") {
  ScaleDecider d(limits(2, 20, 30));
  ScaleDecision s = d.decide(0, 4, 37.5);
  CHECK(s.recommended == 20);
  CHECK(s.target == 20);
  CHECK(s.note == "clamped to max 20");
  ScaleDecider d2(limits(2, 20, 0));
  s = d2.decide(0, 4, 0);
  CHECK(s.recommended == 2);
  CHECK(s.target == 2);
  CHECK(s.note == "clamped to min 2");
  // Huge and infinite answers do not overflow; NaN keeps the size.
  CHECK(d2.decide(1, 4, 1e300).target == 20);
  CHECK(d2.decide(2, 4, std::numeric_limits<double>::infinity()).target == 20);
  CHECK(d2.decide(3, 4, std::numeric_limits<double>::quiet_NaN()).target == 4);
}

TEST_CASE("scale_decider: a pool outside new limits goes straight inside them") {
  ScaleDecider d(limits(0, 100, 30));
  d.decide(0, 0, 50);
  d.set_limits(limits(0, 10, 30));
  ScaleDecision s = d.decide(1, 50, 3);  // the 50 in the window is above the new max
  CHECK(s.target == 10);
  CHECK(s.note == "held by cooldown (50, 29 s left); clamped to max 10");
  d.set_limits(limits(8, 10, 30, 2));
  s = d.decide(2, 0, 9);  // min wins over the step limit
  CHECK(s.target == 8);
  CHECK(s.note == "step limit +2; clamped to min 8");
}

TEST_CASE("scale_decider: step limits cut growth and shrinking per decision") {
  ScaleDecider d(limits(0, 100, 0, 4, 3));
  ScaleDecision s = d.decide(0, 2, 20);
  CHECK(s.recommended == 20);
  CHECK(s.target == 6);
  CHECK(s.note == "step limit +4");
  CHECK(d.decide(1, 6, 20).target == 10);
  s = d.decide(2, 10, 0);
  CHECK(s.target == 7);
  CHECK(s.note == "step limit -3");
  CHECK(d.decide(3, 7, 5).target == 5);
  CHECK(d.decide(3, 7, 5).note == "");
}

TEST_CASE("scale_decider: step down applies to what the window allows") {
  ScaleDecider d(limits(0, 100, 10, 0, 2));
  d.decide(0, 0, 9);
  ScaleDecision s = d.decide(5, 9, 1);
  CHECK(s.target == 9);
  s = d.decide(10, 9, 1);
  CHECK(s.target == 7);
  CHECK(s.note == "step limit -2");
}

TEST_CASE("scale_decider: validate_scale_limits names the field and value") {
  CHECK(validate_scale_limits(ScaleLimits{}).is_ok());
  CHECK(validate_scale_limits(limits(0, 0, 0)).is_ok());
  CHECK(validate_scale_limits(limits(5, 2, 30)).message() == "autoscale: min (5) must not exceed max (2)");
  CHECK(validate_scale_limits(limits(-1, 2, 30)).message() == "autoscale: min must be in [0, 10000], got -1");
  CHECK(validate_scale_limits(limits(0, 20000, 30)).message() == "autoscale: max must be in [0, 10000], got 20000");
  CHECK(validate_scale_limits(limits(0, 2, -1)).message() ==
        "autoscale: cooldown must be in [0, 86400] seconds, got -1");
  CHECK(validate_scale_limits(limits(0, 2, std::nan(""))).code() == Status::Code::kInvalidArgument);
  CHECK(validate_scale_limits(limits(0, 2, 30, -1)).message() ==
        "autoscale: max_step_up must be >= 0 (0: no limit), got -1");
  CHECK(validate_scale_limits(limits(0, 2, 30, 0, -2)).message() ==
        "autoscale: max_step_down must be >= 0 (0: no limit), got -2");
}

TEST_CASE("fit_budget: no budget passes the wanted targets through") {
  std::map<std::string, int> cur{{"a", 1}, {"b", 2}}, want{{"a", 50}, {"b", 60}};
  CHECK(fit_budget(cur, want, 0) == want);
  CHECK(fit_budget(cur, want, -1) == want);
}

TEST_CASE("fit_budget: growth within the budget is untouched") {
  std::map<std::string, int> cur{{"a", 1}, {"b", 2}}, want{{"a", 3}, {"b", 4}};
  CHECK(fit_budget(cur, want, 7) == want);
}

TEST_CASE("fit_budget: the room left is shared by growth asked") {
  // room = 10 - (2 + 2) = 6; growth asked 6 and 3: quotas 4 and 2.
  std::map<std::string, int> cur{{"a", 2}, {"b", 2}}, want{{"a", 8}, {"b", 5}};
  CHECK(fit_budget(cur, want, 10) == std::map<std::string, int>{{"a", 6}, {"b", 4}});
  // room 5, asked 6 + 3: quotas 3.33 and 1.67 -> 3 and 1, the seat left to b (.67).
  CHECK(fit_budget(cur, want, 9) == std::map<std::string, int>{{"a", 5}, {"b", 4}});
}

TEST_CASE("fit_budget: equal remainders go to the first name") {
  std::map<std::string, int> cur{{"a", 0}, {"b", 0}, {"c", 0}}, want{{"c", 4}, {"b", 4}, {"a", 4}};
  CHECK(fit_budget(cur, want, 5) == std::map<std::string, int>{{"a", 2}, {"b", 2}, {"c", 1}});
  CHECK(fit_budget(cur, want, 1) == std::map<std::string, int>{{"a", 1}, {"b", 0}, {"c", 0}});
}

TEST_CASE("fit_budget: shrinking and holding pools are never cut") {
  // c has no autoscale (wanted == current); a shrinks; b grows into what is left.
  std::map<std::string, int> cur{{"a", 6}, {"b", 1}, {"c", 3}}, want{{"a", 4}, {"b", 9}, {"c", 3}};
  CHECK(fit_budget(cur, want, 10) == std::map<std::string, int>{{"a", 4}, {"b", 3}, {"c", 3}});
  // A pool only in current holds and counts.
  std::map<std::string, int> cur2{{"a", 2}, {"x", 5}}, want2{{"a", 9}};
  CHECK(fit_budget(cur2, want2, 8) == std::map<std::string, int>{{"a", 3}});
}

TEST_CASE("fit_budget: already over budget nothing grows and shrinks still happen") {
  std::map<std::string, int> cur{{"a", 8}, {"b", 4}}, want{{"a", 5}, {"b", 6}};
  CHECK(fit_budget(cur, want, 10) == std::map<std::string, int>{{"a", 5}, {"b", 4}});
  // Exactly at the budget: growth only into what a shrink frees.
  std::map<std::string, int> cur2{{"a", 6}, {"b", 4}};
  CHECK(fit_budget(cur2, want, 10) == std::map<std::string, int>{{"a", 5}, {"b", 5}});
}

TEST_CASE("fit_budget: a new pool starts from zero") {
  std::map<std::string, int> cur{{"a", 4}}, want{{"a", 4}, {"new", 10}};
  CHECK(fit_budget(cur, want, 6) == std::map<std::string, int>{{"a", 4}, {"new", 2}});
}
