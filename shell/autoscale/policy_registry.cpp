#include "shell/autoscale/policy_registry.h"

namespace drover {

PolicyRegistry::PolicyRegistry(lua_State* L, ProbeRunner& probes, const Clock& clock)
    : L_(L), probes_(probes), clock_(clock) {}

PolicyRegistry::~PolicyRegistry() {
  for (auto& [_, p] : policies_) release(*p);
  for (auto& p : aside_policies_) release(*p);
  for (auto& [_, t] : timers_) luaL_unref(L_, LUA_REGISTRYINDEX, t->fn_ref);
  for (auto& t : aside_timers_) luaL_unref(L_, LUA_REGISTRYINDEX, t->fn_ref);
}

void PolicyRegistry::release(AutoscalePolicy& p) {
  luaL_unref(L_, LUA_REGISTRYINDEX, p.spec.policy_ref);
  luaL_unref(L_, LUA_REGISTRYINDEX, p.spec.probe_fn_ref);
  p.spec.policy_ref = p.spec.probe_fn_ref = LUA_NOREF;
}

void PolicyRegistry::retire(std::unique_ptr<AutoscalePolicy> p) {
  // A policy (or probe, or timer) may redefine or remove policies while a tick holds
  // pointers to them: they are kept until the tick ends, marked so it skips them.
  release(*p);
  p->retired = true;
  if (ticking_) retired_.push_back(std::move(p));
}

void PolicyRegistry::end_tick() {
  ticking_ = false;
  retired_.clear();
}

void PolicyRegistry::add(AutoscaleSpec spec) {
  auto p = std::make_unique<AutoscalePolicy>();
  const std::string pool = spec.pool;
  p->decider = ScaleDecider(spec.limits);
  if (spec.probe) {
    p->probe_describe = spec.probe->describe();
    probes_.add(pool, std::move(spec.probe), spec.every_s);
  } else {
    probes_.remove(pool);
    if (spec.probe_fn_ref != LUA_NOREF) p->probe_describe = "fn (Lua)";
  }
  p->spec = std::move(spec);
  p->due = clock_.now();
  // A redefinition (a reload, a tweak at the prompt) keeps what the pool has seen: the
  // cooldown's memory and the history, so that it is not a fresh start that shrinks at once.
  AutoscalePolicy* before = find(pool);
  for (auto& a : aside_policies_)
    if (a->spec.pool == pool) before = a.get();
  if (before) {
    p->decider = before->decider;
    p->decider.set_limits(p->spec.limits);
    p->history = before->history;
    p->runs = before->runs;
    p->changes = before->changes;
  }
  if (auto it = policies_.find(pool); it != policies_.end()) retire(std::move(it->second));
  policies_[pool] = std::move(p);
}

bool PolicyRegistry::remove(const std::string& pool) {
  auto it = policies_.find(pool);
  if (it == policies_.end()) return false;
  retire(std::move(it->second));
  policies_.erase(it);
  probes_.remove(pool);
  return true;
}

AutoscalePolicy* PolicyRegistry::find(const std::string& pool) {
  auto it = policies_.find(pool);
  return it == policies_.end() ? nullptr : it->second.get();
}

const AutoscalePolicy* PolicyRegistry::find(const std::string& pool) const {
  auto it = policies_.find(pool);
  return it == policies_.end() ? nullptr : it->second.get();
}

int PolicyRegistry::add_timer(double every_s, int fn_ref, std::string owner, double time_budget_s) {
  auto t = std::make_unique<AutoscaleTimer>();
  t->id = next_timer_id_++;
  t->every_s = every_s;
  t->fn_ref = fn_ref;
  t->owner = std::move(owner);
  t->time_budget_s = time_budget_s;
  t->due = clock_.now() + seconds_f(every_s);  // every(5, f) first runs in 5 s, as setInterval does
  const int id = t->id;
  timers_[id] = std::move(t);
  return id;
}

bool PolicyRegistry::cancel_timer(int id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return false;
  luaL_unref(L_, LUA_REGISTRYINDEX, it->second->fn_ref);
  timers_.erase(it);
  return true;
}

AutoscaleTimer* PolicyRegistry::find_timer(int id) {
  auto it = timers_.find(id);
  return it == timers_.end() ? nullptr : it->second.get();
}

int PolicyRegistry::unload(const std::string& owner) {
  int n = 0;
  for (auto it = policies_.begin(); it != policies_.end();) {
    if (it->second->spec.owner != owner) {
      ++it;
      continue;
    }
    retire(std::move(it->second));
    probes_.remove(it->first);
    it = policies_.erase(it);
    ++n;
  }
  for (auto it = timers_.begin(); it != timers_.end();) {
    if (it->second->owner != owner) {
      ++it;
      continue;
    }
    luaL_unref(L_, LUA_REGISTRYINDEX, it->second->fn_ref);
    it = timers_.erase(it);
    ++n;
  }
  return n;
}

void PolicyRegistry::begin_reload(const std::string& owner) {
  reloading_ = owner;
  for (auto it = policies_.begin(); it != policies_.end();) {
    if (it->second->spec.owner != owner) {
      ++it;
      continue;
    }
    aside_policies_.push_back(std::move(it->second));
    it = policies_.erase(it);
  }
  for (auto it = timers_.begin(); it != timers_.end();) {
    if (it->second->owner != owner) {
      ++it;
      continue;
    }
    aside_timers_.push_back(std::move(it->second));
    it = timers_.erase(it);
  }
}

void PolicyRegistry::commit_reload() {
  for (auto& p : aside_policies_) {
    if (!policies_.count(p->spec.pool)) probes_.remove(p->spec.pool);
    retire(std::move(p));
  }
  for (auto& t : aside_timers_) luaL_unref(L_, LUA_REGISTRYINDEX, t->fn_ref);
  aside_policies_.clear();
  aside_timers_.clear();
  reloading_.reset();
}

void PolicyRegistry::rollback_reload() {
  if (!reloading_) return;
  unload(*reloading_);  // what the failed run managed to define
  for (auto& p : aside_policies_) {
    // If the failed run's add() replaced or removed its probe, the policy sees m.queue =
    // nil until the next good reload. Rare: a file that fails after its autoscale lines.
    p->due = clock_.now();
    policies_[p->spec.pool] = std::move(p);
  }
  for (auto& t : aside_timers_) timers_[t->id] = std::move(t);
  aside_policies_.clear();
  aside_timers_.clear();
  reloading_.reset();
}

}  // namespace drover
