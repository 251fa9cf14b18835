// autoscale_sim: drover's shipped policies against static pools and KEDA/HPA's defaults,
// on one bursty arrival trace (autoscale_sim_model.h), in 1 s steps.
//
// The drover rows run the real thing: each policy is the script in policies/, built from
// a config chunk as a user writes it, called every second through the product's
// call_policy (the real table m, time budget and answer check), and its answer goes
// through the real ScaleDecider (min 1, max 50, cooldown 30 s) and, for the two-queue
// row, fit_budget. Only the world is simulated: the queue, the workers, the clock and the
// machine's load (busy workers, on 16 CPUs).
//
//   build-policies/bench/autoscale_sim [--series LABEL_TEXT]
#include <lua.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "autoscale/scale_decider.h"
#include "autoscale_sim_model.h"
#include "shell/autoscale/policy_call.h"
#include "shell/autoscale/policy_metrics.h"
#include "shell/lua/lua_limits.h"
#include "shell/lua/script_loader.h"

using namespace drover;
using namespace drover::sim;

namespace {

constexpr int kMin = 1, kMax = 50, kCpus = 16;
constexpr double kCooldownS = 30;
constexpr double kEpoch = 1704096000;  // 2024-01-01 08:00:00 UTC, a Monday: t = 0
constexpr int kQueueTarget = 5;        // jobs per worker for every queue-driven strategy
constexpr double kSloS = 30;           // latency_slo's max_age, and the column that checks it

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "autoscale_sim: %s\n", what.c_str());
  std::exit(1);
}

// One Lua state holding one policy, with `load "x"` as the shell has it, under the
// shell's memory cap. Calls go through the product's call_policy (policy_call.h): the
// same time budget and the same answer check as the live autoscaler, so an answer the
// product would refuse stops the simulation with the product's words.
class LuaPolicy {
 public:
  explicit LuaPolicy(const std::string& chunk) : L_(new_limited_state(memory_)) {
    if (!L_) die("no memory for a Lua state");
    luaL_openlibs(L_);
    lua_pushcfunction(L_, l_load);
    lua_setglobal(L_, "load");
    if (luaL_loadbuffer(L_, chunk.data(), chunk.size(), "=strategy") != LUA_OK || lua_pcall(L_, 0, 1, 0) != LUA_OK)
      die(lua_tostring(L_, -1));
    if (!lua_isfunction(L_, -1)) die("the strategy chunk returned no function");
    ref_ = luaL_ref(L_, LUA_REGISTRYINDEX);
  }
  ~LuaPolicy() { lua_close(L_); }
  LuaPolicy(const LuaPolicy&) = delete;
  LuaPolicy& operator=(const LuaPolicy&) = delete;

  // The policy's answer; nil keeps the size.
  std::optional<double> call(const PolicyMetrics& m) {
    PolicyCall c = call_policy(L_, ref_, m, kDefaultPolicyBudget, &memory_);
    if (c.error) die("policy: " + *c.error);
    return c.answer.size;
  }

 private:
  static int l_load(lua_State* L) {
    // The shell's lookup: a policy name ("queue_proportional") in the shipped policies/.
    const std::string given = luaL_checkstring(L, 1);
    const std::string path = resolve_script(given, {DROVER_SOURCE_DIR});
    if (path.empty()) return luaL_error(L, "%s", no_script_message(given, {DROVER_SOURCE_DIR}).c_str());
    int base = lua_gettop(L);
    if (luaL_loadfile(L, path.c_str()) != LUA_OK) return lua_error(L);
    lua_call(L, 0, LUA_MULTRET);
    return lua_gettop(L) - base;
  }
  LuaMemory memory_{lua_limit_settings().memory_bytes};
  lua_State* L_;
  int ref_ = LUA_NOREF;
};

struct Strategy {
  std::string label;
  int static_n = 0;         // > 0: a fixed pool of this size
  std::string lua;          // a drover policy, built from this config chunk
  bool keda = false;        // the KEDA/HPA baseline
  bool two_queues = false;  // the trace split into queues foo and bar, one budget of kMax
  double startup_s = 1;
  int max = kMax;  // the autoscaled pools' max (the second table lifts it to the peak's need)
};

