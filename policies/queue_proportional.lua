-- queue_proportional: one worker per `per_worker` jobs of backlog.
--
-- The backlog is the queue's depth plus, by default, the jobs already running
-- (m.inflight): counting those keeps the workers that are busy from being scaled away
-- while the queue itself is empty. The answer is ceil(backlog / per_worker), and at least
-- `min_when_busy` while there is any backlog, so a trickle of jobs still gets a worker.
-- An unknown queue (the probe failed) keeps the current size rather than guessing.
-- Shrinking is slowed by the autoscaler's cooldown, not here.
--
-- Options (all optional):
--   per_worker      jobs of backlog per worker, a positive number        (default 100)
--   count_inflight  add m.inflight to the queue's depth, a boolean         (default true)
--   min_when_busy   workers while the backlog is not empty, an integer >= 0 (default 1)
--
-- Example:
--   local qp = load "queue_proportional"
--   autoscale "resque" { every = 5, min = 0, max = 20, queue = redis{ resque = "jobs" },
--                        policy = qp{ per_worker = 50 } }
--   -- queue 640, inflight 20 -> 14, "queue 640 + inflight 20 at 50 per worker"
--
-- Each policy in policies/ stands alone (no shared helper module): `load` runs one file,
-- and a policy must not depend on where the others are installed.

local NAME = "queue_proportional"

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "table" or type(v) == "function" then return "a " .. type(v) end
  return tostring(v)
end

-- "640" for whole numbers, "2.5" otherwise: reasons are read by people.
local function num(x)
  if x == math.floor(x) and math.abs(x) < 2^53 then return string.format("%d", x) end
  return (string.format("%.2f", x):gsub("%.?0+$", ""))
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
local function count(v) return math.type(v) == "integer" and v >= 0 end
local function boolean(v) return type(v) == "boolean" end

local KNOWN = { per_worker = true, count_inflight = true, min_when_busy = true }

return function(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    error(string.format("%s: options must be a table, as in %s{ per_worker = 100 }, got %s",
                        NAME, NAME, show(opts)), 2)
  end
  for k in pairs(opts) do
    if not KNOWN[k] then
      error(string.format("%s: unknown option %s (options: count_inflight, min_when_busy, per_worker)",
                          NAME, show(k)), 2)
    end
  end
  local per_worker = option(opts, "per_worker", 100, positive, "a positive number")
  local count_inflight = option(opts, "count_inflight", true, boolean, "true or false")
  local min_when_busy = option(opts, "min_when_busy", 1, count, "an integer >= 0")

  return function(m)
    if m.queue == nil then return nil, "queue unknown" end
    local backlog, what = m.queue, "queue " .. num(m.queue)
    if count_inflight and m.inflight ~= nil then
      backlog = backlog + m.inflight
      what = what .. " + inflight " .. num(m.inflight)
    end
    -- The slack absorbs float noise just above an integer (as the decider does).
    local n = math.max(math.ceil(backlog / per_worker - 1e-9), 0)
    local why = what .. " at " .. num(per_worker) .. " per worker"
    if backlog > 0 and n < min_when_busy then
      n = min_when_busy
      why = why .. ", at least " .. min_when_busy .. " while busy"
    end
    return n, why
  end
end
