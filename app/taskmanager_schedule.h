// taskmanager's schedule file (its taskscheduler's -schedule=config/taskscheduler.json),
// read as it is: a JSON array of {"Id", "Cron", "Topic", "TaskMessageTemplate"}, where
// Cron is robfig/cron's six fields (seconds first) and the template is the message each
// tick sends. Each entry becomes a schedule named by its Id, enqueueing a job of Topic
// whose args are the template. `drover --schedule FILE`.
#pragma once

#include <string>
#include <vector>

#include "engine/status.h"
#include "jobs/schedule.h"

namespace drover {

// Errors name the file and the entry ("taskscheduler.json: [2].Cron: cron field 3 ...");
// a file with any bad entry gives none.
Result<std::vector<jobs::Schedule>> load_taskmanager_schedules(const std::string& path);
// The same from text (tests); `label` stands for the file in errors.
Result<std::vector<jobs::Schedule>> parse_taskmanager_schedules(const std::string& text, const std::string& label);

}  // namespace drover
