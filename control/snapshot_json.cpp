#include "control/snapshot_json.h"

#include <fmt/format.h>

#include "control/json_reader.h"
#include "control/json_writer.h"
#include "control/record_json.h"

namespace drover {

using nlohmann::json;
using json_read::Reader;

// The snapshot's records (its pools with their specs, workers, counters and heartbeat
// counts) are described in api/records.h and written and read by control/record_json.h;
// what stays here is the log lines and events.

namespace {

const char* stream_name(LogStream s) {
  return s == LogStream::kStdout ? "stdout" : s == LogStream::kStderr ? "stderr" : "engine";
}

template <typename T>
Result<T> result(T value, const std::string& error) {
  if (!error.empty()) return Status::invalid(error);
  return value;
}

}  // namespace

// ---- writing --------------------------------------------------------------------------

// Snapshots reach every HTTP client and log; the password stays in the spec.
std::string without_password(std::string url) {
  if (size_t at = url.find('@'), scheme = url.find("://"); at != std::string::npos && scheme != std::string::npos) {
    size_t colon = url.find(':', scheme + 3);
    if (colon != std::string::npos && colon < at) url.replace(colon + 1, at - colon - 1, "***");
  }
  if (size_t pw = url.find("password="); pw != std::string::npos) {
    size_t end = url.find('&', pw);
    url.replace(pw + 9, end == std::string::npos ? std::string::npos : end - pw - 9, "***");
  }
  return url;
}

std::string snapshot_json_text(const EngineSnapshot& snap) {
  JsonWriter w;
  size_t workers = 0;
  for (const auto& p : snap.pools) workers += p.workers.size();
  w.reserve(1024 + snap.pools.size() * 1024 + workers * 320);  // ~300 bytes a worker
  records::write_json(w, snap);
  return w.take();
}

json snapshot_to_json(const EngineSnapshot& snap) { return json::parse(snapshot_json_text(snap)); }

json pool_spec_to_json(const PoolSpec& spec) {
  JsonWriter w;
  records::write_json(w, spec);
  return json::parse(w.text());
}

json log_line_json(const LogLine& l) {
  return json{{"time_ms", l.wall_ms}, {"pool", l.pool},           {"slot", l.slot},
              {"pid", l.pid},         {"stream", stream_name(l.stream)}, {"text", l.text}};
}

json event_json(const Event& ev) {
  return json{{"kind", event_kind_name(ev.kind)}, {"time_ms", ev.wall_ms}, {"pool", ev.pool},
              {"slot", ev.slot},                  {"pid", ev.pid},         {"text", ev.text}};
}

// ---- reading, the public face -----------------------------------------------------------

Result<EngineSnapshot> snapshot_from_json(const json& j) {
  std::string error;
  EngineSnapshot snap;
  records::read_json(j, "", snap, error);
  return result(std::move(snap), error);
}

Result<PoolSpec> pool_spec_from_json(const json& j) {
  std::string error;
  PoolSpec spec;
  records::read_json(j, "", spec, error);
  return result(std::move(spec), error);
}

Result<LogLine> log_line_from_json(const json& j) {
  std::string error;
  LogLine l;
  Reader r(j, "", error);
  std::string stream = "stdout";
  r("time_ms", l.wall_ms)("pool", l.pool)("slot", l.slot)("pid", l.pid)("stream", stream)("text", l.text);
  if (stream == "stdout") l.stream = LogStream::kStdout;
  else if (stream == "stderr") l.stream = LogStream::kStderr;
  else if (stream == "engine") l.stream = LogStream::kEngine;
  else r.fail("stream", fmt::format("\"{}\" is not stdout, stderr or engine", stream));
  return result(std::move(l), error);
}

Result<Event> event_from_json(const json& j) {
  std::string error;
  Event ev{EventKind::kWorkerSpawned};
  Reader r(j, "", error);
  std::string kind;
  r("kind", kind)("time_ms", ev.wall_ms)("pool", ev.pool)("slot", ev.slot)("pid", ev.pid)("text", ev.text);
  if (!r.member("kind")) r.fail("kind", "missing");  // no default would be true
  else if (auto k = event_kind_from_name(kind)) ev.kind = *k;
  else r.fail("kind", fmt::format("\"{}\" is not an event kind", kind));
  return result(std::move(ev), error);
}

std::optional<SlotState> slot_state_from_name(const std::string& name) {
  return records::EnumNames<SlotState>::from_name(name);
}

std::optional<EventKind> event_kind_from_name(const std::string& name) {
  // The enum is dense from kWorkerSpawned to kReloadFailed; event_kind_name says "?" past it.
  for (int k = 0; k <= static_cast<int>(EventKind::kReloadFailed); ++k)
    if (name == event_kind_name(static_cast<EventKind>(k))) return static_cast<EventKind>(k);
  return std::nullopt;
}

}  // namespace drover
