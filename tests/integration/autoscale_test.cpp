// Autoscaling end to end (issue 5): a real engine with real workers, the shell's Lua state
// and its Autoscaler, a real redis-server. The Autoscaler runs on a FakeClock without a
// thread of its own: a test moves the clock and runs the tick itself (Shell::tick), so
// "three periods later" or "the cooldown has not passed yet" is exact and nothing sleeps.
// What still happens in real time (the probes reading Redis or a command, workers
// starting, the engine's log) is waited for as an event, with a generous deadline. One
// test runs the Autoscaler as the product does, on its own thread and the steady clock.
#include <doctest/doctest.h>
#include <signal.h>

#include <mutex>
#include <optional>
#include <thread>

#include "api/local_client.h"
#include "shell/autoscale/autoscale_routes.h"
#include "engine/clock.h"
#include "shell/autoscale/autoscaler.h"
#include "shell/lua/lua_state.h"
#include "tests/support/redis_server.h"
#include "tests/support/test_util.h"

using namespace drover;
using namespace drover::test;

namespace {

// A local client whose fleet() answers what the test says (the other hosts of a shared
// store), and otherwise as LocalClient.
struct FleetClient : LocalClient {
  using LocalClient::LocalClient;
  std::optional<jobs::Fleet> fleet_answer;
  Result<jobs::Fleet> fleet() override {
    if (fleet_answer) return *fleet_answer;
    return LocalClient::fleet();
  }
};

// What `drover pools.lua` builds around an engine, minus the terminal; its Autoscaler on
// `clock`, ticking when the test says (or, own_thread, as the product: by itself).
struct Shell {
  enum Ticks { kByTest, kOwnThread };
  explicit Shell(Engine& e, Ticks ticks = kByTest) : client(e), ctx(client) {
    ctx.script_dirs = {DROVER_SOURCE_DIR};
    lua.emplace(ctx);
    AutoscalerOptions options;
    if (ticks == kByTest) options = {.clock = &clock, .own_thread = false};
    autoscaler.emplace(ctx, lua->get(), options);
    ctx.autoscaler = &*autoscaler;
    client.serve_autoscale(&*autoscaler);
  }
  ~Shell() {
    client.serve_autoscale(nullptr);
    autoscaler.reset();
  }
  // Moves the clock on by `by`, then runs one tick: what the thread does once `by` has
  // passed. A policy added (or switched on) is due at once; then every `every` s.
  void tick(Duration by = Duration::zero()) {
    clock.advance(by);
    std::lock_guard hold(ctx.lua_lock);
    autoscaler->tick_now();
  }
  void ticks(int n, Duration every) {
    for (int i = 0; i < n; ++i) tick(every);
  }
  // The pool's queue depth as autoscale.list() shows it: "nil" until a probe has read one.
  // The probes read on the ProbeRunner's thread, in real time: wait for this before a tick.
  bool queue_reads(const std::string& depth, std::chrono::milliseconds within = 5s) {
    return wait_until([&] { return eval("autoscale.list()[1].queue") == depth; }, within);
  }
  // Runs a chunk as the prompt would (holding the Lua lock); "" or the error.
  std::string run(const std::string& code) {
    std::lock_guard hold(ctx.lua_lock);
    Status s = lua->run_string(code, "=test");
    return s ? "" : s.message().substr(0, s.message().find("\nstack traceback:"));
  }
  // tostring of an expression's value.
  std::string eval(const std::string& expr) {
    std::lock_guard hold(ctx.lua_lock);
    lua_State* L = lua->get();
    if (luaL_dostring(L, ("return tostring(" + expr + ")").c_str()) != LUA_OK) {
      std::string e = lua_tostring(L, -1);
      lua_pop(L, 1);
      return "error: " + e;
    }
    std::string v = lua_tostring(L, -1);
    lua_pop(L, 1);
    return v;
  }
  FakeClock clock;  // the Autoscaler's, unless it has its own thread
  FleetClient client;
  ShellContext ctx;
  std::optional<LuaState> lua;
  std::optional<Autoscaler> autoscaler;
};

int size_of(Engine& e, const std::string& pool) { return pool_of(e.snapshot(), pool).spec.n; }

bool size_becomes(Engine& e, const std::string& pool, int n, std::chrono::milliseconds within = 5s) {
  return wait_until([&] { return size_of(e, pool) == n; }, within);
}

// A policy of one worker per 10 jobs, on rq's queue "default" in server r.
std::string rq_policy(const RedisServer& r, const std::string& extra = "") {
  return "autoscale 'default' { every = 0.2, min = 1, max = 8, cooldown = 0, " + extra +
         " queue = redis{ url = '" + r.url() + "', rq = 'default', timeout = 0.3 },"
         " policy = function(m) if not m.queue then return nil end return m.queue / 10, 'queue ' .. m.queue end }";
}

void push_jobs(const RedisServer& r, int n) {
  std::vector<std::string> args{"RPUSH", "rq:queue:default"};
  for (int i = 0; i < n; ++i) args.push_back("job" + std::to_string(i));
  r.run(args);
}

}  // namespace

