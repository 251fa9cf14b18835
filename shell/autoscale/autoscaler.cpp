#include "shell/autoscale/autoscaler.h"

#include <pthread.h>

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "shell/autoscale/busy_registries.h"
#include "shell/autoscale/policy_call.h"
#include "shell/autoscale/policy_inputs.h"
#include "shell/lua/record_lua.h"

namespace drover {

namespace {

// The ProbeRunner stamps its readings on the real wall clock: their age is measured on it.
double real_wall_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Worker registries share the ProbeRunner with the queue probes, under "busy:" + pool.
const std::string kRegistryKey = BusyRegistries::kKeyPrefix;

// A reading older than this is no reading: the probe is stuck or failing.
double stale_after_s(double every_s) { return std::max(10.0, 3 * every_s); }

}  // namespace

Autoscaler::Autoscaler(ShellContext& ctx, lua_State* L, AutoscalerOptions options)
    : ctx_(ctx),
      L_(L),
      clock_(*options.clock),
      probes_([&ctx](const std::string& key, const std::string& text) {
        const bool registry = key.rfind(kRegistryKey, 0) == 0;
        ctx.client.report(EventKind::kPolicyWarning, registry ? key.substr(kRegistryKey.size()) : key,
                          registry ? "busy states unknown: " + text : text);
      }),
      policies_(L, probes_, clock_),
      busy_(probes_, ctx.client),
      retry_delays_(L) {
  co_ = lua_newthread(L_);
  co_ref_ = luaL_ref(L_, LUA_REGISTRYINDEX);  // anchors the coroutine against the GC
  if (!options.own_thread) return;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "drover-autoscale");
    run();
  });
}

