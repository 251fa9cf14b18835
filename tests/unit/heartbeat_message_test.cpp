#include "engine/heartbeat_message.h"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

using namespace drover;

namespace {
ParsedHeartbeat parse(std::vector<std::string> frames) {
  std::vector<std::string_view> views(frames.begin(), frames.end());
  return parse_heartbeat(views);
}
}  // namespace

TEST_CASE("heartbeat message: drover's own form with every field") {
  auto p = parse({"foo", R"({"pid": 1234, "status": "job 42", "busy": true, "progress": 0.5, "future": [1]})"});
  REQUIRE(p.fault == HeartbeatFault::kNone);
  CHECK(p.beat.pool == "foo");
  CHECK(p.beat.pid == 1234);
  CHECK(*p.beat.status == "job 42");
  CHECK(*p.beat.busy == true);
  CHECK(*p.beat.progress == doctest::Approx(0.5));
}

TEST_CASE("heartbeat message: workerpoolmanager's Go and PHP forms - keys case-insensitive") {
  auto go = parse({"Example", R"({"Taskname": "Example", "Pid": 77})"});
  REQUIRE(go.fault == HeartbeatFault::kNone);
  CHECK(go.beat.pool == "Example");
  CHECK(go.beat.pid == 77);
  CHECK_FALSE(go.beat.busy.has_value());
  CHECK_FALSE(go.beat.status.has_value());
  auto php = parse({"topic", R"({"taskname": "Example", "pid": "78"})"});
  REQUIRE(php.fault == HeartbeatFault::kNone);
  CHECK(php.beat.pool == "Example");  // the json's taskname wins over the topic frame
  CHECK(php.beat.pid == 78);
  CHECK(parse({"x", R"({"PID": 5})"}).beat.pid == 5);
}

TEST_CASE("heartbeat message: faults") {
  CHECK(parse({R"({"pid": 1})"}).fault == HeartbeatFault::kFrames);
  CHECK(parse({"a", R"({"pid": 1})", "c"}).fault == HeartbeatFault::kFrames);
  CHECK(parse({}).fault == HeartbeatFault::kFrames);
  CHECK(parse({"a", "{"}).fault == HeartbeatFault::kJson);
  CHECK(parse({"a", "[1, 2]"}).fault == HeartbeatFault::kJson);
  CHECK(parse({"a", "12"}).fault == HeartbeatFault::kJson);
  CHECK(parse({"a", ""}).fault == HeartbeatFault::kJson);
  CHECK(parse({"a", "{}"}).fault == HeartbeatFault::kPid);
  CHECK(parse({"a", R"({"pid": 0})"}).fault == HeartbeatFault::kPid);
  CHECK(parse({"a", R"({"pid": -3})"}).fault == HeartbeatFault::kPid);
  CHECK(parse({"a", R"({"pid": 1.5})"}).fault == HeartbeatFault::kPid);
  CHECK(parse({"a", R"({"pid": 4294967297})"}).fault == HeartbeatFault::kPid);
  CHECK(parse({"a", R"({"pid": "12a"})"}).fault == HeartbeatFault::kPid);
  CHECK(parse({"a", R"({"pid": ""})"}).fault == HeartbeatFault::kPid);
  CHECK(parse({"a", R"({"pid": true})"}).fault == HeartbeatFault::kPid);
  CHECK(parse({"a", std::string(kMaxHeartbeatBytes + 1, ' ')}).fault == HeartbeatFault::kOversized);
  CHECK(parse({std::string(kMaxHeartbeatBytes + 1, 'a'), R"({"pid": 1})"}).fault == HeartbeatFault::kOversized);
}

TEST_CASE("heartbeat message: optional fields of the wrong type are dropped - the beat still counts") {
  auto p = parse({"a", R"({"pid": 9, "busy": "yes", "progress": "half", "status": 42, "taskname": 7})"});
  REQUIRE(p.fault == HeartbeatFault::kNone);
  CHECK(p.beat.pool == "a");
  CHECK_FALSE(p.beat.busy.has_value());
  CHECK_FALSE(p.beat.progress.has_value());
  CHECK_FALSE(p.beat.status.has_value());
}

TEST_CASE("heartbeat message: progress is clamped - status is cut on a UTF-8 boundary") {
  CHECK(*parse({"a", R"({"pid": 9, "progress": 7})"}).beat.progress == 1.0);
  CHECK(*parse({"a", R"({"pid": 9, "progress": -1})"}).beat.progress == 0.0);
  std::string long_status;
  while (long_status.size() < kMaxStatusBytes + 10) long_status += "\xc3\xa9";  // é, 2 bytes
  auto p = parse({"a", R"({"pid": 9, "status": ")" + long_status + "\"}"});
  REQUIRE(p.beat.status);
  CHECK(p.beat.status->size() <= kMaxStatusBytes);
  CHECK(p.beat.status->size() % 2 == 0);  // no half character
}

TEST_CASE("heartbeat message: random bytes never crash and never yield a pid by accident") {
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::string> frames(rng() % 4);
    for (auto& f : frames) {
      f.resize(rng() % 64);
      for (auto& c : f) c = static_cast<char>(rng());
    }
    if (frames.size() == 2 && rng() % 2) frames[1] = "{\"pid\":" + frames[1];  // near misses
    auto p = parse(frames);
    if (p.fault == HeartbeatFault::kNone) CHECK(p.beat.pid > 0);
  }
}
