#include "autoscale/probe_runner.h"

#include <pthread.h>

#include <chrono>
#include <limits>

namespace drover {

namespace {

double wall_now_s() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

struct ProbeRunner::Entry {
  std::unique_ptr<QueueProbe> probe;
  double period_s = 1;
  std::chrono::steady_clock::time_point due;
  ProbeSample sample;
  std::optional<std::pair<double, double>> last_depth;  // (time, depth) of the last reading with one
  std::string last_error;   // what was last reported through warn
  OnRead on_read;
};

ProbeRunner::ProbeRunner(Warn warn) : warn_(std::move(warn)) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "drover-probes");
    run();
  });
}

ProbeRunner::~ProbeRunner() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ProbeRunner::add(const std::string& key, std::unique_ptr<QueueProbe> probe, double period_s, OnRead on_read) {
  auto e = std::make_shared<Entry>();
  e->on_read = std::move(on_read);
  e->sample.describe = probe->describe();
  e->probe = std::move(probe);
  e->period_s = period_s > 0 ? period_s : 1;
  e->due = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    entries_[key] = std::move(e);  // a replaced entry being read is kept alive by the runner's copy
  }
  cv_.notify_all();
}

void ProbeRunner::remove(const std::string& key) {
  std::lock_guard lock(mu_);
  entries_.erase(key);
}

std::optional<ProbeSample> ProbeRunner::latest(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second->sample;
}

std::map<std::string, std::string> ProbeRunner::list() const {
  std::lock_guard lock(mu_);
  std::map<std::string, std::string> out;
  for (const auto& [k, e] : entries_) out[k] = e->sample.describe;
  return out;
}

void ProbeRunner::run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    // The entry due first. Few probes (one per autoscaled pool): a scan is cheaper than a heap.
    std::shared_ptr<Entry> next;
    std::string key;
    for (const auto& [k, e] : entries_)
      if (!next || e->due < next->due) next = e, key = k;
    if (!next) {
      cv_.wait(lock);
      continue;
    }
    if (next->due > std::chrono::steady_clock::now()) {
      cv_.wait_until(lock, next->due);
      continue;  // something may have been added, removed or stopped meanwhile
    }
    // Read without the lock: latest() and add() must never wait on a slow queue.
    lock.unlock();
    QueueReading r = next->probe->read();
    const double at = wall_now_s();
    lock.lock();
    next->due = std::chrono::steady_clock::now() +
                std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    std::chrono::duration<double>(next->period_s));
    ProbeSample& s = next->sample;
    if (r.depth) {
      if (next->last_depth && at > next->last_depth->first)
        s.rate = (*r.depth - next->last_depth->second) / (at - next->last_depth->first);
      next->last_depth = {at, *r.depth};
    } else {
      s.rate.reset();  // a gap: the next rate starts afresh
      next->last_depth.reset();
    }
    s.reading = std::move(r);
    s.taken_at_s = at;
    // Report changes of health only, outside the lock (warn may log through the engine).
    std::string report;
    if (s.reading.error != next->last_error) {
      report = s.reading.error.empty() ? "queue probe " + s.describe + ": recovered"
                                       : "queue probe " + s.describe + ": " + s.reading.error;
      next->last_error = s.reading.error;
    }
    // Still registered under this key? (It may have been removed or replaced during the read.)
    auto it = entries_.find(key);
    const bool current = it != entries_.end() && it->second == next;
    if (current && ((!report.empty() && warn_) || next->on_read)) {
      const QueueReading reading = s.reading;  // a copy: the entry may change once unlocked
      lock.unlock();
      if (!report.empty() && warn_) warn_(key, report);
      if (next->on_read) next->on_read(reading);
      lock.lock();
    }
  }
}

}  // namespace drover
