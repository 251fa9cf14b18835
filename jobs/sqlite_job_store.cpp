#include "jobs/sqlite_job_store.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

namespace drover::jobs {

namespace {

// Version 1. Each later version is one more entry, run in order inside one transaction.
// States are stored by name, so the table reads well in `sqlite3` and the PostgreSQL
// store can share the schema.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE drover_jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: an id keeps meaning one job after a prune
  topic TEXT NOT NULL,
  args TEXT NOT NULL,
  priority INTEGER NOT NULL,
  state TEXT NOT NULL,
  run_at_ms INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  timeout_s REAL NOT NULL,
  unique_key TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  started_ms INTEGER NOT NULL,
  finished_ms INTEGER NOT NULL,
  host TEXT NOT NULL,
  worker TEXT NOT NULL,
  result TEXT NOT NULL,
  error TEXT NOT NULL
);
-- The dispatch order: claim() reads this index front to back.
CREATE INDEX drover_jobs_due ON drover_jobs (topic, priority DESC, run_at_ms, id)
  WHERE state IN ('queued', 'failed');
-- A key names at most one job that waits or runs, per topic.
CREATE UNIQUE INDEX drover_jobs_key ON drover_jobs (topic, unique_key)
  WHERE unique_key <> '' AND state IN ('queued', 'failed', 'running');
CREATE INDEX drover_jobs_finished ON drover_jobs (finished_ms) WHERE state IN ('done', 'dead', 'cancelled');
CREATE INDEX drover_jobs_state ON drover_jobs (state, topic);
)sql",
};

constexpr const char* kJobColumns =
    "id, topic, args, priority, state, run_at_ms, attempt, max_attempts, timeout_s, unique_key, created_ms, "
    "started_ms, finished_ms, host, worker, result, error";

bool waiting_or_running(JobState s) { return is_waiting(s) || s == JobState::kRunning; }
bool retryable(JobState s) { return s == JobState::kDead || s == JobState::kFailed || s == JobState::kCancelled; }
bool finished(JobState s) { return is_finished(s); }

Status no_job(JobId id) { return Status::not_found(fmt::format("no job {}", id)); }

// Jobs in dispatch order: what claim() promises, whatever order RETURNING gave.
void sort_for_dispatch(std::vector<Job>& jobs) {
  std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) {
    if (a.priority != b.priority) return a.priority > b.priority;
    if (a.run_at_ms != b.run_at_ms) return a.run_at_ms < b.run_at_ms;
    return a.id < b.id;
  });
}

}  // namespace

Result<SqliteStatement*> SqliteJobStore::cached_sql(const std::string& sql) { return db_->cached(sql); }

std::optional<Durability> durability_from_name(const std::string& name) {
  if (name == "full") return Durability::kFull;
  if (name == "normal") return Durability::kNormal;
  if (name == "off") return Durability::kOff;
  return std::nullopt;
}

Result<std::unique_ptr<SqliteJobStore>> SqliteJobStore::open(const std::string& path, Durability d) {
  auto db = SqliteDb::open(path);
  if (!db) return db.error();
  std::unique_ptr<SqliteJobStore> store(new SqliteJobStore(std::move(*db)));
  const char* sync = d == Durability::kFull ? "FULL" : d == Durability::kNormal ? "NORMAL" : "OFF";
  if (Status s = store->db_->exec("PRAGMA journal_mode = WAL"); !s) return s;
  if (Status s = store->db_->exec(fmt::format("PRAGMA synchronous = {}", sync).c_str()); !s) return s;
  // Another process reading the file (sqlite3 at a prompt) holds a lock for a moment.
  if (Status s = store->db_->exec("PRAGMA busy_timeout = 5000"); !s) return s;
  if (Status s = store->migrate(); !s) return Status::io_error(fmt::format("{}: {}", path, s.message()));
  return store;
}

