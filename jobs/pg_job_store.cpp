#include "jobs/pg_job_store.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "jobs/store_rules.h"

namespace drover::jobs {

namespace {

using namespace store_rules;

// The SQLite store's schema (sqlite_job_store.cpp), version for version, in PostgreSQL's
// types: BIGSERIAL for the id that is never reused, BIGINT for times in ms. Versions 1
// and 2 are the SQLite store's; 3 is the fleet's, which only a shared database has; 4 is
// SQLite's 3 (schedules).
// The version lives in drover_schema (SQLite keeps it in PRAGMA user_version).
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE drover_jobs (
  id BIGSERIAL PRIMARY KEY,
  topic TEXT NOT NULL,
  args TEXT NOT NULL,
  priority INTEGER NOT NULL,
  state TEXT NOT NULL,
  run_at_ms BIGINT NOT NULL,
  attempt INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  timeout_s DOUBLE PRECISION NOT NULL,
  unique_key TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  started_ms BIGINT NOT NULL,
  finished_ms BIGINT NOT NULL,
  host TEXT NOT NULL,
  worker TEXT NOT NULL,
  result TEXT NOT NULL,
  error TEXT NOT NULL
);
CREATE INDEX drover_jobs_due ON drover_jobs (topic, priority DESC, run_at_ms, id)
  WHERE state IN ('queued', 'failed');
CREATE UNIQUE INDEX drover_jobs_key ON drover_jobs (topic, unique_key)
  WHERE unique_key <> '' AND state IN ('queued', 'failed', 'running');
CREATE INDEX drover_jobs_finished ON drover_jobs (finished_ms) WHERE state IN ('done', 'dead', 'cancelled');
CREATE INDEX drover_jobs_state ON drover_jobs (state, topic);
)sql",
    R"sql(
ALTER TABLE drover_jobs ADD COLUMN parent BIGINT;
ALTER TABLE drover_jobs ADD COLUMN children INTEGER NOT NULL DEFAULT 0;
DROP INDEX drover_jobs_due;
CREATE INDEX drover_jobs_due ON drover_jobs (topic, priority DESC, run_at_ms, id)
  WHERE state IN ('queued', 'failed') AND children = 0;
CREATE INDEX drover_jobs_parent ON drover_jobs (parent) WHERE parent IS NOT NULL;
CREATE INDEX drover_jobs_keys ON drover_jobs (unique_key, topic) WHERE unique_key <> '';
)sql",
    // Version 3: the fleet. Each host's row and lease; the running jobs of a host read by
    // host when its lease runs out.
    R"sql(
CREATE TABLE drover_hosts (
  name TEXT PRIMARY KEY,
  pid BIGINT NOT NULL,
  http TEXT NOT NULL,
  started_ms BIGINT NOT NULL,
  lease_until_ms BIGINT NOT NULL,
  pools TEXT NOT NULL  -- JSON: [{"name": ..., "size": ..., "running": ...}]
);
CREATE INDEX drover_jobs_running ON drover_jobs (host) WHERE state = 'running';
)sql",
    // Version 4: schedules (pg_schedules.cpp), SQLite's version 3 column for column.
    // overlap and enabled are BOOLEAN, PostgreSQL's own type for SQLite's 0/1.
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
  timeout_s DOUBLE PRECISION NOT NULL,
  missed TEXT NOT NULL,
  overlap BOOLEAN NOT NULL,
  enabled BOOLEAN NOT NULL,
  created_ms BIGINT NOT NULL,
  last_tick_ms BIGINT NOT NULL,
  last_run_ms BIGINT NOT NULL,
  last_job BIGINT NOT NULL,
  runs BIGINT NOT NULL,
  skipped BIGINT NOT NULL,
  note TEXT NOT NULL
);
)sql",
};

constexpr const char* kJobColumns =
    "id, topic, args, priority, state, run_at_ms, attempt, max_attempts, timeout_s, unique_key, created_ms, "
    "started_ms, finished_ms, host, worker, result, error, parent, children";

