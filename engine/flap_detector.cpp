#include "engine/flap_detector.h"

namespace drover {

FlapDetector::Verdict FlapDetector::on_bad_exit(const FlapPolicy& policy, TimePoint now) {
  exits_.push_back(now);
  const TimePoint horizon = now - seconds_f(policy.window_s);
  while (!exits_.empty() && exits_.front() < horizon) exits_.pop_front();
  if (static_cast<int>(exits_.size()) <= policy.max_exits) return Verdict::kOk;
  exits_.clear();
  ++episodes_;
  if (policy.give_up_after > 0 && episodes_ >= policy.give_up_after) return Verdict::kGiveUp;
  return Verdict::kFlapping;
}

}  // namespace drover