struct Outcome {
  std::optional<double> drain_s;
  double p50 = 0, p95 = 0, max_wait = 0, worker_s = 0;
  int over_slo_s = 0;  // seconds in which the oldest waiting job had waited more than kSloS
  int max_workers = 0, resizes = 0;
  size_t left = 0;
};

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

// What a pool's policy sees at t. Load is the machine's: every busy worker of every pool
// keeps one CPU busy.
void observe(PolicyMetrics& m, const SimPool& pool, double t, int machine_busy, int max) {
  std::optional<double> prev = m.queue;
  m.now = kEpoch + t;
  m.dt = t > 0 ? std::optional<double>(1) : std::nullopt;
  m.queue = pool.queue(t);
  m.queue_rate = prev ? std::optional<double>(*m.queue - *prev) : std::nullopt;
  m.inflight = pool.busy(t);
  // As a jobs pool without a probe has them from drover's own queue.
  m.age = pool.oldest_wait(t);
  m.run_time = pool.mean_service() > 0 ? std::optional<double>(pool.mean_service()) : std::nullopt;
  m.load1 = m.load5 = m.load15 = machine_busy;
  m.cpus = kCpus;
  m.cpu = std::min(1.0, machine_busy / double(kCpus));
  m.mem_total = 16.0 * (1 << 30);
  m.mem_available = 8.0 * (1 << 30);
  int running = pool.running(t);
  int busy = std::min(pool.busy(t), running);
  m.workers = {.target = pool.target(), .running = running, .busy = busy, .idle = running - busy, .stalled = 0};
  m.pool_cpu = pool.busy(t);
  m.pool_rss = pool.alive() * 50e6;
  m.pool_processes = pool.alive();
  m.min = kMin;
  m.max = max;
}

Outcome run(const Strategy& s, const TraceSpec& spec, const std::vector<Job>& trace, std::FILE* series) {
  using Names = std::vector<std::string>;
  Names names = s.two_queues ? Names{"bar", "foo"} : Names{"jobs"};
  std::vector<std::unique_ptr<SimPool>> pools;
  for (size_t q = 0; q < names.size(); ++q) {
    std::vector<Job> mine;
    for (const Job& j : trace)
      if (!s.two_queues || j.queue == (names[q] == "bar" ? 1 : 0)) mine.push_back(j);
    pools.push_back(std::make_unique<SimPool>(std::move(mine), s.startup_s));
    pools.back()->start_with(s.static_n > 0 ? s.static_n : kMin);
  }
  std::unique_ptr<LuaPolicy> policy = s.lua.empty() ? nullptr : std::make_unique<LuaPolicy>(s.lua);
  std::vector<ScaleDecider> deciders(pools.size(), ScaleDecider({.min = kMin, .max = s.max, .cooldown_s = kCooldownS}));
  std::vector<KedaHpa> kedas(pools.size(), KedaHpa(kQueueTarget, kMin, s.max));
  std::vector<PolicyMetrics> metrics(pools.size());
  for (size_t i = 0; i < pools.size(); ++i) metrics[i].name = names[i];

  Outcome out;
  const int end = static_cast<int>(spec.length_s);
  for (int t = 0; t < end; ++t) {
    int queued = 0, busy = 0;
    double oldest = 0;
    for (const auto& p : pools) queued += p->queue(t), busy += p->busy(t), oldest = std::max(oldest, p->oldest_wait(t));
    out.over_slo_s += oldest > kSloS;
    if (!out.drain_s && t > spec.end_of_last_burst() && queued == 0) out.drain_s = t - spec.end_of_last_burst();

    std::map<std::string, int> current, wanted;
    if (s.keda && t % static_cast<int>(KedaHpa::kPollS) == 0) {
      for (size_t i = 0; i < pools.size(); ++i)
        wanted[names[i]] = kedas[i].decide(t, pools[i]->target(), pools[i]->queue(t));
    } else if (policy) {
      for (size_t i = 0; i < pools.size(); ++i) observe(metrics[i], *pools[i], t, busy, s.max);
      std::map<std::string, PoolView> views;
      for (const PolicyMetrics& m : metrics)
        views[m.name] = {.queue = m.queue, .inflight = m.inflight, .workers = m.workers, .min = kMin, .max = s.max};
      for (size_t i = 0; i < pools.size(); ++i) {
        PolicyMetrics& m = metrics[i];
        m.pools = views;
        if (s.two_queues) m.budget = kMax;
        record_history(m);
        current[m.name] = pools[i]->target();
        std::optional<double> n = policy->call(m);
        wanted[m.name] = n ? deciders[i].decide(t, pools[i]->target(), *n).target : pools[i]->target();
      }
      if (s.two_queues) wanted = fit_budget(current, wanted, kMax);
    }
    for (size_t i = 0; i < pools.size(); ++i) {
      auto it = wanted.find(names[i]);
      if (it != wanted.end() && it->second != pools[i]->target()) {
        pools[i]->set_target(t, it->second);
        ++out.resizes;
      }
      pools[i]->step(t);
    }
    int alive = 0, target = 0;
    for (const auto& p : pools) alive += p->alive(), target += p->target();
    out.max_workers = std::max(out.max_workers, alive);
    if (series) std::fprintf(series, "%d %d %d %d %d\n", t, queued, busy, target, alive);
  }

  std::vector<double> waits;
  for (auto& p : pools) {
    waits.insert(waits.end(), p->waits().begin(), p->waits().end());
    std::vector<double> left = p->unstarted_waits(end);  // counted at what they waited so far
    out.left += left.size();
    waits.insert(waits.end(), left.begin(), left.end());
    p->finish(end);
    out.worker_s += p->worker_seconds();
  }
  out.p50 = percentile(waits, 0.50);
  out.p95 = percentile(waits, 0.95);
  out.max_wait = waits.empty() ? 0 : *std::max_element(waits.begin(), waits.end());
  return out;
}

