-- load_guard: wraps another policy and stops it from growing a pool on a machine that
-- is already overloaded or short of memory.
--
-- While the machine is healthy the inner policy's answer passes through untouched. When
-- the 1-minute load per CPU (m.load1 / m.cpus) is above `max_load_per_cpu`, or
-- m.mem_available is below `min_mem_available`, the answer is capped at the workers
-- running now: more workers would only compete for the same CPUs or push the machine
-- into swap. Above 1.25 x the load limit it also sheds `step_down` workers a call, since
-- holding still would leave the machine overloaded. A guard never raises an answer:
-- when the inner policy wants fewer workers than the cap, that answer stands. Unknown
-- readings (nil) never fire a guard.
--
-- Options:
--   policy             the policy to guard, a function(m)                  (required)
--   max_load_per_cpu   a positive number                                      (default 1.5)
--   min_mem_available  bytes, a number >= 0 (0: no memory guard)              (default 512 MB)
--   step_down          workers shed per call when load > 1.25 x the limit,
--                      an integer >= 0                                        (default 1)
--
-- Example:
--   local qp = load "queue_proportional"
--   local guard = load "load_guard"
--   autoscale "thumbs" { every = 5, max = 40,
--     policy = guard{ policy = qp{ per_worker = 20 }, max_load_per_cpu = 2 } }
--   -- 8 CPUs, load 17, 10 running, queue asks for 30 -> 10,
--   --   "load guard: load 2.12 per cpu over 2, holding at 10 running (policy: 30, ...)"

local NAME = "load_guard"

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "table" or type(v) == "function" then return "a " .. type(v) end
  return tostring(v)
end

local function num(x)
  if x == math.floor(x) and math.abs(x) < 2^53 then return string.format("%d", x) end
  return (string.format("%.2f", x):gsub("%.?0+$", ""))
end

local function mb(bytes) return num(bytes / (1024 * 1024)) .. " MB" end

-- Raises at level 3: the configuration line that called the constructor.
local function option(opts, key, default, ok, what)
  local v = opts[key]
  if v == nil then return default end
  if not ok(v) then error(string.format("%s: %s must be %s, got %s", NAME, key, what, show(v)), 3) end
  return v
end

local function positive(v) return type(v) == "number" and v > 0 and v < math.huge end
local function nonnegative(v) return type(v) == "number" and v >= 0 and v < math.huge end
local function count(v) return math.type(v) == "integer" and v >= 0 end

local KNOWN = { policy = true, max_load_per_cpu = true, min_mem_available = true, step_down = true }

return function(opts)
  if type(opts) ~= "table" then
    error(string.format("%s: options must be a table, as in %s{ policy = p }, got %s", NAME, NAME, show(opts)), 2)
  end
  for k in pairs(opts) do
    if not KNOWN[k] then
      error(string.format("%s: unknown option %s (options: max_load_per_cpu, min_mem_available, policy, step_down)",
                          NAME, show(k)), 2)
    end
  end
  if type(opts.policy) ~= "function" then
    error(string.format("%s: policy must be a function(m) (the policy to guard), got %s", NAME, show(opts.policy)), 2)
  end
  local inner = opts.policy
  local max_load = option(opts, "max_load_per_cpu", 1.5, positive, "a positive number")
  local min_mem = option(opts, "min_mem_available", 512 * 1024 * 1024, nonnegative, "a number of bytes >= 0")
  local step_down = option(opts, "step_down", 1, count, "an integer >= 0")

  return function(m)
    local n, why = inner(m)
    local running = m.workers.running
    local load = (m.load1 ~= nil and m.cpus ~= nil and m.cpus > 0) and m.load1 / m.cpus or nil
    local low_mem = m.mem_available ~= nil and m.mem_available < min_mem

    local cap, guards = nil, {}
    if load ~= nil and load > max_load * 1.25 then
      cap = math.max(running - step_down, 0)
      guards[#guards + 1] = string.format("load guard: load %s per cpu over 1.25 x %s, shedding %d of %d running",
                                          num(load), num(max_load), running - cap, running)
    elseif load ~= nil and load > max_load then
      cap = running
      guards[#guards + 1] = string.format("load guard: load %s per cpu over %s, holding at %d running",
                                          num(load), num(max_load), running)
    end
    if low_mem then
      cap = math.min(cap or running, running)
      guards[#guards + 1] = string.format("memory guard: %s available under %s, holding at %d running",
                                          mb(m.mem_available), mb(min_mem), running)
    end
    if cap == nil then return n, why end

    -- nil from the inner policy means "keep the current target": that too is capped.
    local wanted = n or m.workers.target
    if wanted <= cap then return n, why end
    local inner_said = n and num(n) or "keep " .. num(m.workers.target)
    if why then inner_said = inner_said .. ", " .. why end
    return cap, table.concat(guards, "; ") .. " (policy: " .. inner_said .. ")"
  end
end
