// Autoscaler: runs the shell's autoscale policies and every() timers on a thread of its
// own, against an EngineClient, so that a slow policy, a slow probe or a busy REPL never
// delays supervision (the engine loop only ever sees configure() calls). What is defined,
// who owns which ref and the reload transaction are PolicyRegistry's (policy_registry.h);
// how a policy is called and its answer checked, call_policy's (policy_call.h); the table
// m, build_policy_metrics' (policy_inputs.h); the worker registries, BusyRegistries'
// (busy_registries.h). This class keeps the thread, the tick (what it reads, what the
// answers become), the budget and what list() shows.
//
// Each tick, for the policies that are due: one engine snapshot, one /proc sample, the
// latest queue readings (Redis and command probes run on the ProbeRunner's thread; Lua
// `fn` probes run here), then each policy is called with its metrics table `m`
// (policy_metrics.h) under the Lua lock, on a coroutine of the autoscaler's own, with a
// time budget enforced by a count hook. Its answer goes through the pool's ScaleDecider
// (clamp, step limits, scale-down cooldown) and the global budget, and a change is applied
// with configure() and reported through the engine's log: `foo autoscaled: 3 -> 7 (queue 640)`.
//
// Safety: a policy that errors, returns something that is not a number (or NaN, or a
// negative number), or runs past its time budget is reported; after kMaxErrorsInRow in a
// row it is suspended until autoscale.on. Its pool keeps its size meanwhile.
//
// Time: the schedule (when a policy or timer is due), the cooldown's clock, m.now and m.dt
// come from an injected Clock (engine/clock.h), the steady one in the product. Tests give
// a FakeClock and no thread of its own (AutoscalerOptions::own_thread = false), advance
// the clock and call tick_now(): ticks happen when the test says, and nothing sleeps.
// Two times stay real: a call's time budget (policy_call.h says why) and the age of the
// ProbeRunner's readings, which it stamps on the real clock as it reads real queues.
//
// Threads: every method except the constructor and destructor must be called with the Lua
// lock held (the bindings are). The destructor stops the thread; call it before the Lua
// state and the engine go.
#pragma once

#include <lua.hpp>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/autoscale_view.h"
#include "autoscale/probe_runner.h"
#include "autoscale/process_sampler.h"
#include "autoscale/scale_decider.h"
#include "autoscale/system_sampler.h"
#include "autoscale/worker_registry_probe.h"
#include "engine/clock.h"
#include "shell/autoscale/busy_registries.h"
#include "shell/autoscale/policy_call.h"
#include "shell/autoscale/policy_inputs.h"
#include "shell/autoscale/policy_metrics.h"
#include "shell/autoscale/policy_registry.h"
#include "shell/autoscale/retry_delays.h"
#include "shell/lua/shell_context.h"

namespace drover {

inline constexpr int kMaxErrorsInRow = 3;

struct AutoscalerOptions {
  const Clock* clock = &SteadyClock::instance();  // outlives the Autoscaler
  // false: no thread; ticks run when the owner calls tick_now() (tests, on a FakeClock).
  bool own_thread = true;
};

class Autoscaler final : public AutoscaleControl {
 public:
  // L: the shell's main state (policies are called on a coroutine of it). Starts the
  // thread unless told not to.
  Autoscaler(ShellContext& ctx, lua_State* L, AutoscalerOptions options = {});
  ~Autoscaler();
  Autoscaler(const Autoscaler&) = delete;
  Autoscaler& operator=(const Autoscaler&) = delete;

  // Installs (or replaces) the pool's policy; the first call is due now. Takes the refs.
  void add(AutoscaleSpec spec);
  bool remove(const std::string& pool);
  // off: the policy is kept but not called; on: called again, errors and suspension cleared.
  bool set_enabled(const std::string& pool, bool enabled) override;
  std::vector<AutoscaleInfo> list() const;
  // list(), budget() and the timers now (Lua lock held): what a local shell's API serves.
  AutoscaleView view() const override;
  // What list() and budget() said after the last change or tick, copied out under a lock
  // of its own: for readers that must not wait for the Lua lock (the HTTP routes, while a
  // chunk runs at the prompt). Any thread.
  AutoscaleView published() const;
  // A tick is running a policy, probe fn or timer (on whatever thread runs the tick): the
  // Lua code running now is theirs, not the prompt's. Lua lock held.
  bool in_tick() const { return policies_.ticking(); }
  // Runs one tick now, as the thread would at the clock's now(): the due policies and
  // timers. Returns when the next one is due. Lua lock held; for an Autoscaler without a
  // thread of its own (a test advancing a FakeClock), else the thread does it.
  TimePoint tick_now() { return tick(); }
  // The latest queue depth of a pool's probe, for status(); nullopt when unknown.
  std::optional<double> queue_depth(const std::string& pool) const;