// Any number: the advisory lock hosts take to migrate one at a time.
constexpr int64_t kMigrationLock = 0x64726f766572;  // "drover"

std::vector<Job> read_jobs(const PgResult& r) {
  std::vector<Job> jobs;
  jobs.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    Job j;
    j.id = r.int64(i, 0);
    j.topic = r.text(i, 1);
    j.args = r.text(i, 2);
    j.priority = static_cast<int>(r.int64(i, 3));
    j.state = job_state_from_name(r.text(i, 4)).value_or(JobState::kDead);
    j.run_at_ms = r.int64(i, 5);
    j.attempt = static_cast<int>(r.int64(i, 6));
    j.max_attempts = static_cast<int>(r.int64(i, 7));
    j.timeout_s = r.real(i, 8);
    j.key = r.text(i, 9);
    j.created_ms = r.int64(i, 10);
    j.started_ms = r.int64(i, 11);
    j.finished_ms = r.int64(i, 12);
    j.host = r.text(i, 13);
    j.worker = r.text(i, 14);
    j.result = r.text(i, 15);
    j.error = r.text(i, 16);
    j.parent = r.is_null(i, 17) ? 0 : r.int64(i, 17);
    j.children = static_cast<int>(r.int64(i, 18));
    jobs.push_back(std::move(j));
  }
  return jobs;
}

