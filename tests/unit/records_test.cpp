// records: each record's fields are described once (api/records.h), and every form walks
// that description. These tests walk it too, so a field added there is covered here
// without an edit: filled with a value of its own, it must come back from the JSON wire
// equal, show in the Lua table under its name, and, when it has a metric, in /metrics.
#include <doctest/doctest.h>

#include <fmt/format.h>
#include <signal.h>

#include "api/records.h"
#include "control/autoscale_json.h"
#include "control/json_views.h"
#include "control/prometheus_text.h"
#include "control/record_json.h"
#include "control/snapshot_json.h"
#include "shell/lua/record_lua.h"

using namespace drover;
using namespace drover::records;

namespace {

// Sets every described field to a value of its own, away from the default and from "none":
// a field the JSON forgets, or a view or /metrics leaves out, is then seen missing.
struct Fill {
  int k = 0;

  template <typename T>
  void operator()(const char*, T& v, const Meta& m = {}) {
    if constexpr (std::is_same_v<T, std::string>)
      if (m.json_text) return void(v = fmt::format(R"({{"k":{}}})", ++k));  // JSON text stays JSON
    set(v);
  }

  template <typename T>
  void set(T& v) {
    ++k;
    if constexpr (std::is_same_v<T, PoolSpec>) v.argv = {"./worker", fmt::format("--n={}", k)};
    else if constexpr (std::is_same_v<T, std::vector<PoolSnapshot>>) {
      v.resize(2);  // each with a name of its own ("name" is described, on the spec)
      for (auto& p : v) describe(*this, p);
    } else if constexpr (DescribedVector<T>) {
      v.resize(2);
      for (auto& e : v) describe(*this, e);
    } else if constexpr (Described<T>) describe(*this, v);
    else if constexpr (NamedEnum<T>) {
      if constexpr (requires { EnumNames<T>::kAll; })
        v = EnumNames<T>::kAll.back() == v ? EnumNames<T>::kAll.front() : EnumNames<T>::kAll.back();
      else v = static_cast<T>(static_cast<int>(v) + 1);  // a dense enum (EventKind)
    }
    else if constexpr (std::is_same_v<T, std::vector<std::string>>) v = {fmt::format("a{}", k), fmt::format("b{}", k)};
    else if constexpr (std::is_same_v<T, std::vector<double>> || std::is_same_v<T, std::vector<uint64_t>>)
      v = {static_cast<typename T::value_type>(k), static_cast<typename T::value_type>(k + 1)};
    else if constexpr (requires { v.emplace(); }) {
      v.emplace();
      set(*v);
    } else if constexpr (std::is_same_v<T, bool>) v = !v;
    else if constexpr (std::is_floating_point_v<T>) v = k + 0.25;
    else if constexpr (std::is_arithmetic_v<T>) v = static_cast<T>(k);
    else v = fmt::format("s{}", k);  // std::string
  }
};

template <typename T>
T filled() {
  T rec{};
  Fill f;
  describe(f, rec);
  return rec;
}

// Each field with a metric, as the sample /metrics must have: name{labels} value.
struct ExpectedSamples {
  std::vector<std::string> samples;
  std::vector<std::string> families;  // "# TYPE name kind"
  std::string pool_label;

  template <typename T>
  void operator()(const char*, const T& v, const Meta& m = {}) {
    if constexpr (std::is_same_v<T, std::vector<PoolSnapshot>>) {
      for (const auto& p : v) {
        pool_label = "pool=\"" + p.spec.name + "\"";
        describe(*this, p);
      }
      pool_label.clear();
    } else if constexpr (std::is_same_v<T, std::vector<TopicGauge>>) {
      for (const auto& t : v) {
        pool_label = "topic=\"" + t.topic + "\"";
        describe(*this, t);
      }
      pool_label.clear();
    } else if constexpr (std::is_same_v<T, RunHistogram>) {
      if (!m.metric.name) return;
      CHECK_MESSAGE((m.in & kView), m.metric.name);
      families.push_back(fmt::format("# TYPE {} histogram\n", m.metric.name));
      // Filled with more counts than bounds + 1: not a histogram /metrics can write; its
      // samples are checked in http_metrics_test.
    } else if constexpr (Described<T>) describe(*this, v);
    else if constexpr (std::is_arithmetic_v<T> || requires { v.has_value(); }) {
      if (!m.metric.name) return;
      // A metric that a view does not show is a metric the shell cannot see.
      CHECK_MESSAGE((m.in & kView), m.metric.name);
      families.push_back(fmt::format("# TYPE {} {}\n", m.metric.name,
                                     m.metric.kind == MetricKind::kCounter ? "counter" : "gauge"));
      std::string labels = pool_label;
      if (m.metric.label) labels += (labels.empty() ? "" : ",") + std::string(m.metric.label);
      std::string value;
      double d = 0;
      if constexpr (requires { v.has_value(); }) d = *v;
      else d = static_cast<double>(v);
      if constexpr (std::is_floating_point_v<T> || requires { v.has_value(); })
        value = m.metric.digits < 0 ? fmt::format("{:g}", d) : fmt::format("{:.{}f}", d, m.metric.digits);
      else value = fmt::format("{}", v);
      samples.push_back(fmt::format("{}{} {}\n", m.metric.name, labels.empty() ? "" : "{" + labels + "}", value));
    }
  }
};

// Checks that the Lua table on top of the stack holds every field a view shows, with its
// value, under its Lua name.
struct LuaCheck {
  lua_State* L;
  std::string path;

