// The PostgreSQL job store: several drover hosts share one queue in one database. The
// schema and every call's semantics are the SQLite store's (job_store.h,
// sqlite_job_store.cpp); what sharing adds:
//
//   - claim() takes rows with FOR UPDATE SKIP LOCKED: hosts claiming at once never get
//     the same job and never wait for each other.
//   - Each call that changes a job locks its row first (SELECT ... FOR UPDATE), and a
//     fan-out parent is locked before its children are counted, so a call of another host
//     committing meanwhile is seen, never overwritten.
//   - enqueue() (and every call that makes jobs due) sends NOTIFY drover_jobs, 'TOPIC' in
//     its transaction: idle hosts LISTENing hear of it at the commit (pg_listener.h).
//   - The store knows its host's name: requeue_running() puts back only the jobs this
//     host left running; another host's are its own, or, when it is gone, recovered at
//     its lease's end (hosts and leases: pg_hosts.h).
//
// Text the server stores must be UTF-8 without NUL bytes: a job's output (result, error)
// is made so (invalid bytes become U+FFFD); a request's fields that are not are refused
// with the server's message. Time stays a parameter.
#pragma once

#include <memory>
#include <string>

#include "jobs/job_store.h"
#include "jobs/pg_db.h"
#include "jobs/schedule_store.h"

namespace drover::jobs {

class PgJobStore final : public JobStore, public ScheduleStore {
 public:
  // Connects and brings the schema up to date (under an advisory lock: hosts starting at
  // once migrate one after the other). host: this drover's name in the fleet.
  static Result<std::unique_ptr<PgJobStore>> open(const std::string& url, const std::string& host);
  // The schema version this drover knows: drover_schema.version once migrated.
  static int64_t schema_version();

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
  // Only this host's running jobs (the name open() was given).
  Result<std::vector<Job>> requeue_running(int64_t now_ms) override;
  Result<size_t> prune(const Retention& retention, int64_t now_ms) override;

  Result<LeaseRenewal> renew_lease(const HostRecord& me, int64_t now_ms) override;  // pg_fleet.cpp
  Status leave(const std::string& host, int64_t now_ms) override;
  Result<Fleet> fleet(int64_t now_ms) override;

  ScheduleStore* schedules() override { return this; }

  // Schedules (pg_schedules.cpp): the SQLite store's semantics; a tick's claim is the
  // conditional UPDATE of its row, which a racing host's waits on (row lock).
  Result<ScheduleState> upsert_schedule(const Schedule& s, int64_t now_ms) override;
  Status remove_schedule(const std::string& name) override;
  Result<ScheduleState> set_schedule_enabled(const std::string& name, bool on, int64_t now_ms) override;
  Result<ScheduleState> get_schedule(const std::string& name) override;
  Result<std::vector<ScheduleState>> list_schedules() override;
  Result<TickResult> fire_schedule(const std::string& name, int64_t tick_ms, const TickPlan& plan,
                                   int64_t now_ms) override;
  Result<Job> run_schedule_now(const std::string& name, int64_t now_ms) override;

  const std::string& host() const { return host_; }
  PgDb& db() { return *db_; }

  // Running jobs of `hosts` back to queued (attempt counted; dead on their last), inside
  // the caller's transaction, NOTIFY sent: a host's lease ran out (pg_hosts.cpp).
  Result<std::vector<Job>> requeue_running_of(const std::string& host, int64_t now_ms, const std::string& why);

 private:
  PgJobStore(std::unique_ptr<PgDb> db, std::string host) : db_(std::move(db)), host_(std::move(host)) {}
  Status migrate();
  Result<Job> get_locked(JobId id, const char* action, bool (*allowed)(JobState));
  Status settle(JobId parent, int64_t now_ms);
  Status settle_parents(const std::vector<Job>& changed, int64_t now_ms);
  Result<std::vector<TopicStats>> read_stats(const std::string& sql, int64_t now_ms);
  // NOTIFY drover_jobs for each topic (delivered at commit).
  Status notify(const std::vector<std::string>& topics);
  Status notify_jobs(const std::vector<Job>& jobs);
  // A schedule's job enqueued and recorded as its latest run, inside the caller's transaction.
  Result<Job> enqueue_for(const Schedule& s, int64_t now_ms);

  std::unique_ptr<PgDb> db_;
  std::string host_;
};

// A URL the PostgreSQL store serves: postgresql://... or postgres://...
bool is_postgres_url(const std::string& url);

}  // namespace drover::jobs