std::string fixed(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  // --series TEXT: the strategy whose label holds TEXT also prints, per second, to stderr:
  // t, queue, busy workers, target, workers alive (to plot or to read why it did that).
  const char* series_of = argc > 2 && std::string(argv[1]) == "--series" ? argv[2] : nullptr;
  auto t0 = std::chrono::steady_clock::now();
  TraceSpec spec;
  std::vector<Job> trace = make_trace(spec);
  double mean_rate = static_cast<double>(trace.size()) / spec.length_s;
  double peak_rate = 0;
  for (int t = 0; t < static_cast<int>(spec.length_s); ++t) peak_rate = std::max(peak_rate, spec.rate_at(t));
  const double per_worker_rate = 1 / spec.mean_service_s;
  const int mean_n = static_cast<int>(std::ceil(mean_rate / per_worker_rate));
  const int peak_n = static_cast<int>(std::ceil(peak_rate / per_worker_rate));

  const std::string qp = "local qp = load 'queue_proportional'\n";
  const std::string per = std::to_string(kQueueTarget);
  const std::string slo = fixed(kSloS, 0);
  std::vector<Strategy> strategies = {
      {.label = "static " + std::to_string(mean_n) + " (mean rate x service)", .static_n = mean_n},
      {.label = "static " + std::to_string(std::min(peak_n, kMax)) + " (peak needs " + std::to_string(peak_n) +
                ", max " + std::to_string(kMax) + ")",
       .static_n = std::min(peak_n, kMax)},
      {.label = "drover queue_proportional{per_worker=" + per + "}",
       .lua = qp + "return qp{ per_worker = " + per + " }"},
      {.label = "drover latency_slo{max_age=" + slo + "}",
       .lua = "local slo = load 'latency_slo'\nreturn slo{ max_age = " + slo + " }"},
      {.label = "drover target_tracking{target=" + per + "}",
       .lua = "local tt = load 'target_tracking'\nreturn tt{ target = " + per + " }"},
      {.label = "drover load_guard{qp, max_load_per_cpu=1.5}, 16 CPUs",
       .lua = qp + "local guard = load 'load_guard'\nreturn guard{ policy = qp{ per_worker = " + per +
              " }, max_load_per_cpu = 1.5 }"},
      {.label = "drover schedule{30 until 08:20, then qp}",
       .lua = qp +
              "local schedule = load 'schedule'\nreturn schedule{ tz = 'utc',\n"
              "  {from = '08:00', to = '08:20', n = 30},\n"
              "  {from = '08:20', to = '08:00', policy = qp{ per_worker = " +
              per + " }} }"},
      {.label = "drover rebalance{budget=50, per_worker=" + per + "}, 2 queues",
       .lua = "local rb = load 'rebalance'\nreturn rb{ budget = 50, per_worker = " + per + " }",
       .two_queues = true},
      {.label = "KEDA/HPA defaults, listLength " + per + ", start 1 s", .keda = true},
      {.label = "KEDA/HPA defaults, listLength " + per + ", pod start 8 s", .keda = true, .startup_s = 8},
  };

  std::printf("autoscale_sim: %zu jobs (mean %.2f jobs/s, peak %.0f jobs/s + the spike)\n", trace.size(), mean_rate,
              peak_rate);
  std::printf("trace: %s\n", spec.describe().c_str());
  std::printf(
      "model: 1 s steps; a worker serves one job at a time, FIFO; new workers ready after the row's start "
      "delay (drover's spawn: 1 s); scale-down stops starting, then idle, then busy workers (which finish "
      "their job); min %d, max %d workers; autoscaled pools start with %d; drover polls every 1 s through "
      "ScaleDecider (cooldown %.0f s), KEDA every %.0f s; load = busy workers on %d CPUs\n\n",
      kMin, kMax, kMin, kCooldownS, KedaHpa::kPollS, kCpus);
  std::printf(
      "| strategy | drain after spike (s) | wait p50 / p95 / max (s) | oldest > %.0f s (s) | worker-seconds "
      "| max workers | resizes | left at end |\n|---|---|---|---|---|---|---|---|\n",
      kSloS);
  for (const Strategy& s : strategies) {
    bool plot = series_of && s.label.find(series_of) != std::string::npos;
    Outcome o = run(s, spec, trace, plot ? stderr : nullptr);
    std::string drain = o.drain_s ? fixed(*o.drain_s, 0) : "> " + fixed(spec.length_s - spec.end_of_last_burst(), 0);
    std::printf("| %s | %s | %s / %s / %s | %d | %.0f | %d | %d | %zu |\n", s.label.c_str(), drain.c_str(),
                fixed(o.p50, 1).c_str(), fixed(o.p95, 1).c_str(), fixed(o.max_wait, 1).c_str(), o.over_slo_s,
                o.worker_s, o.max_workers, o.resizes, o.left);
  }
  // The same trace with room for its peak (max 200 for the 160 workers it needs): where an
  // age target can be met, what each strategy pays for the waits it gives.
  const std::vector<Strategy> roomy = {
      {.label = "drover queue_proportional{per_worker=" + per + "}, max 200",
       .lua = qp + "return qp{ per_worker = " + per + " }", .max = 200},
      {.label = "drover latency_slo{max_age=" + slo + "}, max 200",
       .lua = "local slo = load 'latency_slo'\nreturn slo{ max_age = " + slo + " }", .max = 200},
      {.label = "drover latency_slo{max_age=" + slo + ", keep_running=false}, max 200",
       .lua = "local slo = load 'latency_slo'\nreturn slo{ max_age = " + slo + ", keep_running = false }", .max = 200},
      {.label = "KEDA/HPA defaults, listLength " + per + ", start 1 s, max 200", .keda = true, .max = 200},
  };
  std::printf(
      "\nwith room for the peak:\n\n| strategy | drain after spike (s) | wait p50 / p95 / max (s) "
      "| oldest > %.0f s (s) | worker-seconds | max workers | resizes | left at end |\n|---|---|---|---|---|---|---|---|\n",
      kSloS);
  for (const Strategy& s : roomy) {
    bool plot = series_of && s.label.find(series_of) != std::string::npos;
    Outcome o = run(s, spec, trace, plot ? stderr : nullptr);
    std::string drain = o.drain_s ? fixed(*o.drain_s, 0) : "> " + fixed(spec.length_s - spec.end_of_last_burst(), 0);
    std::printf("| %s | %s | %s / %s / %s | %d | %.0f | %d | %d | %zu |\n", s.label.c_str(), drain.c_str(),
                fixed(o.p50, 1).c_str(), fixed(o.p95, 1).c_str(), fixed(o.max_wait, 1).c_str(), o.over_slo_s,
                o.worker_s, o.max_workers, o.resizes, o.left);
  }
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("\n(simulated in %.2f s)\n", took);
  return 0;
}
