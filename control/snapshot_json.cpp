#include "control/snapshot_json.h"

#include <csignal>
#include <limits>
#include <type_traits>

#include <fmt/format.h>

#include "control/json_writer.h"

namespace drover {

using nlohmann::json;

namespace {

// ---- reading --------------------------------------------------------------------------
//
// A Reader walks one JSON object and copies what is there into a struct. The first wrong
// type stops it and keeps the path for the error; later reads are no-ops, so a from_json
// is a flat list of fields rather than a pyramid of checks.

bool convert(const json& v, bool& out) {
  if (!v.is_boolean()) return false;
  out = v.get<bool>();
  return true;
}
bool convert(const json& v, double& out) {
  if (!v.is_number()) return false;
  out = v.get<double>();
  return true;
}
bool convert(const json& v, std::string& out) {
  if (!v.is_string()) return false;
  out = v.get<std::string>();
  return true;
}
template <typename T>
  requires std::is_integral_v<T> && (!std::is_same_v<T, bool>)
bool convert(const json& v, T& out) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<T>::max())) return false;
    out = static_cast<T>(u);
    return true;
  }
  if (!v.is_number_integer()) return false;
  const int64_t i = v.get<int64_t>();
  if (i < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
      (i > 0 && static_cast<uint64_t>(i) > static_cast<uint64_t>(std::numeric_limits<T>::max())))
    return false;
  out = static_cast<T>(i);
  return true;
}
template <typename T>
bool convert(const json& v, std::optional<T>& out) {
  if (v.is_null()) {
    out.reset();
    return true;
  }
  T inner{};
  if (!convert(v, inner)) return false;
  out = inner;
  return true;
}
bool convert(const json& v, std::vector<std::string>& out) {
  if (!v.is_array()) return false;
  std::vector<std::string> items;
  for (const auto& e : v) {
    if (!e.is_string()) return false;
    items.push_back(e.get<std::string>());
  }
  out = std::move(items);
  return true;
}
bool convert(const json& v, std::map<std::string, std::string>& out) {
  if (!v.is_object()) return false;
  std::map<std::string, std::string> items;
  for (const auto& [k, e] : v.items()) {
    if (!e.is_string()) return false;
    items[k] = e.get<std::string>();
  }
  out = std::move(items);
  return true;
}

template <typename T>
const char* expected() {
  if constexpr (std::is_same_v<T, bool>) return "true or false";
  else if constexpr (std::is_same_v<T, double>) return "a number";
  else if constexpr (std::is_same_v<T, std::string>) return "a string";
  else if constexpr (std::is_integral_v<T>) return "an integer in range";
  else if constexpr (std::is_same_v<T, std::vector<std::string>>) return "an array of strings";
  else if constexpr (std::is_same_v<T, std::map<std::string, std::string>>) return "an object of strings";
  else return expected<typename T::value_type>();  // optional<T>: T or null
}

class Reader {
 public:
  Reader(const json& j, std::string path, std::string& error) : j_(j), path_(std::move(path)), error_(error) {
    if (error_.empty() && !j_.is_object()) error_ = fmt::format("{}: expected an object", where());
  }
  bool ok() const { return error_.empty(); }
  std::string where(const char* key = nullptr) const {
    if (!key) return path_.empty() ? "(top)" : path_;
    return path_.empty() ? key : path_ + "." + key;
  }
  // The member at key, when the object has one and nothing failed so far.
  const json* member(const char* key) const {
    if (!ok()) return nullptr;
    auto it = j_.find(key);
    return it == j_.end() ? nullptr : &*it;
  }
  template <typename T>
  Reader& operator()(const char* key, T& out) {
    if (const json* v = member(key); v && !convert(*v, out))
      error_ = fmt::format("{}: expected {}, got {}", where(key), expected<T>(), v->dump());
    return *this;
  }
  void fail(const char* key, const std::string& what) {
    if (ok()) error_ = fmt::format("{}: {}", where(key), what);
  }

 private:
  const json& j_;
  std::string path_;
  std::string& error_;
};

