// Scheduler: fires the schedules' ticks. A thread of its own sleeps until the earliest
// next tick (or a poke: a schedule changed), then runs one pass on the store thread: for
// each enabled schedule, the ticks due since its cursor, shaped by the missed policy
// (plan_ticks), each handed to ScheduleStore::fire_schedule, which fires it once in the
// fleet and enqueues its job in the same transaction. The engine loop never waits on it;
// it only waits on the store thread, like any other caller.
//
// Thread: construct and destroy on any thread; poke() and pass() from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "jobs/job_queue.h"
#include "jobs/schedule_store.h"

namespace drover::jobs {

// The ticks of one schedule due at `now`, each with what to do about it; empty when none.
// Ticks after the cursor up to now are due; the latest is on time when no more than
// kMissedGraceMs late, the others were missed (drover down, or held up):
//   skip: the latest runs if on time; the rest are consumed unrun (one plan entry)
//   one:  one run, at the latest, stands for them all
//   all:  each runs, the latest kMaxCatchUp of them; the older are consumed unrun
// `dropped` reports how many ticks were consumed without a plan entry of their own (for
// the log). A very dense expression after a long absence is walked for at most
// kMaxTickWalk ticks, then from a minute before now.
struct PlannedTick {
  int64_t tick_ms = 0;
  TickPlan plan;
};
inline constexpr int kMaxTickWalk = 20000;
std::vector<PlannedTick> plan_ticks(const ScheduleState& s, const CronExpr& expr, const date::time_zone* tz,
                                    int64_t now_ms, int64_t* dropped);

// The next tick to come for a listing (ScheduleState::next_ms): 0 when off or never.
int64_t next_tick(const ScheduleState& s, int64_t now_ms);

class Scheduler {
 public:
  using NowFn = std::function<int64_t()>;  // wall clock, ms
  // After the commit that enqueued it: a tick's job (the dispatcher is poked for its topic).
  using FiredFn = std::function<void(const std::string& schedule, const Job& job)>;
  using LogFn = std::function<void(const std::string& line)>;

  struct Options {
    NowFn now;               // default: the system clock
    FiredFn fired;           // may be empty
    LogFn log;               // missed and dropped ticks, store errors; may be empty
    bool run_thread = true;  // false: nothing fires but pass() (tests drive the clock)
    // The longest sleep: schedules another host changed are seen within it.
    int64_t max_sleep_ms = 30'000;
  };

  // The queue must outlive the scheduler and have a store with schedules().
  Scheduler(JobQueue& queue, Options options);
  ~Scheduler();  // stops the thread; a pass under way finishes first
  Scheduler(const Scheduler&) = delete;

  // A schedule changed here: recompute the wake-up now.
  void poke();

  struct Pass {
    std::vector<std::pair<std::string, Job>> fired;
    int64_t skipped = 0;     // ticks consumed without a job
    int64_t next_ms = 0;     // the earliest next tick of any enabled schedule; 0: none
  };
  // One pass at `now_ms`, on the store thread; blocks until it committed.
  Result<Pass> pass(int64_t now_ms);

  struct Counters {
    uint64_t passes = 0, fired = 0, skipped = 0, errors = 0;
  };
  Counters counters() const;

 private:
  void run();
  void log(const std::string& line) const;

  JobQueue& queue_;
  Options options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool poked_ = false;
  Counters counters_;
  std::thread thread_;  // last: started once the rest exists
};

}  // namespace drover::jobs
