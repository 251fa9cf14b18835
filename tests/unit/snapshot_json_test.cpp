// snapshot_json: every field of an EngineSnapshot survives the wire, and a reader names
// the path of what it refuses.
#include <doctest/doctest.h>
#include <signal.h>

#include "control/snapshot_json.h"

using namespace drover;
using nlohmann::json;

namespace {

// Every field away from its default, so a field that to_json forgets or from_json skips
// comes back different.
EngineSnapshot full_snapshot() {
  EngineSnapshot s;
  s.pid = 4242;
  s.uptime_s = 12.375;
  s.shutting_down = true;
  s.log_path = "/var/log/drover.log";
  s.log_write_errors = 3;
  s.log_lines_lost = 1234;
  s.log_error = "No space left on device";
  s.containment = "cgroup /sys/fs/cgroup/unified/drover-4242-1";
  s.loop_iterations = 1ull << 40;
  s.loop_lag_s = 0.00125;
  s.loop_busy_max_s = 0.5;
  s.subscribers = 3;
  s.heartbeat = {{"ipc:///run/drover/heartbeat", "tcp://127.0.0.1:5591"}, "ipc:///run/drover/heartbeat", 10, 7, 1, 1,
                 1};
  PoolSnapshot p;
  p.spec.name = "foo";
  p.spec.argv = {"/bin/sh", "-c", "echo \"hi\"; sleep 1"};
  p.spec.n = 3;
  p.spec.cwd = "/srv";
  p.spec.env = {{"MODE", "fast"}, {"EMPTY", ""}, {"UNICODE", "é\t"}};
  p.spec.queue = "high,low";
  p.spec.stop_signal = SIGQUIT;
  p.spec.stop_to = StopTo::kGroup;
  p.spec.grace_s = 2.5;
  p.spec.backoff = {0.25, 60, 3, 5};
  p.spec.flap = {7, 20, 45, 2};
  p.spec.heartbeat = {30, true};
  p.spec.autostart = false;
  p.enabled = false;
  p.target = 0;
  p.starting = 1;
  p.running = 2;
  p.stopping = 3;
  p.backoff = 4;
  p.flapping = 5;
  p.stalled = 6;
  p.busy = 7;
  p.idle = 8;
  p.rolling = true;
  p.removing = true;
  p.queue = {640.5, 12, 1700000000123};
  p.counters = {1, 2, 3, 4, 5, 6, 7};
  WorkerSnapshot w;
  w.slot = 2;
  w.pid = 999;
  w.state = SlotState::kStalled;
  w.started_at_ms = 1700000000000;
  w.uptime_s = 0.1;
  w.retry_in_s = 1.0 / 3;
  w.restarts = 9;
  w.last_exit = "signal 9 (KILL)";
  w.generation = 4;
  w.heartbeats = 11;
  w.last_heartbeat_ms = 1700000000999;
  w.heartbeat_age_s = 31.5;
  w.busy = false;
  w.progress = 0.75;
  w.status = "job 42";
  w.cgroup = "/sys/fs/cgroup/unified/drover-4242-1/pool-foo/0.7";
  p.workers.push_back(w);
  WorkerSnapshot idle;  // the optionals unset, the state another one
  idle.slot = 3;
  idle.state = SlotState::kGaveUp;
  p.workers.push_back(idle);
  s.pools.push_back(p);
  PoolSnapshot plain;  // defaults throughout
  plain.spec.name = "bar";
  plain.spec.argv = {"./bar"};
  s.pools.push_back(plain);
  return s;
}

}  // namespace

TEST_CASE("snapshot_json: every field round-trips - through text too") {
  const EngineSnapshot s = full_snapshot();
  json j = snapshot_to_json(s);
  auto back = snapshot_from_json(j);
  REQUIRE(back);
  CHECK(*back == s);
  auto again = snapshot_from_json(json::parse(j.dump()));
  REQUIRE(again);
  CHECK(*again == s);
  CHECK(j["pools"][0]["spec"]["stop_signal"] == "QUIT");
  CHECK(j["pools"][0]["workers"][1]["busy"].is_null());
  CHECK(j["pools"][1]["queue"]["depth"].is_null());
}

