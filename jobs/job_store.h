// Where jobs live: the one interface the engine, the shell and HTTP reach the queue by. The
// SQLite store (sqlite_job_store.h) is the embedded default; a PostgreSQL store (several
// hosts, the next issue) implements the same calls with the same schema and semantics.
//
// Time is a parameter (now_ms, wall clock), never read inside, so tests drive delays,
// backoff and ages with a fake clock. Every call is all or nothing: a refused request
// changes no job. A store is used from one thread (the store thread); it is not locked.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/status.h"
#include "jobs/job.h"
#include "jobs/schedule_store.h"

namespace drover::jobs {

struct JobFilter {
  std::optional<std::string> topic;
  std::optional<JobState> state;
  JobId after = 0;     // paging: ids greater than this, oldest first
  size_t limit = 100;  // at most kMaxListLimit
  std::optional<JobId> parent;      // a fan-out's children
  std::optional<std::string> key;  // the jobs enqueued with this unique key, finished ones too
};
inline constexpr size_t kMaxListLimit = 10000;

struct TopicStats {
  std::string topic;
  int64_t queued = 0;     // waiting and due (run_at <= now)
  int64_t scheduled = 0;  // waiting, not due yet (a delay, a retry's backoff)
  int64_t running = 0, done = 0, failed = 0, dead = 0, cancelled = 0;  // failed: waiting to retry
  double oldest_age_s = 0;  // how long the oldest due job has waited since it became due; 0 if none
  // Since drover started, under taskqueue's names (JobService fills them from its
  // TopicCounters; a store alone leaves them 0): jobs enqueued, attempts started, failed
  // attempts to be retried, attempts done.
  uint64_t enqueued = 0, started = 0, retried = 0, completed = 0;

  bool operator==(const TopicStats&) const = default;
};

// When a failed attempt runs again: the runner's backoff with jitter (retry_backoff.h),
// from the attempt that failed and the time.
using RetryAt = std::function<int64_t(int attempt, int64_t now_ms)>;

// One run's end as a runner reports it: which job, and how it went.
struct JobEnd {
  JobId id = 0;
  JobOutcome outcome;
};

// Finished jobs (done, dead, cancelled) are kept this long and this many, newest first.
struct Retention {
  size_t max_finished = 100000;
  double max_age_s = 7 * 86400;
};

// One drover in a shared store's fleet, as it last said (JobStore::renew_lease).
struct HostRecord {
  std::string name;
  int64_t pid = 0;
  std::string http;  // "HOST:PORT" it serves its API on; "" when it serves none
  int64_t started_ms = 0;
  int64_t lease_until_ms = 0;  // gone, its running jobs queued again, once this passes
  std::string pools = "[]";    // JSON: [{"name": ..., "size": ..., "running": ...}]
  int64_t running_jobs = 0;    // in fleet(): jobs running on it now

  bool operator==(const HostRecord&) const = default;
};

// A renewal's news: hosts whose lease had run out, and their jobs put back (or dead).
struct LeaseRenewal {
  std::vector<std::string> expired;
  std::vector<Job> requeued;
};

// What the whole fleet looks like from the shared store: every host, and the queue.
struct Fleet {
  std::vector<HostRecord> hosts;  // by name
  std::vector<TopicStats> topics;
  std::string self;  // the host that answered (JobService fills it; a remote read leaves it "")
};

class JobStore {
 public:
  virtual ~JobStore() = default;

  // fn's calls commit together (one fsync for many transitions): the store thread's group
  // commit. Each call inside stays all or nothing; fn's Status decides the group's fate.
  virtual Status group(const std::function<Status()>& fn) = 0;

