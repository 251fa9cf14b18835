#include "autoscale_sim_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <queue>
#include <random>

namespace drover::sim {

double TraceSpec::rate_at(double t) const {
  double r = baseline_rate;
  for (const Burst& b : bursts)
    if (t >= b.start_s && t < b.start_s + b.length_s) r += b.rate;
  double ramp_end = ramp_start_s + ramp_up_s + ramp_hold_s;
  if (t >= ramp_start_s && t < ramp_end) {
    double up = std::min((t - ramp_start_s) / ramp_up_s, 1.0);
    r += up * (ramp_peak_rate - baseline_rate);
  }
  return r;
}

std::string TraceSpec::describe() const {
  char buf[256];
  std::string s;
  std::snprintf(buf, sizeof buf, "%.0f s, Poisson arrivals, baseline %.0f jobs/s; bursts (total rate):", length_s,
                baseline_rate);
  s += buf;
  for (const Burst& b : bursts) {
    std::snprintf(buf, sizeof buf, " %.0f jobs/s for %.0f s at t=%.0f;", baseline_rate + b.rate, b.length_s, b.start_s);
    s += buf;
  }
  std::snprintf(buf, sizeof buf,
                " ramp %.0f -> %.0f jobs/s over %.0f s from t=%.0f, held %.0f s; spike of %d jobs at t=%.0f;"
                " service exponential, mean %.0f s; seed %llu",
                baseline_rate, ramp_peak_rate, ramp_up_s, ramp_start_s, ramp_hold_s, spike_jobs, spike_s,
                mean_service_s, static_cast<unsigned long long>(seed));
  return s + buf;
}

std::vector<Job> make_trace(const TraceSpec& spec) {
  // libstdc++'s distributions are fixed for a given generator, so one seed gives one
  // trace on this toolchain (other standard libraries may draw differently).
  std::mt19937_64 rng(spec.seed);
  std::exponential_distribution<double> service(1.0 / spec.mean_service_s);
  std::uniform_real_distribution<double> within(0.0, 1.0);
  std::vector<Job> jobs;
  auto add = [&](double at) {
    Job j;
    j.arrival = at;
    j.service = service(rng);
    j.queue = within(rng) < spec.second_queue_share ? 1 : 0;
    jobs.push_back(j);
  };
  for (int t = 0; t < static_cast<int>(spec.length_s); ++t) {
    std::poisson_distribution<int> arrivals(spec.rate_at(t));
    int n = arrivals(rng);
    for (int i = 0; i < n; ++i) add(t + within(rng));
    if (t == static_cast<int>(spec.spike_s))
      for (int i = 0; i < spec.spike_jobs; ++i) add(t + 1e-6 * i);  // at once, in order
  }
  std::stable_sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) { return a.arrival < b.arrival; });
  return jobs;
}

SimPool::SimPool(std::vector<Job> jobs, double startup_s) : jobs_(std::move(jobs)), startup_s_(startup_s) {}

void SimPool::remove(size_t i, double when) {
  worker_seconds_ += when - workers_[i].spawned;
  workers_.erase(workers_.begin() + static_cast<long>(i));
}

void SimPool::start_with(int n) {
  target_ = n;
  for (int i = 0; i < n; ++i) workers_.push_back({0, 0, 0});
}

void SimPool::set_target(double now, int n) {
  n = std::max(n, 0);
  target_ = n;
  int staying = 0;
  for (const Worker& w : workers_) staying += !w.leaving;
  for (; staying < n; ++staying) workers_.push_back({now, now + startup_s_, now + startup_s_});
  if (staying <= n) return;
  int excess = staying - n;
  auto pick = [&](auto pred) {  // the newest worker matching pred, or -1
    for (size_t i = workers_.size(); i-- > 0;)
      if (!workers_[i].leaving && pred(workers_[i])) return static_cast<long>(i);
    return -1L;
  };
  for (; excess > 0; --excess) {
    long i = pick([&](const Worker& w) { return w.ready_at > now; });        // still starting
    if (i < 0) i = pick([&](const Worker& w) { return w.free_at <= now; });  // idle
    if (i >= 0) {
      remove(static_cast<size_t>(i), now);
      continue;
    }
    i = pick([](const Worker&) { return true; });  // busy: finishes its job, then goes
    workers_[static_cast<size_t>(i)].leaving = true;
  }
}

