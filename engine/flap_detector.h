// FlapDetector: per slot, for the pool's whole life (not just its first seconds, as PM2
// judges), "more than max_exits bad exits within window_s" means the slot is flapping.
//
// On flapping the history is cleared and an episode counted; the caller holds the slot
// for cooldown_s and then retries. After give_up_after episodes (0 = never) the caller
// stops retrying until an operator starts the pool again. Pure: times are passed in.
#pragma once

#include <deque>

#include "engine/clock.h"
#include "engine/pool_spec.h"

namespace drover {

class FlapDetector {
 public:
  enum class Verdict { kOk, kFlapping, kGiveUp };

  // Records a bad exit at `now` and judges the slot.
  Verdict on_bad_exit(const FlapPolicy& policy, TimePoint now);
  void reset() {
    exits_.clear();
    episodes_ = 0;
  }
  int episodes() const { return episodes_; }
  size_t exits_in_window() const { return exits_.size(); }

 private:
  std::deque<TimePoint> exits_;
  int episodes_ = 0;
};

}  // namespace drover
