#include "engine/heartbeat_message.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

namespace drover {

namespace {

bool key_is(const std::string& key, std::string_view want) {
  if (key.size() != want.size()) return false;
  for (size_t i = 0; i < key.size(); ++i) {
    char c = key[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != want[i]) return false;
  }
  return true;
}

// Positive and within pid_t, from a JSON integer or a string of digits.
pid_t pid_from(const nlohmann::json& v) {
  int64_t n = 0;
  if (v.is_number_integer()) {
    n = v.get<int64_t>();
  } else if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (s.empty() || s.size() > 10) return 0;
    for (char c : s) {
      if (c < '0' || c > '9') return 0;
      n = n * 10 + (c - '0');
    }
  } else {
    return 0;
  }
  if (n <= 0 || n > std::numeric_limits<pid_t>::max()) return 0;
  return static_cast<pid_t>(n);
}

// Cut at max bytes without splitting a UTF-8 sequence.
std::string cut_utf8(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

}  // namespace

const char* heartbeat_fault_text(HeartbeatFault fault) {
  switch (fault) {
    case HeartbeatFault::kNone: return "ok";
    case HeartbeatFault::kFrames: return "not 2 frames [pool, json]";
    case HeartbeatFault::kOversized: return "frame over 64 KiB";
    case HeartbeatFault::kJson: return "second frame is not a JSON object";
    case HeartbeatFault::kPid: return "no usable \"pid\"";
  }
  return "?";
}

ParsedHeartbeat parse_heartbeat(std::span<const std::string_view> frames) {
  ParsedHeartbeat out;
  if (frames.size() != 2) {
    out.fault = HeartbeatFault::kFrames;
    return out;
  }
  if (frames[0].size() > kMaxHeartbeatBytes || frames[1].size() > kMaxHeartbeatBytes) {
    out.fault = HeartbeatFault::kOversized;
    return out;
  }
  // No exceptions: garbage is the normal case for a fuzzer, not an exceptional one.
  auto doc = nlohmann::json::parse(frames[1].begin(), frames[1].end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    out.fault = HeartbeatFault::kJson;
    return out;
  }
  Heartbeat& hb = out.beat;
  hb.pool.assign(frames[0]);
  for (const auto& [key, value] : doc.items()) {
    if (key_is(key, "pid")) {
      hb.pid = pid_from(value);
    } else if (key_is(key, "taskname")) {
      if (value.is_string()) hb.pool = value.get<std::string>();
    } else if (key_is(key, "status")) {
      if (value.is_string()) hb.status = cut_utf8(value.get_ref<const std::string&>(), kMaxStatusBytes);
    } else if (key_is(key, "busy")) {
      if (value.is_boolean()) hb.busy = value.get<bool>();
    } else if (key_is(key, "progress")) {
      if (value.is_number()) {
        double p = value.get<double>();
        if (std::isfinite(p)) hb.progress = std::clamp(p, 0.0, 1.0);
      }
    }
  }
  if (hb.pid == 0) out.fault = HeartbeatFault::kPid;
  return out;
}

}  // namespace drover
