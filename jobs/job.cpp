#include "jobs/job.h"

#include <unistd.h>

#include <climits>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace drover::jobs {

namespace {
constexpr JobState kAll[] = {JobState::kQueued, JobState::kRunning, JobState::kDone,
                             JobState::kFailed, JobState::kDead,    JobState::kCancelled};
}

std::string machine_host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof name - 1) != 0 || !*name) return "localhost";
  return name;
}

const char* job_state_name(JobState s) {
  switch (s) {
    case JobState::kQueued: return "queued";
    case JobState::kRunning: return "running";
    case JobState::kDone: return "done";
    case JobState::kFailed: return "failed";
    case JobState::kDead: return "dead";
    case JobState::kCancelled: return "cancelled";
  }
  return "?";
}

std::optional<JobState> job_state_from_name(const std::string& name) {
  for (JobState s : kAll)
    if (name == job_state_name(s)) return s;
  return std::nullopt;
}

Status validate_request(const JobRequest& r, const std::string& where) {
  auto bad = [&](const char* field, const std::string& what) {
    return Status::invalid(fmt::format("{}{}{}: {}", where, where.empty() ? "" : ".", field, what));
  };
  auto bad_topic = [&](const char* field, const std::string& topic) -> Status {
    if (topic.empty() || topic.size() > kMaxTopicBytes)
      return bad(field, fmt::format("must be a pool name of 1 to {} bytes", kMaxTopicBytes));
    for (unsigned char c : topic)
      if (c < 0x21 || c == 0x7f) return bad(field, fmt::format("\"{}\" has a space or control character", topic));
    return Status::ok();
  };
  // A fan-out's parent may go unnamed (kFanoutTopic).
  if (r.topics.empty() || !r.topic.empty())
    if (Status s = bad_topic("topic", r.topic); !s) return s;
  if (r.topics.size() > kMaxFanout)
    return bad("topics", fmt::format("{} topics is over {}", r.topics.size(), kMaxFanout));
  for (size_t i = 0; i < r.topics.size(); ++i) {
    const std::string field = fmt::format("topics[{}]", i);
    if (Status s = bad_topic(field.c_str(), r.topics[i]); !s) return s;
    for (size_t k = 0; k < i; ++k)
      if (r.topics[k] == r.topics[i]) return bad(field.c_str(), fmt::format("\"{}\" is named twice", r.topics[i]));
  }
  if (r.args.size() > kMaxArgsBytes) return bad("args", fmt::format("{} bytes is over {}", r.args.size(), kMaxArgsBytes));
  if (!nlohmann::json::accept(r.args)) return bad("args", "is not JSON text");
  if (!std::isfinite(r.delay_s) || r.delay_s < 0 || r.delay_s > kMaxDelayS)
    return bad("delay", fmt::format("{} must be seconds from 0 to {:.0f}", r.delay_s, kMaxDelayS));
  if (r.max_attempts < 1 || r.max_attempts > kMaxAttempts)
    return bad("attempts", fmt::format("{} must be 1 to {}", r.max_attempts, kMaxAttempts));
  if (!std::isfinite(r.timeout_s) || r.timeout_s < 0)
    return bad("timeout", fmt::format("{} must be seconds >= 0 (0: none)", r.timeout_s));
  if (r.key.size() > kMaxKeyBytes) return bad("key", fmt::format("{} bytes is over {}", r.key.size(), kMaxKeyBytes));
  return Status::ok();
}

}  // namespace drover::jobs
