// Where schedules live, beside the jobs they enqueue: a small interface of its own so that
// each job store (SQLite, PostgreSQL) implements it over the same schema
// (drover_schedules) without the JobStore interface changing.
//
// Firing once in the fleet: every host computes the same ticks (cron_expr.h), and a tick
// T fires only through fire_schedule(), which moves the schedule's cursor
// (last_tick_ms) to T only if it is still before T, and enqueues the job in the same
// transaction. Of several hosts, or a drover restarted mid-tick, exactly one moves the
// cursor; the others are told kTaken. A crash before the commit loses both the cursor
// move and the job, so the tick is fired again by whoever comes next: never twice, never
// half.
//
// Time is a parameter, as in JobStore. Thread: the store thread, like JobStore.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/status.h"
#include "jobs/job.h"
#include "jobs/schedule.h"

namespace drover::jobs {

// What fire_schedule() does with a tick.
struct TickPlan {
  bool run = true;       // false: consume the tick without a job (missed = "skip")
  int64_t skipped = 0;   // ticks counted as skipped with it (missed ticks one run stands for)
  std::string note;      // why the tick did not run, when run is false
};

struct TickResult {
  enum class Kind {
    kFired,    // the job enqueued, the cursor at the tick
    kSkipped,  // the cursor at the tick, no job: the plan said so, or overlap = false and
               // the previous run still waits or runs (note says which)
    kTaken,    // nothing changed: another host or an earlier call consumed the tick, or
               // the schedule is off or gone
  };
  Kind kind = Kind::kTaken;
  std::optional<Job> job;
  std::string note;
};

class ScheduleStore {
 public:
  virtual ~ScheduleStore() = default;

  // Defines a schedule, or replaces the definition of one with that name, keeping its
  // cursor and history (a redefinition never refires a tick). A new one's cursor is now:
  // its first tick is the first after its creation. Invalid: Status::invalid naming the
  // field, nothing changed.
  virtual Result<ScheduleState> upsert_schedule(const Schedule& s, int64_t now_ms) = 0;
  virtual Status remove_schedule(const std::string& name) = 0;  // not_found if none
  // Off: no tick fires. On again: the cursor moves to now, so the ticks that passed while
  // it was off never run, whatever the missed policy.
  virtual Result<ScheduleState> set_schedule_enabled(const std::string& name, bool on, int64_t now_ms) = 0;
  virtual Result<ScheduleState> get_schedule(const std::string& name) = 0;
  virtual Result<std::vector<ScheduleState>> list_schedules() = 0;  // by name

  // Tick tick_ms of an enabled schedule, consumed once in the fleet (above), with the job
  // (schedule_request of the stored definition) enqueued in the same transaction. The
  // overlap check reads the previous job in that transaction too.
  virtual Result<TickResult> fire_schedule(const std::string& name, int64_t tick_ms, const TickPlan& plan,
                                           int64_t now_ms) = 0;
  // One run now, outside the ticks (schedule.run_now): enqueued whatever overlap says or
  // whether it is on; the cursor stays.
  virtual Result<Job> run_schedule_now(const std::string& name, int64_t now_ms) = 0;
};

}  // namespace drover::jobs