Status SqliteJobStore::migrate() {
  auto st = db_->prepare("PRAGMA user_version");
  if (!st) return st.error();
  Status error;
  if (!st->step(&error)) return error.is_ok() ? db_->error("user_version") : error;
  const int64_t version = st->int64(0);
  const int64_t known = std::size(kMigrations);
  if (version > known)
    return Status::invalid(fmt::format("the job store is at schema version {}, this drover knows up to {}: "
                                       "a newer drover made it", version, known));
  if (version == known) return Status::ok();
  SqliteTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  for (int64_t v = version; v < known; ++v)
    if (Status s = db_->exec(kMigrations[v]); !s) return s;
  if (Status s = db_->exec(fmt::format("PRAGMA user_version = {}", known).c_str()); !s) return s;
  return tx.commit();
}

Status SqliteJobStore::group(const std::function<Status()>& fn) {
  SqliteTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  if (Status s = fn(); !s) return s;
  return tx.commit();
}

Result<std::vector<Job>> SqliteJobStore::read_jobs(SqliteStatement& st) {
  std::vector<Job> jobs;
  Status error;
  while (st.step(&error)) {
    Job j;
    j.id = st.int64(0);
    j.topic = st.text(1);
    j.args = st.text(2);
    j.priority = static_cast<int>(st.int64(3));
    j.state = job_state_from_name(st.text(4)).value_or(JobState::kDead);
    j.run_at_ms = st.int64(5);
    j.attempt = static_cast<int>(st.int64(6));
    j.max_attempts = static_cast<int>(st.int64(7));
    j.timeout_s = st.real(8);
    j.key = st.text(9);
    j.created_ms = st.int64(10);
    j.started_ms = st.int64(11);
    j.finished_ms = st.int64(12);
    j.host = st.text(13);
    j.worker = st.text(14);
    j.result = st.text(15);
    j.error = st.text(16);
    jobs.push_back(std::move(j));
  }
  if (!error) return error;
  return jobs;
}

Result<std::vector<Job>> SqliteJobStore::enqueue(const std::vector<JobRequest>& requests, int64_t now_ms) {
  for (size_t i = 0; i < requests.size(); ++i)
    if (Status s = validate_request(requests[i], fmt::format("jobs[{}]", i)); !s) return s;
  SqliteTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto existing = cached_sql(fmt::format(
      "SELECT {} FROM drover_jobs WHERE topic = ?1 AND unique_key = ?2 AND state IN ('queued', 'failed', 'running')",
      kJobColumns));
  auto insert = cached_sql(fmt::format(
      "INSERT INTO drover_jobs (topic, args, priority, state, run_at_ms, attempt, max_attempts, timeout_s, "
      "unique_key, created_ms, started_ms, finished_ms, host, worker, result, error) "
      "VALUES (?1, ?2, ?3, 'queued', ?4, 0, ?5, ?6, ?7, ?8, 0, 0, '', '', '', '')"));
  if (!existing) return existing.error();
  SqliteStatement& find_key = **existing;
  if (!insert) return insert.error();
  SqliteStatement& add = **insert;
  std::vector<Job> out;
  out.reserve(requests.size());
  for (const JobRequest& r : requests) {
    if (!r.key.empty()) {
      find_key.reset();
      find_key.bind(1, r.topic).bind(2, r.key);
      auto found = read_jobs(find_key);
      if (!found) return found.error();
      if (!found->empty()) {
        out.push_back(std::move(found->front()));
        continue;
      }
    }
    add.reset();
    const auto run_at = now_ms + static_cast<int64_t>(std::llround(r.delay_s * 1000));
    add.bind(1, r.topic).bind(2, r.args).bind(3, r.priority).bind(4, run_at).bind(5, r.max_attempts);
    add.bind(6, r.timeout_s).bind(7, r.key).bind(8, now_ms);
    if (Status st = add.run(); !st) return st;
    // The row is what was bound: build it here rather than read 17 columns back.
    Job& j = out.emplace_back();
    j.id = db_->last_insert_rowid();
    j.topic = r.topic;
    j.args = r.args;
    j.priority = r.priority;
    j.run_at_ms = run_at;
    j.max_attempts = r.max_attempts;
    j.timeout_s = r.timeout_s;
    j.key = r.key;
    j.created_ms = now_ms;
  }
  if (Status s = tx.commit(); !s) return s;
  return out;
}