void SimPool::step(double t) {
  // Leaving workers go when their job is done; they were paid for until then.
  for (size_t i = workers_.size(); i-- > 0;)
    if (workers_[i].leaving && workers_[i].free_at <= t) remove(i, workers_[i].free_at);

  // The worker available first takes the oldest job (FIFO), never before it arrived.
  using Slot = std::pair<double, size_t>;  // (available at, worker)
  std::priority_queue<Slot, std::vector<Slot>, std::greater<>> free;
  for (size_t i = 0; i < workers_.size(); ++i)
    if (!workers_[i].leaving) free.push({std::max(workers_[i].ready_at, workers_[i].free_at), i});
  const double end = t + 1;
  while (next_ < jobs_.size() && jobs_[next_].arrival < end && !free.empty() && free.top().first < end) {
    auto [avail, i] = free.top();
    free.pop();
    const Job& job = jobs_[next_++];
    service_sum_ += job.service;
    double start = std::max(avail, job.arrival);
    waits_.push_back(start - job.arrival);
    workers_[i].free_at = start + job.service;
    free.push({workers_[i].free_at, i});
  }
}

void SimPool::finish(double end) {
  for (const Worker& w : workers_) worker_seconds_ += end - w.spawned;
  workers_.clear();
}

int SimPool::queue(double t) const {
  auto arrived =
      std::lower_bound(jobs_.begin(), jobs_.end(), t, [](const Job& j, double at) { return j.arrival < at; });
  return static_cast<int>(arrived - jobs_.begin()) - static_cast<int>(next_);
}

double SimPool::oldest_wait(double t) const {
  if (next_ >= jobs_.size() || jobs_[next_].arrival >= t) return 0;
  return t - jobs_[next_].arrival;
}

int SimPool::busy(double t) const {
  int n = 0;
  // free_at > ready_at: the worker has had a job, and free_at > t: it still has it.
  for (const Worker& w : workers_) n += w.free_at > t && w.free_at > w.ready_at;
  return n;
}

int SimPool::running(double t) const {
  int n = 0;
  for (const Worker& w : workers_) n += !w.leaving && w.ready_at <= t;
  return n;
}

std::vector<double> SimPool::unstarted_waits(double end) const {
  std::vector<double> out;
  for (size_t i = next_; i < jobs_.size() && jobs_[i].arrival < end; ++i) out.push_back(end - jobs_[i].arrival);
  return out;
}

int KedaHpa::decide(double now, int current, double depth) {
  // The replica calculator (AverageValue target): a ratio within tolerance keeps current.
  int desired;
  if (current > 0 && std::fabs(depth / (current * target_) - 1) <= kTolerance)
    desired = current;
  else
    desired = static_cast<int>(std::ceil(depth / target_));
  desired = std::clamp(desired, min_, max_);

  // stabilizeRecommendationWithBehaviors: scale-up window 0, scale-down window 300 s.
  while (!recommendations_.empty() && recommendations_.front().first <= now - kWindowS) recommendations_.pop_front();
  recommendations_.emplace_back(now, desired);
  int down = desired;
  for (const auto& [t, r] : recommendations_) down = std::max(down, r);
  int target = std::min(std::max(current, desired), down);

  // convertDesiredReplicasWithBehaviorRate, default scaleUp policies (100 % and 4 pods per
  // 15 s, the larger wins), measured from the size at the start of the period. The
  // default scale-down policy (100 % per 15 s) never binds.
  while (!scale_ups_.empty() && scale_ups_.front().first <= now - kUpPeriodS) scale_ups_.pop_front();
  int added = 0;
  for (const auto& [t, n] : scale_ups_) added += n;
  int period_start = current - added;
  int up_limit = std::max(period_start * 2, period_start + 4);
  target = std::clamp(std::min(target, up_limit), min_, max_);
  if (target > current) scale_ups_.emplace_back(now, target - current);
  return target;
}

}  // namespace drover::sim
