// The decider follows Kubernetes' HPA (pkg/controller/podautoscaler, stabilizeRecommendation
// and convertDesiredReplicasWithBehaviorRate) with its scale-up window fixed at 0:
//
//   up   = this recommendation
//   down = the highest recommendation within the cooldown window, this one included
//   target = current, raised to `up` if below it, lowered to `down` if above it
//
// So growth is immediate, and a pool shrinks only to the highest size any recent
// recommendation asked for. An old high recommendation never makes the pool grow (the
// pool may be below it because a budget cut it): that is why the rule starts from current
// rather than from the window's maximum. Step limits apply after that, and [min, max]
// last, because they are the hard bounds an operator wrote down.
#include "autoscale/scale_decider.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace drover {

namespace {

// A policy's arithmetic often lands a hair above an integer (0.1 * 3 / 0.1 is
// 3.0000000000000004); that must mean 3 workers, not 4.
constexpr double kCeilSlack = 1e-9;

void add_note(std::string& note, const std::string& part) {
  if (!note.empty()) note += "; ";
  note += part;
}

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string seconds_text(double s) {
  long whole = std::lround(std::ceil(s - kCeilSlack));
  return std::to_string(std::max(whole, 0L)) + " s";
}

}  // namespace

Status validate_scale_limits(const ScaleLimits& l) {
  auto bad = [](const std::string& what) { return Status::invalid("autoscale: " + what); };
  if (l.min < 0 || l.min > 10000) return bad("min must be in [0, 10000], got " + std::to_string(l.min));
  if (l.max < 0 || l.max > 10000) return bad("max must be in [0, 10000], got " + std::to_string(l.max));
  if (l.min > l.max)
    return bad("min (" + std::to_string(l.min) + ") must not exceed max (" + std::to_string(l.max) + ")");
  // NaN fails both comparisons, so test for the good range rather than the bad one.
  if (!(l.cooldown_s >= 0 && l.cooldown_s <= 86400))
    return bad("cooldown must be in [0, 86400] seconds, got " + number_text(l.cooldown_s));
  if (l.max_step_up < 0) return bad("max_step_up must be >= 0 (0: no limit), got " + std::to_string(l.max_step_up));
  if (l.max_step_down < 0)
    return bad("max_step_down must be >= 0 (0: no limit), got " + std::to_string(l.max_step_down));
  return Status::ok();
}

ScaleDecision ScaleDecider::decide(double now_s, int current, double desired) {
  const ScaleLimits& l = limits_;
  ScaleDecision d;
  std::string note;

  // The caller rejects NaN and negatives; should one slip through, keep the size.
  double wanted = std::isnan(desired) ? current : std::max(desired, 0.0);
  // Clamp in double first: ceil of 1e300 does not fit an int.
  double rounded = std::ceil(std::min(wanted, 1e9) - kCeilSlack);
  int rec = static_cast<int>(std::max(rounded, 0.0));
  if (rec > l.max) {
    add_note(note, "clamped to max " + std::to_string(l.max));
    rec = l.max;
  } else if (rec < l.min) {
    add_note(note, "clamped to min " + std::to_string(l.min));
    rec = l.min;
  }
  d.recommended = rec;

  // The window holds recommendations younger than cooldown_s (HPA keeps those whose
  // timestamp is after now - window); with cooldown 0 only this one.
  while (!history_.empty() && now_s - history_.front().first >= l.cooldown_s) history_.pop_front();
  history_.emplace_back(now_s, rec);
  int down = rec;
  for (const auto& [t, r] : history_) down = std::max(down, r);

  int target = std::min(std::max(current, rec), down);
  if (target > rec) {
    // Held: say at what and for how long the recommendation that holds it stays in the
    // window (the latest one at or above the held size; a new high one may extend it).
    double since = now_s;
    for (const auto& [t, r] : history_)
      if (r >= target) since = t;
    add_note(note, "held by cooldown (" + std::to_string(target) + ", " + seconds_text(since + l.cooldown_s - now_s) +
                       " left)");
  }

  if (l.max_step_up > 0 && target > current + l.max_step_up) {
    target = current + l.max_step_up;
    add_note(note, "step limit +" + std::to_string(l.max_step_up));
  }
  if (l.max_step_down > 0 && target < current - l.max_step_down) {
    target = current - l.max_step_down;
    add_note(note, "step limit -" + std::to_string(l.max_step_down));
  }
  // A pool outside its limits (they were just changed, or a step limit would stop short
  // of min) goes straight inside them.
  if (target > l.max) {
    target = l.max;
    add_note(note, "clamped to max " + std::to_string(l.max));
  } else if (target < l.min) {
    target = l.min;
    add_note(note, "clamped to min " + std::to_string(l.min));
  }

  d.target = target;
  d.changed = target != current;
  d.note = std::move(note);
  return d;
}

std::map<std::string, int> fit_budget(const std::map<std::string, int>& current,
                                      const std::map<std::string, int>& wanted, int max_workers) {
  if (max_workers <= 0) return wanted;
  auto current_of = [&](const std::string& name) {
    auto it = current.find(name);
    return it == current.end() ? 0 : it->second;
  };

  std::map<std::string, int> out;
  int64_t now_sum = 0;  // the pools as they are
  int64_t kept = 0;     // what the pools that do not grow will have, plus the growers' current
  int64_t asked = 0;    // total growth asked for
  for (const auto& [name, n] : current)
    if (!wanted.count(name)) kept += n, now_sum += n;  // not ours to decide: it holds
  for (const auto& [name, n] : wanted) {
    int cur = current_of(name);
    now_sum += cur;
    if (n > cur) {
      kept += cur;
      asked += n - cur;
      out[name] = cur;
    } else {
      kept += n;
      out[name] = n;
    }
  }
  // Over budget already: nothing grows this round, even if shrinking pools would make
  // room. Their workers take a grace period to leave, and a new one would start at once.
  if (asked == 0 || now_sum > max_workers) return out;
  int64_t room = max_workers - kept;
  if (room <= 0) return out;
  if (asked <= room) return wanted;

  // Share `room` by growth asked (Hamilton's method, exact in integers): each grower gets
  // the floor of its quota, the seats left go to the largest remainders, ties by name
  // (std::map's order, so the first name wins).
  struct Share {
    std::string name;
    int64_t remainder;
  };
  std::vector<Share> shares;
  int64_t given = 0;
  for (const auto& [name, n] : wanted) {
    int64_t growth = n - current_of(name);
    if (growth <= 0) continue;
    int64_t q = room * growth;
    out[name] += static_cast<int>(q / asked);
    given += q / asked;
    shares.push_back({name, q % asked});
  }
  std::stable_sort(shares.begin(), shares.end(),
                   [](const Share& a, const Share& b) { return a.remainder > b.remainder; });
  for (size_t i = 0; given < room && i < shares.size(); ++i, ++given) out[shares[i].name] += 1;
  return out;
}

}  // namespace drover
