// The delay before a failed job's next attempt: exponential with jitter (the default of
// Sidekiq, Oban and River alike), so a burst of failures does not come back as one burst.
#pragma once

#include <algorithm>
#include <cmath>

namespace drover::jobs {

struct RetryBackoff {
  double base_s = 1;       // after the first attempt
  double max_s = 3600;     // the cap
  double jitter = 0.25;    // +- this share of the delay
  // attempt: the attempt that failed (1 for the first); unit_random in [0, 1).
  double delay_s(int attempt, double unit_random) const {
    const double plain = std::min(max_s, base_s * std::pow(2.0, std::max(0, attempt - 1)));
    return plain * (1 - jitter + 2 * jitter * unit_random);
  }
};

}  // namespace drover::jobs
