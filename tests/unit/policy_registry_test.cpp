// PolicyRegistry (shell/autoscale/policy_registry.h): what a redefinition keeps, what a
// tick may still point at, and the reload transaction, on a FakeClock.
#include "shell/autoscale/policy_registry.h"

#include <doctest/doctest.h>

#include <string>

using namespace drover;

namespace {

class FixedProbe final : public QueueProbe {
 public:
  QueueReading read() override {
    QueueReading r;
    r.depth = 7;
    return r;
  }
  std::string describe() const override { return "fixed"; }
};

struct Fixture {
  Fixture() : L(luaL_newstate()) {}
  ~Fixture() {
    registry.reset();
    lua_close(L);
  }
  // A ref to a new function.
  int fn() {
    REQUIRE(luaL_dostring(L, "return function() end") == LUA_OK);
    return luaL_ref(L, LUA_REGISTRYINDEX);
  }
  bool is_function(int ref) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    const bool yes = lua_isfunction(L, -1);
    lua_pop(L, 1);
    return yes;
  }
  AutoscaleSpec spec(const std::string& pool, const std::string& owner = "") {
    AutoscaleSpec s;
    s.pool = pool;
    s.owner = owner;
    s.every_s = 1;
    s.policy_ref = fn();
    return s;
  }
  lua_State* L;
  FakeClock clock;
  ProbeRunner probes;
  std::optional<PolicyRegistry> registry{std::in_place, L, probes, clock};
};

}  // namespace

TEST_CASE("policy registry: a policy is due when added, a timer one period on") {
  Fixture f;
  f.registry->add(f.spec("foo"));
  CHECK(f.registry->find("foo")->due == f.clock.now());
  const int id = f.registry->add_timer(5, f.fn(), "", kDefaultPolicyBudget);
  CHECK(f.registry->find_timer(id)->due == f.clock.now() + std::chrono::seconds(5));
  CHECK(f.registry->cancel_timer(id));
  CHECK_FALSE(f.registry->cancel_timer(id));
}

TEST_CASE("policy registry: a redefinition keeps what the pool has seen and drops the old refs") {
  Fixture f;
  AutoscaleSpec first = f.spec("foo");
  const int old_ref = first.policy_ref;
  f.registry->add(std::move(first));
  AutoscalePolicy& p = *f.registry->find("foo");
  p.runs = 5;
  p.changes = 2;
  p.history.push_back(PolicySample{.now = 1, .queue = 10});
  p.decider.decide(0, 1, 8);  // remembers 8 for the cooldown
  f.registry->add(f.spec("foo"));
  const AutoscalePolicy& again = *f.registry->find("foo");
  CHECK(again.runs == 5);
  CHECK(again.changes == 2);
  CHECK(again.history.size() == 1);
  CHECK(f.registry->find("foo")->decider.decide(1, 8, 1).target == 8);  // held: the 8 is still in the window
  CHECK_FALSE(f.is_function(old_ref));
}

TEST_CASE("policy registry: a policy removed during a tick stays alive, retired, until the tick ends") {
  Fixture f;
  f.registry->add(f.spec("foo"));
  f.registry->begin_tick();
  AutoscalePolicy* held = f.registry->find("foo");
  CHECK(f.registry->remove("foo"));
  CHECK(held->retired);  // still there to be read
  CHECK(held->spec.policy_ref == LUA_NOREF);
  CHECK_FALSE(f.registry->find("foo"));
  f.registry->end_tick();
  CHECK_FALSE(f.registry->remove("foo"));
}

TEST_CASE("policy registry: a policy's queue probe comes and goes with it") {
  Fixture f;
  AutoscaleSpec s = f.spec("foo");
  s.probe = std::make_unique<FixedProbe>();
  f.registry->add(std::move(s));
  CHECK(f.registry->find("foo")->probe_describe == "fixed");
  CHECK(f.probes.list().count("foo") == 1);
  f.registry->add(f.spec("foo"));  // redefined without one
  CHECK(f.probes.list().count("foo") == 0);
}

TEST_CASE("policy registry: unload removes a script's policies and timers, no one else's") {
  Fixture f;
  f.registry->add(f.spec("a", "f.lua"));
  f.registry->add(f.spec("b"));
  f.registry->add_timer(1, f.fn(), "f.lua", kDefaultPolicyBudget);
  f.registry->add_timer(1, f.fn(), "", kDefaultPolicyBudget);
  CHECK(f.registry->unload("f.lua") == 2);
  CHECK(f.registry->policies().size() == 1);
  CHECK(f.registry->find("b"));
  CHECK(f.registry->timers().size() == 1);
}

TEST_CASE("policy registry: a reload commits the new run's definitions, or rolls back to the old") {
  Fixture f;
  AutoscaleSpec old_a = f.spec("a", "f.lua");
  const int old_ref = old_a.policy_ref;
  f.registry->add(std::move(old_a));
  f.registry->add(f.spec("b"));
  const int timer = f.registry->add_timer(1, f.fn(), "f.lua", kDefaultPolicyBudget);
  f.registry->find("a")->runs = 3;

  SUBCASE("rollback: the old definitions are back, the new run's are gone") {
    f.registry->begin_reload("f.lua");
    CHECK(f.registry->reloading());
    CHECK_FALSE(f.registry->find("a"));  // set aside
    CHECK(f.registry->aside_policies().size() == 1);
    CHECK(f.registry->timers().empty());
    f.registry->add(f.spec("a", "f.lua"));
    f.registry->add(f.spec("c", "f.lua"));
    f.clock.advance(std::chrono::seconds(3));
    f.registry->rollback_reload();
    CHECK_FALSE(f.registry->reloading());
    CHECK(f.registry->find("a")->spec.policy_ref == old_ref);
    CHECK(f.registry->find("a")->due == f.clock.now());
    CHECK_FALSE(f.registry->find("c"));
    CHECK(f.registry->find("b"));
    CHECK(f.registry->find_timer(timer));
    CHECK(f.is_function(old_ref));
  }
  SUBCASE("commit: the new definitions stay, keeping what the pool has seen; the old go") {
    f.registry->begin_reload("f.lua");
    f.registry->add(f.spec("a", "f.lua"));
    f.registry->commit_reload();
    CHECK_FALSE(f.registry->reloading());
    CHECK(f.registry->find("a")->spec.policy_ref != old_ref);
    CHECK(f.registry->find("a")->runs == 3);
    CHECK(f.registry->find("b"));
    CHECK_FALSE(f.registry->find_timer(timer));  // the new run defined none
    CHECK(f.registry->aside_policies().empty());
  }
}
