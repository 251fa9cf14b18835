// taskmanager's schedule file as drover --schedule reads it: the shipped example, and bad
// files refused naming the entry and the field.
#include <doctest/doctest.h>

#include <string>

#include "app/taskmanager_schedule.h"
#include "shell/lua/config_loader.h"

using namespace drover;

TEST_CASE("taskmanager schedule: examples/taskscheduler.json loads as it is") {
  auto list = load_taskmanager_schedules(std::string(DROVER_SOURCE_DIR) + "/examples/taskscheduler.json");
  REQUIRE_MESSAGE(list, (list ? "" : list.error().message()));
  REQUIRE(list->size() == 2);
  const jobs::Schedule& first = (*list)[0];
  CHECK(first.name == "invoices");
  CHECK(first.cron == "*/10 * * * * *");
  CHECK(first.topic == "taskTopic");
  CHECK(first.args.find("\"TaskProcessorName\":\"InvoiceProcessor\"") != std::string::npos);
  CHECK(first.args.find("\"Payload\":[\"Portugal\",\"Spain\",\"France\"]") != std::string::npos);
  CHECK(first.tz.empty());
  CHECK(first.missed == jobs::MissedPolicy::kSkip);
}

TEST_CASE("taskmanager schedule: bad files name the entry and the field") {
  auto error_of = [](const std::string& text) {
    auto r = parse_taskmanager_schedules(text, "t.json");
    REQUIRE_FALSE(r);
    return r.error().message();
  };
  CHECK(error_of("{").find("t.json: not JSON") == 0);
  CHECK(error_of("{}").find("a JSON array") != std::string::npos);
  CHECK(error_of(R"([{"Id":"1","Cron":"* * * * * *","Topic":"t","Extra":1}])").find("t.json: [0].Extra") == 0);
  CHECK(error_of(R"([{"Id":"1","Cron":"* * * * *","Topic":"t"}])").find("[0].Cron: \"* * * * *\" has 5 fields") !=
        std::string::npos);
  CHECK(error_of(R"([{"Id":"1","Cron":"61 * * * * *","Topic":"t"}])").find("cron field 1 (seconds)") !=
        std::string::npos);
  CHECK(error_of(R"([{"Id":"1","Cron":"* * * * * *"}])").find("[0].Topic: must be a string") != std::string::npos);
  CHECK(error_of(R"([{"Id":"a","Cron":"* * * * * *","Topic":"t"},{"Id":"a","Cron":"* * * * * *","Topic":"t"}])")
            .find("[1].Id: \"a\" is given twice") != std::string::npos);
}

TEST_CASE("config: a schedule line is recorded - a bad one names its line and field") {
  auto ok = load_config_string(R"(
pool "reports" { cmd = "true", n = 1, jobs = true }
schedule "nightly" { cron = "0 3 * * *", tz = "Europe/Berlin", topic = "reports", args = { kind = "daily" }, missed = "one" }
schedule "poll" { every = "30s", topic = "reports", overlap = false }
)", "=cfg");
  REQUIRE_MESSAGE(ok, (ok ? "" : ok.error().message()));
  REQUIRE(ok->schedules.size() == 2);
  CHECK(ok->schedules[0].name == "nightly");
  CHECK(ok->schedules[0].tz == "Europe/Berlin");
  CHECK(ok->schedules[0].args == R"({"kind":"daily"})");
  CHECK(ok->schedules[0].missed == jobs::MissedPolicy::kOne);
  CHECK(ok->schedules[1].every == "30s");
  CHECK_FALSE(ok->schedules[1].overlap);
  auto bad = [](const std::string& text) {
    auto r = load_config_string(text, "=cfg");
    REQUIRE_FALSE(r);
    return r.error().message();
  };
  CHECK(bad("schedule \"x\" { cron = \"0 25 * * *\", topic = \"t\" }")
            .find("cfg:1: schedule \"x\".cron: cron field 2 (hour)") != std::string::npos);
  CHECK(bad("schedule \"x\" { every = \"30s\", topic = \"t\", missed = \"most\" }").find("missed must be") !=
        std::string::npos);
  CHECK(bad("schedule \"x\" { evry = \"30s\", topic = \"t\" }").find("unknown field 'evry'") != std::string::npos);
  CHECK(bad("schedule \"x\" { every = \"1s\", topic = \"t\" }\nschedule \"x\" { every = \"2s\", topic = \"t\" }")
            .find("cfg:2: schedule \"x\" is defined twice") != std::string::npos);
}