  // Each request becomes a queued job, or, when its key names a job of its topic that
  // waits or runs, returns that job (enqueued once, whatever the retries of a client). A
  // bad request (empty topic, args that are not JSON, ...) refuses the whole batch. A
  // fan-out request (topics) answers its parent, its children made with it.
  //
  // Fan-out parents are never claimed and count in no topic's stats. Every call that
  // changes a child brings its parent's state up to date in the same transaction (job.h);
  // cancel, retry and drop of a parent take its children along (retry: the dead and
  // cancelled ones); prune keeps a fan-out whole, deleting children with their parent.
  virtual Result<std::vector<Job>> enqueue(const std::vector<JobRequest>& requests, int64_t now_ms) = 0;
  // Up to n due jobs of the topic, highest priority first, then the longest due, marked
  // running with their attempt counted: the job leaves "running" only through finish(),
  // cancel() or requeue_running(). In that order.
  virtual Result<std::vector<Job>> claim(const std::string& topic, size_t n, int64_t now_ms,
                                         const std::string& host, const std::string& worker) = 0;
  // A running job's end: done; or failed, due again at retry_at_ms; or dead when that was
  // its last attempt. A job no longer running (cancelled meanwhile) is refused: the runner
  // drops the outcome.
  virtual Result<Job> finish(JobId id, const JobOutcome& outcome, int64_t now_ms, int64_t retry_at_ms) = 0;
  // Runs' ends, as finish() records each (its own all or nothing step), a failure due again
  // at retry_at(the attempt that failed, now); the answers in the same order. A burst of
  // worker results is one call. A store may do it faster than finish() after finish();
  // the default does just that.
  virtual std::vector<Result<Job>> finish_all(const std::vector<JobEnd>& ends, int64_t now_ms, const RetryAt& retry_at);
  // A failed job's next attempt moved to run_at_ms (a retry delay function's answer, which
  // comes after finish()), if the job still waits to retry that attempt: one that ran
  // again meanwhile, or was cancelled or retried by hand, is refused and left as it is.
  virtual Result<Job> reschedule(JobId id, int attempt, int64_t run_at_ms);
  // A running job given back unrun (its pool stopped before a slot took it): queued again,
  // due as before, its attempt not counted. A job no longer running is refused.
  virtual Result<Job> release(JobId id, int64_t now_ms) = 0;
  // A waiting or running job cancelled (the runner stops a running one's process).
  virtual Result<Job> cancel(JobId id, int64_t now_ms) = 0;
  // A dead, failed or cancelled job queued again now, with its attempts anew.
  virtual Result<Job> retry(JobId id, int64_t now_ms) = 0;
  // Every dead job (of one topic) queued again; how many.
  virtual Result<size_t> retry_dead(const std::optional<std::string>& topic, int64_t now_ms) = 0;
  // A finished job deleted. A waiting or running one is refused: cancel it first.
  virtual Status drop(JobId id) = 0;

  virtual Result<Job> get(JobId id) = 0;
  virtual Result<std::vector<Job>> list(const JobFilter& filter) = 0;
  virtual Result<std::vector<TopicStats>> stats(int64_t now_ms) = 0;
  // stats() without done and cancelled (left 0): the counts jobs/topic_counters refreshes
  // each second, read from the waiting, running and dead jobs only, never the finished
  // bulk of a retained table. A store without a cheaper way answers stats().
  virtual Result<std::vector<TopicStats>> live_stats(int64_t now_ms) { return stats(now_ms); }

  // At start: the jobs a previous drover left running go back to queued, due now, their
  // attempt counted (they may have run to the end unrecorded: the only duplicates there are).
  virtual Result<std::vector<Job>> requeue_running(int64_t now_ms) = 0;
  // Finished jobs past the retention deleted; how many.
  virtual Result<size_t> prune(const Retention& retention, int64_t now_ms) = 0;

  // The schedules kept beside the jobs (schedule_store.h), on the same connection so a
  // tick and its job commit together; null for a store without them.
  virtual ScheduleStore* schedules() { return nullptr; }
  // Several hosts on one store (PostgreSQL): this host's row written (taken over when a
  // host of its name was there before: no second one), its lease held until
  // me.lease_until_ms; and every other host whose lease ran out is gone from the fleet,
  // its running jobs queued again (attempt counted; dead on their last), once, however
  // many hosts renew at that moment. A store of one host (SQLite) has no fleet: nothing.
  virtual Result<LeaseRenewal> renew_lease(const HostRecord& me, int64_t now_ms) {
    (void)me, (void)now_ms;
    return LeaseRenewal{};
  }
  // This host leaving the fleet: what still runs under its name queued again (attempt
  // counted), its row deleted.
  virtual Status leave(const std::string& host, int64_t now_ms) {
    (void)host, (void)now_ms;
    return Status::ok();
  }
  // The hosts with their running jobs, and live_stats(). A store of one host: no hosts.
  virtual Result<Fleet> fleet(int64_t now_ms) {
    auto topics = live_stats(now_ms);
    if (!topics) return topics.error();
    return Fleet{{}, std::move(*topics)};
  }
};

}  // namespace drover::jobs
