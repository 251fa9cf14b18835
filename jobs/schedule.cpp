#include "jobs/schedule.h"

#include <cctype>

#include <fmt/format.h>

namespace drover::jobs {

const char* missed_policy_name(MissedPolicy p) {
  switch (p) {
    case MissedPolicy::kSkip: return "skip";
    case MissedPolicy::kOne: return "one";
    case MissedPolicy::kAll: return "all";
  }
  return "?";
}

std::optional<MissedPolicy> missed_policy_from_name(const std::string& name) {
  if (name == "skip") return MissedPolicy::kSkip;
  if (name == "one") return MissedPolicy::kOne;
  if (name == "all") return MissedPolicy::kAll;
  return std::nullopt;
}

Status validate_schedule(const Schedule& s) {
  const std::string where = fmt::format("schedule \"{}\"", s.name);
  auto bad = [&](const char* field, const std::string& what) {
    return Status::invalid(fmt::format("{}.{}: {}", where, field, what));
  };
  if (s.name.empty() || s.name.size() > kMaxScheduleNameBytes)
    return bad("name", fmt::format("must be 1 to {} bytes", kMaxScheduleNameBytes));
  for (unsigned char c : s.name)
    if (!std::isalnum(c) && c != '-' && c != '_' && c != '.' && c != ':')
      return bad("name", "may hold only letters, digits and - _ . :");
  if (s.cron.empty() == s.every.empty())
    return bad(s.cron.empty() ? "cron" : "every", "give exactly one of cron and every");
  if (auto e = schedule_expr(s); !e) return bad(s.cron.empty() ? "every" : "cron", e.error().message());
  if (auto tz = find_time_zone(s.tz); !tz) return Status::invalid(fmt::format("{}.{}", where, tz.error().message()));
  return validate_request(schedule_request(s), where);
}

Result<CronExpr> schedule_expr(const Schedule& s) {
  return s.cron.empty() ? CronExpr::every(s.every) : CronExpr::parse(s.cron);
}

JobRequest schedule_request(const Schedule& s) {
  JobRequest r;
  r.topic = s.topic;
  r.args = s.args;
  r.priority = s.priority;
  r.max_attempts = s.max_attempts;
  r.timeout_s = s.timeout_s;
  return r;
}

std::string schedule_when(const Schedule& s) {
  if (!s.every.empty()) return "every " + s.every;
  return s.tz.empty() ? s.cron : s.cron + " " + s.tz;
}

std::string schedule_outcome(const ScheduleState& s) {
  if (!s.note.empty()) return "skipped: " + s.note;
  if (s.last_job_state) return job_state_name(*s.last_job_state);
  return s.last_job ? "pruned" : "";
}

}  // namespace drover::jobs