Autoscaler::~Autoscaler() {
  // Once this returns the store thread no longer offers failed attempts to retry_delays_.
  if (retry_watching_) (void)ctx_.client.watch_job_retries({});
  {
    std::lock_guard lock(wake_mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // The thread is gone; the state is still alive (the LuaState outlives us): drop our
  // coroutine's ref (the policies' and timers' go with policies_).
  luaL_unref(L_, LUA_REGISTRYINDEX, co_ref_);
}

void Autoscaler::poke() {
  {
    std::lock_guard lock(wake_mu_);
    poked_ = true;
  }
  cv_.notify_all();
}

void Autoscaler::add(AutoscaleSpec spec) {
  policies_.add(std::move(spec));
  busy_.sync(policies_);
  publish();
  poke();
}

bool Autoscaler::remove(const std::string& pool) {
  if (!policies_.remove(pool)) return false;
  busy_.sync(policies_);
  publish();
  return true;
}

bool Autoscaler::set_enabled(const std::string& pool, bool enabled) {
  AutoscalePolicy* found = policies_.find(pool);
  if (!found) return false;
  AutoscalePolicy& p = *found;
  p.enabled = enabled;
  if (enabled) {
    p.suspended = false;
    p.errors_in_row = 0;
    p.last_error.clear();
    p.due = clock_.now();
    poke();
  }
  publish();
  return true;
}

void Autoscaler::publish() {
  if (policies_.reloading()) return;  // half a file's policies: readers keep the whole of the last
  AutoscaleView v = view();
  std::lock_guard lock(published_mu_);
  published_ = std::move(v);
}

AutoscaleView Autoscaler::view() const {
  return AutoscaleView{list(), budget_, static_cast<int>(policies_.timers().size())};
}

AutoscaleView Autoscaler::published() const {
  std::lock_guard lock(published_mu_);
  return published_;
}

std::vector<AutoscaleInfo> Autoscaler::list() const {
  std::vector<AutoscaleInfo> out;
  for (const auto& [pool, p] : policies_.policies()) {
    AutoscaleInfo i;
    i.pool = pool;
    i.owner = p->spec.owner;
    i.probe = p->probe_describe;
    i.every_s = p->spec.every_s;
    i.limits = p->spec.limits;
    i.enabled = p->enabled;
    i.suspended = p->suspended;
    i.errors_in_row = p->errors_in_row;
    i.last_error = p->last_error;
    i.queue = queue_depth(pool);
    // Without a probe, a jobs pool's queue is drover's own, as its last call saw it.
    if (p->probe_describe.empty() && !p->history.empty()) {
      i.queue = p->history.back().queue;
      i.probe = i.queue ? "drover's job queue" : "";
    }
    i.last_recommended = p->last_recommended;
    i.last_reason = p->last_reason;
    i.last_run_wall_s = p->last_run_wall_s;
    i.runs = p->runs;
    i.changes = p->changes;
    i.overruns = p->overruns;
    out.push_back(std::move(i));
  }
  return out;
}

std::optional<double> Autoscaler::queue_depth(const std::string& pool) const {
  const AutoscalePolicy* p = policies_.find(pool);
  if (!p) return std::nullopt;
  if (p->spec.probe_fn_ref != LUA_NOREF) return p->fn_depth;
  auto s = probes_.latest(pool);
  if (!s || !s->reading.depth || real_wall_s() - s->taken_at_s > stale_after_s(p->spec.every_s))
    return std::nullopt;
  return s->reading.depth;
}

int Autoscaler::add_timer(double every_s, int fn_ref, std::string owner, double time_budget_s) {
  const int id = policies_.add_timer(every_s, fn_ref, std::move(owner), time_budget_s);
  poke();
  publish();
  return id;
}

bool Autoscaler::cancel_timer(int id) {
  if (!policies_.cancel_timer(id)) return false;
  publish();
  return true;
}

int Autoscaler::unload(const std::string& owner) {
  const int n = policies_.unload(owner) + retry_delays_.unload(owner);
  busy_.sync(policies_);
  publish();
  return n;
}

void Autoscaler::commit_reload() {
  policies_.commit_reload();
  busy_.sync(policies_);
  publish();
}

void Autoscaler::rollback_reload() {
  if (!policies_.reloading()) return;
  policies_.rollback_reload();
  busy_.sync(policies_);
  publish();
  poke();
}

void Autoscaler::sync_pool_registries() {
  const auto snap = ctx_.client.snapshot();
  if (!snap) return;  // the engine has finished: nothing to read registries for
  busy_.set_pools(*snap);
  busy_.sync(policies_);
}

void Autoscaler::run() {
  std::unique_lock wake(wake_mu_);
  TimePoint next = clock_.now();
  while (!stop_) {
    // A wait for as long as the clock says, so that any Clock will do (the steady one's
    // time points are the condition variable's own).
    cv_.wait_for(wake, next - clock_.now(), [this] { return stop_ || poked_; });
    if (stop_) break;
    poked_ = false;
    wake.unlock();
    std::vector<RetryMove> moves;
    {
      std::lock_guard lua(ctx_.lua_lock);
      try {
        next = tick();
      } catch (const std::exception& e) {
        // An engine that has finished answers with exceptions: nothing is left to scale.
        next = clock_.now() + std::chrono::seconds(1);
        (void)e;
      }
      moves = ask_retry_delays();
    }
    apply_retry_delays(moves);  // store calls: not with the Lua lock held
    wake.lock();
  }
}

TimePoint Autoscaler::tick() {
  const TimePoint now = clock_.now();
  auto next = now + std::chrono::seconds(3600);
  std::vector<AutoscalePolicy*> due;
  for (auto& [_, p] : policies_.policies()) {
    if (!p->enabled || p->suspended) continue;
    if (p->due <= now) {
      due.push_back(p.get());
      p->due = now + seconds_f(p->spec.every_s);
    }
    next = std::min(next, p->due);
  }
  policies_.begin_tick();
  struct EndOfTick {  // also when a Lua call unwinds through here
    Autoscaler& a;
    ~EndOfTick() {
      a.policies_.end_tick();
      a.publish();
    }
  } end_of_tick{*this};
  if (!due.empty()) run_policies(due, now_s());
  std::vector<int> due_timers;
  for (auto& [id, t] : policies_.timers()) {
    if (t->suspended) continue;
    if (t->due <= now) {
      due_timers.push_back(id);
      t->due = now + seconds_f(t->every_s);
    }
    next = std::min(next, t->due);
  }
  for (int id : due_timers) {
    const AutoscaleTimer* t = policies_.find_timer(id);
    if (!t) continue;  // cancelled by an earlier timer of this tick
    const int ref = t->fn_ref;
    const double budget = t->time_budget_s;
    auto err = call(ref, 0, 0, budget, "", fmt::format("every({}) timer {}", t->every_s, id), nullptr);
    AutoscaleTimer* after = policies_.find_timer(id);
    if (!after) continue;  // it cancelled itself
    if (!err) {
      after->errors_in_row = 0;
      continue;
    }
    AutoscaleTimer& again = *after;
    const bool suspend = ++again.errors_in_row >= kMaxErrorsInRow;
    again.suspended = suspend;
    ctx_.client.report(EventKind::kPolicyWarning, "",
                       fmt::format("every({}) timer {}: {}{}", again.every_s, id, *err,
                                   suspend ? fmt::format("; suspended after {} errors in a row", kMaxErrorsInRow) : ""));
  }
  return next;
}

std::optional<std::string> Autoscaler::call(int ref, int nargs, int nresults, double budget_s,
                                            const std::string& pool, const std::string& what, uint64_t* overruns) {
  LuaCall c = call_lua(co_, ref, nargs, nresults, budget_s);
  if (c.overran) report_overrun(c.took_s, budget_s, pool, what, overruns);
  return c.error;
}

void Autoscaler::report_overrun(double took_s, double budget_s, const std::string& pool, const std::string& what,
                                uint64_t* overruns) {
  // The budget is enforced by LuaRun's count hook, between Lua instructions only: a call
  // blocked inside a C function (os.execute("sleep 60")) is beyond its reach, and holds
  // the Lua lock that long. Such an overrun is measured, reported and counted.
  if (overruns) ++*overruns;
  ctx_.client.report(EventKind::kPolicyWarning, pool,
                     fmt::format("{} took {:.2f} s, past its time budget of {:g} s, inside a C function that cannot "
                                 "be interrupted (os.execute, io.*, a slow string.find...); the Lua shell waited "
                                 "that long",
                                 what, took_s, budget_s));
}

int Autoscaler::local_budget() {
  if (!budget_fleet_) return budget_;
  if (auto f = ctx_.client.fleet()) {
    int others = 0;
    for (const jobs::HostRecord& h : f->hosts) {
      if (h.name == f->self) continue;
      const auto pools = nlohmann::json::parse(h.pools, nullptr, false);
      if (!pools.is_array()) continue;
      for (const auto& p : pools)
        if (p.is_object() && p.contains("size") && p["size"].is_number_integer()) others += p["size"].get<int>();
    }
    others_workers_ = others;
  }
  return std::max(0, budget_ - others_workers_);
}

Status Autoscaler::set_retry_delay(const std::string& topic, int fn_ref, std::string owner) {
  if (!retry_watching_) {
    Status s = ctx_.client.watch_job_retries([this](const jobs::Job& j) {
      if (retry_delays_.offer(j)) poke();
    });
    if (!s) {
      luaL_unref(L_, LUA_REGISTRYINDEX, fn_ref);
      return s;
    }
    retry_watching_ = true;
  }
  retry_delays_.set(topic, fn_ref, std::move(owner));
  return Status::ok();
}

std::vector<Autoscaler::RetryMove> Autoscaler::ask_retry_delays() {
  std::vector<RetryMove> moves;
  for (auto& ask : retry_delays_.take()) {
    const jobs::Job& j = ask.job;
    const std::string what = fmt::format("retry_delay for job {} (attempt {})", j.id, j.attempt);
    const int top = lua_gettop(co_);
    push_record(co_, j);
    if (auto error = call(ask.fn_ref, 1, 1, kDefaultPolicyBudget, j.topic, what, nullptr)) {
      ctx_.client.report(EventKind::kPolicyWarning, j.topic, fmt::format("{}: {}; the default backoff holds", what, *error));
      continue;
    }
    int is_number = 0;
    const double delay = lua_tonumberx(co_, -1, &is_number);
    if (!lua_isnil(co_, -1)) {  // nil: the default backoff
      if (is_number && delay >= 0 && delay <= jobs::kMaxDelayS)
        moves.push_back({j.id, j.attempt, delay});
      else
        ctx_.client.report(EventKind::kPolicyWarning, j.topic,
                           fmt::format("{} returned {}, not a number of seconds (0..{:g}) or nil; the default backoff "
                                       "holds",
                                       what, luaL_tolstring(co_, -1, nullptr), jobs::kMaxDelayS));
    }
    lua_settop(co_, top);
  }
  return moves;
}

void Autoscaler::apply_retry_delays(const std::vector<RetryMove>& moves) {
  for (const RetryMove& m : moves) {
    auto r = ctx_.client.reschedule_job(m.id, m.attempt, m.delay_s);
    // Refused when the job ran again (or was cancelled, retried, dropped) before the answer
    // came: what happened since stands. Anything else is worth a line.
    if (!r && r.error().code() != Status::Code::kInvalidArgument && r.error().code() != Status::Code::kNotFound)
      ctx_.client.report(EventKind::kPolicyWarning, "",
                         fmt::format("retry_delay for job {}: {}", m.id, r.error().message()));
  }
}

void Autoscaler::fail(AutoscalePolicy& p, const std::string& why) {
  p.last_error = why;
  const bool suspend = ++p.errors_in_row >= kMaxErrorsInRow;
  if (suspend) p.suspended = true;
  ctx_.client.report(EventKind::kPolicyWarning, p.spec.pool,
                     fmt::format("policy: {}{}", why,
                                 suspend ? fmt::format("; suspended after {} errors in a row, size kept (autoscale.on "
                                                       "\"{}\" resumes it)",
                                                       kMaxErrorsInRow, p.spec.pool)
                                         : "; size kept"));
}

void Autoscaler::run_policies(const std::vector<AutoscalePolicy*>& due, double now) {
  auto got = ctx_.client.snapshot();
  if (!got || got->shutting_down) return;  // nothing to scale into
  TickReadings r;
  r.snap = std::move(*got);
  const EngineSnapshot& snap = r.snap;
  r.sys = system_.sample();
  // Every autoscaled pool's processes in one /proc scan, so CPU intervals stay aligned.
  std::map<std::string, std::vector<pid_t>> roots;
  for (const auto& [pool, _] : policies_.policies())
    if (const PoolSnapshot* ps = snap.find(pool))
      for (const auto& w : ps->workers)
        if (w.pid) roots[pool].push_back(w.pid);
  r.procs = procs_.sample(roots);
  // Lua fn probes of the due pools first, so that m.pools sees fresh depths.
  for (AutoscalePolicy* p : due) {
    if (p->retired || p->spec.probe_fn_ref == LUA_NOREF) continue;
    auto err = call(p->spec.probe_fn_ref, 0, 1, p->spec.time_budget_s, p->spec.pool, "queue probe fn", &p->overruns);
    if (err) {
      p->fn_depth.reset();
      ctx_.client.report(EventKind::kPolicyWarning, p->spec.pool, "queue probe fn: " + *err);
      continue;
    }
    p->fn_depth = check_probe_answer(co_);
  }
  // Every due policy answers first; then the budget is shared among all that grow at
  // once (fit_budget), and the changes go to the engine in one configure().
  std::map<std::string, Wanted> wanted;
  for (AutoscalePolicy* p : due) {
    // An earlier policy of this tick may have removed this one (autoscale.off from Lua).
    if (p->retired || !p->enabled) continue;
    if (auto w = run_policy(*p, r, now)) wanted[p->spec.pool] = std::move(*w);
  }
  if (wanted.empty()) return;
  std::map<std::string, int> now_sizes;
  for (const auto& pool : snap.pools) now_sizes[pool.spec.name] = pool.enabled ? pool.spec.n : 0;
  std::map<std::string, int> targets = now_sizes;
  for (const auto& [pool, w] : wanted) targets[pool] = w.target;
  if (budget_ > 0) {
    const int cap = local_budget();
    const auto fitted = fit_budget(now_sizes, targets, cap);
    for (auto& [pool, w] : wanted)
      if (int f = fitted.at(pool); f < w.target) {
        w.note = budget_fleet_ ? fmt::format("fleet budget {} ({} on other hosts) caps it at {}", budget_,
                                             others_workers_, f)
                               : fmt::format("budget {} caps it at {}", budget_, f);
        w.target = f;
      }
  }
  std::map<std::string, int> changes;
  for (const auto& [pool, w] : wanted)
    if (w.target != now_sizes[pool]) changes[pool] = w.target;
  if (changes.empty()) return;
  auto sizes = ctx_.client.configure(changes);
  for (auto& [pool, w] : wanted) {
    if (!changes.count(pool)) continue;
    AutoscalePolicy* found = policies_.find(pool);
    if (!found) continue;
    AutoscalePolicy& p = *found;
    if (!sizes) {
      fail(p, "resize refused: " + sizes.error().message());
      continue;
    }
    std::string reason = w.reason + (w.note.empty() ? "" : "; " + w.note);
    ++p.changes;
    p.last_reason = reason;
    ctx_.client.report(EventKind::kAutoscaled, pool, fmt::format("{} -> {} ({})", now_sizes[pool], w.target, reason));
  }
}

std::map<std::string, PoolInputs> Autoscaler::pool_inputs() const {
  std::map<std::string, PoolInputs> out;
  for (const auto& [pool, p] : policies_.policies()) {
    PoolInputs& in = out[pool];
    in.limits = p->spec.limits;
    in.queue = queue_depth(pool);
    in.fn_probe = p->spec.probe_fn_ref != LUA_NOREF;
    in.probe = !p->probe_describe.empty();
    if (auto s = probes_.latest(pool); s && in.queue) {
      in.rate = s->rate;
      in.inflight = s->reading.inflight;
    }
  }
  return out;
}

std::optional<Autoscaler::Wanted> Autoscaler::run_policy(AutoscalePolicy& p, const TickReadings& r, double now) {
  const PoolSnapshot* ps = r.snap.find(p.spec.pool);
  if (!ps) {
    fail(p, fmt::format("no pool \"{}\" (removed?)", p.spec.pool));
    return std::nullopt;
  }
  if (!ps->enabled) return std::nullopt;  // stopped by the operator: not ours to size until start()
  std::optional<double> dt;
  if (p.last_call_s) dt = now - *p.last_call_s;
  p.last_call_s = now;
  // The queues as of now (an earlier policy of this tick may have redefined one).
  const PolicyMetrics m = build_policy_metrics(p.spec.pool, r, pool_inputs(), wall_s(), dt, p.history, budget_);
  ctx_.client.set_queue_gauge(p.spec.pool, {m.queue, m.inflight, static_cast<int64_t>(m.now * 1000)});
  p.history = m.history;
  ++p.runs;
  p.last_run_wall_s = m.now;

  PolicyCall c = call_policy(co_, p.spec.policy_ref, m, p.spec.time_budget_s);
  if (c.overran) report_overrun(c.took_s, p.spec.time_budget_s, p.spec.pool, "policy", &p.overruns);
  if (p.retired) return std::nullopt;  // it redefined or removed itself: the new definition answers next time
  if (c.error) {
    fail(p, *c.error);
    return std::nullopt;
  }
  if (!c.answer.size) {  // no opinion: keep the size
    p.errors_in_row = 0;
    return std::nullopt;
  }
  const double desired = *c.answer.size;
  std::string reason = std::move(c.answer.reason);
  p.errors_in_row = 0;
  p.last_error.clear();
  const int current = ps->spec.n;
  ScaleDecision d = p.decider.decide(now, current, desired);
  p.last_recommended = d.recommended;
  if (reason.empty()) reason = m.queue ? fmt::format("queue {:g}", *m.queue) : "policy";
  return Wanted{d.target, reason, d.note};
}

}  // namespace drover