  template <typename T>
  void operator()(const char* key, const T& v, const Meta& m = {}) {
    if (!(m.in & kView)) return;
    const std::string name = lua_name(key, m);
    if constexpr (std::is_same_v<T, PoolSpec>) {
      return;  // on the wire only
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (m.json_text) {  // the value it holds: {"k": N} as a table
        lua_getfield(L, -1, name.c_str());
        INFO(path, ".", name);
        REQUIRE(lua_istable(L, -1));
        lua_getfield(L, -1, "k");
        CHECK(fmt::format(R"({{"k":{}}})", lua_tointeger(L, -1)) == v);
        lua_pop(L, 2);
        return;
      }
      lua_getfield(L, -1, name.c_str());
      INFO(path, ".", name);
      REQUIRE_FALSE(lua_isnil(L, -1));
      check(v, path + "." + name);
      lua_pop(L, 1);
    } else {
      if constexpr (Described<T>)
        if (m.flat) return describe(*this, v);  // its fields are the parent's
      lua_getfield(L, -1, name.c_str());
      INFO(path, ".", name);
      REQUIRE_FALSE(lua_isnil(L, -1));
      check(v, path + "." + name);
      lua_pop(L, 1);
    }
  }

  template <typename T>
  void check(const T& v, const std::string& where) {
    INFO(where);
    if constexpr (std::is_same_v<T, std::vector<PoolSnapshot>>) {
      for (const auto& p : v) {
        lua_getfield(L, -1, p.spec.name.c_str());
        REQUIRE(lua_istable(L, -1));
        LuaCheck inner{L, where + "." + p.spec.name};
        describe(inner, p);
        lua_pop(L, 1);
      }
    } else if constexpr (std::is_same_v<T, std::vector<TopicGauge>>) {
      for (const auto& t : v) {
        lua_getfield(L, -1, t.topic.c_str());
        REQUIRE(lua_istable(L, -1));
        LuaCheck inner{L, where + "." + t.topic};
        describe(inner, t);
        lua_pop(L, 1);
      }
    } else if constexpr (IsVector<T>::value) {
      REQUIRE(lua_istable(L, -1));
      CHECK(lua_rawlen(L, -1) == v.size());
      for (size_t i = 0; i < v.size(); ++i) {
        lua_rawgeti(L, -1, static_cast<lua_Integer>(i + 1));
        check(v[i], fmt::format("{}[{}]", where, i + 1));
        lua_pop(L, 1);
      }
    } else if constexpr (Described<T>) {
      REQUIRE(lua_istable(L, -1));
      LuaCheck inner{L, where};
      describe(inner, v);
    } else if constexpr (NamedEnum<T>) CHECK(std::string(lua_tostring(L, -1)) == EnumNames<T>::name(v));
    else if constexpr (requires { v.has_value(); }) check(*v, where);
    else if constexpr (std::is_same_v<T, bool>) CHECK(static_cast<bool>(lua_toboolean(L, -1)) == v);
    else if constexpr (std::is_integral_v<T>) {
      REQUIRE(lua_isinteger(L, -1));
      CHECK(lua_tointeger(L, -1) == static_cast<lua_Integer>(v));
    } else if constexpr (std::is_floating_point_v<T>) CHECK(lua_tonumber(L, -1) == doctest::Approx(v));
    else CHECK(std::string(lua_tostring(L, -1)) == v);
  }
};

}  // namespace

TEST_CASE("records: every described field of a snapshot survives the JSON wire") {
  const EngineSnapshot s = filled<EngineSnapshot>();
  REQUIRE(s.pools.size() == 2);
  REQUIRE(s.pools[0].workers.size() == 2);
  CHECK(s.pools[0].spec.name != s.pools[1].spec.name);
  auto back = snapshot_from_json(nlohmann::json::parse(snapshot_json_text(s)));
  REQUIRE(back);
  CHECK(*back == s);
}

