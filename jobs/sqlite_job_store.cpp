#include "jobs/sqlite_job_store.h"

#include "jobs/store_rules.h"

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
    // Version 2: fan-out. A child names its parent; a parent counts its children and is
    // never claimed, so it leaves the dispatch index.
    R"sql(
ALTER TABLE drover_jobs ADD COLUMN parent INTEGER;
ALTER TABLE drover_jobs ADD COLUMN children INTEGER NOT NULL DEFAULT 0;
DROP INDEX drover_jobs_due;
CREATE INDEX drover_jobs_due ON drover_jobs (topic, priority DESC, run_at_ms, id)
  WHERE state IN ('queued', 'failed') AND children = 0;
CREATE INDEX drover_jobs_parent ON drover_jobs (parent) WHERE parent IS NOT NULL;
-- list() by key, finished jobs too (tasker's GET /TYPE/IDENT).
CREATE INDEX drover_jobs_keys ON drover_jobs (unique_key, topic) WHERE unique_key <> '';
)sql",
    // Version 3: schedules (sqlite_schedules.cpp). last_tick_ms is the fleet-wide cursor a
    // tick must pass to fire (schedule_store.h); last_job is a plain id, not a foreign
    // key: the job may be pruned long before the schedule goes.
    R"sql(
CREATE TABLE drover_schedules (
  name TEXT PRIMARY KEY,
  cron TEXT NOT NULL,
  every TEXT NOT NULL,
  tz TEXT NOT NULL,
  topic TEXT NOT NULL,
  args TEXT NOT NULL,
  priority INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  timeout_s REAL NOT NULL,
  missed TEXT NOT NULL,
  overlap INTEGER NOT NULL,
  enabled INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  last_tick_ms INTEGER NOT NULL,
  last_run_ms INTEGER NOT NULL,
  last_job INTEGER NOT NULL,
  runs INTEGER NOT NULL,
  skipped INTEGER NOT NULL,
  note TEXT NOT NULL
);
)sql",
};

constexpr const char* kJobColumns =
    "id, topic, args, priority, state, run_at_ms, attempt, max_attempts, timeout_s, unique_key, created_ms, "
    "started_ms, finished_ms, host, worker, result, error, parent, children";

using namespace store_rules;

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
  // Another process reading the file (sqlite3 at a prompt), or another connection opening
  // it, holds a lock for a moment: wait for it, from the first statement on (switching to
  // WAL and the migrations take locks too).
  if (Status s = store->db_->exec("PRAGMA busy_timeout = 5000"); !s) return s;
  if (Status s = store->db_->exec("PRAGMA journal_mode = WAL"); !s) return s;
  if (Status s = store->db_->exec(fmt::format("PRAGMA synchronous = {}", sync).c_str()); !s) return s;
  if (Status s = store->migrate(); !s) return Status::io_error(fmt::format("{}: {}", path, s.message()));
  return store;
}

