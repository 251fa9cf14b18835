-- Autoscaling example: the pool "default" works off Redis's list rq:queue:default and is
-- sized by its length, one worker per 10 jobs waiting, between 1 and 8.
--
--   redis-server --port 6379 &                    (any Redis on 127.0.0.1:6379)
--   drover examples/autoscale.lua
--   drover> autoscale.list()
--   $ redis-cli rpush rq:queue:default job{1..60}  (in another terminal: watch it grow)
--
-- Without Redis the pool keeps its size and one policy-warning says why.
-- REDIS_PORT: another server than 6379 (the workers read it too).
local port = os.getenv("REDIS_PORT") or "6379"
pool "default" { cmd = { "workers/rq_list_worker.sh" }, n = 1, grace = 3 }

local qp = load "queue_proportional"
autoscale "default" {
  every = 1, min = 1, max = 8, cooldown = 10,
  queue = redis { url = "redis://127.0.0.1:" .. port .. "/0", rq = "default", timeout = 0.5 },
  policy = qp { per_worker = 10 },
}