TEST_CASE("autoscale: an rq queue in a real Redis grows the pool and shrinks it once drained") {
  RedisServer redis;
  TempDir dir;
  Engine engine(engine_options(dir));
  REQUIRE(engine.apply({fake_pool("default", 1)}));
  Shell shell(engine);
  REQUIRE(shell.run(rq_policy(redis)) == "");

  push_jobs(redis, 50);
  REQUIRE(shell.queue_reads("50"));
  shell.tick();
  CHECK(size_of(engine, "default") == 5);
  CHECK(wait_until([&] { return pool_running(engine, "default", 5); }, 5s));
  CHECK(wait_until([&] { return log_contains(engine, "default autoscaled: 1 -> 5 (queue 50)"); }, 2s));
  push_jobs(redis, 40);  // 90 jobs: 9, clamped to max 8
  REQUIRE(shell.queue_reads("90"));
  shell.tick(200ms);
  CHECK(size_of(engine, "default") == 8);
  CHECK(wait_until([&] { return log_contains(engine, "default autoscaled: 5 -> 8 (queue 90; "); }, 2s));  // with the decider's note on the clamp
  // Drained: back to min at the next period (cooldown = 0).
  redis.run({"DEL", "rq:queue:default"});
  REQUIRE(shell.queue_reads("0"));
  shell.tick(200ms);
  CHECK(size_of(engine, "default") == 1);
  CHECK(shell.eval("autoscale.list()[1].changes") == "3");
  // The engine knows the depth too: status() (and /metrics, a remote shell) show it.
  CHECK(wait_until([&] { return shell.eval("status().pools.default.queue") == "0"; }, 2s));
  CHECK(pool_of(engine.snapshot(), "default").queue.read_at_ms > 0);
}

TEST_CASE("autoscale: Redis stopped mid-run - a warning - no crash - sizes held - recovery") {
  RedisServer redis;
  TempDir dir;
  Engine engine(engine_options(dir));
  REQUIRE(engine.apply({fake_pool("default", 1)}));
  Shell shell(engine);
  REQUIRE(shell.run(rq_policy(redis)) == "");
  push_jobs(redis, 30);
  REQUIRE(shell.queue_reads("30"));
  shell.tick();
  REQUIRE(size_of(engine, "default") == 3);

  redis.stop();
  CHECK(wait_until([&] { return log_contains(engine, "policy-warning: queue probe redis://127.0.0.1:"); }, 5s));
  REQUIRE(shell.queue_reads("nil"));
  // Held: the policy sees m.queue = nil and keeps the size, for many periods.
  for (int i = 0; i < 10; ++i) {
    shell.tick(200ms);
    CHECK(size_of(engine, "default") == 3);
  }
  CHECK(shell.eval("autoscale.list()[1].runs") == "11");
  CHECK(shell.eval("autoscale.list()[1].suspended") == "false");  // nil is no error
  // The engine still supervises: a killed worker comes back.
  const pid_t victim = running_pids(engine.snapshot(), "default").at(0);
  kill(victim, SIGKILL);
  CHECK(wait_until([&] {
    auto pids = running_pids(engine.snapshot(), "default");
    return pids.size() == 3 && std::find(pids.begin(), pids.end(), victim) == pids.end();
  }, 5s));

  redis.start();  // empty: nothing persisted, so the queue reads 0
  CHECK(wait_until([&] { return log_contains(engine, ": recovered"); }, 40s));
  REQUIRE(shell.queue_reads("0"));
  shell.tick(200ms);
  CHECK(size_of(engine, "default") == 1);
}

