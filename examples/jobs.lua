-- drover as a job queue, both ways of running jobs (README, "Jobs"). Run it from the
-- source tree after scripts/build.sh:
--
--   build/drover examples/jobs.lua
--   drover> jobs.enqueue("thumbs", {file = "a.png"})      -- exec mode: a shell script per job
--   drover> jobs.enqueue("py", {sleep = 0.1})              -- worker mode: the Python worker
--   drover> jobs.enqueue("py", {fail = "on purpose"}, {attempts = 2})
--   drover> jobs.stats()   jobs.list{}   jobs.tail()
--
-- The queue lives in --state DIR (default ~/.local/state/drover). Relative paths (cmd,
-- cwd) are taken from this file's directory.

-- Exec mode: the command runs once per job, at most n at a time. The args come as JSON on
-- stdin and in DROVER_JOB_ARGS; exit 0 is done, and the output's tail is the result.
pool "thumbs" {
  cmd = [[echo "making a thumbnail of $(cat) (job $DROVER_JOB_ID, attempt $DROVER_JOB_ATTEMPT)"]],
  n = 4,
  jobs = true,
}

-- Worker mode: n long-lived workers fetch jobs over ZeroMQ, `prefetch` at a time; a worker
-- that dies gives its job back at once. The Python worker needs Debian's python3-zmq.
pool "py" {
  cmd = "/usr/bin/python3 workers/job_worker.py",
  n = 2,
  jobs = { mode = "worker", prefetch = 4 },
}

-- The same in shell, through `drover job next` / `drover job done ID`.
pool "sh" {
  cmd = "workers/job_worker.sh",
  env = { PATH = "../build:/usr/bin:/bin" },  -- where `drover job` is, after scripts/build.sh
  n = 1,
  jobs = { mode = "worker" },
}