// Reads an array of objects under key with fn(element, element_path, out_item, error).
template <typename T, typename Fn>
void read_array(Reader& r, const char* key, std::vector<T>& out, std::string& error, Fn fn) {
  const json* a = r.member(key);
  if (!a) return;
  if (!a->is_array()) return r.fail(key, "expected an array");
  out.clear();
  for (size_t i = 0; i < a->size() && error.empty(); ++i) {
    T item{};
    fn((*a)[i], fmt::format("{}[{}]", r.where(key), i), item, error);
    out.push_back(std::move(item));
  }
}

void read_spec(const json& j, const std::string& path, PoolSpec& s, std::string& error) {
  Reader r(j, path, error);
  r("name", s.name)("argv", s.argv)("n", s.n)("cwd", s.cwd)("env", s.env)("queue", s.queue)("grace", s.grace_s);
  r("autostart", s.autostart)("jobs", s.jobs);
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

void read_worker(const json& j, const std::string& path, WorkerSnapshot& w, std::string& error) {
  Reader r(j, path, error);
  r("slot", w.slot)("pid", w.pid)("started_at_ms", w.started_at_ms)("uptime", w.uptime_s)("retry_in", w.retry_in_s);
  r("restarts", w.restarts)("last_exit", w.last_exit)("generation", w.generation)("heartbeats", w.heartbeats);
  r("last_heartbeat_ms", w.last_heartbeat_ms)("heartbeat_age", w.heartbeat_age_s)("busy", w.busy);
  r("busy_from", w.busy_from)("progress", w.progress)("status", w.status)("cgroup", w.cgroup);
  std::string state;
  r("state", state);
  if (const json* st = r.member("state")) {
    if (auto s = slot_state_from_name(state)) w.state = *s;
    else r.fail("state", fmt::format("{} is not a slot state", st->dump()));
  }
}

void read_pool(const json& j, const std::string& path, PoolSnapshot& p, std::string& error) {
  Reader r(j, path, error);
  if (const json* spec = r.member("spec")) read_spec(*spec, r.where("spec"), p.spec, error);
  r("enabled", p.enabled)("target", p.target)("starting", p.starting)("running", p.running);
  r("stopping", p.stopping)("backoff", p.backoff)("flapping", p.flapping)("stalled", p.stalled);
  r("busy", p.busy)("idle", p.idle)("rolling", p.rolling)("removing", p.removing);
  if (const json* q = r.member("queue")) {
    Reader rq(*q, r.where("queue"), error);
    rq("depth", p.queue.depth)("inflight", p.queue.inflight)("read_at_ms", p.queue.read_at_ms);
  }
  if (const json* c = r.member("counters")) {
    Reader rc(*c, r.where("counters"), error);
    PoolCounters& k = p.counters;
    rc("started", k.started)("exits_ok", k.exited_ok)("exits_bad", k.exited_bad);
    rc("spawn_failures", k.spawn_failures)("killed", k.killed_after_grace)("restarts", k.restarts);
    rc("stalls", k.stalls);
  }
  read_array(r, "workers", p.workers, error, read_worker);
}

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
  w.field("autostart", s.autostart).field("jobs", s.jobs).end_object();
}

void write_worker(JsonWriter& j, const WorkerSnapshot& w) {
  j.begin_object().field("slot", w.slot).field("pid", w.pid).field("state", slot_state_name(w.state));
  j.field("started_at_ms", w.started_at_ms).field("uptime", w.uptime_s).field("retry_in", w.retry_in_s);
  j.field("restarts", w.restarts).field("last_exit", w.last_exit).field("generation", w.generation);
  j.field("heartbeats", w.heartbeats).field("last_heartbeat_ms", w.last_heartbeat_ms);
  j.field("heartbeat_age", w.heartbeat_age_s).field("busy", w.busy).field("busy_from", w.busy_from);
  j.field("progress", w.progress);
  j.field("status", w.status).field("cgroup", w.cgroup).end_object();
}

