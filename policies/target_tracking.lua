-- target_tracking: Kubernetes HPA's formula, for any per-worker metric.
--
--   desired = ceil(running * metric / target)
--
-- where `metric` is a value per worker that should sit at `target`. By default it is the
-- backlog per worker, (m.queue + m.inflight) / max(running, 1), so the pool is sized to
-- about `target` jobs of backlog per worker; pass `metric = function(m) ... end` for any
-- other, e.g. CPU cores per worker, m.pool.cpu / m.workers.running, with target = 0.8.
-- As in the HPA, a ratio metric / target within `tolerance` of 1 changes nothing (the
-- current target is returned), which keeps the pool from twitching on noise. From 0
-- running workers the formula would stay at 0, so any positive metric asks for
-- ceil(metric / target), at least 1 (with 0 workers the default metric is the whole
-- backlog).
--
-- The HPA's other half, waiting before scaling down (its 300 s stabilization window), is
-- not here: the autoscaler's decider does it, with the pool's `cooldown`.
--
-- Options:
--   target     the metric's wanted value per worker, a positive number
--              (default 100: jobs of backlog per worker; required with `metric`)
--   metric     function(m) -> number per worker, or nil when unknown (default: backlog/worker)
--   tolerance  no change while |metric / target - 1| <= tolerance, in [0, 1) (default 0.1)
--
-- Example:
--   local tt = load "target_tracking"
--   autoscale "render" { every = 5, min = 1, max = 16, cooldown = 300,
--     policy = tt{ target = 0.8, metric = function(m) return m.pool.cpu / math.max(m.workers.running, 1) end } }
--   -- 4 workers using 4.8 cores: ratio 1.5 -> 6

local NAME = "target_tracking"

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "table" or type(v) == "function" then return "a " .. type(v) end
  return tostring(v)
end

local function num(x)
  if x == math.floor(x) and math.abs(x) < 2^53 then return string.format("%d", x) end
  return (string.format("%.2f", x):gsub("%.?0+$", ""))
end

-- Raises at level 3: the configuration line that called the constructor.
local function option(opts, key, default, ok, what)
  local v = opts[key]
  if v == nil then return default end
  if not ok(v) then error(string.format("%s: %s must be %s, got %s", NAME, key, what, show(v)), 3) end
  return v
end

local function positive(v) return type(v) == "number" and v > 0 and v < math.huge end
local function fraction(v) return type(v) == "number" and v >= 0 and v < 1 end
local function callable(v) return type(v) == "function" end

local KNOWN = { target = true, metric = true, tolerance = true }

return function(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    error(string.format("%s: options must be a table, as in %s{ target = 100 }, got %s", NAME, NAME, show(opts)), 2)
  end
  for k in pairs(opts) do
    if not KNOWN[k] then
      error(string.format("%s: unknown option %s (options: metric, target, tolerance)", NAME, show(k)), 2)
    end
  end
  local metric = option(opts, "metric", nil, callable, "a function(m) returning a number per worker")
  if metric and opts.target == nil then
    -- 100 jobs per worker means nothing for CPU or latency: make the author say it.
    error(NAME .. ": target is required with a custom metric (the metric's wanted value per worker)", 2)
  end
  local target = option(opts, "target", 100, positive, "a positive number")
  local tolerance = option(opts, "tolerance", 0.1, fraction, "a number in [0, 1)")

  return function(m)
    local running = m.workers.running
    local value, label
    if metric then
      value = metric(m)
      if value == nil then return nil, "metric unknown" end
      if type(value) ~= "number" or value ~= value then
        error(string.format("%s: metric returned %s, expected a number or nil", NAME, show(value)), 2)
      end
      label = "metric " .. num(value)
    else
      if m.queue == nil then return nil, "queue unknown" end
      local backlog = m.queue + (m.inflight or 0)
      value = backlog / math.max(running, 1)
      label = "backlog " .. num(backlog) .. " over " .. running .. " workers"
    end
    local against = " vs target " .. num(target)

    if running == 0 then
      if value <= 0 then return 0, label .. against .. ": idle" end
      local n = math.max(1, math.ceil(value / target - 1e-9))
      return n, label .. against .. ": starting from 0"
    end
    local ratio = value / target
    local why = string.format("%s%s (ratio %.2f)", label, against, ratio)
    -- The slack keeps a ratio of 1.1 within a tolerance of 0.1 (1.1 - 1 is 0.10000000000000009).
    if math.abs(ratio - 1) <= tolerance + 1e-9 then
      return m.workers.target, why .. " within tolerance " .. num(tolerance)
    end
    return math.max(math.ceil(running * ratio - 1e-9), 0), why
  end
end
