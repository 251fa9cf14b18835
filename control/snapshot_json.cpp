#include "control/snapshot_json.h"

#include <csignal>
#include <limits>
#include <type_traits>

#include <fmt/format.h>

#include "control/json_reader.h"
#include "control/json_writer.h"
#include "control/record_json.h"

namespace drover {

using nlohmann::json;
using json_read::Reader;
using json_read::convert;

// The snapshot's records (pools, workers, counters, heartbeat counts) are described in
// api/records.h and written and read by control/record_json.h; what stays here is the
// spec's form, the log lines and events.

void read_spec(const json& j, const std::string& path, PoolSpec& s, std::string& error) {
  Reader r(j, path, error);
  r("name", s.name)("argv", s.argv)("n", s.n)("cwd", s.cwd)("env", s.env)("queue", s.queue)("grace", s.grace_s);
  r("autostart", s.autostart);
  if (const json* sig = r.member("stop_signal")) {
    int n = 0;
    if (sig->is_string()) n = signal_from_name(sig->get<std::string>());
    else convert(*sig, n);
    if (n < 1 || n >= NSIG) r.fail("stop_signal", fmt::format("{} is not a signal", sig->dump()));
    else s.stop_signal = n;
  }
  if (const json* to = r.member("stop_to")) {
    auto parsed = to->is_string() ? stop_to_from_name(to->get<std::string>()) : std::nullopt;
    if (!parsed) r.fail("stop_to", fmt::format("{} is not \"auto\", \"process\" or \"group\"", to->dump()));
    else s.stop_to = *parsed;
  }
  if (const json* b = r.member("backoff")) {
    Reader rb(*b, r.where("backoff"), error);
    rb("initial", s.backoff.initial_s)("max", s.backoff.max_s)("factor", s.backoff.factor);
    rb("reset_after", s.backoff.reset_after_s);
  }
  if (const json* f = r.member("flap")) {
    Reader rf(*f, r.where("flap"), error);
    rf("max_exits", s.flap.max_exits)("window", s.flap.window_s)("cooldown", s.flap.cooldown_s);
    rf("give_up_after", s.flap.give_up_after);
  }
  if (const json* h = r.member("heartbeat")) {
    Reader rh(*h, r.where("heartbeat"), error);
    rh("timeout", s.heartbeat.timeout_s)("require", s.heartbeat.require);
  }
  if (const json* b = r.member("busy_registry")) {
    Reader rb(*b, r.where("busy_registry"), error);
    BusyRegistry& reg = s.busy_registry;
    rb("layout", reg.layout)("url", reg.url)("namespace", reg.ns)("timeout", reg.timeout_s);
  }
}

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

namespace {

// A Redis URL as snapshots show it: a password (redis://user:PASS@host, unix://...&password=PASS)
// becomes "***". Snapshots reach every HTTP client and log; the password stays in the spec.
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

}  // namespace

void write_spec(JsonWriter& w, const PoolSpec& s) {
  w.begin_object().field("name", s.name).key("argv").begin_array();
  for (const auto& a : s.argv) w.value(a);
  w.end_array().field("n", s.n).field("cwd", s.cwd).key("env").begin_object();
  for (const auto& [k, v] : s.env) w.field(k, v);
  w.end_object().field("queue", s.queue).field("stop_signal", signal_name(s.stop_signal));
  w.field("stop_to", stop_to_name(s.stop_to)).field("grace", s.grace_s);
  w.key("backoff").begin_object().field("initial", s.backoff.initial_s).field("max", s.backoff.max_s);
  w.field("factor", s.backoff.factor).field("reset_after", s.backoff.reset_after_s).end_object();
  w.key("flap").begin_object().field("max_exits", s.flap.max_exits).field("window", s.flap.window_s);
  w.field("cooldown", s.flap.cooldown_s).field("give_up_after", s.flap.give_up_after).end_object();
  w.key("heartbeat").begin_object().field("timeout", s.heartbeat.timeout_s).field("require", s.heartbeat.require);
  w.end_object();
  if (const BusyRegistry& reg = s.busy_registry; reg.enabled()) {
    w.key("busy_registry").begin_object().field("layout", reg.layout).field("url", without_password(reg.url));
    w.field("namespace", reg.ns).field("timeout", reg.timeout_s).end_object();
  }
  w.field("autostart", s.autostart).end_object();
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
  write_spec(w, spec);
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
  read_spec(j, "", spec, error);
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
