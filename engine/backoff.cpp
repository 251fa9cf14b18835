#include "engine/backoff.h"

#include <algorithm>
#include <cmath>

namespace drover {

Duration Backoff::on_exit(const BackoffPolicy& policy, Duration uptime) {
  if (uptime >= seconds_f(policy.reset_after_s)) {
    quick_exits_ = 0;
    return Duration::zero();
  }
  if (++quick_exits_ == 1) return Duration::zero();
  // Exponent capped so a long streak cannot overflow the double before the min().
  double delay = policy.initial_s * std::pow(policy.factor, std::min(quick_exits_ - 2, 64));
  return seconds_f(std::min(delay, policy.max_s));
}

}  // namespace drover