TEST_CASE("snapshot_json: every slot state and event kind by name") {
  for (SlotState st : {SlotState::kStarting, SlotState::kRunning, SlotState::kBackoff, SlotState::kFlapping,
                       SlotState::kGaveUp, SlotState::kStopping, SlotState::kStalled})
    CHECK(slot_state_from_name(slot_state_name(st)) == st);
  for (int k = 0; k <= static_cast<int>(kLastEventKind); ++k) {
    Event ev{static_cast<EventKind>(k), 17, "foo", 1, 55, "exit 1"};
    auto back = event_from_json(json::parse(event_json(ev).dump()));
    REQUIRE(back);
    CHECK(back->kind == ev.kind);
    CHECK(back->text == "exit 1");
    CHECK(back->pid == 55);
  }
  CHECK_FALSE(slot_state_from_name("sleeping"));
  CHECK_FALSE(event_kind_from_name("?"));
}

TEST_CASE("snapshot_json: log lines of each stream round-trip") {
  for (LogStream st : {LogStream::kStdout, LogStream::kStderr, LogStream::kEngine}) {
    LogLine l{123, "foo", 2, 77, st, "text with \"quotes\" and \n"};
    auto back = log_line_from_json(log_line_json(l));
    REQUIRE(back);
    CHECK(back->wall_ms == 123);
    CHECK(back->stream == st);
    CHECK(back->text == l.text);
    CHECK(back->slot == 2);
  }
}

TEST_CASE("snapshot_json: absent keys keep defaults - wrong types name their path") {
  auto empty = snapshot_from_json(json::object());
  REQUIRE(empty);
  CHECK(*empty == EngineSnapshot{});
  auto spec = pool_spec_from_json(json{{"name", "x"}, {"argv", {"a"}}, {"stop_signal", 1}});
  REQUIRE(spec);
  CHECK(spec->stop_signal == SIGHUP);
  CHECK(spec->grace_s == PoolSpec{}.grace_s);

  json j = snapshot_to_json(full_snapshot());
  struct Bad {
    json::json_pointer where;
    json value;
    std::string error;
  };
  for (const Bad& b : std::vector<Bad>{
           {"/pid"_json_pointer, "4242", "pid: expected an integer in range, got \"4242\""},
           {"/pools/0/workers/1/pid"_json_pointer, 1.5, "pools[0].workers[1].pid: expected an integer in range, got 1.5"},
           {"/pools/0/workers/0/state"_json_pointer, "napping", "pools[0].workers[0].state: \"napping\" is not a slot state"},
           {"/pools/0/spec/env"_json_pointer, json{{"A", 1}}, "pools[0].spec.env: expected an object of strings, got {\"A\":1}"},
           {"/pools/0/spec/stop_signal"_json_pointer, "NOPE", "pools[0].spec.stop_signal: \"NOPE\" is not a signal"},
           {"/pools/0/spec/stop_to"_json_pointer, "pgrp", "pools[0].spec.stop_to: \"pgrp\" is not \"auto\", \"process\" or \"group\""},
           {"/pools/0/spec/backoff/max"_json_pointer, true, "pools[0].spec.backoff.max: expected a number, got true"},
           {"/pools/1/counters/started"_json_pointer, -1, "pools[1].counters.started: expected an integer in range, got -1"},
           {"/pools/1/queue"_json_pointer, json::array(), "pools[1].queue: expected an object"},
           {"/pools"_json_pointer, json::object(), "pools: expected an array"},
           {"/subscribers"_json_pointer, nullptr, "subscribers: expected an integer in range, got null"},
       }) {
    json bad = j;
    bad[b.where] = b.value;
    auto r = snapshot_from_json(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().message() == b.error);
  }
  CHECK(snapshot_from_json(json::array()).error().message() == "(top): expected an object");
  CHECK(event_from_json(json{{"time_ms", 1}}).error().message() == "kind: missing");
  CHECK(log_line_from_json(json{{"stream", "stdin"}}).error().message() ==
        "stream: \"stdin\" is not stdout, stderr or engine");
}
