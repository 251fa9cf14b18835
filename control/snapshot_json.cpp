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

std::string log_line_json_text(const LogLine& l) {
  JsonWriter w;
  records::write_json(w, l);
  return w.take();
}

std::string event_json_text(const Event& ev) {
  JsonWriter w;
  records::write_json(w, ev);
  return w.take();
}

json log_line_json(const LogLine& l) { return json::parse(log_line_json_text(l)); }

json event_json(const Event& ev) { return json::parse(event_json_text(ev)); }

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
  records::read_json(j, "", l, error);
  return result(std::move(l), error);
}

Result<Event> event_from_json(const json& j) {
  std::string error;
  Event ev{EventKind::kWorkerSpawned};
  records::read_json(j, "", ev, error);
  return result(std::move(ev), error);
}

std::optional<SlotState> slot_state_from_name(const std::string& name) {
  return records::EnumNames<SlotState>::from_name(name);
}

std::optional<EventKind> event_kind_from_name(const std::string& name) {
  return records::EnumNames<EventKind>::from_name(name);
}

}  // namespace drover