TEST_CASE("autoscale: a policy that errors is reported and suspended after 3 in a row - the pool keeps its size") {
  TempDir dir;
  Engine engine(engine_options(dir));
  REQUIRE(engine.apply({fake_pool("foo", 2)}));
  Shell shell(engine);
  REQUIRE(shell.run("calls = 0\n"
                    "autoscale 'foo' { every = 0.1, max = 5, policy = function(m) calls = calls + 1; error('boom') end }") ==
          "");
  shell.ticks(2, 100ms);
  CHECK(shell.eval("autoscale.list()[1].suspended") == "false");
  shell.tick(100ms);
  CHECK(shell.eval("autoscale.list()[1].suspended") == "true");
  CHECK(wait_until([&] { return log_contains(engine, "suspended after 3 errors in a row"); }, 5s));
  CHECK(log_contains(engine, "foo policy-warning: policy: test:2: boom; size kept"));
  shell.ticks(4, 100ms);  // suspended: no more calls
  CHECK(shell.eval("calls") == "3");
  CHECK(size_of(engine, "foo") == 2);
  // Fixed and resumed: it runs again.
  REQUIRE(shell.run("autoscale 'foo' { every = 0.1, max = 5, policy = function(m) return 4 end }") == "");
  shell.tick();
  CHECK(size_of(engine, "foo") == 4);
  CHECK(wait_until([&] { return pool_running(engine, "foo", 4); }, 5s));
}

TEST_CASE("autoscale: junk answers are refused - a string - NaN - negative - infinite - and sizes stay") {
  TempDir dir;
  Engine engine(engine_options(dir));
  REQUIRE(engine.apply({fake_pool("foo", 2)}));
  Shell shell(engine);
  const std::vector<std::pair<std::string, std::string>> junk = {
      {"'many'", "returned a string, not a number of workers"},
      {"0/0", "not a number of workers (finite, >= 0)"},
      {"-1", "returned -1, not a number of workers"},
      {"math.huge", "returned inf, not a number of workers"},
      {"{}", "returned a table, not a number of workers"},
  };
  for (const auto& [value, said] : junk) {
    INFO(value);
    REQUIRE(shell.run("autoscale 'foo' { every = 0.1, max = 5, policy = function(m) return " + value + " end }") == "");
    shell.tick();
    CHECK(shell.eval("autoscale.list()[1].errors") == "1");
    CHECK(wait_until([&] { return log_contains(engine, said); }, 5s));
    CHECK(size_of(engine, "foo") == 2);
  }
  // nil is no opinion: no error, no change.
  REQUIRE(shell.run("autoscale 'foo' { every = 0.1, max = 5, policy = function(m) runs = (runs or 0) + 1 end }") == "");
  shell.tick();
  shell.ticks(4, 100ms);
  CHECK(shell.eval("runs") == "5");
  CHECK(shell.eval("autoscale.list()[1].errors") == "0");
  CHECK(size_of(engine, "foo") == 2);
}

TEST_CASE("autoscale: a policy that loops forever is cut off by its time budget - supervision and the shell go on") {
  TempDir dir;
  Engine engine(engine_options(dir));
  REQUIRE(engine.apply({fake_pool("foo", 2)}));
  Shell shell(engine);
  REQUIRE(shell.run("autoscale 'foo' { every = 0.1, max = 5, timeout = 0.05, policy = function(m) while true do end end }") ==
          "");
  shell.tick();  // the budget is on the real clock: each of these calls is cut off after 0.05 s
  shell.ticks(2, 100ms);
  CHECK(shell.eval("autoscale.list()[1].suspended") == "true");
  CHECK(wait_until([&] { return log_contains(engine, "ran past its time budget of 0.05 s, interrupted"); }, 5s));
  CHECK(wait_until([&] { return log_contains(engine, "suspended after 3 errors"); }, 5s));
  // The shell gets its state back between calls and after the suspension.
  CHECK(shell.eval("1 + 1") == "2");
  const pid_t victim = running_pids(engine.snapshot(), "foo").at(0);
  kill(victim, SIGKILL);
  CHECK(wait_until([&] { return running_pids(engine.snapshot(), "foo").size() == 2 && !pid_alive(victim); }, 5s));
  CHECK(size_of(engine, "foo") == 2);
}