// A process's output as PostgreSQL text: valid UTF-8, no NUL. Anything else becomes
// U+FFFD, one per bad byte: the server would refuse the whole statement for one byte.
std::string as_text(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && c != 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) ok = (p[i + k] & 0xC0) == 0x80;
    if (ok && len > 1) {
      // Overlong forms, surrogates and code points past U+10FFFF are invalid too.
      uint32_t cp = c & (0xFF >> (len + 1));
      for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (p[i + k] & 0x3F);
      const uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
      ok = cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    }
    if (ok) {
      out.append(s, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

bool is_key_violation(const Status& s) { return s.message().find("drover_jobs_key") != std::string::npos; }

}  // namespace

bool is_postgres_url(const std::string& url) {
  return url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
}

int64_t PgJobStore::schema_version() { return std::size(kMigrations); }

Result<std::unique_ptr<PgJobStore>> PgJobStore::open(const std::string& url, const std::string& host) {
  if (host.empty()) return Status::invalid("the job store needs this host's name (--host-name)");
  auto db = PgDb::connect(url);
  if (!db) return db.error();
  std::unique_ptr<PgJobStore> store(new PgJobStore(std::move(*db), host));
  if (Status s = store->migrate(); !s) {
    const std::string where = store->db_->where();
    return Status(s.code() == Status::Code::kUnavailable ? Status::unavailable(where + ": " + s.message())
                                                         : Status::io_error(where + ": " + s.message()));
  }
  return store;
}

Status PgJobStore::migrate() {
  PgTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  // Hosts starting together: the first migrates, the others wait here and find it done.
  if (auto r = db_->query("SELECT pg_advisory_xact_lock($1)", {kMigrationLock}); !r) return r.error();
  if (Status s = db_->exec("CREATE TABLE IF NOT EXISTS drover_schema (version INTEGER NOT NULL)"); !s) return s;
  auto v = db_->query("SELECT version FROM drover_schema");
  if (!v) return v.error();
  int64_t version = 0;
  if (v->rows() == 0) {
    if (Status s = db_->exec("INSERT INTO drover_schema VALUES (0)"); !s) return s;
  } else {
    version = v->int64(0, 0);
  }
  const int64_t known = schema_version();
  if (version > known)
    return Status::invalid(fmt::format("the job store is at schema version {}, this drover knows up to {}: "
                                       "a newer drover made it", version, known));
  for (int64_t i = version; i < known; ++i)
    if (Status s = db_->exec(kMigrations[i]); !s) return s;
  if (version < known)
    if (auto r = db_->query("UPDATE drover_schema SET version = $1", {known}); !r) return r.error();
  return tx.commit();
}

Status PgJobStore::group(const std::function<Status()>& fn) {
  PgTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  if (Status s = fn(); !s) return s;
  return tx.commit();
}

Status PgJobStore::notify(const std::vector<std::string>& topics) {
  std::set<std::string> once(topics.begin(), topics.end());
  for (const std::string& t : once)
    if (auto r = db_->query("SELECT pg_notify('drover_jobs', $1)", {t}); !r) return r.error();
  return Status::ok();
}

Status PgJobStore::notify_jobs(const std::vector<Job>& jobs) {
  std::vector<std::string> topics;
  for (const Job& j : jobs)
    if (!j.children) topics.push_back(j.topic);
  return notify(topics);
}

Result<std::vector<Job>> PgJobStore::enqueue(const std::vector<JobRequest>& requests, int64_t now_ms) {
  for (size_t i = 0; i < requests.size(); ++i)
    if (Status s = validate_request(requests[i], fmt::format("jobs[{}]", i)); !s) return s;
  PgTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  // With a key, ON CONFLICT on the key's partial index: a host enqueueing the same key at
  // the same moment waits for the other's commit and then finds its job, instead of
  // failing on the index.
  const std::string insert =
      "INSERT INTO drover_jobs (topic, args, priority, state, run_at_ms, attempt, max_attempts, timeout_s, "
      "unique_key, created_ms, started_ms, finished_ms, host, worker, result, error, parent, children) "
      "VALUES ($1, $2, $3, 'queued', $4, 0, $5, $6, $7, $8, 0, 0, '', '', '', '', $9, $10) ";
  const std::string keyed = insert +
                            "ON CONFLICT (topic, unique_key) WHERE unique_key <> '' AND state IN ('queued', "
                            "'failed', 'running') DO NOTHING RETURNING id";
  const std::string plain = insert + "RETURNING id";
  std::vector<Job> out;
  out.reserve(requests.size());
  std::vector<std::string> due_topics;
  for (const JobRequest& r : requests) {
    const std::string topic = r.topics.empty() || !r.topic.empty() ? r.topic : std::string(kFanoutTopic);
    const auto run_at = now_ms + static_cast<int64_t>(std::llround(r.delay_s * 1000));
    auto inserted = db_->query(r.key.empty() ? plain : keyed,
                               {topic, r.args, r.priority, run_at, r.max_attempts, r.timeout_s, r.key, now_ms,
                                std::nullopt, static_cast<int>(r.topics.size())});
    if (!inserted) return inserted.error();
    if (inserted->rows() == 0) {
      auto found = db_->query(fmt::format("SELECT {} FROM drover_jobs WHERE topic = $1 AND unique_key = $2 AND "
                                          "state IN ('queued', 'failed', 'running')",
                                          kJobColumns),
                              {topic, r.key});
      if (!found) return found.error();
      if (found->rows() == 0)
        return Status::unavailable(fmt::format("jobs: key \"{}\" of {} was taken and freed meanwhile: try again",
                                               r.key, topic));
      out.push_back(read_jobs(*found).front());
      continue;
    }
    const JobId id = inserted->int64(0, 0);
    for (const std::string& child : r.topics) {
      auto c = db_->query(plain, {child, r.args, r.priority, run_at, r.max_attempts, r.timeout_s, std::string(),
                                  now_ms, id, 0});
      if (!c) return c.error();
      due_topics.push_back(child);
    }
    if (r.topics.empty()) due_topics.push_back(topic);
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
  if (Status s = notify(due_topics); !s) return s;
  if (Status s = tx.commit(); !s) return s;
  return out;
}

Result<std::vector<Job>> PgJobStore::claim(const std::string& topic, size_t n, int64_t now_ms,
                                           const std::string& host, const std::string& worker) {
  if (n == 0) return std::vector<Job>{};
  PgTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  // SKIP LOCKED: rows another host is claiming right now are passed over, not waited for;
  // a row another host claimed and committed since this statement began is re-checked
  // against the WHERE (no longer queued) and left out.
  auto r = db_->query(fmt::format("UPDATE drover_jobs SET state = 'running', attempt = attempt + 1, started_ms = $3, "
                                  "host = $4, worker = $5 WHERE id IN (SELECT id FROM drover_jobs WHERE topic = $1 "
                                  "AND state IN ('queued', 'failed') AND children = 0 AND run_at_ms <= $3 "
                                  "ORDER BY priority DESC, run_at_ms, id LIMIT $2 FOR UPDATE SKIP LOCKED) "
                                  "RETURNING {}",
                                  kJobColumns),
                      {topic, std::min<size_t>(n, kMaxListLimit), now_ms, host, worker});
  if (!r) return r.error();
  std::vector<Job> jobs = read_jobs(*r);
  if (Status s = settle_parents(jobs, now_ms); !s) return s;
  if (Status s = tx.commit(); !s) return s;
  sort_for_dispatch(jobs);
  return jobs;
}

Result<Job> PgJobStore::get_locked(JobId id, const char* action, bool (*allowed)(JobState)) {
  auto r = db_->query(fmt::format("SELECT {} FROM drover_jobs WHERE id = $1 FOR UPDATE", kJobColumns), {id});
  if (!r) return r.error();
  if (r->rows() == 0) return no_job(id);
  Job job = read_jobs(*r).front();
  if (!allowed(job.state)) return wrong_state(id, job.state, action);
  return job;
}

Result<Job> PgJobStore::finish(JobId id, const JobOutcome& outcome, int64_t now_ms, int64_t retry_at_ms) {
  PgTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto job = get_locked(id, "finished", running);
  if (!job) return job;
  if (job->children) return not_run(id);
  // Fenced: a host cut off past its lease had its jobs queued again, and a peer may run
  // this one now; the late result of the first run must not end the second.
  if (!job->host.empty() && job->host != host_)
    return Status::invalid(fmt::format("job {} now runs on host {}: the result from {} comes too late", id,
                                       job->host, host_));
  const JobState next = outcome.ok ? JobState::kDone
                        : job->attempt >= job->max_attempts ? JobState::kDead
                                                            : JobState::kFailed;
  const std::string output = as_text(outcome.output);
  auto r = db_->query(fmt::format("UPDATE drover_jobs SET state = $2, run_at_ms = $3, finished_ms = $4, result = $5, "
                                  "error = $6, worker = CASE WHEN $7 = '' THEN worker ELSE $7 END WHERE id = $1 "
                                  "RETURNING {}",
                                  kJobColumns),
                      {id, job_state_name(next), next == JobState::kFailed ? retry_at_ms : job->run_at_ms,
                       next == JobState::kFailed ? int64_t{0} : now_ms, outcome.ok ? output : job->result,
                       outcome.ok ? job->error : output, as_text(outcome.worker)});
  if (!r) return r.error();
  std::vector<Job> jobs = read_jobs(*r);
  if (Status s = settle_parents(jobs, now_ms); !s) return s;
  if (Status s = tx.commit(); !s) return s;
  return std::move(jobs.front());
}

Result<Job> PgJobStore::reschedule(JobId id, int attempt, int64_t run_at_ms) {
  auto r = db_->query(fmt::format("UPDATE drover_jobs SET run_at_ms = $3 WHERE id = $1 AND state = 'failed' AND "
                                  "attempt = $2 RETURNING {}",
                                  kJobColumns),
                      {id, static_cast<int64_t>(attempt), run_at_ms});
  if (!r) return r.error();
  std::vector<Job> jobs = read_jobs(*r);
  if (jobs.empty()) {
    auto job = get(id);
    if (!job) return job;
    return Status::invalid(fmt::format("job {} no longer waits to retry attempt {}: it is {} at attempt {}", id, attempt,
                                       job_state_name(job->state), job->attempt));
  }
  return std::move(jobs.front());
}

std::vector<Result<Job>> PgJobStore::finish_all(const std::vector<JobEnd>& ends, int64_t now_ms,
                                                const RetryAt& retry_at) {
  // The done jobs of a burst (worker mode at full rate: nearly all of them) in one
  // statement: one round trip and one plan for hundreds of rows, where finish() takes a
  // locking read and an update each. Only a job running here, with no fan-out around it;
  // any other end (a failure, a child, a refusal) goes the way finish() goes.
  nlohmann::json batch = nlohmann::json::array();
  for (const JobEnd& e : ends)
    if (e.outcome.ok) batch.push_back({{"jid", e.id}, {"r", as_text(e.outcome.output)}, {"w", as_text(e.outcome.worker)}});
  std::map<JobId, Job> done;
  if (!batch.empty()) {
    auto r = db_->query(fmt::format("UPDATE drover_jobs SET state = 'done', finished_ms = $2, result = v.r, "
                                    "worker = CASE WHEN v.w = '' THEN drover_jobs.worker ELSE v.w END "
                                    "FROM jsonb_to_recordset($1::jsonb) AS v(jid bigint, r text, w text) "
                                    "WHERE id = v.jid AND state = 'running' AND children = 0 AND parent IS NULL "
                                    "AND host = $3 RETURNING {}",
                                    kJobColumns),
                        {batch.dump(), now_ms, host_});
    if (r)
      for (Job& j : read_jobs(*r)) done.emplace(j.id, std::move(j));
  }
  std::vector<Result<Job>> out;
  out.reserve(ends.size());
  for (const JobEnd& e : ends) {
    if (auto it = done.find(e.id); e.outcome.ok && it != done.end()) out.push_back(std::move(it->second));
    else out.push_back(JobStore::finish_all({e}, now_ms, retry_at).front());
  }
  return out;
}

Result<Job> PgJobStore::release(JobId id, int64_t now_ms) {
  PgTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto job = get_locked(id, "given back", running);
  if (!job) return job;
  if (job->children) return not_run(id);
  auto r = db_->query(fmt::format("UPDATE drover_jobs SET state = 'queued', attempt = greatest(attempt - 1, 0), "
                                  "started_ms = 0, host = '', worker = '' WHERE id = $1 RETURNING {}",
                                  kJobColumns),
                      {id});
  if (!r) return r.error();
  std::vector<Job> jobs = read_jobs(*r);
  if (Status s = settle_parents(jobs, now_ms); !s) return s;
  if (Status s = notify_jobs(jobs); !s) return s;
  if (Status s = tx.commit(); !s) return s;
  return std::move(jobs.front());
}

Result<Job> PgJobStore::cancel(JobId id, int64_t now_ms) {
  PgTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto job = get_locked(id, "cancelled", waiting_or_running);
  if (!job) return job;
  if (job->children) {
    auto kids = db_->query("UPDATE drover_jobs SET state = 'cancelled', finished_ms = $2 "
                           "WHERE parent = $1 AND state IN ('queued', 'failed', 'running')",
                           {id, now_ms});
    if (!kids) return kids.error();
  }
  auto r = db_->query(
      fmt::format("UPDATE drover_jobs SET state = 'cancelled', finished_ms = $2 WHERE id = $1 RETURNING {}",
                  kJobColumns),
      {id, now_ms});
  if (!r) return r.error();
  std::vector<Job> jobs = read_jobs(*r);
  if (Status s = settle_parents(jobs, now_ms); !s) return s;
  if (Status s = tx.commit(); !s) return s;
  return std::move(jobs.front());
}

Result<Job> PgJobStore::retry(JobId id, int64_t now_ms) {
  PgTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto job = get_locked(id, "retried", retryable);
  if (!job) return job;
  auto keyed = [&](const Status& s) { return is_key_violation(s) ? key_taken(id, job->key) : s; };
  auto r = db_->query(fmt::format("UPDATE drover_jobs SET state = 'queued', attempt = 0, run_at_ms = $2, "
                                  "finished_ms = 0 WHERE id = $1 RETURNING {}",
                                  kJobColumns),
                      {id, now_ms});
  if (!r) return keyed(r.error());
  std::vector<Job> jobs = read_jobs(*r);
  if (job->children) {
    auto kids = db_->query(fmt::format("UPDATE drover_jobs SET state = 'queued', attempt = 0, run_at_ms = $2, "
                                       "finished_ms = 0 WHERE parent = $1 AND state IN ('dead', 'failed', "
                                       "'cancelled') RETURNING {}",
                                       kJobColumns),
                           {id, now_ms});
    if (!kids) return kids.error();
    if (Status s = settle(id, now_ms); !s) return s;
    if (Status s = notify_jobs(read_jobs(*kids)); !s) return s;
    auto again = get(id);
    if (!again) return again;
    if (Status s = tx.commit(); !s) return s;
    return again;
  }
  if (Status s = settle_parents(jobs, now_ms); !s) return keyed(s);
  if (Status s = notify_jobs(jobs); !s) return s;
  if (Status s = tx.commit(); !s) return s;
  return std::move(jobs.front());
}

Result<size_t> PgJobStore::retry_dead(const std::optional<std::string>& topic, int64_t now_ms) {
  PgTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  // SQLite's UPDATE OR IGNORE, spelled out: a dead job whose key a waiting or running job
  // holds stays dead, and of several dead jobs with one key only the oldest is queued.
  auto r = db_->query(
      fmt::format("UPDATE drover_jobs j SET state = 'queued', attempt = 0, run_at_ms = $2, finished_ms = 0 "
                  "WHERE state = 'dead' AND children = 0 AND ($1::text IS NULL OR topic = $1) AND "
                  "(unique_key = '' OR (NOT EXISTS (SELECT 1 FROM drover_jobs o WHERE o.topic = j.topic AND "
                  "o.unique_key = j.unique_key AND o.state IN ('queued', 'failed', 'running')) AND j.id = "
                  "(SELECT min(d.id) FROM drover_jobs d WHERE d.topic = j.topic AND d.unique_key = j.unique_key "
                  "AND d.state = 'dead' AND d.children = 0))) RETURNING {}",
                  kJobColumns),
      {topic, now_ms});
  if (!r) return r.error();
  std::vector<Job> jobs = read_jobs(*r);
  if (Status s = settle_parents(jobs, now_ms); !s) return s;
  if (Status s = notify_jobs(jobs); !s) return s;
  if (Status s = tx.commit(); !s) return s;
  return jobs.size();
}

Status PgJobStore::drop(JobId id) {
  PgTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto job = get_locked(id, "dropped (cancel it first)", finished);
  if (!job) return job.error();
  if (job->parent)
    if (auto parent = get(job->parent); parent)
      return Status::invalid(fmt::format("job {} is a child of fan-out job {}: drop that one", id, job->parent));
  if (auto r = db_->query("DELETE FROM drover_jobs WHERE id = $1 OR parent = $1", {id}); !r) return r.error();
  return tx.commit();
}

Result<Job> PgJobStore::get(JobId id) {
  // Reads too run in a savepoint inside a group: a failed statement would otherwise
  // abort the group's whole transaction, and with it every other call's work.
  PgTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto r = db_->query(fmt::format("SELECT {} FROM drover_jobs WHERE id = $1", kJobColumns), {id});
  if (!r) return r.error();
  if (r->rows() == 0) return no_job(id);
  Job job = read_jobs(*r).front();
  if (Status s = tx.commit(); !s) return s;
  return job;
}

Result<std::vector<Job>> PgJobStore::list(const JobFilter& f) {
  if (f.limit < 1 || f.limit > kMaxListLimit)
    return Status::invalid(fmt::format("limit {} must be 1 to {}", f.limit, kMaxListLimit));
  PgTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto r = db_->query(
      fmt::format("SELECT {} FROM drover_jobs WHERE {}{} id > $1 AND ($2::text IS NULL OR topic = $2) AND "
                  "($3::text IS NULL OR state = $3) ORDER BY id LIMIT $4",
                  kJobColumns, f.parent ? "parent = $5 AND " : "",
                  f.key ? (f.parent ? "unique_key = $6 AND unique_key <> '' AND " : "unique_key = $5 AND unique_key <> '' AND ")
                        : ""),
      [&] {
        std::vector<PgParam> p{f.after, f.topic,
                               f.state ? PgParam(job_state_name(*f.state)) : PgParam(std::nullopt), f.limit};
        if (f.parent) p.emplace_back(*f.parent);
        if (f.key) p.emplace_back(*f.key);
        return p;
      }());
  if (!r) return r.error();
  std::vector<Job> jobs = read_jobs(*r);
  if (Status s = tx.commit(); !s) return s;
  return jobs;
}

Result<std::vector<TopicStats>> PgJobStore::stats(int64_t now_ms) {
  return read_stats(
      "SELECT topic, state, count(*), count(*) FILTER (WHERE run_at_ms <= $1), "
      "min(run_at_ms) FILTER (WHERE run_at_ms <= $1) FROM drover_jobs WHERE children = 0 GROUP BY topic, state",
      now_ms);
}

Result<std::vector<TopicStats>> PgJobStore::live_stats(int64_t now_ms) {
  return read_stats(
      "SELECT topic, state, count(*), count(*) FILTER (WHERE run_at_ms <= $1), "
      "min(run_at_ms) FILTER (WHERE run_at_ms <= $1) FROM drover_jobs "
      "WHERE state IN ('queued', 'failed', 'running', 'dead') GROUP BY topic, state",
      now_ms);
}

Result<std::vector<TopicStats>> PgJobStore::read_stats(const std::string& sql, int64_t now_ms) {
  PgTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto r = db_->query(sql, {now_ms});
  if (!r) return r.error();
  std::map<std::string, TopicStats> by_topic;  // in byte order, whatever the database's collation
  for (int i = 0; i < r->rows(); ++i) {
    TopicStats& t = by_topic[r->text(i, 0)];
    t.topic = r->text(i, 0);
    const auto state = job_state_from_name(r->text(i, 1));
    const int64_t count = r->int64(i, 2), due = r->int64(i, 3);
    if (!state) continue;
    switch (*state) {
      case JobState::kQueued: t.queued += due; t.scheduled += count - due; break;
      case JobState::kFailed: t.failed += count; break;
      case JobState::kRunning: t.running = count; break;
      case JobState::kDone: t.done = count; break;
      case JobState::kDead: t.dead = count; break;
      case JobState::kCancelled: t.cancelled = count; break;
    }
    if (is_waiting(*state) && !r->is_null(i, 4))
      t.oldest_age_s = std::max(t.oldest_age_s, static_cast<double>(now_ms - r->int64(i, 4)) / 1000.0);
  }
  if (Status s = tx.commit(); !s) return s;
  std::vector<TopicStats> out;
  for (auto& [name, t] : by_topic) out.push_back(std::move(t));
  return out;
}

Result<std::vector<Job>> PgJobStore::requeue_running(int64_t now_ms) {
  PgTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto jobs = requeue_running_of(host_, now_ms, kLastAttemptLost);
  if (!jobs) return jobs;
  if (Status s = tx.commit(); !s) return s;
  return jobs;
}

Result<std::vector<Job>> PgJobStore::requeue_running_of(const std::string& host, int64_t now_ms,
                                                        const std::string& why) {
  // As the SQLite store at start, for one host's jobs only: another host's running jobs
  // are its own business while its lease holds.
  // $1 typed: a CASE would otherwise guess integer where the column says bigint.
  auto r = db_->query(fmt::format("UPDATE drover_jobs SET state = CASE WHEN attempt < max_attempts THEN 'queued' "
                                  "ELSE 'dead' END, run_at_ms = $1::bigint, finished_ms = CASE WHEN attempt < "
                                  "max_attempts THEN 0 ELSE $1::bigint END, error = CASE WHEN attempt < max_attempts "
                                  "THEN error ELSE $3::text END WHERE state = 'running' AND children = 0 AND host = $2 RETURNING {}",
                                  kJobColumns),
                      {now_ms, host, why});
  if (!r) return r.error();
  std::vector<Job> jobs = read_jobs(*r);
  if (Status s = settle_parents(jobs, now_ms); !s) return s;
  std::vector<Job> queued;
  for (const Job& j : jobs)
    if (j.state == JobState::kQueued) queued.push_back(j);
  if (Status s = notify_jobs(queued); !s) return s;
  std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) { return a.id < b.id; });
  return jobs;
}