Result<std::vector<Job>> SqliteJobStore::claim(const std::string& topic, size_t n, int64_t now_ms,
                                               const std::string& host, const std::string& worker) {
  if (n == 0) return std::vector<Job>{};
  SqliteTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto st = cached_sql(fmt::format(
      "UPDATE drover_jobs SET state = 'running', attempt = attempt + 1, started_ms = ?3, host = ?4, worker = ?5 "
      "WHERE id IN (SELECT id FROM drover_jobs WHERE topic = ?1 AND state IN ('queued', 'failed') "
      "AND run_at_ms <= ?3 ORDER BY priority DESC, run_at_ms, id LIMIT ?2) RETURNING {}",
      kJobColumns));
  if (!st) return st.error();
  SqliteStatement& q = **st;
  q.bind(1, topic).bind(2, static_cast<int64_t>(std::min<size_t>(n, kMaxListLimit))).bind(3, now_ms);
  q.bind(4, host).bind(5, worker);
  auto jobs = read_jobs(q);
  if (!jobs) return jobs;
  if (Status s = tx.commit(); !s) return s;
  sort_for_dispatch(*jobs);
  return jobs;
}

Result<Job> SqliteJobStore::get_in_state(JobId id, const char* action, bool (*allowed)(JobState)) {
  auto job = get(id);
  if (!job) return job;
  if (!allowed(job->state))
    return Status::invalid(fmt::format("job {} is {}: it cannot be {}", id, job_state_name(job->state), action));
  return job;
}

Result<Job> SqliteJobStore::finish(JobId id, const JobOutcome& outcome, int64_t now_ms, int64_t retry_at_ms) {
  SqliteTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto job = get_in_state(id, "finished", [](JobState s) { return s == JobState::kRunning; });
  if (!job) return job;
  JobState next = outcome.ok ? JobState::kDone
                  : job->attempt >= job->max_attempts ? JobState::kDead
                                                      : JobState::kFailed;
  auto st = cached_sql(fmt::format(
      "UPDATE drover_jobs SET state = ?2, run_at_ms = ?3, finished_ms = ?4, result = ?5, error = ?6 "
      "WHERE id = ?1 RETURNING {}",
      kJobColumns));
  if (!st) return st.error();
  SqliteStatement& q = **st;
  q.bind(1, id).bind(2, job_state_name(next));
  q.bind(3, next == JobState::kFailed ? retry_at_ms : job->run_at_ms);
  q.bind(4, next == JobState::kFailed ? int64_t{0} : now_ms);
  q.bind(5, outcome.ok ? outcome.output : job->result).bind(6, outcome.ok ? job->error : outcome.output);
  auto jobs = read_jobs(q);
  if (!jobs) return jobs.error();
  if (Status s = tx.commit(); !s) return s;
  return std::move(jobs->front());
}

Result<Job> SqliteJobStore::release(JobId id, int64_t /*now_ms*/) {
  SqliteTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto job = get_in_state(id, "given back", [](JobState s) { return s == JobState::kRunning; });
  if (!job) return job;
  auto st = cached_sql(fmt::format(
      "UPDATE drover_jobs SET state = 'queued', attempt = max(attempt - 1, 0), started_ms = 0, host = '', "
      "worker = '' WHERE id = ?1 RETURNING {}",
      kJobColumns));
  if (!st) return st.error();
  SqliteStatement& q = **st;
  q.bind(1, id);
  auto jobs = read_jobs(q);
  if (!jobs) return jobs.error();
  if (Status s = tx.commit(); !s) return s;
  return std::move(jobs->front());
}

Result<Job> SqliteJobStore::cancel(JobId id, int64_t now_ms) {
  SqliteTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto job = get_in_state(id, "cancelled", waiting_or_running);
  if (!job) return job;
  auto st = cached_sql(fmt::format(
      "UPDATE drover_jobs SET state = 'cancelled', finished_ms = ?2 WHERE id = ?1 RETURNING {}", kJobColumns));
  if (!st) return st.error();
  SqliteStatement& q = **st;
  q.bind(1, id).bind(2, now_ms);
  auto jobs = read_jobs(q);
  if (!jobs) return jobs.error();
  if (Status s = tx.commit(); !s) return s;
  return std::move(jobs->front());
}