TEST_CASE("autoscale: bad definitions are refused whole with a clear error") {
  TempDir dir;
  Engine engine(engine_options(dir));
  REQUIRE(engine.apply({fake_pool("foo", 1)}));
  Shell shell(engine);
  const auto f = [](const std::string& body) { return "autoscale 'foo' { " + body + " }"; };
  CHECK(shell.run("autoscale 'nope' { max = 3, policy = function() end }") ==
        "test:1: autoscale \"nope\": no such pool (pools: foo)");
  CHECK(shell.run(f("policy = function() end")) ==
        "test:1: autoscale \"foo\": max is required: the most workers the policy may ask for");
  CHECK(shell.run(f("max = 3")) ==
        "test:1: autoscale \"foo\": policy must be a function(m) returning a number of workers, got nil");
  CHECK(shell.run(f("max = 3, every = 0, policy = function() end")) ==
        "test:1: autoscale \"foo\": every must be in [0.1, 3600], got 0");
  CHECK(shell.run(f("max = 3, min = 5, policy = function() end")).find("min") != std::string::npos);
  CHECK(shell.run(f("max = 3, evry = 1, policy = function() end")) ==
        "test:1: autoscale \"foo\": unknown field 'evry' (fields: cooldown, every, max, min, policy, queue, step_down, "
        "step_up, timeout)");
  CHECK(shell.run(f("max = 3, queue = 'rq:queue:foo', policy = function() end")) ==
        "test:1: autoscale \"foo\": queue must be redis{...}, command \"...\" or fn(function), got string");
  CHECK(shell.run("redis{ rq = 'a', sidekiq = 'b' }").find("give one of") != std::string::npos);
  CHECK(shell.run("redis{ url = 'http://x', rq = 'a' }").find("redis: ") != std::string::npos);
  CHECK(shell.run("redis{ url = 'redis://127.0.0.1:6379/0' }").find("name the queue") != std::string::npos);
  CHECK(shell.eval("#autoscale.list()") == "0");  // nothing was defined
  CHECK(shell.run("autoscale.off 'foo'").find("no policy for \"foo\"") != std::string::npos);
}

TEST_CASE("autoscale: the cooldown holds a shrink until every answer in the window agrees") {
  TempDir dir;
  Engine engine(engine_options(dir));
  REQUIRE(engine.apply({fake_pool("foo", 1)}));
  Shell shell(engine);
  REQUIRE(shell.run("want = 4\nautoscale 'foo' { every = 0.1, max = 5, cooldown = 2, policy = function(m) return want end }") ==
          "");
  shell.tick();
  REQUIRE(size_of(engine, "foo") == 4);  // growth: at once
  REQUIRE(shell.run("want = 1") == "");
  shell.ticks(19, 100ms);
  CHECK(size_of(engine, "foo") == 4);  // held for 1.9 s: the window still remembers 4
  CHECK(shell.eval("autoscale.list()[1].recommended") == "1");
  shell.ticks(2, 100ms);
  CHECK(size_of(engine, "foo") == 1);  // 2 s on, the 4 has left the window
}

TEST_CASE("autoscale: budget{scope = fleet} leaves this host what the other hosts' pools do not hold") {
  TempDir dir;
  Engine engine(engine_options(dir));
  REQUIRE(engine.apply({fake_pool("a", 1)}));
  Shell shell(engine);
  jobs::Fleet f;
  f.self = "here";
  f.hosts.resize(3);
  f.hosts[0].name = "here";
  f.hosts[0].pools = R"([{"name": "a", "size": 1, "running": 1}])";
  f.hosts[1].name = "there";
  f.hosts[1].pools = R"([{"name": "a", "size": 4, "running": 4}, {"name": "b", "size": 2, "running": 2}])";
  f.hosts[2].name = "elsewhere";
  f.hosts[2].pools = "not json";  // a host that wrote nonsense counts for nothing
  shell.client.fleet_answer = f;
  REQUIRE(shell.run("budget{ max_workers = 10, scope = 'fleet' }\n"
                    "autoscale 'a' { every = 0.1, max = 20, policy = function() return 20 end }") == "");
  shell.tick();
  CHECK(size_of(engine, "a") == 4);  // 10 - 6 held elsewhere
  CHECK(wait_until([&] { return log_contains(engine, "fleet budget 10 (6 on other hosts) caps it at 4"); }, 2s));
  // The other host shrank: the room follows at the next tick.
  shell.client.fleet_answer->hosts[1].pools = R"([{"name": "a", "size": 1}])";
  shell.tick(100ms);
  CHECK(size_of(engine, "a") == 9);
  // The store does not answer: the last reading holds.
  shell.client.fleet_answer.reset();
  shell.tick(100ms);
  CHECK(size_of(engine, "a") == 9);
  CHECK(shell.run("budget{ max_workers = 10, scope = 'galaxy' }").find("scope must be \"host\"") != std::string::npos);
}

