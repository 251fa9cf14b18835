// The embedded job store: one SQLite file in WAL mode (drover's state directory), no server
// to run. What a power cut can lose depends on `durability`: "full" (fsync at every commit:
// nothing acknowledged), "normal" (the default: WAL without fsync per commit; the last
// commits before the cut may go, never the file's consistency), "off" (tests and
// throwaway queues). A crash of drover itself loses nothing committed under any of them.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "jobs/job_store.h"
#include "jobs/sqlite_db.h"

namespace drover::jobs {

enum class Durability { kFull, kNormal, kOff };
std::optional<Durability> durability_from_name(const std::string& name);

class SqliteJobStore final : public JobStore, public ScheduleStore {
 public:
  // Opens or creates the database and brings its schema up to date.
  static Result<std::unique_ptr<SqliteJobStore>> open(const std::string& path, Durability d = Durability::kNormal);

  Status group(const std::function<Status()>& fn) override;

  Result<std::vector<Job>> enqueue(const std::vector<JobRequest>& requests, int64_t now_ms) override;
  Result<std::vector<Job>> claim(const std::string& topic, size_t n, int64_t now_ms, const std::string& host,
                                 const std::string& worker) override;
  Result<Job> finish(JobId id, const JobOutcome& outcome, int64_t now_ms, int64_t retry_at_ms) override;
  std::vector<Result<Job>> finish_all(const std::vector<JobEnd>& ends, int64_t now_ms,
                                      const RetryAt& retry_at) override;
  Result<Job> reschedule(JobId id, int attempt, int64_t run_at_ms) override;
  Result<Job> release(JobId id, int64_t now_ms) override;
  Result<Job> cancel(JobId id, int64_t now_ms) override;
  Result<Job> retry(JobId id, int64_t now_ms) override;
  Result<size_t> retry_dead(const std::optional<std::string>& topic, int64_t now_ms) override;
  Status drop(JobId id) override;
  Result<Job> get(JobId id) override;
  Result<std::vector<Job>> list(const JobFilter& filter) override;
  Result<std::vector<TopicStats>> stats(int64_t now_ms) override;
  Result<std::vector<TopicStats>> live_stats(int64_t now_ms) override;
  Result<std::vector<Job>> requeue_running(int64_t now_ms) override;
  Result<size_t> prune(const Retention& retention, int64_t now_ms) override;
  ScheduleStore* schedules() override { return this; }

  // Schedules (sqlite_schedules.cpp).
  Result<ScheduleState> upsert_schedule(const Schedule& s, int64_t now_ms) override;
  Status remove_schedule(const std::string& name) override;
  Result<ScheduleState> set_schedule_enabled(const std::string& name, bool on, int64_t now_ms) override;
  Result<ScheduleState> get_schedule(const std::string& name) override;
  Result<std::vector<ScheduleState>> list_schedules() override;
  Result<TickResult> fire_schedule(const std::string& name, int64_t tick_ms, const TickPlan& plan,
                                   int64_t now_ms) override;
  Result<Job> run_schedule_now(const std::string& name, int64_t now_ms) override;

 private:
  explicit SqliteJobStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  Status migrate();
  Result<SqliteStatement*> cached_sql(const std::string& sql);
  // The jobs a statement's rows describe (it selects kJobColumns).
  Result<std::vector<Job>> read_jobs(SqliteStatement& st);
  Result<Job> get_in_state(JobId id, const char* action, bool (*allowed)(JobState));
  // A fan-out parent's state brought in line with its children's (job.h), inside the
  // caller's transaction; for each parent of the changed jobs.
  Status settle(JobId parent, int64_t now_ms);
  Status settle_parents(const std::vector<Job>& changed, int64_t now_ms);
  // Topic counts from a statement grouping by topic and state (stats, live_stats).
  Result<std::vector<TopicStats>> read_stats(SqliteStatement& q, int64_t now_ms);
  // The schedules a statement's rows describe (it selects kScheduleColumns).
  Result<std::vector<ScheduleState>> read_schedules(SqliteStatement& st);
  // A schedule's job enqueued and recorded as its latest run, inside the caller's transaction.
  Result<Job> enqueue_for(const Schedule& s, int64_t now_ms);

  std::unique_ptr<SqliteDb> db_;
};

}  // namespace drover::jobs
