// Heartbeat messages: the wire format workers send to the engine's SUB socket, parsed
// into plain values. Pure functions, no sockets: the receiver hands frames in.
//
// A message is two frames, [topic, json] (workerpoolmanager's format, help/heartbeat.md):
//   topic  the pool (task) name; the json's "taskname", when present, wins.
//   json   an object with keys matched case-insensitively (its Go workers send "Pid",
//          its PHP workers "pid"):
//            pid       required; the worker's pid (number, or a string of digits)
//            taskname  optional; the pool name
//            status    optional free text shown by pstree ("job 42"), cut at kMaxStatusBytes
//            busy      optional bool, drives busy-aware scale-down and autoscaling
//            progress  optional number in 0..1
// Anything else is ignored, so newer workers can send more than this engine reads.
#pragma once

#include <sys/types.h>

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace drover {

inline constexpr size_t kMaxHeartbeatBytes = 64 * 1024;  // per frame
inline constexpr size_t kMaxStatusBytes = 200;

struct Heartbeat {
  std::string pool;  // json taskname, else the topic frame
  pid_t pid = 0;
  std::optional<std::string> status;
  std::optional<bool> busy;
  std::optional<double> progress;
};

// Why a message was ignored. A message with a usable pid is never ignored for its
// optional fields: one of the wrong type is dropped and the rest applied.
enum class HeartbeatFault { kNone, kFrames, kOversized, kJson, kPid };
const char* heartbeat_fault_text(HeartbeatFault fault);

struct ParsedHeartbeat {
  HeartbeatFault fault = HeartbeatFault::kNone;
  Heartbeat beat;  // meaningful only when fault is kNone
};

ParsedHeartbeat parse_heartbeat(std::span<const std::string_view> frames);

}  // namespace drover
