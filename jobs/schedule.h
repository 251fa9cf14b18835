// A schedule (the schedules part of issue 15): a job enqueued at each tick of a cron
// expression or an interval, in a time zone. Plain values, no SQL, no Lua, no JSON: the
// store keeps them (schedule_store.h), the scheduler fires them (scheduler.h), api/
// describes their fields for every serializer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "engine/status.h"
#include "jobs/cron_expr.h"
#include "jobs/job.h"

namespace drover::jobs {

// What happens to the ticks that passed while no drover was there to fire them (down, or
// the store thread held up longer than kMissedGrace).
enum class MissedPolicy {
  kSkip,  // none of them runs; the next tick does (cron's own behaviour, the default)
  kOne,   // one run stands for all of them
  kAll,   // each runs, oldest first, at most kMaxCatchUp (the rest are logged and dropped)
};
const char* missed_policy_name(MissedPolicy p);  // "skip", "one", "all"
std::optional<MissedPolicy> missed_policy_from_name(const std::string& name);

// A tick later than this is a missed one, not a late one.
inline constexpr int64_t kMissedGraceMs = 30'000;
inline constexpr int kMaxCatchUp = 100;
inline constexpr size_t kMaxScheduleNameBytes = 200;

// What a user defines: schedule "nightly-report" { cron = "0 3 * * *", topic = "reports" }.
struct Schedule {
  std::string name;   // unique; letters, digits and -_.: (it is a URL path segment)
  std::string cron;   // a cron expression or macro (cron_expr.h); or
  std::string every;  // an interval, "30s"; exactly one of the two is set
  std::string tz;     // IANA zone the cron fields are read in; "" is UTC
  // The job each tick enqueues.
  std::string topic;
  std::string args = "{}";  // JSON text, kept as given
  int priority = 0;
  int max_attempts = 3;
  double timeout_s = 0;
  MissedPolicy missed = MissedPolicy::kSkip;
  bool overlap = true;  // false: a tick is skipped while the previous run waits or runs
  bool enabled = true;

  bool operator==(const Schedule&) const = default;
};

// Every field checked, the first error naming it after `where` ("schedule \"x\".cron: ...").
Status validate_schedule(const Schedule& s);
// The compiled expression (cron or every); the schedule must be valid.
Result<CronExpr> schedule_expr(const Schedule& s);
// The job one tick enqueues.
JobRequest schedule_request(const Schedule& s);
// "0 3 * * * Europe/Berlin", "every 30s": how listings show when it fires.
std::string schedule_when(const Schedule& s);

// A schedule as the store has it: the definition and what became of its ticks.
struct ScheduleState {
  Schedule schedule;
  int64_t created_ms = 0;
  // The latest tick consumed (fired or skipped): the fleet-wide cursor a tick must pass to
  // fire. Set to the creation time, and moved to now when turned back on, so ticks from
  // before are never due.
  int64_t last_tick_ms = 0;
  int64_t last_run_ms = 0;      // when the latest job was enqueued (a tick or run_now); 0: never
  JobId last_job = 0;           // that job; 0: none
  std::optional<JobState> last_job_state;  // its state now, if the store still keeps it
  int64_t runs = 0;             // jobs enqueued so far
  int64_t skipped = 0;          // ticks consumed without a job (overlap, missed)
  int64_t next_ms = 0;          // the next tick after last_tick_ms, when enabled; 0: none
  std::string note;             // why the latest tick did not run, if it did not
  std::string outcome;          // schedule_outcome(), filled for listings

  bool operator==(const ScheduleState&) const = default;
};

// "done", "running", ..., "skipped: ..." or "" (never ran): the listing's last outcome.
std::string schedule_outcome(const ScheduleState& s);

}  // namespace drover::jobs