Result<size_t> PgJobStore::prune(const Retention& ret, int64_t now_ms) {
  PgTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto r = db_->query(
      "DELETE FROM drover_jobs WHERE state IN ('done', 'dead', 'cancelled') AND parent IS NULL AND "
      "(finished_ms < $1 OR id IN (SELECT id FROM drover_jobs WHERE state IN ('done', 'dead', 'cancelled') "
      "AND parent IS NULL ORDER BY finished_ms DESC, id DESC OFFSET $2))",
      {now_ms - static_cast<int64_t>(ret.max_age_s * 1000), ret.max_finished});
  if (!r) return r.error();
  auto n = static_cast<size_t>(r->affected());
  auto orphans = db_->query(
      "DELETE FROM drover_jobs c WHERE c.parent IS NOT NULL AND NOT EXISTS "
      "(SELECT 1 FROM drover_jobs p WHERE p.id = c.parent)");
  if (!orphans) return orphans.error();
  n += static_cast<size_t>(orphans->affected());
  if (Status s = tx.commit(); !s) return s;
  return n;
}

Status PgJobStore::settle_parents(const std::vector<Job>& changed, int64_t now_ms) {
  std::vector<JobId> parents;
  for (const Job& j : changed)
    if (j.parent && std::find(parents.begin(), parents.end(), j.parent) == parents.end()) parents.push_back(j.parent);
  std::sort(parents.begin(), parents.end());  // locked in one order by every host: no deadlock between two
  for (JobId p : parents)
    if (Status s = settle(p, now_ms); !s) return s;
  return Status::ok();
}