Status SqliteJobStore::migrate() {
  int64_t version = 0;
  {
    // Finalized before the migrations run: a DROP fails while any statement is active.
    auto st = db_->prepare("PRAGMA user_version");
    if (!st) return st.error();
    Status error;
    if (!st->step(&error)) return error.is_ok() ? db_->error("user_version") : error;
    version = st->int64(0);
  }
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
    j.parent = st.is_null(17) ? 0 : st.int64(17);
    j.children = static_cast<int>(st.int64(18));
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
      "unique_key, created_ms, started_ms, finished_ms, host, worker, result, error, parent, children) "
      "VALUES (?1, ?2, ?3, 'queued', ?4, 0, ?5, ?6, ?7, ?8, 0, 0, '', '', '', '', ?9, ?10)"));
  if (!existing) return existing.error();
  SqliteStatement& find_key = **existing;
  if (!insert) return insert.error();
  SqliteStatement& add = **insert;
  std::vector<Job> out;
  out.reserve(requests.size());
  for (const JobRequest& r : requests) {
    const std::string topic = r.topics.empty() || !r.topic.empty() ? r.topic : std::string(kFanoutTopic);
    if (!r.key.empty()) {
      find_key.reset();
      find_key.bind(1, topic).bind(2, r.key);
      auto found = read_jobs(find_key);
      if (!found) return found.error();
      if (!found->empty()) {
        out.push_back(std::move(found->front()));
        continue;
      }
    }
    const auto run_at = now_ms + static_cast<int64_t>(std::llround(r.delay_s * 1000));
    // The job, or a fan-out's parent then its children; the parent left unbound is NULL.
    auto insert_one = [&](const std::string& t, const std::string& key, JobId parent, int children) {
      add.reset();
      add.bind(1, t).bind(2, r.args).bind(3, r.priority).bind(4, run_at).bind(5, r.max_attempts);
      add.bind(6, r.timeout_s).bind(7, key).bind(8, now_ms).bind(10, children);
      if (parent) add.bind(9, parent);
      return add.run();
    };
    if (Status st = insert_one(topic, r.key, 0, static_cast<int>(r.topics.size())); !st) return st;
    const JobId id = db_->last_insert_rowid();
    for (const std::string& child : r.topics)
      if (Status st = insert_one(child, "", id, 0); !st) return st;
    // The row is what was bound: build it here rather than read 19 columns back.
    Job& j = out.emplace_back();
    j.id = id;
    j.children = static_cast<int>(r.topics.size());
    j.topic = topic;
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
      "AND children = 0 AND run_at_ms <= ?3 ORDER BY priority DESC, run_at_ms, id LIMIT ?2) RETURNING {}",
      kJobColumns));
  if (!st) return st.error();
  SqliteStatement& q = **st;
  q.bind(1, topic).bind(2, static_cast<int64_t>(std::min<size_t>(n, kMaxListLimit))).bind(3, now_ms);
  q.bind(4, host).bind(5, worker);
  auto jobs = read_jobs(q);
  if (!jobs) return jobs;
  if (Status s = settle_parents(*jobs, now_ms); !s) return s;
  if (Status s = tx.commit(); !s) return s;
  sort_for_dispatch(*jobs);
  return jobs;
}

Result<Job> SqliteJobStore::get_in_state(JobId id, const char* action, bool (*allowed)(JobState)) {
  auto job = get(id);
  if (!job) return job;
  if (!allowed(job->state)) return wrong_state(id, job->state, action);
  return job;
}

Result<Job> SqliteJobStore::finish(JobId id, const JobOutcome& outcome, int64_t now_ms, int64_t retry_at_ms) {
  SqliteTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto job = get_in_state(id, "finished", [](JobState s) { return s == JobState::kRunning; });
  if (!job) return job;
  if (job->children) return not_run(id);
  JobState next = outcome.ok ? JobState::kDone
                  : job->attempt >= job->max_attempts ? JobState::kDead
                                                      : JobState::kFailed;
  auto st = cached_sql(fmt::format(
      "UPDATE drover_jobs SET state = ?2, run_at_ms = ?3, finished_ms = ?4, result = ?5, error = ?6, "
      "worker = CASE WHEN ?7 = '' THEN worker ELSE ?7 END WHERE id = ?1 RETURNING {}",
      kJobColumns));
  if (!st) return st.error();
  SqliteStatement& q = **st;
  q.bind(1, id).bind(2, job_state_name(next));
  q.bind(3, next == JobState::kFailed ? retry_at_ms : job->run_at_ms);
  q.bind(4, next == JobState::kFailed ? int64_t{0} : now_ms);
  q.bind(5, outcome.ok ? outcome.output : job->result).bind(6, outcome.ok ? job->error : outcome.output);
  q.bind(7, outcome.worker);
  auto jobs = read_jobs(q);
  if (!jobs) return jobs.error();
  if (Status s = settle_parents(*jobs, now_ms); !s) return s;
  if (Status s = tx.commit(); !s) return s;
  return std::move(jobs->front());
}

std::vector<Result<Job>> SqliteJobStore::finish_all(const std::vector<JobEnd>& ends, int64_t now_ms,
                                                   const RetryAt& retry_at) {
  // A job done, running, with no fan-out around it (worker mode at full rate: nearly all
  // of them) is one UPDATE: no read before it, no savepoint around it, since one statement
  // is all or nothing by itself. Any other end goes the way finish() goes.
  std::vector<Result<Job>> out;
  out.reserve(ends.size());
  auto fast = cached_sql(fmt::format(
      "UPDATE drover_jobs SET state = 'done', finished_ms = ?2, result = ?3, "
      "worker = CASE WHEN ?4 = '' THEN worker ELSE ?4 END WHERE id = ?1 AND state = 'running' AND children = 0 AND parent IS NULL RETURNING {}",
      kJobColumns));
  for (const JobEnd& e : ends) {
    if (e.outcome.ok && fast) {
      SqliteStatement& q = **fast;
      q.reset();
      q.bind(1, e.id).bind(2, now_ms).bind(3, e.outcome.output).bind(4, e.outcome.worker);
      auto done = read_jobs(q);
      if (done && done->size() == 1) {
        out.push_back(std::move(done->front()));
        continue;
      }
    }
    out.push_back(JobStore::finish_all({e}, now_ms, retry_at).front());
  }
  return out;
}

