// PgJobStore's ScheduleStore half: the drover_schedules table (migration 4 in
// pg_job_store.cpp), call for call the SQLite store's (sqlite_schedules.cpp). Each call is
// one transaction, nested as a savepoint inside the store thread's group; a tick's cursor
// move and its job's insert share it.
//
// Once in the fleet: fire_schedule's conditional UPDATE locks the schedule's row. A host
// firing the same tick meanwhile waits on that lock, and once the first commits,
// PostgreSQL re-reads the row for its WHERE (READ COMMITTED): the cursor is at the tick,
// so it changes nothing and is told kTaken. Had the first rolled back, the second claims.
#include <fmt/format.h>

#include "jobs/pg_job_store.h"

namespace drover::jobs {

namespace {

// s.* then the latest job's state (NULL once pruned): read_schedules reads them in order.
constexpr const char* kScheduleColumns =
    "s.name, s.cron, s.every, s.tz, s.topic, s.args, s.priority, s.max_attempts, s.timeout_s, s.missed, "
    "s.overlap, s.enabled, s.created_ms, s.last_tick_ms, s.last_run_ms, s.last_job, s.runs, s.skipped, s.note, "
    "j.state";

Status no_schedule(const std::string& name) { return Status::not_found(fmt::format("no schedule \"{}\"", name)); }

// PostgreSQL's text for a boolean, each way.
const char* pg_bool(bool b) { return b ? "true" : "false"; }
bool is_true(const PgResult& r, int row, int col) { return r.text(row, col) == "t"; }

std::vector<ScheduleState> read_schedules(const PgResult& r) {
  std::vector<ScheduleState> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    ScheduleState st;
    Schedule& s = st.schedule;
    s.name = r.text(i, 0);
    s.cron = r.text(i, 1);
    s.every = r.text(i, 2);
    s.tz = r.text(i, 3);
    s.topic = r.text(i, 4);
    s.args = r.text(i, 5);
    s.priority = static_cast<int>(r.int64(i, 6));
    s.max_attempts = static_cast<int>(r.int64(i, 7));
    s.timeout_s = r.real(i, 8);
    s.missed = missed_policy_from_name(r.text(i, 9)).value_or(MissedPolicy::kSkip);
    s.overlap = is_true(r, i, 10);
    s.enabled = is_true(r, i, 11);
    st.created_ms = r.int64(i, 12);
    st.last_tick_ms = r.int64(i, 13);
    st.last_run_ms = r.int64(i, 14);
    st.last_job = r.int64(i, 15);
    st.runs = r.int64(i, 16);
    st.skipped = r.int64(i, 17);
    st.note = r.text(i, 18);
    if (!r.is_null(i, 19)) st.last_job_state = job_state_from_name(r.text(i, 19));
    out.push_back(std::move(st));
  }
  return out;
}

}  // namespace

Result<ScheduleState> PgJobStore::get_schedule(const std::string& name) {
  auto r = db_->query(fmt::format("SELECT {} FROM drover_schedules s LEFT JOIN drover_jobs j ON j.id = s.last_job "
                                  "WHERE s.name = $1",
                                  kScheduleColumns),
                      {name});
  if (!r) return r.error();
  auto rows = read_schedules(*r);
  if (rows.empty()) return no_schedule(name);
  return std::move(rows.front());
}

Result<std::vector<ScheduleState>> PgJobStore::list_schedules() {
  // COLLATE "C": by name byte for byte, as SQLite orders, whatever the database's locale.
  auto r = db_->query(fmt::format("SELECT {} FROM drover_schedules s LEFT JOIN drover_jobs j ON j.id = s.last_job "
                                  "ORDER BY s.name COLLATE \"C\"",
                                  kScheduleColumns));
  if (!r) return r.error();
  return read_schedules(*r);
}

Result<ScheduleState> PgJobStore::upsert_schedule(const Schedule& s, int64_t now_ms) {
  if (Status v = validate_schedule(s); !v) return v;
  PgTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  // A replaced definition keeps created_ms, the cursor and the history. Turned on by a
  // redefinition, its cursor moves to now as set_schedule_enabled's does. Two hosts
  // defining one schedule at once (the same config): the second waits on the first's
  // row and then updates it, as ON CONFLICT does.
  auto r = db_->query(
      "INSERT INTO drover_schedules (name, cron, every, tz, topic, args, priority, max_attempts, timeout_s, missed, "
      "overlap, enabled, created_ms, last_tick_ms, last_run_ms, last_job, runs, skipped, note) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, 0, 0, 0, 0, '') "
      "ON CONFLICT (name) DO UPDATE SET cron = excluded.cron, every = excluded.every, tz = excluded.tz, "
      "topic = excluded.topic, args = excluded.args, priority = excluded.priority, "
      "max_attempts = excluded.max_attempts, timeout_s = excluded.timeout_s, missed = excluded.missed, "
      "overlap = excluded.overlap, enabled = excluded.enabled, "
      "last_tick_ms = CASE WHEN excluded.enabled AND NOT drover_schedules.enabled "
      "THEN GREATEST(drover_schedules.last_tick_ms, $13) ELSE drover_schedules.last_tick_ms END",
      {s.name, s.cron, s.every, s.tz, s.topic, s.args, s.priority, s.max_attempts, s.timeout_s,
       missed_policy_name(s.missed), pg_bool(s.overlap), pg_bool(s.enabled), now_ms});
  if (!r) return r.error();
  auto row = get_schedule(s.name);
  if (!row) return row;
  if (Status c = tx.commit(); !c) return c;
  return row;
}

