// SqliteJobStore's ScheduleStore half: the drover_schedules table (migration 3 in
// sqlite_job_store.cpp). Each call is one transaction, nested as a savepoint inside the
// store thread's group; a tick's cursor move and its job's insert share it.
#include <fmt/format.h>

#include "jobs/sqlite_job_store.h"

namespace drover::jobs {

namespace {

// s.* then the latest job's state (NULL once pruned): read_schedules reads them in order.
constexpr const char* kScheduleColumns =
    "s.name, s.cron, s.every, s.tz, s.topic, s.args, s.priority, s.max_attempts, s.timeout_s, s.missed, "
    "s.overlap, s.enabled, s.created_ms, s.last_tick_ms, s.last_run_ms, s.last_job, s.runs, s.skipped, s.note, "
    "j.state";

Status no_schedule(const std::string& name) { return Status::not_found(fmt::format("no schedule \"{}\"", name)); }

}  // namespace

Result<std::vector<ScheduleState>> SqliteJobStore::read_schedules(SqliteStatement& st) {
  std::vector<ScheduleState> out;
  Status error;
  while (st.step(&error)) {
    ScheduleState r;
    Schedule& s = r.schedule;
    s.name = st.text(0);
    s.cron = st.text(1);
    s.every = st.text(2);
    s.tz = st.text(3);
    s.topic = st.text(4);
    s.args = st.text(5);
    s.priority = static_cast<int>(st.int64(6));
    s.max_attempts = static_cast<int>(st.int64(7));
    s.timeout_s = st.real(8);
    s.missed = missed_policy_from_name(st.text(9)).value_or(MissedPolicy::kSkip);
    s.overlap = st.int64(10) != 0;
    s.enabled = st.int64(11) != 0;
    r.created_ms = st.int64(12);
    r.last_tick_ms = st.int64(13);
    r.last_run_ms = st.int64(14);
    r.last_job = st.int64(15);
    r.runs = st.int64(16);
    r.skipped = st.int64(17);
    r.note = st.text(18);
    if (!st.is_null(19)) r.last_job_state = job_state_from_name(st.text(19));
    out.push_back(std::move(r));
  }
  if (!error) return error;
  return out;
}

Result<ScheduleState> SqliteJobStore::get_schedule(const std::string& name) {
  auto st = cached_sql(fmt::format(
      "SELECT {} FROM drover_schedules s LEFT JOIN drover_jobs j ON j.id = s.last_job WHERE s.name = ?1",
      kScheduleColumns));
  if (!st) return st.error();
  (*st)->bind(1, name);
  auto rows = read_schedules(**st);
  if (!rows) return rows.error();
  if (rows->empty()) return no_schedule(name);
  return std::move(rows->front());
}

Result<std::vector<ScheduleState>> SqliteJobStore::list_schedules() {
  auto st = cached_sql(fmt::format(
      "SELECT {} FROM drover_schedules s LEFT JOIN drover_jobs j ON j.id = s.last_job ORDER BY s.name",
      kScheduleColumns));
  if (!st) return st.error();
  return read_schedules(**st);
}

Result<ScheduleState> SqliteJobStore::upsert_schedule(const Schedule& s, int64_t now_ms) {
  if (Status v = validate_schedule(s); !v) return v;
  SqliteTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  // A replaced definition keeps created_ms, the cursor and the history. Turned on by a
  // redefinition, its cursor moves to now as set_schedule_enabled's does.
  auto st = cached_sql(
      "INSERT INTO drover_schedules (name, cron, every, tz, topic, args, priority, max_attempts, timeout_s, missed, "
      "overlap, enabled, created_ms, last_tick_ms, last_run_ms, last_job, runs, skipped, note) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, 0, 0, 0, 0, '') "
      "ON CONFLICT (name) DO UPDATE SET cron = excluded.cron, every = excluded.every, tz = excluded.tz, "
      "topic = excluded.topic, args = excluded.args, priority = excluded.priority, "
      "max_attempts = excluded.max_attempts, timeout_s = excluded.timeout_s, missed = excluded.missed, "
      "overlap = excluded.overlap, enabled = excluded.enabled, "
      "last_tick_ms = CASE WHEN excluded.enabled AND NOT enabled THEN max(last_tick_ms, ?13) ELSE last_tick_ms END");
  if (!st) return st.error();
  SqliteStatement& q = **st;
  q.bind(1, s.name).bind(2, s.cron).bind(3, s.every).bind(4, s.tz).bind(5, s.topic).bind(6, s.args);
  q.bind(7, s.priority).bind(8, s.max_attempts).bind(9, s.timeout_s).bind(10, missed_policy_name(s.missed));
  q.bind(11, s.overlap ? 1 : 0).bind(12, s.enabled ? 1 : 0).bind(13, now_ms);
  if (Status r = q.run(); !r) return r;
  auto row = get_schedule(s.name);
  if (!row) return row;
  if (Status c = tx.commit(); !c) return c;
  return row;
}

Status SqliteJobStore::remove_schedule(const std::string& name) {
  SqliteTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto st = cached_sql("DELETE FROM drover_schedules WHERE name = ?1");
  if (!st) return st.error();
  (*st)->bind(1, name);
  if (Status r = (*st)->run(); !r) return r;
  if (db_->changes() == 0) return no_schedule(name);
  return tx.commit();
}

Result<ScheduleState> SqliteJobStore::set_schedule_enabled(const std::string& name, bool on, int64_t now_ms) {
  SqliteTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto st = cached_sql(
      "UPDATE drover_schedules SET last_tick_ms = CASE WHEN ?2 AND NOT enabled THEN max(last_tick_ms, ?3) "
      "ELSE last_tick_ms END, enabled = ?2 WHERE name = ?1");
  if (!st) return st.error();
  (*st)->bind(1, name).bind(2, on ? 1 : 0).bind(3, now_ms);
  if (Status r = (*st)->run(); !r) return r;
  if (db_->changes() == 0) return no_schedule(name);
  auto row = get_schedule(name);
  if (!row) return row;
  if (Status c = tx.commit(); !c) return c;
  return row;
}

Result<Job> SqliteJobStore::enqueue_for(const Schedule& s, int64_t now_ms) {
  auto jobs = enqueue({schedule_request(s)}, now_ms);
  if (!jobs) return jobs.error();
  auto st = cached_sql(
      "UPDATE drover_schedules SET last_job = ?2, last_run_ms = ?3, runs = runs + 1, note = '' WHERE name = ?1");
  if (!st) return st.error();
  (*st)->bind(1, s.name).bind(2, jobs->front().id).bind(3, now_ms);
  if (Status r = (*st)->run(); !r) return r;
  return std::move(jobs->front());
}

Result<TickResult> SqliteJobStore::fire_schedule(const std::string& name, int64_t tick_ms, const TickPlan& plan,
                                                 int64_t now_ms) {
  SqliteTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  // The claim on the tick: of all hosts and restarts, one changes the row.
  auto claim = cached_sql(
      "UPDATE drover_schedules SET last_tick_ms = ?2 WHERE name = ?1 AND enabled AND last_tick_ms < ?2");
  if (!claim) return claim.error();
  (*claim)->bind(1, name).bind(2, tick_ms);
  if (Status r = (*claim)->run(); !r) return r;
  TickResult out;
  if (db_->changes() == 0) return out;  // kTaken; the transaction rolls back: nothing to keep
  auto row = get_schedule(name);
  if (!row) return row.error();
  out.note = plan.run ? "" : plan.note;
  if (plan.run && !row->schedule.overlap && row->last_job && row->last_job_state &&
      (is_waiting(*row->last_job_state) || *row->last_job_state == JobState::kRunning))
    out.note = fmt::format("job {} still {}", row->last_job, job_state_name(*row->last_job_state));
  if (!out.note.empty() || !plan.run) {
    auto skip = cached_sql("UPDATE drover_schedules SET skipped = skipped + ?2, note = ?3 WHERE name = ?1");
    if (!skip) return skip.error();
    (*skip)->bind(1, name).bind(2, plan.skipped + 1).bind(3, out.note);
    if (Status r = (*skip)->run(); !r) return r;
    out.kind = TickResult::Kind::kSkipped;
  } else {
    auto job = enqueue_for(row->schedule, now_ms);
    if (!job) return job.error();
    if (plan.skipped) {
      auto count = cached_sql("UPDATE drover_schedules SET skipped = skipped + ?2 WHERE name = ?1");
      if (!count) return count.error();
      (*count)->bind(1, name).bind(2, plan.skipped);
      if (Status r = (*count)->run(); !r) return r;
    }
    out.kind = TickResult::Kind::kFired;
    out.job = std::move(*job);
  }
  if (Status c = tx.commit(); !c) return c;
  return out;
}

Result<Job> SqliteJobStore::run_schedule_now(const std::string& name, int64_t now_ms) {
  SqliteTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto row = get_schedule(name);
  if (!row) return row.error();
  auto job = enqueue_for(row->schedule, now_ms);
  if (!job) return job;
  if (Status c = tx.commit(); !c) return c;
  return job;
}

}  // namespace drover::jobs