Result<Job> SqliteJobStore::reschedule(JobId id, int attempt, int64_t run_at_ms) {
  auto st = cached_sql(fmt::format(
      "UPDATE drover_jobs SET run_at_ms = ?3 WHERE id = ?1 AND state = 'failed' AND attempt = ?2 RETURNING {}",
      kJobColumns));
  if (!st) return st.error();
  SqliteStatement& q = **st;
  q.bind(1, id).bind(2, attempt).bind(3, run_at_ms);
  auto jobs = read_jobs(q);
  if (!jobs) return jobs.error();
  if (jobs->empty()) {
    auto job = get(id);
    if (!job) return job;
    return Status::invalid(fmt::format("job {} no longer waits to retry attempt {}: it is {} at attempt {}", id, attempt,
                                       job_state_name(job->state), job->attempt));
  }
  return std::move(jobs->front());
}

Result<Job> SqliteJobStore::release(JobId id, int64_t now_ms) {
  SqliteTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto job = get_in_state(id, "given back", [](JobState s) { return s == JobState::kRunning; });
  if (!job) return job;
  if (job->children) return not_run(id);
  auto st = cached_sql(fmt::format(
      "UPDATE drover_jobs SET state = 'queued', attempt = max(attempt - 1, 0), started_ms = 0, host = '', "
      "worker = '' WHERE id = ?1 RETURNING {}",
      kJobColumns));
  if (!st) return st.error();
  SqliteStatement& q = **st;
  q.bind(1, id);
  auto jobs = read_jobs(q);
  if (!jobs) return jobs.error();
  if (Status s = settle_parents(*jobs, now_ms); !s) return s;
  if (Status s = tx.commit(); !s) return s;
  return std::move(jobs->front());
}

Result<Job> SqliteJobStore::cancel(JobId id, int64_t now_ms) {
  SqliteTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto job = get_in_state(id, "cancelled", waiting_or_running);
  if (!job) return job;
  if (job->children) {
    // The children first: those that wait or run go with their parent; finished ones stay.
    auto kids = cached_sql(
        "UPDATE drover_jobs SET state = 'cancelled', finished_ms = ?2 "
        "WHERE parent = ?1 AND state IN ('queued', 'failed', 'running')");
    if (!kids) return kids.error();
    (*kids)->bind(1, id).bind(2, now_ms);
    if (Status s = (*kids)->run(); !s) return s;
  }
  auto st = cached_sql(fmt::format(
      "UPDATE drover_jobs SET state = 'cancelled', finished_ms = ?2 WHERE id = ?1 RETURNING {}", kJobColumns));
  if (!st) return st.error();
  SqliteStatement& q = **st;
  q.bind(1, id).bind(2, now_ms);
  auto jobs = read_jobs(q);
  if (!jobs) return jobs.error();
  if (Status s = settle_parents(*jobs, now_ms); !s) return s;
  if (Status s = tx.commit(); !s) return s;
  return std::move(jobs->front());
}

