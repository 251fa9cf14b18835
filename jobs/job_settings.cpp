#include "jobs/job_settings.h"

#include <fmt/format.h>

namespace drover::jobs {

Status check_store_url(const std::string& url) {
  if (url.empty() || url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) return Status::ok();
  return Status::invalid(fmt::format("\"{}\" is not a postgresql:// or postgres:// URL (without it: jobs.db in --state)",
                                     url));
}

Status check_host_name(const std::string& name) {
  if (name.empty() || name.size() > 200) return Status::invalid("a host name is 1 to 200 bytes");
  for (unsigned char c : name)
    if (c <= ' ' || c == 0x7f) return Status::invalid(fmt::format("\"{}\" has a space or control character", name));
  return Status::ok();
}

Status check_durability(const std::string& name) {
  if (name == "full" || name == "normal" || name == "off") return Status::ok();
  return Status::invalid(fmt::format("durability \"{}\" is not full, normal or off", name));
}

}  // namespace drover::jobs