TEST_CASE("records: every described field of the autoscale policies survives the JSON wire") {
  const AutoscaleView v = filled<AutoscaleView>();
  REQUIRE(v.policies.size() == 2);
  auto back = autoscale_view_from_json(nlohmann::json::parse(autoscale_view_json(v).dump()));
  REQUIRE(back);
  CHECK(*back == v);
  // None values: a policy not run yet, no budget.
  AutoscaleView fresh;
  fresh.policies.emplace_back();
  nlohmann::json j = autoscale_view_json(fresh);
  CHECK(j["budget"].is_null());
  CHECK(j["policies"][0]["recommended"].is_null());
  CHECK(j["policies"][0]["queue"].is_null());
  CHECK_FALSE(j["policies"][0].contains("last_error"));
  auto again = autoscale_view_from_json(j);
  REQUIRE(again);
  CHECK(*again == fresh);
}

TEST_CASE("records: a wrong type names its path - an unknown enum name says what it is not") {
  nlohmann::json j = snapshot_to_json(filled<EngineSnapshot>());
  j["pools"][0]["workers"][1]["pid"] = "12";
  auto bad = snapshot_from_json(j);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message() == "pools[0].workers[1].pid: expected an integer in range, got \"12\"");
  j = snapshot_to_json(filled<EngineSnapshot>());
  j["pools"][1]["workers"][0]["state"] = "dozing";
  bad = snapshot_from_json(j);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message() == "pools[1].workers[0].state: \"dozing\" is not a slot state");
  nlohmann::json a = autoscale_view_json(filled<AutoscaleView>());
  a["policies"][1]["runs"] = -1;
  auto bad_policy = autoscale_view_from_json(a);
  REQUIRE_FALSE(bad_policy);
  CHECK(bad_policy.error().message() == "autoscale.policies[1].runs: expected an integer in range, got -1");
}

TEST_CASE("records: every described metric is in /metrics - each family declared once") {
  const EngineSnapshot s = filled<EngineSnapshot>();
  const std::string text = prometheus_text(s);
  ExpectedSamples want;
  describe(want, s);
  CHECK(want.samples.size() > 20);
  for (const auto& line : want.samples) {
    INFO(line);
    CHECK(text.find(line) != std::string::npos);
  }
  for (const auto& type : want.families) {
    INFO(type);
    const size_t at = text.find(type);
    REQUIRE(at != std::string::npos);
    CHECK(text.find(type, at + 1) == std::string::npos);
  }
  // A pool's sampled usage, from its description too.
  const ProcessTotals totals = filled<ProcessTotals>();
  const std::string with_usage = prometheus_text(s, {{s.pools[1].spec.name, totals}});
  ExpectedSamples usage;
  usage.pool_label = "pool=\"" + s.pools[1].spec.name + "\"";
  describe(usage, totals);
  CHECK(usage.samples.size() == 3);
  for (const auto& line : usage.samples) {
    INFO(line);
    CHECK(with_usage.find(line) != std::string::npos);
    CHECK(text.find(line) == std::string::npos);  // no totals, no sample
  }
  for (const auto& type : usage.families) CHECK(text.find(type) != std::string::npos);
  // Without pools their families are declared all the same.
  const std::string empty = prometheus_text(EngineSnapshot{});
  for (const auto& type : want.families) CHECK(empty.find(type) != std::string::npos);
}

TEST_CASE("records: every field a view shows is in the Lua tables - under its Lua name") {
  lua_State* L = luaL_newstate();
  const EngineSnapshot s = filled<EngineSnapshot>();
  push_record(L, s);
  LuaCheck check{L, "status()"};
  describe(check, s);
  lua_pop(L, 1);
  const AutoscaleView v = filled<AutoscaleView>();
  push_record(L, v.policies[0]);
  LuaCheck policy{L, "autoscale.list()[1]"};
  describe(policy, v.policies[0]);
  lua_pop(L, 1);
  // Names as they were before the description: a pool's counters and queue in the pool's
  // own table, the heartbeat socket's endpoint as heartbeat() calls it.
  push_record(L, s);
  REQUIRE(lua_gettop(L) == 1);
  lua_getfield(L, 1, "pools");
  lua_getfield(L, -1, s.pools[0].spec.name.c_str());
  for (const char* key : {"exits_ok", "exits_bad", "killed", "stalls", "queue", "inflight", "target", "n", "workers"}) {
    lua_getfield(L, -1, key);
    CHECK_MESSAGE(!lua_isnil(L, -1), key);
    lua_pop(L, 1);
  }
  lua_settop(L, 1);
  lua_getfield(L, 1, "heartbeat");
  lua_getfield(L, -1, "endpoint");
  CHECK(std::string(lua_tostring(L, -1)) == s.heartbeat.worker_endpoint);
  lua_close(L);
}