Result<Job> SqliteJobStore::retry(JobId id, int64_t now_ms) {
  SqliteTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto job = get_in_state(id, "retried", retryable);
  if (!job) return job;
  auto st = cached_sql(fmt::format(
      "UPDATE drover_jobs SET state = 'queued', attempt = 0, run_at_ms = ?2, finished_ms = 0 "
      "WHERE id = ?1 RETURNING {}",
      kJobColumns));
  if (!st) return st.error();
  SqliteStatement& q = **st;
  q.bind(1, id).bind(2, now_ms);
  auto jobs = read_jobs(q);
  if (!jobs) {
    // The unique index: another job with its key waits or runs now.
    if (jobs.error().message().find("UNIQUE") != std::string::npos)
      return Status::exists(fmt::format("job {}: a job with key \"{}\" is already queued or running", id, job->key));
    return jobs.error();
  }
  if (Status s = tx.commit(); !s) return s;
  return std::move(jobs->front());
}

Result<size_t> SqliteJobStore::retry_dead(const std::optional<std::string>& topic, int64_t now_ms) {
  SqliteTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  // A dead job whose key another job now holds stays dead (OR IGNORE skips it).
  auto st = cached_sql(
      "UPDATE OR IGNORE drover_jobs SET state = 'queued', attempt = 0, run_at_ms = ?2, finished_ms = 0 "
      "WHERE state = 'dead' AND (?1 IS NULL OR topic = ?1)");
  if (!st) return st.error();
  SqliteStatement& q = **st;
  if (topic) q.bind(1, *topic);
  q.bind(2, now_ms);
  if (Status s = q.run(); !s) return s;
  const auto n = static_cast<size_t>(db_->changes());
  if (Status s = tx.commit(); !s) return s;
  return n;
}

Status SqliteJobStore::drop(JobId id) {
  SqliteTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto job = get_in_state(id, "dropped (cancel it first)", finished);
  if (!job) return job.error();
  auto st = cached_sql("DELETE FROM drover_jobs WHERE id = ?1");
  if (!st) return st.error();
  SqliteStatement& q = **st;
  q.bind(1, id);
  if (Status s = q.run(); !s) return s;
  return tx.commit();
}

Result<Job> SqliteJobStore::get(JobId id) {
  auto st = cached_sql(fmt::format("SELECT {} FROM drover_jobs WHERE id = ?1", kJobColumns));
  if (!st) return st.error();
  SqliteStatement& q = **st;
  q.bind(1, id);
  auto jobs = read_jobs(q);
  if (!jobs) return jobs.error();
  if (jobs->empty()) return no_job(id);
  return std::move(jobs->front());
}

Result<std::vector<Job>> SqliteJobStore::list(const JobFilter& f) {
  if (f.limit < 1 || f.limit > kMaxListLimit)
    return Status::invalid(fmt::format("limit {} must be 1 to {}", f.limit, kMaxListLimit));
  auto st = cached_sql(fmt::format(
      "SELECT {} FROM drover_jobs WHERE id > ?1 AND (?2 IS NULL OR topic = ?2) AND (?3 IS NULL OR state = ?3) "
      "ORDER BY id LIMIT ?4",
      kJobColumns));
  if (!st) return st.error();
  SqliteStatement& q = **st;
  q.bind(1, f.after);
  if (f.topic) q.bind(2, *f.topic);
  if (f.state) q.bind(3, job_state_name(*f.state));
  q.bind(4, static_cast<int64_t>(f.limit));
  return read_jobs(q);
}

Result<std::vector<TopicStats>> SqliteJobStore::stats(int64_t now_ms) {
  // A scan of the state index; the engine keeps live counts itself and asks this on start
  // and for the shell's jobs.stats().
  auto st = cached_sql(
      "SELECT topic, state, count(*), sum(run_at_ms <= ?1), min(CASE WHEN run_at_ms <= ?1 THEN run_at_ms END) "
      "FROM drover_jobs GROUP BY topic, state ORDER BY topic");
  if (!st) return st.error();
  return read_stats(**st, now_ms);
}

