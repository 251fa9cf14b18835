// ProbeRunner: runs queue probes on a thread of its own, each on its own period, and
// keeps the latest reading of each, so that whoever asks (the autoscaler, /metrics) gets
// an answer at once and never waits on a slow or dead queue.
//
// One thread serves every probe in due order (a probe blocks only up to its timeout;
// the timeouts are short). A probe whose error changes (first failure, a different one,
// recovery) is reported once through `warn`, not at every read.
// Thread: every method may be called from any thread; `warn` is called on the runner's.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "autoscale/queue_probe.h"

namespace drover {

struct ProbeSample {
  QueueReading reading;
  double taken_at_s = 0;  // wall clock seconds (epoch) of the reading; 0: none yet
  // Change per second of depth between the last two readings that had one; nullopt until two.
  std::optional<double> rate;
  std::string describe;   // the probe's describe()
};

class ProbeRunner {
 public:
  using Warn = std::function<void(const std::string& key, const std::string& text)>;
  // Called on the runner's thread after each read of a probe, outside the runner's lock,
  // while the probe is still registered: hands a reading on (a worker registry's, to the engine).
  using OnRead = std::function<void(const QueueReading&)>;
  explicit ProbeRunner(Warn warn = {});
  ~ProbeRunner();  // stops the thread; a read in progress finishes first (bounded by its timeout)
  ProbeRunner(const ProbeRunner&) = delete;
  ProbeRunner& operator=(const ProbeRunner&) = delete;

  // Adds or replaces the probe under key (the pool's name); the first read is due now.
  void add(const std::string& key, std::unique_ptr<QueueProbe> probe, double period_s, OnRead on_read = {});
  void remove(const std::string& key);
  // The latest sample; nullopt for an unknown key.
  std::optional<ProbeSample> latest(const std::string& key) const;
  // Keys and their probes' descriptions.
  std::map<std::string, std::string> list() const;

 private:
  struct Entry;
  void run();
  Warn warn_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace drover