TEST_CASE("records: the JSON views show what the Lua views show - none values left out") {
  const EngineSnapshot s = filled<EngineSnapshot>();
  nlohmann::json pool = pool_json(s.pools[0], true);
  CHECK(pool["name"] == s.pools[0].spec.name);
  CHECK(pool["counters"]["killed"] == s.pools[0].counters.killed_after_grace);
  CHECK(pool["workers"].size() == 2);
  CHECK_FALSE(pool_json(s.pools[0], false).contains("workers"));
  CHECK_FALSE(pool.contains("spec"));
  WorkerSnapshot idle;
  nlohmann::json w = worker_json(idle);
  for (const char* absent : {"busy", "busy_from", "progress", "status", "retry_in", "heartbeat_age", "cgroup"})
    CHECK_MESSAGE(!w.contains(absent), absent);
  CHECK(w["last_exit"] == "");
}

TEST_CASE("records: a pool's spec on the wire - the signal by name - a registry's password hidden - none left out") {
  PoolSpec spec;
  spec.name = "foo";
  spec.argv = {"./w"};
  spec.stop_signal = SIGQUIT;
  spec.stop_to = StopTo::kProcess;
  nlohmann::json j = pool_spec_to_json(spec);
  CHECK(j["stop_signal"] == "QUIT");
  CHECK(j["stop_to"] == "process");
  CHECK_FALSE(j.contains("busy_registry"));  // none configured
  auto back = pool_spec_from_json(j);
  REQUIRE(back);
  CHECK(*back == spec);
  j["stop_signal"] = SIGHUP;  // by number too
  CHECK(pool_spec_from_json(j)->stop_signal == SIGHUP);
  j["stop_signal"] = 0;
  CHECK(pool_spec_from_json(j).error().message() == "stop_signal: 0 is not a signal");
  j["stop_signal"] = "TERM";
  j["stop_to"] = 1;
  CHECK(pool_spec_from_json(j).error().message() == "stop_to: 1 is not \"auto\", \"process\" or \"group\"");

  spec.busy_registry = {"rq", "redis://user:secret@10.0.0.1:6379/0", "resque", 2};
  j = pool_spec_to_json(spec);
  CHECK(j["busy_registry"]["url"] == "redis://user:***@10.0.0.1:6379/0");
  CHECK(j["busy_registry"]["layout"] == "rq");
  CHECK(j.dump().find("secret") == std::string::npos);
  back = pool_spec_from_json(j);
  REQUIRE(back);
  CHECK(back->busy_registry.timeout_s == 2);
  CHECK(back->busy_registry.url == "redis://user:***@10.0.0.1:6379/0");
}

TEST_CASE("records: log lines and events survive the wire - as text and as json") {
  const LogLine l = filled<LogLine>();
  CHECK(l.stream != LogLine{}.stream);
  auto line = log_line_from_json(nlohmann::json::parse(log_line_json_text(l)));
  REQUIRE(line);
  CHECK(line->text == l.text);
  CHECK(line->stream == l.stream);
  CHECK(line->pid == l.pid);
  CHECK(line->wall_ms == l.wall_ms);
  Event e{EventKind::kWorkerSpawned};
  Fill f;
  describe(f, e);
  CHECK(e.kind != EventKind::kWorkerSpawned);
  auto ev = event_from_json(event_json(e));
  REQUIRE(ev);
  CHECK(ev->kind == e.kind);
  CHECK(ev->text == e.text);
  CHECK(ev->slot == e.slot);
  CHECK(nlohmann::json::parse(event_json_text(e)) == event_json(e));
}

TEST_CASE("records: a job and a topic's counts survive the JSON wire - args as JSON, not a string - and reach Lua") {
  const jobs::Job job = filled<jobs::Job>();
  const jobs::TopicStats stats = filled<jobs::TopicStats>();
  JsonWriter w;
  write_json(w, job);
  const auto j = nlohmann::json::parse(w.text());
  CHECK(j["args"].is_object());  // the value, not its text in a string
  jobs::Job back;
  std::string error;
  read_json(j, "", back, error);
  CHECK(error.empty());
  CHECK(back == job);
  JsonWriter ws;
  write_json(ws, stats);
  jobs::TopicStats stats_back;
  read_json(nlohmann::json::parse(ws.text()), "", stats_back, error);
  CHECK(error.empty());
  CHECK(stats_back == stats);

  lua_State* L = luaL_newstate();
  push_record(L, job);
  LuaCheck check{L, "job"};
  describe(check, job);
  lua_pop(L, 1);
  push_record(L, stats);
  LuaCheck check_stats{L, "stats"};
  describe(check_stats, stats);
  lua_close(L);
}
