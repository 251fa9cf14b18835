// The world autoscale_sim runs strategies against: a replayable arrival trace, a pool of
// single-job workers fed FIFO from one queue, and the KEDA/HPA controller with its
// default behaviour, reimplemented as the baseline. Everything is deterministic: the
// trace is drawn once from a seeded generator and every strategy replays the same jobs.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

namespace drover::sim {

struct Job {
  double arrival = 0;  // seconds since the start of the trace
  double service = 0;  // how long one worker is busy with it
  int queue = 0;       // which of the two queues it goes to when a strategy has two
};

struct Burst {
  double start_s, length_s, rate;  // jobs/s on top of the baseline
};

struct TraceSpec {
  double length_s = 1800;
  double baseline_rate = 2;  // jobs/s, all the time
  std::vector<Burst> bursts{{120, 90, 58}, {540, 60, 78}, {900, 120, 38}};
  double ramp_start_s = 1140, ramp_up_s = 240, ramp_hold_s = 60, ramp_peak_rate = 20;  // total
  double spike_s = 1500;
  int spike_jobs = 3000;
  double mean_service_s = 2;        // exponential
  double second_queue_share = 0.3;  // of every job, for the strategies with two queues
  uint64_t seed = 20261201;

  double rate_at(double t) const;  // jobs/s at t, without the spike
  double end_of_last_burst() const { return spike_s; }
  std::string describe() const;
};

std::vector<Job> make_trace(const TraceSpec& spec);

// A pool of workers that each serve one job at a time, in continuous time inside the
// 1 s steps: a worker free at 3.4 takes a job that arrived at 3.7 at 3.7. New workers
// are ready `startup_s` after they are asked for. Scaling down stops workers still
// starting first (the newest), then idle ones, then busy ones, which finish their job
// and leave (a graceful stop); all of them are paid for until they are gone.
class SimPool {
 public:
  SimPool(std::vector<Job> jobs, double startup_s);

  // Before the trace: n workers ready at t = 0 (a warm pool).
  void start_with(int n);
  // At a step boundary: the pool is to have n workers from now on.
  void set_target(double now, int n);
  // Runs [t, t + 1): jobs that arrive start on the worker free first.
  void step(double t);
  // Pays for the workers still there, up to `end` (the horizon).
  void finish(double end);

  int target() const { return target_; }
  int queue(double t) const;                                       // jobs arrived before t and not started
  int busy(double t) const;                                        // workers on a job at t (leaving ones included)
  int running(double t) const;                                     // ready workers that are not leaving
  int alive() const { return static_cast<int>(workers_.size()); }  // processes, all states
  double worker_seconds() const { return worker_seconds_; }
  const std::vector<double>& waits() const { return waits_; }
  // How long the oldest job not started by t has waited (m.age); 0 when none waits.
  double oldest_wait(double t) const;
  // The mean run time of the jobs started so far (what m.run_time estimates from the jobs
  // that ended); 0 before the first.
  double mean_service() const { return next_ ? service_sum_ / static_cast<double>(next_) : 0; }
  // Jobs that arrived but never started by `end`, with how long they had waited.
  std::vector<double> unstarted_waits(double end) const;

 private:
  struct Worker {
    double spawned, ready_at, free_at;
    bool leaving = false;
  };
  void remove(size_t i, double when);

  std::vector<Job> jobs_;
  size_t next_ = 0;  // the first job not started
  double startup_s_;
  int target_ = 0;
  std::vector<Worker> workers_;
  std::vector<double> waits_;
  double worker_seconds_ = 0;
  double service_sum_ = 0;  // of the jobs started
};

// Kubernetes' HPA driven by a KEDA queue-length scaler, with the defaults: the metric is
// the queue's depth (KEDA's Redis scaler reads LLEN, so running jobs are not seen),
// desired = ceil(depth / target) unless depth / (current * target) is within 10 % of 1,
// the highest recommendation of the last 300 s when scaling down, growth at most
// max(+100 %, +4 pods) per 15 s, polled every 30 s.
class KedaHpa {
 public:
  KedaHpa(double target, int min, int max) : target_(target), min_(min), max_(max) {}
  static constexpr double kPollS = 30, kWindowS = 300, kUpPeriodS = 15, kTolerance = 0.1;
  int decide(double now, int current, double depth);

 private:
  double target_;
  int min_, max_;
  std::deque<std::pair<double, int>> recommendations_;
  std::deque<std::pair<double, int>> scale_ups_;  // (time, pods added)
};

}  // namespace drover::sim
