// Building `m`. Two choices a policy author can see:
//  - Whole numbers are pushed as Lua integers: a queue of 640 is read back as 640, not
//    640.0, so `"queue " .. m.queue` reads as the operator expects and math.type(m.queue)
//    is "integer". Fractions stay floats: m.now usually is one, so a policy passes
//    math.floor(m.now) to os.date, which takes only integral times.
//  - Memory that was never read (mem_total 0: no /proc/meminfo) is nil, not 0, since a
//    guard comparing "available < 512 MB" would otherwise fire on a missing reading.
#include "shell/autoscale/policy_metrics.h"

#include <cmath>
#include <cstdint>

#include "shell/lua/view.h"

namespace drover {

namespace {

void push_workers(lua_State* L, const WorkerCounts& w) {
  lua_createtable(L, 0, 5);
  set_integer(L, "target", w.target);
  set_integer(L, "running", w.running);
  set_integer(L, "busy", w.busy);
  set_integer(L, "idle", w.idle);
  set_integer(L, "stalled", w.stalled);
}

// One column of m.history: an array as long as the history, false where a value was
// unknown, so m.history.queue[i] and m.history.now[i] always describe the same call.
template <typename Get>
void set_column(lua_State* L, const char* key, const std::deque<PolicySample>& h, Get get) {
  lua_createtable(L, static_cast<int>(h.size()), 0);
  lua_Integer i = 1;
  for (const PolicySample& s : h) {
    std::optional<double> v = get(s);
    if (v)
      push_quantity(L, *v);
    else
      lua_pushboolean(L, 0);
    lua_rawseti(L, -2, i++);
  }
  lua_setfield(L, -2, key);
}

void push_history(lua_State* L, const std::deque<PolicySample>& h) {
  using S = PolicySample;
  lua_createtable(L, 0, 8);
  set_column(L, "now", h, [](const S& s) -> std::optional<double> { return s.now; });
  set_column(L, "queue", h, [](const S& s) { return s.queue; });
  set_column(L, "inflight", h, [](const S& s) { return s.inflight; });
  set_column(L, "age", h, [](const S& s) { return s.age; });
  set_column(L, "target", h, [](const S& s) -> std::optional<double> { return s.target; });
  set_column(L, "running", h, [](const S& s) -> std::optional<double> { return s.running; });
  set_column(L, "load1", h, [](const S& s) { return s.load1; });
  set_column(L, "cpu", h, [](const S& s) { return s.cpu; });
}

void push_pools(lua_State* L, const std::map<std::string, PoolView>& pools) {
  lua_createtable(L, 0, static_cast<int>(pools.size()));
  for (const auto& [name, p] : pools) {
    lua_createtable(L, 0, 5);
    set_quantity(L, "queue", p.queue);
    set_quantity(L, "inflight", p.inflight);
    set_quantity(L, "age", p.age);
    push_workers(L, p.workers);
    lua_setfield(L, -2, "workers");
    set_integer(L, "min", p.min);
    set_integer(L, "max", p.max);
    lua_setfield(L, -2, name.c_str());
  }
}

}  // namespace

void push_policy_metrics(lua_State* L, const PolicyMetrics& m) {
  // At most five slots are in use at once: m, m.pools, one pool, its workers, a value.
  luaL_checkstack(L, 5, "push_policy_metrics");
  lua_createtable(L, 0, 24);
  set_string(L, "name", m.name);
  set_quantity(L, "now", m.now);
  set_quantity(L, "dt", m.dt);
  set_quantity(L, "queue", m.queue);
  set_quantity(L, "queue_rate", m.queue_rate);
  set_quantity(L, "inflight", m.inflight);
  set_quantity(L, "age", m.age);
  set_quantity(L, "run_time", m.run_time);
  set_quantity(L, "load1", m.load1);
  set_quantity(L, "load5", m.load5);
  set_quantity(L, "load15", m.load15);
  set_quantity(L, "cpu", m.cpu);
  set_integer(L, "cpus", m.cpus);
  if (m.mem_total > 0) {
    set_quantity(L, "mem_available", m.mem_available);
    set_quantity(L, "mem_total", m.mem_total);
  }

  push_workers(L, m.workers);
  lua_setfield(L, -2, "workers");

  lua_createtable(L, 0, 3);
  set_quantity(L, "cpu", m.pool_cpu);
  set_quantity(L, "rss", m.pool_rss);
  set_integer(L, "processes", m.pool_processes);
  lua_setfield(L, -2, "pool");

  set_integer(L, "min", m.min);
  set_integer(L, "max", m.max);
  if (m.budget) set_integer(L, "budget", *m.budget);

  push_history(L, m.history);
  lua_setfield(L, -2, "history");
  push_pools(L, m.pools);
  lua_setfield(L, -2, "pools");
}

void record_history(PolicyMetrics& m) {
  PolicySample s;
  s.now = m.now;
  s.queue = m.queue;
  s.inflight = m.inflight;
  s.age = m.age;
  s.run_sum = m.run_sum;
  s.run_count = m.run_count;
  s.load1 = m.load1;
  s.cpu = m.cpu;
  s.target = m.workers.target;
  s.running = m.workers.running;
  m.history.push_back(s);
  while (m.history.size() > kHistory) m.history.pop_front();
}

}  // namespace drover