Result<Job> SqliteJobStore::retry(JobId id, int64_t now_ms) {
  SqliteTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto job = get_in_state(id, "retried", retryable);
  if (!job) return job;
  auto key_taken = [&](const Status& s) {
    // The unique index: another job with its key (or its parent's) waits or runs now.
    if (s.message().find("UNIQUE") != std::string::npos) return store_rules::key_taken(id, job->key);
    return s;
  };
  auto st = cached_sql(fmt::format(
      "UPDATE drover_jobs SET state = 'queued', attempt = 0, run_at_ms = ?2, finished_ms = 0 "
      "WHERE id = ?1 RETURNING {}",
      kJobColumns));
  if (!st) return st.error();
  SqliteStatement& q = **st;
  q.bind(1, id).bind(2, now_ms);
  auto jobs = read_jobs(q);
  if (!jobs) return key_taken(jobs.error());
  if (job->children) {
    // A fan-out again: its dead and cancelled children run anew, its done ones stay done.
    auto kids = cached_sql(
        "UPDATE drover_jobs SET state = 'queued', attempt = 0, run_at_ms = ?2, finished_ms = 0 "
        "WHERE parent = ?1 AND state IN ('dead', 'failed', 'cancelled')");
    if (!kids) return kids.error();
    (*kids)->bind(1, id).bind(2, now_ms);
    if (Status s = (*kids)->run(); !s) return s;
    if (Status s = settle(id, now_ms); !s) return s;
    auto again = get(id);
    if (!again) return again;
    if (Status s = tx.commit(); !s) return s;
    return again;
  } else if (Status s = settle_parents(*jobs, now_ms); !s) {
    return key_taken(s);
  }
  if (Status s = tx.commit(); !s) return s;
  return std::move(jobs->front());
}

Result<size_t> SqliteJobStore::retry_dead(const std::optional<std::string>& topic, int64_t now_ms) {
  SqliteTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  // A dead job whose key another job now holds stays dead (OR IGNORE skips it). A dead
  // fan-out parent is not retried itself: its dead children are, and it follows them.
  auto st = cached_sql(fmt::format(
      "UPDATE OR IGNORE drover_jobs SET state = 'queued', attempt = 0, run_at_ms = ?2, finished_ms = 0 "
      "WHERE state = 'dead' AND children = 0 AND (?1 IS NULL OR topic = ?1) RETURNING {}",
      kJobColumns));
  if (!st) return st.error();
  SqliteStatement& q = **st;
  if (topic) q.bind(1, *topic);
  q.bind(2, now_ms);
  auto jobs = read_jobs(q);
  if (!jobs) return jobs.error();
  if (Status s = settle_parents(*jobs, now_ms); !s) return s;
  if (Status s = tx.commit(); !s) return s;
  return jobs->size();
}

Status SqliteJobStore::drop(JobId id) {
  SqliteTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto job = get_in_state(id, "dropped (cancel it first)", finished);
  if (!job) return job.error();
  if (job->parent)
    if (auto parent = get(job->parent); parent)
      return Status::invalid(fmt::format("job {} is a child of fan-out job {}: drop that one", id, job->parent));
  // A parent goes with its children (all finished, as it is).
  auto st = cached_sql("DELETE FROM drover_jobs WHERE id = ?1 OR parent = ?1");
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
  // A fan-out's children, or the jobs of a key, are read through their index, not a scan
  // of every job: the condition is in the text only when asked.
  auto st = cached_sql(fmt::format(
      "SELECT {} FROM drover_jobs WHERE {}{} id > ?1 AND (?2 IS NULL OR topic = ?2) AND (?3 IS NULL OR state = ?3) "
      "ORDER BY id LIMIT ?4",
      kJobColumns, f.parent ? "parent = ?5 AND " : "", f.key ? "unique_key = ?6 AND unique_key <> '' AND " : ""));
  if (!st) return st.error();
  SqliteStatement& q = **st;
  q.bind(1, f.after);
  if (f.topic) q.bind(2, *f.topic);
  if (f.state) q.bind(3, job_state_name(*f.state));
  q.bind(4, static_cast<int64_t>(f.limit));
  if (f.parent) q.bind(5, *f.parent);
  if (f.key) q.bind(6, *f.key);
  return read_jobs(q);
}

