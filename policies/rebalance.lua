-- rebalance: shares one budget of workers among several pools by their backlog.
--
-- Every pool in the group runs the same policy, and each call computes the allocation of
-- the whole group from m.pools, then answers with its own pool's (m.name's) share. The
-- computation is deterministic (pools in name order, largest remainders, ties to the
-- first name), so all the pools arrive at the same allocation and its sum never exceeds
-- the budget. The order of precedence:
--   1. a pool whose backlog is unknown keeps its current target, as far as the budget goes;
--   2. each pool with backlog gets at least 1 (or `min`, or its own min), busiest first,
--      then each empty pool gets `min` (or its own min), while the budget lasts;
--   3. the budget is shared in proportion to backlog (m.queue + m.inflight), never above
--      a pool's own max, nor above ceil(backlog / per_worker) when `per_worker` is set;
--      what a capped pool leaves goes to the others.
-- Without per_worker the whole budget is handed out whenever any pool has backlog: that
-- suits a fixed machine shared by queues; set per_worker to pay only for what is needed.
--
-- Options:
--   budget      workers for the group, an integer >= 0  (default m.budget, budget{max_workers})
--   pools       the group, a list of pool names          (default every pool in m.pools)
--   min         workers of an empty pool, an integer >= 0 (default 0)
--   per_worker  jobs of backlog per worker, a positive number (default nil: no cap)
--
-- Example:
--   local rb = load "rebalance"
--   local share = rb{ budget = 10, pools = {"mail", "thumbs"} }
--   autoscale "mail" { every = 5, max = 10, queue = redis{ sidekiq = "mail" }, policy = share }
--   autoscale "thumbs" { every = 5, max = 10, queue = redis{ sidekiq = "thumbs" }, policy = share }
--   -- backlogs 900 and 100 -> mail 9, thumbs 1

local NAME = "rebalance"

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "table" or type(v) == "function" then return "a " .. type(v) end
  return tostring(v)
end

local function num(x)
  if x == math.floor(x) and math.abs(x) < 2^53 then return string.format("%d", x) end
  return (string.format("%.2f", x):gsub("%.?0+$", ""))
end

local function fail(fmt, ...) error(NAME .. ": " .. string.format(fmt, ...), 3) end

local function count(v) return math.type(v) == "integer" and v >= 0 end
local function positive(v) return type(v) == "number" and v > 0 and v < math.huge end

-- Step 3: share `budget` among pools already holding their floors (p.n), in proportion
-- to p.backlog, each within [p.n, p.hi]. Pools whose quota reaches their cap, or falls to
-- their floor, are settled at it and the rest recomputed; then Hamilton's method.
local function share(pools, budget)
  local open = {}
  for _, p in ipairs(pools) do if p.backlog > 0 and p.n < p.hi then open[#open + 1] = p end end
  local left = budget
  for _, p in ipairs(pools) do if p.backlog <= 0 or p.n >= p.hi then left = left - p.n end end
  while #open > 0 do
    local total = 0
    for _, p in ipairs(open) do total = total + p.backlog end
    local settled, rest = false, {}
    for _, p in ipairs(open) do p.quota = left * p.backlog / total end
    for _, p in ipairs(open) do  -- caps first: what they leave raises the others' quotas
      if p.quota >= p.hi then p.n, settled = p.hi, true end
    end
    if not settled then
      for _, p in ipairs(open) do if p.quota <= p.n then settled = true; p.quota = p.n; p.hi = p.n end end
    end
    if not settled then break end
    for _, p in ipairs(open) do
      if p.n >= p.hi then left = left - p.n else rest[#rest + 1] = p end
    end
    open = rest
  end
  if #open == 0 then return end
  local given = 0
  for _, p in ipairs(open) do
    p.n = math.floor(p.quota)
    given = given + p.n
  end
  table.sort(open, function(a, b)
    local ra, rb = a.quota - math.floor(a.quota), b.quota - math.floor(b.quota)
    if ra ~= rb then return ra > rb end
    return a.name < b.name
  end)
  -- Float quotas may sum a hair off `left`; never hand out more seats than pools.
  for i = 1, math.min(left - given, #open) do open[i].n = open[i].n + 1 end
end

local KNOWN = { budget = true, pools = true, min = true, per_worker = true }

return function(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then fail("options must be a table, as in rebalance{ budget = 10 }, got %s", show(opts)) end
  for k in pairs(opts) do
    if not KNOWN[k] then fail("unknown option %s (options: budget, min, per_worker, pools)", show(k)) end
  end
  local budget, min, per_worker = opts.budget, opts.min or 0, opts.per_worker
  if budget ~= nil and not count(budget) then fail("budget must be an integer >= 0, got %s", show(budget)) end
  if not count(min) then fail("min must be an integer >= 0, got %s", show(min)) end
  if per_worker ~= nil and not positive(per_worker) then
    fail("per_worker must be a positive number, got %s", show(per_worker))
  end
  local group
  if opts.pools ~= nil then
    if type(opts.pools) ~= "table" or opts.pools[1] == nil then
      fail("pools must be a list of pool names, got %s", show(opts.pools))
    end
    group = {}
    for i, name in ipairs(opts.pools) do
      if type(name) ~= "string" then fail("pools[%d] must be a pool name, got %s", i, show(name)) end
      group[#group + 1] = name
    end
    table.sort(group)
  end

  return function(m)
    local cap = budget or m.budget
    if cap == nil then return nil, "rebalance: no budget (set budget = N, or budget{max_workers = N})" end
    local names = group
    if names == nil then
      names = {}
      for name in pairs(m.pools) do names[#names + 1] = name end
      table.sort(names)
    end

    local pools, mine, left, total = {}, nil, cap, 0
    for _, name in ipairs(names) do  -- step 1, and the bounds of the others
      local v = m.pools[name]
      local p = { name = name, n = 0, hi = math.huge }
      if v and v.max then p.hi = v.max end
      if v == nil or v.queue == nil then
        p.unknown, p.backlog = true, 0
        p.n = math.min(v and v.workers.target or 0, p.hi, left)
        left = left - p.n
        p.hi = p.n
      else
        p.backlog = v.queue + (v.inflight or 0)
        total = total + p.backlog
        p.lo = math.max(p.backlog > 0 and math.max(min, 1) or min, v.min or 0)
        if per_worker then p.hi = math.min(p.hi, math.max(p.lo, math.ceil(p.backlog / per_worker - 1e-9))) end
        p.lo = math.min(p.lo, p.hi)
      end
      pools[#pools + 1] = p
      if name == m.name then mine = p end
    end
    if mine == nil then return nil, "rebalance: pool " .. show(m.name) .. " is not in the group" end

    local floors = {}  -- step 2: busiest first, then the empty ones by name
    for _, p in ipairs(pools) do if not p.unknown then floors[#floors + 1] = p end end
    table.sort(floors, function(a, b)
      if a.backlog ~= b.backlog then return a.backlog > b.backlog end
      return a.name < b.name
    end)
    for _, p in ipairs(floors) do
      p.n = math.min(p.lo, left)
      left = left - p.n
    end
    share(pools, cap)

    if mine.unknown then
      return mine.n, string.format("rebalance: queue unknown, keeping %d of budget %d", mine.n, cap)
    end
    return mine.n, string.format("rebalance: %d of budget %d (backlog %s of %s in %d pools)",
                                 mine.n, cap, num(mine.backlog), num(total), #pools)
  end
end