void write_pool(JsonWriter& w, const PoolSnapshot& p) {
  w.begin_object().key("spec");
  write_spec(w, p.spec);
  w.field("enabled", p.enabled).field("target", p.target).field("starting", p.starting).field("running", p.running);
  w.field("stopping", p.stopping).field("backoff", p.backoff).field("flapping", p.flapping);
  w.field("stalled", p.stalled).field("busy", p.busy).field("idle", p.idle).field("rolling", p.rolling);
  w.field("removing", p.removing);
  w.key("queue").begin_object().field("depth", p.queue.depth).field("inflight", p.queue.inflight);
  w.field("read_at_ms", p.queue.read_at_ms).end_object();
  const PoolCounters& c = p.counters;
  w.key("counters").begin_object().field("started", c.started).field("exits_ok", c.exited_ok);
  w.field("exits_bad", c.exited_bad).field("spawn_failures", c.spawn_failures).field("killed", c.killed_after_grace);
  w.field("restarts", c.restarts).field("stalls", c.stalls).end_object();
  w.key("workers").begin_array();
  for (const auto& wk : p.workers) write_worker(w, wk);
  w.end_array().end_object();
}

}  // namespace

std::string snapshot_json_text(const EngineSnapshot& snap) {
  JsonWriter w;
  size_t workers = 0;
  for (const auto& p : snap.pools) workers += p.workers.size();
  w.reserve(1024 + snap.pools.size() * 1024 + workers * 320);  // ~300 bytes a worker
  const HeartbeatStats& h = snap.heartbeat;
  w.begin_object().field("pid", snap.pid).field("uptime", snap.uptime_s).field("shutting_down", snap.shutting_down);
  w.field("log_path", snap.log_path).field("containment", snap.containment);
  w.field("log_write_errors", snap.log_write_errors).field("log_lines_lost", snap.log_lines_lost);
  w.field("log_error", snap.log_error);
  w.field("loop_iterations", snap.loop_iterations);
  w.field("loop_lag", snap.loop_lag_s).field("loop_busy_max", snap.loop_busy_max_s);
  w.field("subscribers", snap.subscribers).key("heartbeat").begin_object().key("endpoints").begin_array();
  for (const auto& e : h.endpoints) w.value(e);
  w.end_array().field("worker_endpoint", h.worker_endpoint).field("received", h.received);
  w.field("accepted", h.accepted).field("malformed", h.malformed).field("oversized", h.oversized);
  w.field("unknown_pid", h.unknown_pid).end_object().key("pools").begin_array();
  for (const auto& p : snap.pools) write_pool(w, p);
  w.end_array().end_object();
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
  Reader r(j, "", error);
  r("pid", snap.pid)("uptime", snap.uptime_s)("shutting_down", snap.shutting_down)("log_path", snap.log_path);
  r("containment", snap.containment)("loop_iterations", snap.loop_iterations)("subscribers", snap.subscribers);
  r("log_write_errors", snap.log_write_errors)("log_lines_lost", snap.log_lines_lost)("log_error", snap.log_error);
  r("loop_lag", snap.loop_lag_s)("loop_busy_max", snap.loop_busy_max_s);
  if (const json* hb = r.member("heartbeat")) {
    Reader rh(*hb, "heartbeat", error);
    HeartbeatStats& h = snap.heartbeat;
    rh("endpoints", h.endpoints)("worker_endpoint", h.worker_endpoint)("received", h.received);
    rh("accepted", h.accepted)("malformed", h.malformed)("oversized", h.oversized)("unknown_pid", h.unknown_pid);
  }
  read_array(r, "pools", snap.pools, error, read_pool);
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
  for (SlotState s : {SlotState::kStarting, SlotState::kRunning, SlotState::kBackoff, SlotState::kFlapping,
                      SlotState::kGaveUp, SlotState::kStopping, SlotState::kStalled})
    if (name == slot_state_name(s)) return s;
  return std::nullopt;
}

std::optional<EventKind> event_kind_from_name(const std::string& name) {
  // The enum is dense from kWorkerSpawned to kReloadFailed; event_kind_name says "?" past it.
  for (int k = 0; k <= static_cast<int>(EventKind::kReloadFailed); ++k)
    if (name == event_kind_name(static_cast<EventKind>(k))) return static_cast<EventKind>(k);
  return std::nullopt;
}

}  // namespace drover