Result<std::vector<TopicStats>> SqliteJobStore::stats(int64_t now_ms) {
  // A scan of the state index; the engine keeps live counts itself and asks this on start
  // and for the shell's jobs.stats(). Fan-out parents run nowhere: their children count.
  auto st = cached_sql(
      "SELECT topic, state, count(*), sum(run_at_ms <= ?1), min(CASE WHEN run_at_ms <= ?1 THEN run_at_ms END) "
      "FROM drover_jobs WHERE children = 0 GROUP BY topic, state ORDER BY topic");
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
  // attempt is dead, since running it again would pass the attempts it was given. A
  // running fan-out parent ran nothing itself: it follows its children.
  auto st = cached_sql(fmt::format(
      "UPDATE drover_jobs SET state = CASE WHEN attempt < max_attempts THEN 'queued' ELSE 'dead' END, "
      "run_at_ms = ?1, finished_ms = CASE WHEN attempt < max_attempts THEN 0 ELSE ?1 END, "
      "error = CASE WHEN attempt < max_attempts THEN error ELSE ?2 END "
      "WHERE state = 'running' AND children = 0 RETURNING {}",
      kJobColumns));
  if (!st) return st.error();
  SqliteStatement& q = **st;
  q.bind(1, now_ms).bind(2, kLastAttemptLost);
  auto jobs = read_jobs(q);
  if (!jobs) return jobs;
  if (Status s = settle_parents(*jobs, now_ms); !s) return s;
  if (Status s = tx.commit(); !s) return s;
  std::sort(jobs->begin(), jobs->end(), [](const Job& a, const Job& b) { return a.id < b.id; });
  return jobs;
}

Result<size_t> SqliteJobStore::prune(const Retention& r, int64_t now_ms) {
  SqliteTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  // Children are not counted nor aged on their own: they go with their parent, so a
  // fan-out is never seen in part.
  auto st = cached_sql(
      "DELETE FROM drover_jobs WHERE state IN ('done', 'dead', 'cancelled') AND parent IS NULL AND "
      "(finished_ms < ?1 OR id IN (SELECT id FROM drover_jobs WHERE state IN ('done', 'dead', 'cancelled') "
      "AND parent IS NULL ORDER BY finished_ms DESC, id DESC LIMIT -1 OFFSET ?2))");
  if (!st) return st.error();
  SqliteStatement& q = **st;
  q.bind(1, now_ms - static_cast<int64_t>(r.max_age_s * 1000)).bind(2, static_cast<int64_t>(r.max_finished));
  if (Status s = q.run(); !s) return s;
  auto n = static_cast<size_t>(db_->changes());
  auto orphans = cached_sql(
      "DELETE FROM drover_jobs WHERE parent IS NOT NULL AND parent NOT IN (SELECT id FROM drover_jobs)");
  if (!orphans) return orphans.error();
  if (Status s = (*orphans)->run(); !s) return s;
  n += static_cast<size_t>(db_->changes());
  if (Status s = tx.commit(); !s) return s;
  return n;
}

Status SqliteJobStore::settle_parents(const std::vector<Job>& changed, int64_t now_ms) {
  std::vector<JobId> parents;
  for (const Job& j : changed)
    if (j.parent && std::find(parents.begin(), parents.end(), j.parent) == parents.end()) parents.push_back(j.parent);
  for (JobId p : parents)
    if (Status s = settle(p, now_ms); !s) return s;
  return Status::ok();
}

Status SqliteJobStore::settle(JobId parent, int64_t now_ms) {
  auto counts = cached_sql(
      "SELECT count(*), sum(state = 'done'), sum(state = 'dead'), sum(state IN ('done', 'dead', 'cancelled')), "
      "sum(state <> 'queued' OR attempt > 0) FROM drover_jobs WHERE parent = ?1");
  if (!counts) return counts.error();
  SqliteStatement& c = **counts;
  c.bind(1, parent);
  Status error;
  if (!c.step(&error)) return error.is_ok() ? db_->error("fan-out counts") : error;
  const int64_t n = c.int64(0), done = c.int64(1), dead = c.int64(2), finished = c.int64(3), begun = c.int64(4);
  c.reset();
  auto job = get(parent);
  if (!job) return job.error().code() == Status::Code::kNotFound ? Status::ok() : job.error();  // dropped: nothing to follow
  if (n == 0) return Status::ok();
  const JobState next = parent_state(n, done, dead, finished, begun);
  if (next == job->state) return Status::ok();
  auto st = cached_sql(
      "UPDATE drover_jobs SET state = ?2, started_ms = ?3, finished_ms = ?4, error = ?5 WHERE id = ?1");
  if (!st) return st.error();
  SqliteStatement& q = **st;
  q.bind(1, parent).bind(2, job_state_name(next));
  q.bind(3, next == JobState::kQueued ? int64_t{0} : job->started_ms ? job->started_ms : now_ms);
  q.bind(4, is_finished(next) ? now_ms : int64_t{0});
  q.bind(5, next == JobState::kDead ? fmt::format("{} of {} children dead", dead, n) : job->error);
  return q.run();
}

}  // namespace drover::jobs