TEST_CASE("autoscale: budget{} caps the sum of all pools - shared by what each asked") {
  TempDir dir;
  Engine engine(engine_options(dir));
  REQUIRE(engine.apply({fake_pool("a", 1), fake_pool("b", 1), fake_pool("fixed", 2)}));
  Shell shell(engine);
  REQUIRE(shell.run("budget{ max_workers = 10 }\n"
                    "autoscale 'a' { every = 0.1, max = 20, policy = function() return 20 end }\n"
                    "autoscale 'b' { every = 0.1, max = 20, policy = function() return 20 end }") == "");
  shell.tick();
  CHECK(size_of(engine, "a") + size_of(engine, "b") == 8);
  shell.ticks(3, 100ms);
  auto snap = engine.snapshot();
  int total = 0;
  for (const auto& p : snap.pools) total += p.spec.n;
  CHECK(total == 10);  // never past it
  CHECK(size_of(engine, "fixed") == 2);
  CHECK(wait_until([&] { return log_contains(engine, "budget 10 caps it at"); }, 2s));
  CHECK(shell.eval("budget()") == "10");
  REQUIRE(shell.run("budget{ max_workers = false }") == "");
  CHECK(shell.eval("budget()") == "nil");
  shell.tick(100ms);
  CHECK(size_of(engine, "a") == 20);
  CHECK(size_of(engine, "b") == 20);
}

TEST_CASE("autoscale: the shipped queue_proportional policy - load and unload - a command probe") {
  TempDir dir;
  Engine engine(engine_options(dir));
  REQUIRE(engine.apply({fake_pool("foo", 1)}));
  Shell shell(engine);
  write_file(dir.file("depth"), "35\n");
  write_file(dir.file("mine.lua"),
             "local qp = load 'queue_proportional'\n"
             "autoscale 'foo' { every = 0.1, max = 9, cooldown = 0, queue = command 'cat " + dir.file("depth") +
                 "', policy = qp{ per_worker = 10 } }\n"
             "ticks = 0\n"
             "every(0.1, function() ticks = ticks + 1 end)\n");
  REQUIRE(shell.run("load '" + dir.file("mine.lua") + "'") == "");
  REQUIRE(shell.queue_reads("35"));
  shell.tick();
  CHECK(size_of(engine, "foo") == 4);  // ceil(35 / 10)
  CHECK(shell.eval("ticks") == "0");   // every(0.1, f) first runs 0.1 s on
  write_file(dir.file("depth"), "71\n");
  REQUIRE(shell.queue_reads("71"));
  shell.tick(100ms);
  CHECK(size_of(engine, "foo") == 8);
  shell.ticks(2, 100ms);
  CHECK(shell.eval("ticks") == "3");
  CHECK(shell.eval("autoscale.list()[1].script") == dir.file("mine.lua"));
  CHECK(shell.eval("unload '" + dir.file("mine.lua") + "'") == "2");  // the policy and the timer
  CHECK(shell.eval("#autoscale.list()") == "0");
  write_file(dir.file("depth"), "5\n");
  shell.ticks(4, 100ms);
  CHECK(size_of(engine, "foo") == 8);  // nobody sizes it any more
  CHECK(shell.eval("ticks") == "3");   // nor ticks
  // Lua's own load is still there for chunks.
  CHECK(shell.eval("load('return 6 * 7')()") == "42");
}

TEST_CASE("autoscale: a Lua fn probe - m carries the workers and the machine") {
  TempDir dir;
  Engine engine(engine_options(dir));
  REQUIRE(engine.apply({fake_pool("foo", 2)}));
  Shell shell(engine);
  REQUIRE(shell.run("depth = 12\nseen = nil\n"
                    "autoscale 'foo' { every = 0.1, max = 5, queue = fn(function() return depth end),\n"
                    "  policy = function(m) seen = m return nil end }") == "");
  REQUIRE(wait_until([&] { return pool_running(engine, "foo", 2); }, 5s));
  shell.tick();
  CHECK(shell.eval("seen.workers.running") == "2");
  CHECK(shell.eval("seen.dt") == "nil");  // the first call
  CHECK(shell.eval("seen.queue") == "12");
  CHECK(shell.eval("seen.name") == "foo");
  CHECK(shell.eval("seen.workers.target") == "2");
  CHECK(shell.eval("seen.pool.processes") == "2");
  CHECK(shell.eval("seen.pool.rss > 0") == "true");
  CHECK(shell.eval("seen.cpus >= 1 and seen.load1 >= 0 and seen.mem_available > 0") == "true");
  CHECK(shell.eval("seen.pools.foo.queue") == "12");
  CHECK(shell.eval("seen.min .. '..' .. seen.max") == "1..5");
  CHECK(shell.eval("seen.now == " + std::to_string(shell.clock.wall_ms()) + " / 1000") == "true");  // its clock
  shell.ticks(2, 100ms);
  CHECK(shell.eval("#seen.history.now") == "3");
  CHECK(shell.eval("string.format('%.3f', seen.dt)") == "0.100");
}

