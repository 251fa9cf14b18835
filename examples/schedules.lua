-- Schedules: jobs enqueued at the ticks of a cron expression or an interval (help
-- "schedule"). Run it from the source tree after scripts/build.sh:
--
--   build/drover examples/schedules.lua
--   build/drover examples/schedules.lua --schedule examples/taskscheduler.json
--   drover> schedules()
--   drover> schedule.run_now "nightly-report"     schedule.off "heartbeat"
--
-- The second line also loads taskmanager's schedule file as it is: its entries enqueue
-- jobs of the topic "taskTopic", whose pool is below, each job's args the entry's
-- TaskMessageTemplate.

-- The pools that run the jobs (exec mode: a command per job, its args as JSON on stdin).
pool "reports" {
  cmd = [[echo "report $(cat) (job $DROVER_JOB_ID)"]],
  n = 1,
  jobs = true,
}

pool "taskTopic" {
  cmd = [[echo "task $(cat) (job $DROVER_JOB_ID)"]],
  n = 2,
  jobs = true,
}

-- 03:00 in Berlin every day; a run missed while drover was down runs once at start.
schedule "nightly-report" {
  cron = "0 3 * * *",
  tz = "Europe/Berlin",
  topic = "reports",
  args = { kind = "daily" },
  missed = "one",
}

-- Every 30 seconds, skipped while the previous run still waits or runs.
schedule "heartbeat" {
  every = "30s",
  topic = "reports",
  args = { kind = "heartbeat" },
  overlap = false,
}
