#include "jobs/job_store.h"

#include <fmt/format.h>

namespace drover::jobs {

std::vector<Result<Job>> JobStore::finish_all(const std::vector<JobEnd>& ends, int64_t now_ms, const RetryAt& retry_at) {
  std::vector<Result<Job>> out;
  out.reserve(ends.size());
  for (const JobEnd& e : ends) {
    if (e.outcome.ok) {
      out.push_back(finish(e.id, e.outcome, now_ms, 0));
      continue;
    }
    // The retry's delay grows with the attempt that failed, which only the store knows.
    auto job = get(e.id);
    out.push_back(job ? finish(e.id, e.outcome, now_ms, retry_at(job->attempt, now_ms)) : job);
  }
  return out;
}

Result<Job> JobStore::reschedule(JobId id, int attempt, int64_t run_at_ms) {
  (void)attempt;
  (void)run_at_ms;
  return Status::unavailable(fmt::format("this job store cannot move job {}'s retry", id));
}

}  // namespace drover::jobs
