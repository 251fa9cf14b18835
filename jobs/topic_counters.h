// TopicCounters: the job queue's numbers per topic, in memory, so that /metrics, status()
// and the autoscaler read them without a query (jobs.stats() still asks the store).
//
// Two kinds of number, kept two ways:
//  - What the store holds (queued, scheduled, running, retrying, dead, the oldest due job's
//    age) is refreshed from one query on the store thread (JobStore::live_stats), run by
//    JobService once a second, or less often when the query takes over 100 ms
//    (jobs_store_bench: 0.4 ms with 1,000 waiting beside 100,000 finished; 325 ms with a
//    million waiting, refreshed every 3 s then). Not kept from transitions: the table also
//    changes by calls this class never sees (retry_dead, recovery at start, a fan-out, a
//    group commit that failed and rolled back) and by time alone (a delayed job falls
//    due), and a count kept by increments drifts from the table at each of them. A refresh
//    is exact whatever changed it, and reads only the waiting, running and dead rows,
//    never the finished bulk of a retained table.
//  - What happened since drover started (enqueued, started, done, failed, dead, cancelled,
//    the run-time histogram) are events: counted as the dispatcher reports them, after the
//    commit that made them so, as the event stream says them. They also move the store's
//    counts until the next refresh, so an enqueue shows (and scales) at once.
//
// Thread-safe: the store thread refreshes, the dispatcher counts, any thread reads.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "engine/snapshot.h"
#include "jobs/job_store.h"

namespace drover::jobs {

// Seconds: 50 ms to an hour, the range of a job's run (a thumbnail to a report).
std::vector<double> default_run_bounds();

class TopicCounters {
 public:
  explicit TopicCounters(std::vector<double> run_bounds = default_run_bounds());

  // The store's counts as read at now_ms; a topic it no longer lists has none waiting,
  // running or dead (its series stay, at 0).
  void refresh(const std::vector<TopicStats>& live, int64_t now_ms);
  // The events also move the store's counts at once (due jobs queued, claimed ones running,
  // ended ones out of running), so that they do not wait a second to show; the next
  // refresh makes them exact again (a key's repeat counted twice, a delayed job falling
  // due, a cancel of a waiting job).
  void on_enqueued(const std::string& topic, uint64_t due, uint64_t delayed = 0);
  void on_started(const std::string& topic, uint64_t n);
  // A job's end as the store recorded it: done, failed (to be retried), dead or cancelled.
  // run_s: how long the attempt ran (done, failed and dead runs go into the histogram).
  void on_end(const std::string& topic, JobState state, double run_s);

  // Every topic seen since start, sorted; the oldest age as of now_ms (it grows between
  // refreshes while the job waits).
  std::vector<TopicGauge> gauges(int64_t now_ms) const;
  // The latest refresh's wall clock, ms; 0 before the first.
  int64_t refreshed_ms() const;

 private:
  struct Topic {
    TopicGauge g;
    int64_t oldest_due_ms = 0;  // run_at of the oldest due job at the refresh; 0: none
  };
  Topic& topic(const std::string& name);  // under mu_

  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::map<std::string, Topic> topics_;
  int64_t refreshed_ms_ = 0;
};

}  // namespace drover::jobs
