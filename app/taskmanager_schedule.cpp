#include "app/taskmanager_schedule.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace drover {

using json = nlohmann::json;

Result<std::vector<jobs::Schedule>> parse_taskmanager_schedules(const std::string& text, const std::string& label) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) return Status::invalid(fmt::format("{}: not JSON", label));
  if (!doc.is_array())
    return Status::invalid(fmt::format("{}: a schedule file is a JSON array of {{\"Id\", \"Cron\", \"Topic\", "
                                       "\"TaskMessageTemplate\"}}", label));
  std::vector<jobs::Schedule> out;
  std::set<std::string> ids;
  for (size_t i = 0; i < doc.size(); ++i) {
    const json& e = doc[i];
    auto bad = [&](const char* field, const std::string& what) {
      return Status::invalid(fmt::format("{}: [{}].{}: {}", label, i, field, what));
    };
    if (!e.is_object()) return Status::invalid(fmt::format("{}: [{}]: an entry is an object", label, i));
    for (const auto& [key, v] : e.items())
      if (key != "Id" && key != "Cron" && key != "Topic" && key != "TaskMessageTemplate")
        return bad(key.c_str(), "is not a field of taskmanager's schedule file (Id, Cron, Topic, TaskMessageTemplate)");
    jobs::Schedule s;
    for (const char* field : {"Id", "Cron", "Topic"}) {
      if (!e.contains(field) || !e[field].is_string()) return bad(field, "must be a string");
    }
    s.name = e["Id"].get<std::string>();
    s.cron = e["Cron"].get<std::string>();
    s.topic = e["Topic"].get<std::string>();
    // The template is what taskscheduler sent as the message: the job's args as given.
    s.args = e.contains("TaskMessageTemplate") ? e["TaskMessageTemplate"].dump() : "{}";
    // robfig/cron's Parse takes six fields, seconds first: five would read differently.
    if (auto expr = jobs::CronExpr::parse(s.cron); expr && s.cron.find('@') == std::string::npos) {
      size_t fields = 0;
      std::istringstream words(s.cron);
      for (std::string w; words >> w;) ++fields;
      if (fields != 6) return bad("Cron", fmt::format("\"{}\" has {} fields; taskmanager's take 6, seconds first",
                                                      s.cron, fields));
    }
    if (Status v = jobs::validate_schedule(s); !v) return Status::invalid(fmt::format("{}: [{}]: {}", label, i, v.message()));
    if (!ids.insert(s.name).second) return bad("Id", fmt::format("\"{}\" is given twice", s.name));
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::vector<jobs::Schedule>> load_taskmanager_schedules(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::io_error(fmt::format("{}: {}", path, std::strerror(errno)));
  std::stringstream text;
  text << in.rdbuf();
  return parse_taskmanager_schedules(text.str(), path);
}

}  // namespace drover