Result<std::vector<TopicStats>> SqliteJobStore::live_stats(int64_t now_ms) {
  // The state index (state, topic) picks the rows: done and cancelled jobs, most of a
  // retained table, are not read.
  auto st = cached_sql(
      "SELECT topic, state, count(*), sum(run_at_ms <= ?1), min(CASE WHEN run_at_ms <= ?1 THEN run_at_ms END) "
      "FROM drover_jobs WHERE state IN ('queued', 'failed', 'running', 'dead') GROUP BY topic, state ORDER BY topic");
  if (!st) return st.error();
  return read_stats(**st, now_ms);
}

Result<std::vector<TopicStats>> SqliteJobStore::read_stats(SqliteStatement& q, int64_t now_ms) {
  q.bind(1, now_ms);
  std::map<std::string, TopicStats> by_topic;
  Status error;
  while (q.step(&error)) {
    TopicStats& t = by_topic[q.text(0)];
    t.topic = q.text(0);
    const auto state = job_state_from_name(q.text(1));
    const int64_t count = q.int64(2), due = q.int64(3);
    if (!state) continue;
    switch (*state) {
      case JobState::kQueued: t.queued += due; t.scheduled += count - due; break;
      case JobState::kFailed: t.failed += count; break;
      case JobState::kRunning: t.running = count; break;
      case JobState::kDone: t.done = count; break;
      case JobState::kDead: t.dead = count; break;
      case JobState::kCancelled: t.cancelled = count; break;
    }
    if (is_waiting(*state) && !q.is_null(4))
      t.oldest_age_s = std::max(t.oldest_age_s, static_cast<double>(now_ms - q.int64(4)) / 1000.0);
  }
  if (!error) return error;
  std::vector<TopicStats> out;
  for (auto& [name, t] : by_topic) out.push_back(std::move(t));
  return out;
}

Result<std::vector<Job>> SqliteJobStore::requeue_running(int64_t now_ms) {
  SqliteTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  // As Oban rescues orphans: a job with attempts left runs again; one that was on its last
  // attempt is dead, since running it again would pass the attempts it was given.
  auto st = cached_sql(fmt::format(
      "UPDATE drover_jobs SET state = CASE WHEN attempt < max_attempts THEN 'queued' ELSE 'dead' END, "
      "run_at_ms = ?1, finished_ms = CASE WHEN attempt < max_attempts THEN 0 ELSE ?1 END, "
      "error = CASE WHEN attempt < max_attempts THEN error ELSE 'drover stopped while its last attempt ran' END "
      "WHERE state = 'running' RETURNING {}",
      kJobColumns));
  if (!st) return st.error();
  SqliteStatement& q = **st;
  q.bind(1, now_ms);
  auto jobs = read_jobs(q);
  if (!jobs) return jobs;
  if (Status s = tx.commit(); !s) return s;
  std::sort(jobs->begin(), jobs->end(), [](const Job& a, const Job& b) { return a.id < b.id; });
  return jobs;
}

Result<size_t> SqliteJobStore::prune(const Retention& r, int64_t now_ms) {
  SqliteTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto st = cached_sql(
      "DELETE FROM drover_jobs WHERE state IN ('done', 'dead', 'cancelled') AND (finished_ms < ?1 OR id IN "
      "(SELECT id FROM drover_jobs WHERE state IN ('done', 'dead', 'cancelled') "
      "ORDER BY finished_ms DESC, id DESC LIMIT -1 OFFSET ?2))");
  if (!st) return st.error();
  SqliteStatement& q = **st;
  q.bind(1, now_ms - static_cast<int64_t>(r.max_age_s * 1000)).bind(2, static_cast<int64_t>(r.max_finished));
  if (Status s = q.run(); !s) return s;
  const auto n = static_cast<size_t>(db_->changes());
  if (Status s = tx.commit(); !s) return s;
  return n;
}

}  // namespace drover::jobs