Status PgJobStore::settle(JobId parent, int64_t now_ms) {
  // The parent's row first: a host settling the same fan-out commits before this reads
  // the children, so the count sees its child's change (READ COMMITTED: each statement
  // sees what was committed when it began).
  auto p = db_->query(fmt::format("SELECT {} FROM drover_jobs WHERE id = $1 FOR UPDATE", kJobColumns), {parent});
  if (!p) return p.error();
  if (p->rows() == 0) return Status::ok();  // dropped: nothing to follow
  const Job job = read_jobs(*p).front();
  auto c = db_->query(
      "SELECT count(*), count(*) FILTER (WHERE state = 'done'), count(*) FILTER (WHERE state = 'dead'), "
      "count(*) FILTER (WHERE state IN ('done', 'dead', 'cancelled')), "
      "count(*) FILTER (WHERE state <> 'queued' OR attempt > 0) FROM drover_jobs WHERE parent = $1",
      {parent});
  if (!c) return c.error();
  const int64_t n = c->int64(0, 0), done = c->int64(0, 1), dead = c->int64(0, 2), fin = c->int64(0, 3),
                begun = c->int64(0, 4);
  if (n == 0) return Status::ok();
  const JobState next = parent_state(n, done, dead, fin, begun);
  if (next == job.state) return Status::ok();
  auto u = db_->query("UPDATE drover_jobs SET state = $2, started_ms = $3, finished_ms = $4, error = $5 WHERE id = $1",
                      {parent, job_state_name(next),
                       next == JobState::kQueued ? int64_t{0} : job.started_ms ? job.started_ms : now_ms,
                       is_finished(next) ? now_ms : int64_t{0},
                       next == JobState::kDead ? fmt::format("{} of {} children dead", dead, n) : job.error});
  return u ? Status::ok() : u.error();
}

}  // namespace drover::jobs