Status PgJobStore::remove_schedule(const std::string& name) {
  PgTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto r = db_->query("DELETE FROM drover_schedules WHERE name = $1", {name});
  if (!r) return r.error();
  if (r->affected() == 0) return no_schedule(name);
  return tx.commit();
}

Result<ScheduleState> PgJobStore::set_schedule_enabled(const std::string& name, bool on, int64_t now_ms) {
  PgTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  // $2::boolean: the parameter is used twice, once beside NOT enabled; the cast types it.
  auto r = db_->query(
      "UPDATE drover_schedules SET last_tick_ms = CASE WHEN $2::boolean AND NOT enabled "
      "THEN GREATEST(last_tick_ms, $3) ELSE last_tick_ms END, enabled = $2::boolean WHERE name = $1",
      {name, pg_bool(on), now_ms});
  if (!r) return r.error();
  if (r->affected() == 0) return no_schedule(name);
  auto row = get_schedule(name);
  if (!row) return row;
  if (Status c = tx.commit(); !c) return c;
  return row;
}

Result<Job> PgJobStore::enqueue_for(const Schedule& s, int64_t now_ms) {
  // enqueue() joins the caller's transaction (a savepoint) and sends its NOTIFY, which
  // the listening hosts hear at the caller's commit.
  auto jobs = enqueue({schedule_request(s)}, now_ms);
  if (!jobs) return jobs.error();
  auto r = db_->query(
      "UPDATE drover_schedules SET last_job = $2, last_run_ms = $3, runs = runs + 1, note = '' WHERE name = $1",
      {s.name, jobs->front().id, now_ms});
  if (!r) return r.error();
  return std::move(jobs->front());
}

Result<TickResult> PgJobStore::fire_schedule(const std::string& name, int64_t tick_ms, const TickPlan& plan,
                                             int64_t now_ms) {
  PgTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  // The claim on the tick: of all hosts and restarts, one changes the row (above).
  auto claim = db_->query(
      "UPDATE drover_schedules SET last_tick_ms = $2 WHERE name = $1 AND enabled AND last_tick_ms < $2",
      {name, tick_ms});
  if (!claim) return claim.error();
  TickResult out;
  if (claim->affected() == 0) return out;  // kTaken; the transaction rolls back: nothing to keep
  // Read under the row lock just taken: the definition and the previous job as they are.
  auto row = get_schedule(name);
  if (!row) return row.error();
  out.note = plan.run ? "" : plan.note;
  if (plan.run && !row->schedule.overlap && row->last_job && row->last_job_state &&
      (is_waiting(*row->last_job_state) || *row->last_job_state == JobState::kRunning))
    out.note = fmt::format("job {} still {}", row->last_job, job_state_name(*row->last_job_state));
  if (!out.note.empty() || !plan.run) {
    auto skip = db_->query("UPDATE drover_schedules SET skipped = skipped + $2, note = $3 WHERE name = $1",
                           {name, plan.skipped + 1, out.note});
    if (!skip) return skip.error();
    out.kind = TickResult::Kind::kSkipped;
  } else {
    auto job = enqueue_for(row->schedule, now_ms);
    if (!job) return job.error();
    if (plan.skipped) {
      auto count =
          db_->query("UPDATE drover_schedules SET skipped = skipped + $2 WHERE name = $1", {name, plan.skipped});
      if (!count) return count.error();
    }
    out.kind = TickResult::Kind::kFired;
    out.job = std::move(*job);
  }
  if (Status c = tx.commit(); !c) return c;
  return out;
}

Result<Job> PgJobStore::run_schedule_now(const std::string& name, int64_t now_ms) {
  PgTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto row = get_schedule(name);
  if (!row) return row.error();
  auto job = enqueue_for(row->schedule, now_ms);
  if (!job) return job;
  if (Status c = tx.commit(); !c) return c;
  return job;
}

}  // namespace drover::jobs
