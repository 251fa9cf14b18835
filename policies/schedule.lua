-- schedule: pool sizes by time of day (and optionally day of week).
--
-- Each entry is a window [from, to) of wall-clock time with either a fixed size `n` or
-- a `policy` that decides inside the window. The first entry (in the order written) whose
-- window holds m.now wins. A window whose `to` is not after its `from` crosses midnight:
-- {from = "22:00", to = "06:00"} is 22:00 to 06:00 the next morning; from == to is the
-- whole day. Days name the day a window starts on, so a Friday 22:00-06:00 window still
-- holds at 03:00 on Saturday. Outside every window the answer is `default`, or nil (keep
-- the current size) when there is none.
--
-- Options:
--   [1], [2], ...  entries {from = "HH:MM", to = "HH:MM", n = N | policy = p, days = ...}
--                  ("HH:MM:SS" works too; to = "24:00" is the end of the day)
--   days           days for entries without their own: a list {"mon", "tue", ...} or a
--                  string "mon-fri", "sat,sun", "mon-wed,fri"   (default: every day)
--   tz             "local" (the machine's time zone, TZ) or "utc"   (default "local")
--   default        size outside every window, an integer >= 0  (default nil: keep)
--
-- Example:
--   local sched = load "schedule"
--   local qp = load "queue_proportional"
--   autoscale "web" { every = 60, min = 1, max = 30, policy = sched{
--     {from = "08:00", to = "18:00", days = "mon-fri", policy = qp{ per_worker = 20 }},
--     {from = "18:00", to = "08:00", n = 2},
--     default = 4,          -- weekends by day
--   } }

local NAME = "schedule"
local DAYS = { sun = 1, mon = 2, tue = 3, wed = 4, thu = 5, fri = 6, sat = 7 }

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "table" or type(v) == "function" then return "a " .. type(v) end
  return tostring(v)
end

-- Checks raise without a position (level 0) from any depth; the constructor re-raises
-- them at the configuration line that called it.
local function fail(fmt, ...) error(NAME .. ": " .. string.format(fmt, ...), 0) end

-- "08:30" -> seconds since midnight.
local function clock(where, key, v)
  local h, mi, s = nil, nil, "0"
  if type(v) == "string" then
    h, mi = v:match("^(%d%d?):(%d%d)$")
    if not h then h, mi, s = v:match("^(%d%d?):(%d%d):(%d%d)$") end
  end
  local t = h and tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)
  if not t or tonumber(mi) > 59 or tonumber(s) > 59 or t > 86400 then
    fail("%s: %s must be a time \"HH:MM\" from 00:00 to 24:00, got %s", where, key, show(v))
  end
  return t
end

-- "mon-fri,sun" or {"mon", "sun"} -> a set of wday numbers (os.date's: Sunday is 1).
local function day_set(where, v)
  local names = {}
  if type(v) == "string" then
    for part in v:gmatch("[^,]+") do names[#names + 1] = part:match("^%s*(.-)%s*$") end
  elseif type(v) == "table" then
    names = v
  else
    fail("%s: days must be a list like {\"mon\", \"tue\"} or a string like \"mon-fri\", got %s", where, show(v))
  end
  local set = {}
  for _, name in ipairs(names) do
    local a, b = tostring(name):lower():match("^(%a+)%-(%a+)$")
    local first, last = DAYS[a or tostring(name):lower()], DAYS[b or a or tostring(name):lower()]
    if not first or not last then
      fail("%s: unknown day %s (days: mon, tue, wed, thu, fri, sat, sun, or a range mon-fri)", where, show(name))
    end
    local d = first
    while true do  -- a range may wrap: fri-mon is fri, sat, sun, mon
      set[d] = true
      if d == last then break end
      d = d % 7 + 1
    end
  end
  if next(set) == nil then fail("%s: days is empty", where) end
  return set
end

local KNOWN = { days = true, tz = true, default = true }
local ENTRY_KEYS = { from = true, to = true, n = true, policy = true, days = true }

local function hhmm(t) return string.format("%02d:%02d", t // 3600, t % 3600 // 60) end

local function build(opts)
  if type(opts) ~= "table" or opts[1] == nil then
    fail("expected a list of windows, as in schedule{ {from = \"08:00\", to = \"18:00\", n = 10} }, got %s",
         show(opts))
  end
  for k in pairs(opts) do
    if math.type(k) ~= "integer" and not KNOWN[k] then
      fail("unknown option %s (options: days, default, tz, and the windows)", show(k))
    end
  end
  local tz = opts.tz or "local"
  if tz ~= "local" and tz ~= "utc" then fail("tz must be \"local\" or \"utc\", got %s", show(tz)) end
  local default = opts.default
  if default ~= nil and not (math.type(default) == "integer" and default >= 0) then
    fail("default must be an integer >= 0, got %s", show(default))
  end
  local all_days = opts.days and day_set("days", opts.days)

  local entries = {}
  for i, e in ipairs(opts) do
    local where = "window " .. i
    if type(e) ~= "table" then fail("%s must be a table {from = ..., to = ..., n = ...}, got %s", where, show(e)) end
    for k in pairs(e) do
      if not ENTRY_KEYS[k] then fail("%s: unknown field %s (fields: days, from, n, policy, to)", where, show(k)) end
    end
    local w = { from = clock(where, "from", e.from), to = clock(where, "to", e.to), n = e.n, policy = e.policy }
    if (w.n == nil) == (w.policy == nil) then fail("%s needs exactly one of n and policy", where) end
    if w.n ~= nil and not (math.type(w.n) == "integer" and w.n >= 0) then
      fail("%s: n must be an integer >= 0, got %s", where, show(w.n))
    end
    if w.policy ~= nil and type(w.policy) ~= "function" then
      fail("%s: policy must be a function(m), got %s", where, show(w.policy))
    end
    w.days = e.days and day_set(where, e.days) or all_days
    w.label = hhmm(w.from) .. "-" .. hhmm(w.to)
    entries[#entries + 1] = w
  end

  local function day_ok(w, wday) return w.days == nil or w.days[wday] end
  local function holds(w, secs, wday)
    if w.from < w.to then return secs >= w.from and secs < w.to and day_ok(w, wday) end
    if w.from == w.to then return day_ok(w, wday) end
    -- Across midnight: the evening part starts today, the morning part started yesterday.
    if secs >= w.from then return day_ok(w, wday) end
    return secs < w.to and day_ok(w, (wday + 5) % 7 + 1)
  end

  local format = tz == "utc" and "!*t" or "*t"
  return function(m)
    local t = os.date(format, math.floor(m.now))  -- os.date takes only integral times
    local secs = t.hour * 3600 + t.min * 60 + t.sec
    for _, w in ipairs(entries) do
      if holds(w, secs, t.wday) then
        if w.n then return w.n, "schedule " .. w.label end
        local n, why = w.policy(m)
        return n, "schedule " .. w.label .. (why and ": " .. why or "")
      end
    end
    if default ~= nil then return default, "schedule: outside every window, default" end
    return nil, "schedule: outside every window"
  end
end

return function(opts)
  local ok, policy = pcall(build, opts)
  if not ok then error(policy, 2) end
  return policy
end