  // Worker registries (busy states for scale-down, busy_registries.h). Call after the
  // pools change (config load, reload): it reads their specs from a snapshot.
  void sync_pool_registries();

  // every(sec, fn): returns the timer's id.
  int add_timer(double every_s, int fn_ref, std::string owner, double time_budget_s = kDefaultPolicyBudget);
  bool cancel_timer(int id);
  size_t timer_count() const { return policies_.timers().size(); }

  // jobs.retry_delay(topic, fn): fn(job) says how long the topic's failed attempts wait
  // before the next one (retry_delays.h), called on this thread within the policy budget.
  // Takes the ref. An error: this shell's client holds no queue to watch (attached).
  Status set_retry_delay(const std::string& topic, int fn_ref, std::string owner);
  bool remove_retry_delay(const std::string& topic) { return retry_delays_.remove(topic); }

  // budget{max_workers = N}: the sum of every pool's size that policies may not exceed. 0: none.
  // fleet: max_workers is the sum over every host sharing the job store (budget{scope =
  // "fleet"}): this host may use what the others' pools leave, as of their last renewal.
  void set_budget(int max_workers, bool fleet = false) {
    budget_ = max_workers;
    budget_fleet_ = fleet;
    publish();
  }
  bool budget_fleet() const { return budget_fleet_; }
  int budget() const { return budget_; }

  // Everything a script defined (policies, timers): unload "file.lua". Returns how many.
  int unload(const std::string& owner);
  // A reload of the file `owner`: what it defined is put aside (still running) until
  // commit (dropped) or rollback (kept, and what the new run defined is dropped).
  void begin_reload(const std::string& owner) { policies_.begin_reload(owner); }
  void commit_reload();
  void rollback_reload();

 private:
  void run();
  TimePoint tick();  // Lua lock held; returns when the next call is due
  double now_s() const { return to_seconds(clock_.now().time_since_epoch()); }  // for the deciders, m.dt
  double wall_s() const { return static_cast<double>(clock_.wall_ms()) / 1000; }  // m.now
  void run_policies(const std::vector<AutoscalePolicy*>& due, double now);  // now: now_s()
  // A policy's decided size (before the budget), with the reason and the decider's note.
  struct Wanted {
    int target = 0;
    std::string reason, note;
  };
  std::optional<Wanted> run_policy(AutoscalePolicy& p, const TickReadings& r, double now);
  // Every policy's pool: its limits and queue reading, for build_policy_metrics.
  std::map<std::string, PoolInputs> pool_inputs() const;
  // call_lua (policy_call.h) on co_: the function at `ref` with nargs already pushed,
  // leaving nresults values on success; returns the error text otherwise. A call that
  // overran inside a C function, where the budget cannot reach, is reported under `pool`
  // as `what` ("queue probe fn", "every(5) timer 3") and counted in *overruns.
  std::optional<std::string> call(int ref, int nargs, int nresults, double budget_s, const std::string& pool,
                                  const std::string& what, uint64_t* overruns);
  void report_overrun(double took_s, double budget_s, const std::string& pool, const std::string& what,
                      uint64_t* overruns);
  void fail(AutoscalePolicy& p, const std::string& why);
  // The retry delay functions' answers to the failed attempts offered since the last
  // call (Lua lock held); applied after the lock is let go (apply_retry_delays).
  struct RetryMove {
    jobs::JobId id;
    int attempt;
    double delay_s;
  };
  std::vector<RetryMove> ask_retry_delays();
  void apply_retry_delays(const std::vector<RetryMove>& moves);
  void poke();
  void publish();          // refreshes published(); Lua lock held

  ShellContext& ctx_;
  lua_State* L_;
  const Clock& clock_;
  lua_State* co_ = nullptr;  // the coroutine policies run on
  int co_ref_ = LUA_NOREF;
  ProbeRunner probes_;
  SystemSampler system_;
  ProcessSampler procs_;
  PolicyRegistry policies_;  // the policies and timers; after probes_, which it adds their probes to
  BusyRegistries busy_;      // the worker registries, also in probes_
  int budget_ = 0;
  bool budget_fleet_ = false;
  int others_workers_ = 0;  // the other hosts' pools' sizes, as the last fleet read said
  // The workers the budget leaves this host: all of it, or with a fleet scope what the
  // other hosts' pools do not hold (the last reading when the store does not answer).
  int local_budget();
  RetryDelays retry_delays_;
  bool retry_watching_ = false;  // the client tells retry_delays_ of failed attempts

  mutable std::mutex published_mu_;  // guards published_ only
  AutoscaleView published_;

  std::mutex wake_mu_;  // guards stop_ and poked_; never held with the Lua lock taken after it
  std::condition_variable cv_;
  bool stop_ = false;
  bool poked_ = false;
  std::thread thread_;
};

}  // namespace drover