TEST_CASE("autoscale: a policy may redefine itself - and a timer unload a script - mid-tick") {
  TempDir dir;
  Engine engine(engine_options(dir));
  REQUIRE(engine.apply({fake_pool("foo", 1), fake_pool("bar", 1)}));
  Shell shell(engine);
  // The first answer (5) is dropped: the policy replaced itself while answering.
  REQUIRE(shell.run("autoscale 'foo' { every = 0.1, max = 5, policy = function(m)\n"
                    "  autoscale 'foo' { every = 0.1, max = 5, policy = function() return 3 end }\n"
                    "  return 5 end }") == "");
  shell.tick();
  CHECK(size_of(engine, "foo") == 1);  // 5 dropped
  shell.tick();                        // the new definition is due at once
  CHECK(size_of(engine, "foo") == 3);
  write_file(dir.file("bar.lua"), "autoscale 'bar' { every = 0.1, max = 5, policy = function() return 2 end }\n");
  REQUIRE(shell.run("load '" + dir.file("bar.lua") + "'\nevery(0.3, function() unload '" + dir.file("bar.lua") + "' end)") == "");
  shell.tick();
  CHECK(size_of(engine, "bar") == 2);
  CHECK(shell.eval("#autoscale.list()") == "2");
  shell.ticks(3, 100ms);  // the timer's first call unloads bar.lua
  CHECK(shell.eval("#autoscale.list()") == "1");
  CHECK(size_of(engine, "foo") == 3);
}

TEST_CASE("autoscale: GET /api/v1/autoscale answers while a chunk at the prompt holds the Lua lock") {
  TempDir dir;
  Engine engine(engine_options(dir));
  REQUIRE(engine.apply({fake_pool("default", 1)}));
  Shell shell(engine);
  REQUIRE(shell.run("autoscale 'default' { every = 0.2, min = 1, max = 3, cooldown = 0,"
                    " policy = function(m) return 2, 'two' end }") == "");
  REQUIRE(shell.run("budget { max_workers = 7 }") == "");
  auto target = std::make_shared<AutoscaleRoutesTarget>();
  target->ctx = &shell.ctx;
  AutoscaleHooks hooks = make_autoscale_hooks(target);
  std::unique_lock prompt_chunk(shell.ctx.lua_lock);  // as a long chunk at the prompt would
  const auto asked = std::chrono::steady_clock::now();
  auto listed = hooks.list();
  // Below kLuaWait (2 s): the read did not wait for the lock.
  CHECK(std::chrono::steady_clock::now() - asked < 1s);
  REQUIRE(listed);
  REQUIRE((*listed)["policies"].size() == 1);
  CHECK((*listed)["policies"][0]["pool"] == "default");
  CHECK((*listed)["budget"] == 7);
  // A change still needs the lock, and says it is busy rather than wait for ever.
  Status changed;
  std::thread([&] { changed = hooks.set_enabled("default", false); }).join();  // another thread, as HTTP's
  CHECK(changed.code() == Status::Code::kUnavailable);
  prompt_chunk.unlock();
  CHECK(hooks.set_enabled("default", false));
  target->ctx = nullptr;
}

TEST_CASE("autoscale: on its own thread and the steady clock, as in drover - policies and timers run by themselves") {
  TempDir dir;
  Engine engine(engine_options(dir));
  REQUIRE(engine.apply({fake_pool("foo", 1)}));
  Shell shell(engine, Shell::kOwnThread);
  REQUIRE(shell.run("ticks = 0\n"
                    "autoscale 'foo' { every = 0.1, max = 5, policy = function(m) return 3 end }\n"
                    "every(0.1, function() ticks = ticks + 1 end)") == "");
  CHECK(size_becomes(engine, "foo", 3));
  CHECK(wait_until([&] { return shell.eval("ticks >= 2") == "true"; }, 5s));
  CHECK(wait_until([&] { return shell.eval("autoscale.list()[1].runs >= 2") == "true"; }, 5s));
}
