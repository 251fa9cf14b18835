#include "jobs/topic_counters.h"

#include <algorithm>

namespace drover::jobs {

std::vector<double> default_run_bounds() {
  return {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
}

TopicCounters::TopicCounters(std::vector<double> run_bounds) : bounds_(std::move(run_bounds)) {}

TopicCounters::Topic& TopicCounters::topic(const std::string& name) {
  Topic& t = topics_[name];
  if (t.g.topic.empty()) {
    t.g.topic = name;
    t.g.run_time.bounds = bounds_;
    t.g.run_time.counts.assign(bounds_.size() + 1, 0);
  }
  return t;
}

void TopicCounters::refresh(const std::vector<TopicStats>& live, int64_t now_ms) {
  std::lock_guard lock(mu_);
  for (auto& [name, t] : topics_) {
    t.g.queued = t.g.scheduled = t.g.running = t.g.retrying = t.g.dead = 0;
    t.oldest_due_ms = 0;
  }
  for (const TopicStats& s : live) {
    Topic& t = topic(s.topic);
    t.g.queued = s.queued;
    t.g.scheduled = s.scheduled;
    t.g.running = s.running;
    t.g.retrying = s.failed;
    t.g.dead = s.dead;
    t.oldest_due_ms = s.oldest_age_s > 0 || s.queued > 0 ? now_ms - static_cast<int64_t>(s.oldest_age_s * 1000) : 0;
  }
  refreshed_ms_ = now_ms;
}

namespace {

void less(int64_t& count, int64_t n) { count = std::max<int64_t>(0, count - n); }

}  // namespace

void TopicCounters::on_enqueued(const std::string& name, uint64_t due, uint64_t delayed) {
  std::lock_guard lock(mu_);
  Topic& t = topic(name);
  t.g.enqueued_total += due + delayed;
  if (due > 0 && t.g.queued == 0) t.oldest_due_ms = 0;  // none waited before these
  t.g.queued += static_cast<int64_t>(due);
  t.g.scheduled += static_cast<int64_t>(delayed);
}

void TopicCounters::on_started(const std::string& name, uint64_t n) {
  std::lock_guard lock(mu_);
  Topic& t = topic(name);
  t.g.started_total += n;
  // From the queued jobs, then from the retries (a failed job due again).
  const int64_t from_queued = std::min(t.g.queued, static_cast<int64_t>(n));
  t.g.queued -= from_queued;
  less(t.g.retrying, static_cast<int64_t>(n) - from_queued);
  t.g.running += static_cast<int64_t>(n);
}

void TopicCounters::on_end(const std::string& name, JobState state, double run_s) {
  std::lock_guard lock(mu_);
  TopicGauge& g = topic(name).g;
  switch (state) {
    case JobState::kDone: ++g.done_total; break;
    case JobState::kFailed: ++g.failed_total, ++g.retrying; break;
    case JobState::kDead: ++g.failed_total, ++g.dead_total, ++g.dead; break;
    case JobState::kCancelled: ++g.cancelled_total; return;  // stopped, not run to an end
    default: return;
  }
  less(g.running, 1);
  RunHistogram& h = g.run_time;
  const size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), run_s) - bounds_.begin();  // le: <= bound
  ++h.counts[i];
  h.sum += std::max(0.0, run_s);
  ++h.count;
}

std::vector<TopicGauge> TopicCounters::gauges(int64_t now_ms) const {
  std::lock_guard lock(mu_);
  std::vector<TopicGauge> out;
  out.reserve(topics_.size());
  for (const auto& [name, t] : topics_) {
    out.push_back(t.g);
    // Nothing waits any more (claimed since the refresh): no age, whatever the refresh saw.
    if (t.oldest_due_ms > 0 && t.g.queued + t.g.retrying > 0)
      out.back().oldest_age_s = std::max<int64_t>(0, now_ms - t.oldest_due_ms) / 1000.0;
  }
  return out;
}

int64_t TopicCounters::refreshed_ms() const {
  std::lock_guard lock(mu_);
  return refreshed_ms_;
}

}  // namespace drover::jobs
