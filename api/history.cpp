#include "api/history.h"

#include <pthread.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace drover {

namespace {

constexpr float kNone = std::numeric_limits<float>::quiet_NaN();
enum PoolField { kTarget, kRunning, kBusy, kRestarts, kQueue, kCpu, kRss, kPoolFields };
enum TopicField { kQueued, kTopicRunning, kOldestAge, kDone, kFailed, kP50, kP95, kTopicFields };

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double as_double(float f) { return std::isnan(f) ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(f); }

}  // namespace

double histogram_delta_quantile(const RunHistogram& before, const RunHistogram& now, double q) {
  if (now.counts.empty() || now.count <= before.count) return std::numeric_limits<double>::quiet_NaN();
  std::vector<uint64_t> delta(now.counts.size(), 0);
  const bool comparable = before.counts.size() == now.counts.size() && before.bounds == now.bounds;
  uint64_t total = 0;
  for (size_t i = 0; i < delta.size(); ++i) {
    delta[i] = now.counts[i] - (comparable ? std::min(before.counts[i], now.counts[i]) : 0);
    total += delta[i];
  }
  if (total == 0) return std::numeric_limits<double>::quiet_NaN();
  const double rank = q * static_cast<double>(total);
  uint64_t below = 0;
  for (size_t i = 0; i < delta.size(); ++i) {
    if (static_cast<double>(below + delta[i]) >= rank && delta[i] > 0) {
      const double lo = i == 0 ? 0 : now.bounds[i - 1];
      if (i >= now.bounds.size()) return lo;  // past the last bound: all that is known
      const double hi = now.bounds[i];
      return lo + (hi - lo) * (rank - static_cast<double>(below)) / static_cast<double>(delta[i]);
    }
    below += delta[i];
  }
  return now.bounds.empty() ? 0 : now.bounds.back();
}

HistoryRing::Series& HistoryRing::series(std::map<std::string, Series>& in, const std::string& name, size_t fields,
                                         bool& kept) {
  auto it = in.find(name);
  kept = true;
  if (it != in.end()) return it->second;
  static Series none;
  if (in.size() >= kMaxHistorySeries) {
    kept = false;
    ++dropped_;
    return none;
  }
  Series& s = in[name];
  s.fields.assign(fields, std::vector<float>(capacity_, kNone));
  return s;
}

void HistoryRing::forget_gone(std::map<std::string, Series>& in) {
  for (auto it = in.begin(); it != in.end();)
    it = count_ - it->second.last_seen > capacity_ ? in.erase(it) : std::next(it);
}

void HistoryRing::add(const EngineSnapshot& snap, int64_t t_ms, const std::map<std::string, ProcessTotals>* usage) {
  std::lock_guard lock(mu_);
  if (t_ms_.empty()) t_ms_.assign(capacity_, 0);
  const size_t at = count_ % capacity_;
  ++count_;
  t_ms_[at] = t_ms;
  // Every series gets a value at `at`: NaN unless its pool or topic is there now.
  for (auto* group : {&pools_, &topics_})
    for (auto& [_, s] : *group)
      for (auto& f : s.fields) f[at] = kNone;
  for (const PoolSnapshot& p : snap.pools) {
    bool kept = false;
    Series& s = series(pools_, p.spec.name, kPoolFields, kept);
    if (!kept) continue;
    s.last_seen = count_;
    s.fields[kTarget][at] = static_cast<float>(p.target);
    s.fields[kRunning][at] = static_cast<float>(p.running);
    s.fields[kBusy][at] = static_cast<float>(p.busy);
    s.fields[kRestarts][at] = static_cast<float>(p.counters.restarts - std::min(s.restarts, p.counters.restarts));
    s.restarts = p.counters.restarts;
    // A jobs pool's queue is drover's own; another's is what its probe read.
    if (const TopicGauge* t = snap.find_topic(p.spec.name)) s.fields[kQueue][at] = static_cast<float>(t->queued);
    else if (p.queue.depth) s.fields[kQueue][at] = static_cast<float>(*p.queue.depth);
    if (usage)
      if (auto u = usage->find(p.spec.name); u != usage->end()) {
        s.fields[kCpu][at] = static_cast<float>(u->second.cpu);
        s.fields[kRss][at] = static_cast<float>(u->second.rss_bytes);
      }
  }
  for (const TopicGauge& t : snap.jobs) {
    bool kept = false;
    Series& s = series(topics_, t.topic, kTopicFields, kept);
    if (!kept) continue;
    s.last_seen = count_;
    s.fields[kQueued][at] = static_cast<float>(t.queued);
    s.fields[kTopicRunning][at] = static_cast<float>(t.running);
    s.fields[kOldestAge][at] = static_cast<float>(t.oldest_age_s);
    s.fields[kDone][at] = static_cast<float>(t.done_total - std::min(s.done, t.done_total));
    s.fields[kFailed][at] = static_cast<float>(t.failed_total - std::min(s.failed, t.failed_total));
    s.fields[kP50][at] = static_cast<float>(histogram_delta_quantile(s.runs, t.run_time, 0.5));
    s.fields[kP95][at] = static_cast<float>(histogram_delta_quantile(s.runs, t.run_time, 0.95));
    s.done = t.done_total;
    s.failed = t.failed_total;
    s.runs = t.run_time;
  }
  forget_gone(pools_);
  forget_gone(topics_);
}

