-- latency_slo: keep the oldest waiting job's age under `max_age` seconds, with as few
-- workers as that takes.
--
-- Made for a pool with `jobs = true` and no probe, whose m comes from drover's own queue:
-- m.queue (due jobs), m.inflight (running), m.age (how long the oldest due job has
-- waited) and m.run_time (mean seconds a job runs). Any pool whose m has m.queue works
-- too, with `run_time` given (and m.age taken as 0 when unknown).
--
-- The arithmetic of one FIFO queue: n workers with a mean run time r start n / r jobs a
-- second, and the k-th waiting job starts about k * r / n seconds from now. Planning for
-- P = headroom * max_age seconds, the newest of the Q waiting jobs must start within P and
-- the oldest within what it has left, P - age:
--
--   n = max( (Q + growth * r) * r / P,  r / max(P - age, r) )
--
-- growth, the queue's rise per second over the last `window` seconds of m.history, counts
-- the jobs that arrive within a run time. In between, jobs are younger than the oldest by
-- about as much as they wait less, so the two ends bound them all. The queue is let grow
-- to what the plan allows (jobs wait up to about P, no longer): the fewest workers that
-- keep the target, and past the plan the first term is what brings the waits back to it.
-- Never fewer than the running jobs (keep_running): a jobs pool stops the job of a slot
-- it gives up. Before any job has ended (no run time yet), jobs that wait get one more
-- worker than the busy ones, to learn it.
--
-- Options (all optional):
--   max_age   seconds the oldest due job may wait, a positive number           (default 30)
--   headroom  share of max_age planned for, in (0, 1]: the rest absorbs a new
--             worker's start and the polling interval                          (default 0.8)
--   run_time  seconds a job runs, when m.run_time is unknown (a probe's pool)  (default none)
--   window    seconds of m.history the queue's growth is measured over          (default 15)
--   keep_running  never fewer than m.inflight, a boolean: true for a jobs pool (a slot
--             given up stops its job); false for long-lived workers whose scale-down
--             lets them finish, which then cost less                           (default true)
--
-- Example:
--   pool "resize" { cmd = "./resize.sh", n = 1, jobs = true }
--   local slo = load "latency_slo"
--   autoscale "resize" { every = 2, min = 0, max = 40, cooldown = 60, policy = slo{ max_age = 30 } }
--   -- queue 400, 10 running, oldest 12 s, run time 2 s: 400 * 2 / 24 = 33.3 -> 34
--
-- Each policy in policies/ stands alone (no shared helper module): `load` runs one file,
-- and a policy must not depend on where the others are installed.

local NAME = "latency_slo"

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "table" or type(v) == "function" then return "a " .. type(v) end
  return tostring(v)
end

-- "640" for whole numbers, "2.5" otherwise: reasons are read by people.
local function num(x)
  if x == math.floor(x) and math.abs(x) < 2^53 then return string.format("%d", x) end
  return (string.format("%.1f", x):gsub("%.?0+$", ""))
end

-- The option checks raise at level 3: the line of the configuration that called the
-- constructor, which is where the mistake is.
local function option(opts, key, default, ok, what)
  local v = opts[key]
  if v == nil then return default end
  if not ok(v) then error(string.format("%s: %s must be %s, got %s", NAME, key, what, show(v)), 3) end
  return v
end

local function positive(v) return type(v) == "number" and v > 0 and v < math.huge end
local function share(v) return type(v) == "number" and v > 0 and v <= 1 end

local KNOWN = { max_age = true, headroom = true, run_time = true, window = true, keep_running = true }

-- The queue's growth per second over the last `window` seconds of the history (the
-- current call is its last entry; one call's difference is mostly noise); 0 when there
-- is not enough of it.
local function growth(m, window)
  local h = m.history
  if h == nil or h.now == nil then return 0 end
  local last = #h.now
  if last < 2 or not h.queue[last] then return 0 end
  for i = 1, last - 1 do
    if h.now[i] >= h.now[last] - window and h.queue[i] and h.now[last] > h.now[i] then
      return (h.queue[last] - h.queue[i]) / (h.now[last] - h.now[i])
    end
  end
  return 0
end

return function(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    error(string.format("%s: options must be a table, as in %s{ max_age = 30 }, got %s", NAME, NAME, show(opts)), 2)
  end
  for k in pairs(opts) do
    if not KNOWN[k] then
      error(string.format("%s: unknown option %s (options: headroom, keep_running, max_age, run_time, window)", NAME, show(k)), 2)
    end
  end
  local max_age = option(opts, "max_age", 30, positive, "a positive number of seconds")
  local headroom = option(opts, "headroom", 0.8, share, "a number in (0, 1]")
  local given_run_time = option(opts, "run_time", nil, positive, "a positive number of seconds")
  local window = option(opts, "window", 15, positive, "a positive number of seconds")
  local keep_running = option(opts, "keep_running", true, function(v) return type(v) == "boolean" end, "true or false")

  return function(m)
    if m.queue == nil then return nil, "queue unknown" end
    local q, busy, age = m.queue, m.inflight or 0, m.age or 0
    local r = m.run_time or given_run_time
    local what = "queue " .. num(q) .. ", " .. num(busy) .. " running, oldest " .. num(age) .. " s"
    if r == nil then
      if q > 0 then return busy + 1, what .. ", run time not known yet" end
      return busy, what
    end
    r = math.max(r, 0.001)  -- a job that ran in no measurable time still needs a worker
    local plan = headroom * max_age
    local left = plan - age
    -- The newest waiting job (and those arriving within a run time) must start within the
    -- plan, at n / r starts a second; the oldest within what it has left, at least a run.
    local need, why = (q + math.max(growth(m, window), 0) * r) * r / plan, "queue"
    if q > 0 and r / math.max(left, r) > need then need, why = r / math.max(left, r), "oldest" end
    if keep_running and busy > need then need, why = busy, "running" end
    -- The slack absorbs float noise just above an integer (as the decider does).
    local n = math.max(math.ceil(need - 1e-9), 0)
    return n, string.format("%s, run time %s s, %s s left of %s: by %s", what, num(r), num(math.max(left, 0)),
                            num(max_age), why)
  end
end
