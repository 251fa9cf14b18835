// What every JobStore decides alike, whatever its SQL: which states a call accepts, the
// messages of a refusal, and the dispatch order claim() promises. Shared by the SQLite
// and PostgreSQL stores so that the two say the same thing in the same words.
#pragma once

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "jobs/job.h"

namespace drover::jobs::store_rules {

inline bool waiting_or_running(JobState s) { return is_waiting(s) || s == JobState::kRunning; }
inline bool retryable(JobState s) {
  return s == JobState::kDead || s == JobState::kFailed || s == JobState::kCancelled;
}
inline bool finished(JobState s) { return is_finished(s); }
inline bool running(JobState s) { return s == JobState::kRunning; }

inline Status no_job(JobId id) { return Status::not_found(fmt::format("no job {}", id)); }
inline Status not_run(JobId id) {
  return Status::invalid(fmt::format("job {} is a fan-out parent: its children run, it never does", id));
}
inline Status wrong_state(JobId id, JobState s, const char* action) {
  return Status::invalid(fmt::format("job {} is {}: it cannot be {}", id, job_state_name(s), action));
}
inline Status key_taken(JobId id, const std::string& key) {
  return Status::exists(fmt::format("job {}: a job with key \"{}\" is already queued or running", id,
                                    key.empty() ? "of its fan-out" : key));
}
inline constexpr const char* kLastAttemptLost = "drover stopped while its last attempt ran";

// Jobs in dispatch order: what claim() promises, whatever order RETURNING gave.
inline void sort_for_dispatch(std::vector<Job>& jobs) {
  std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) {
    if (a.priority != b.priority) return a.priority > b.priority;
    if (a.run_at_ms != b.run_at_ms) return a.run_at_ms < b.run_at_ms;
    return a.id < b.id;
  });
}

// A fan-out parent's state from its children's counts (job.h): n children, of which
// done, dead, finished (done, dead or cancelled) and begun (not queued unrun).
inline JobState parent_state(int64_t n, int64_t done, int64_t dead, int64_t finished_n, int64_t begun) {
  return finished_n < n ? (begun > 0 ? JobState::kRunning : JobState::kQueued)
         : done == n    ? JobState::kDone
         : dead > 0     ? JobState::kDead
                        : JobState::kCancelled;
}

}  // namespace drover::jobs::store_rules
