#include "engine/spec_string.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <set>

#include <fmt/format.h>

namespace drover {

Result<std::vector<SpecEntry>> parse_spec_string(const std::string& spec, const EngineLimits& limits) {
  if (spec.find_first_not_of(" \t") == std::string::npos) return Status::invalid("--workers: the spec is empty");
  std::vector<SpecEntry> out;
  std::set<std::string> seen;
  size_t pos = 0;
  int index = 0;
  while (pos <= spec.size()) {
    size_t end = spec.find(':', pos);
    if (end == std::string::npos) end = spec.size();
    std::string entry = spec.substr(pos, end - pos);
    ++index;
    auto err = [&](size_t col_in_entry, const std::string& what) {
      return Status::invalid(fmt::format("--workers: entry {} '{}' at column {}: {}", index, entry,
                                         pos + col_in_entry + 1, what));
    };
    if (entry.empty()) return err(0, "empty entry (two ':' in a row, or a ':' at an end)");
    size_t eq = entry.find('=');
    std::string queues = entry.substr(0, eq);
    if (queues.empty()) return err(0, "no queue name before '='");
    for (size_t i = 0; i < queues.size(); ++i) {
      char c = queues[i];
      if (c == ',' && (i == 0 || i + 1 == queues.size() || queues[i + 1] == ','))
        return err(i, "empty queue name in the list");
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == ',' || c == '*'))
        return err(i, fmt::format("'{}' is not allowed in a queue name", c));
    }
    SpecEntry e{queues, 1};
    if (eq != std::string::npos) {
      std::string count = entry.substr(eq + 1);
      bool digits = !count.empty() && count.size() <= 9 &&
                    std::all_of(count.begin(), count.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
      if (!digits) return err(eq + 1, fmt::format("count '{}' is not a whole number", count));
      e.n = std::stoi(count);
      if (e.n > limits.max_workers_per_pool)
        return err(eq + 1, fmt::format("count {} is over the cap of {}", e.n, limits.max_workers_per_pool));
    }
    if (!seen.insert(queues).second) return err(0, fmt::format("pool '{}' is given twice", queues));
    out.push_back(std::move(e));
    pos = end + 1;
    if (end == spec.size()) break;
  }
  return out;
}

Result<std::vector<PoolSpec>> pools_from_spec(const std::vector<SpecEntry>& entries, const std::string& cmd_template,
                                              const PoolSpec& defaults) {
  if (cmd_template.find_first_not_of(" \t") == std::string::npos)
    return Status::invalid("--cmd is required with --workers (for example --cmd 'rq worker {queue}')");
  std::vector<PoolSpec> pools;
  for (const auto& e : entries) {
    std::string cmd = cmd_template;
    for (const char* key : {"{queue}", "{pool}"})
      for (size_t at; (at = cmd.find(key)) != std::string::npos;) cmd.replace(at, std::strlen(key), e.queues);
    PoolSpec p = defaults;
    p.name = e.queues;
    p.queue = e.queues;
    p.n = e.n;
    p.argv = command_from_string(cmd);
    pools.push_back(std::move(p));
  }
  return pools;
}

}  // namespace drover