History HistoryRing::read(int64_t since_ms, size_t every, const std::string& only) const {
  std::lock_guard lock(mu_);
  every = std::clamp<size_t>(every, 1, capacity_);
  History h;
  h.step_s = static_cast<double>(every);
  h.dropped = dropped_;
  // The ring's slots oldest first, after since_ms, the last of each group of `every`.
  const uint64_t held = std::min<uint64_t>(count_, capacity_);
  std::vector<size_t> slots;
  for (uint64_t n = count_ - held; n < count_; ++n) {
    const size_t at = n % capacity_;
    if (t_ms_[at] > since_ms) slots.push_back(at);
  }
  std::vector<size_t> picked;
  for (size_t i = slots.size() % every == 0 ? every - 1 : slots.size() % every - 1; i < slots.size(); i += every)
    picked.push_back(slots[i]);
  for (size_t at : picked) h.t_ms.push_back(t_ms_[at]);
  auto column = [&](const Series& s, size_t field) {
    std::vector<double> out;
    out.reserve(picked.size());
    for (size_t at : picked) out.push_back(as_double(s.fields[field][at]));
    return out;
  };
  for (const auto& [name, s] : pools_) {
    if (!only.empty() && name != only) continue;
    PoolHistory& p = h.pools.emplace_back();
    p.pool = name;
    p.target = column(s, kTarget);
    p.running = column(s, kRunning);
    p.busy = column(s, kBusy);
    p.restarts = column(s, kRestarts);
    p.queue = column(s, kQueue);
    p.cpu = column(s, kCpu);
    p.rss_bytes = column(s, kRss);
  }
  for (const auto& [name, s] : topics_) {
    if (!only.empty() && name != only) continue;
    TopicHistory& t = h.topics.emplace_back();
    t.topic = name;
    t.queued = column(s, kQueued);
    t.running = column(s, kTopicRunning);
    t.oldest_age_s = column(s, kOldestAge);
    t.done = column(s, kDone);
    t.failed = column(s, kFailed);
    t.run_p50_s = column(s, kP50);
    t.run_p95_s = column(s, kP95);
  }
  return h;
}

size_t HistoryRing::bytes() const {
  std::lock_guard lock(mu_);
  size_t n = t_ms_.capacity() * sizeof(int64_t);
  for (const auto* group : {&pools_, &topics_})
    for (const auto& [name, s] : *group) {
      n += name.capacity() + sizeof(Series);
      for (const auto& f : s.fields) n += f.capacity() * sizeof(float);
    }
  return n;
}

HistorySampler::HistorySampler(HistoryRing& ring, Snapshot snapshot, std::chrono::milliseconds every, bool usage)
    : ring_(ring), snapshot_(std::move(snapshot)), every_(every) {
  if (usage) usage_.emplace();
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "drover-history");
    std::unique_lock lock(mu_);
    auto next = std::chrono::steady_clock::now();
    while (!stop_) {
      lock.unlock();
      if (auto snap = snapshot_()) {
        if (usage_) {
          // Every worker with a process, stopping ones too: they use the machine until gone.
          std::map<std::string, std::vector<pid_t>> roots;
          for (const auto& p : snap->pools) {
            auto& pids = roots[p.spec.name];
            for (const auto& w : p.workers)
              if (w.pid > 0) pids.push_back(w.pid);
          }
          const auto totals = usage_->sample(roots);
          ring_.add(*snap, wall_ms(), &totals);
        } else {
          ring_.add(*snap, wall_ms());
        }
      }
      lock.lock();
      // On a fixed beat (not `every` after each sample): points stay a second apart.
      next += every_;
      const auto now = std::chrono::steady_clock::now();
      if (next < now) next = now;
      cv_.wait_until(lock, next, [this] { return stop_; });
    }
  });
}

HistorySampler::~HistorySampler() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace drover
