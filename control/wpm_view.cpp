#include "control/wpm_view.h"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

namespace drover {

using nlohmann::json;

namespace {

std::string rfc3339(int64_t wall_ms) {
  if (wall_ms <= 0) return "";
  std::time_t t = static_cast<std::time_t>(wall_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// How a field shows in the text: its label (nullptr: JSON only), whether only while the
// task runs, and whether it continues the previous line ("Active Workers:\t1 / 2").
struct Text {
  const char* label = nullptr;
  bool if_running = false;
  bool same_line = false;
};

// The two records: f(json key, member, text). workerpoolmanager's own names, both ways.
template <class F, class R>
void describe_task(F& f, R& t) {
  f("name", t.name, {"Task name"});
  f("running", t.running, {"Running"});
  f("started_at", t.started_at, {"Started at", true});
  f("last_alive_at", t.last_alive_at, {"Last alive at", true});
  f("active_workers", t.active, {"Active Workers", true});
  f("cardinality", t.cardinality, {" / ", true, true});
  f("dead_workers", t.dead, {"Dead Workers", true});
}

template <class F, class R>
void describe_worker(F& f, R& w) {
  f("task", w.task, {"Task"});
  f("slot", w.slot, {});
  f("pid", w.pid, {"Pid"});
  f("started_at", w.started_at, {"Started"});
  f("last_alive_at", w.last_alive_at, {"Last alive at"});
}

struct JsonOut {
  json j = json::object();
  template <typename T>
  void operator()(const char* key, const T& v, const Text&) {
    j[key] = v;
  }
};

// "label" + between + value, fields joined by `join`; a same_line field appends to the
// previous one's value with its label as the infix.
struct TextOut {
  const char* between;
  const char* join;
  bool running = true;
  std::string out;

  template <typename T>
  void operator()(const char*, const T& v, const Text& t) {
    if (!t.label || (t.if_running && !running)) return;
    std::string value;
    if constexpr (std::is_same_v<T, bool>) value = v ? "true" : "false";
    else value = fmt::format("{}", v);
    if (t.same_line) out += t.label + value;
    else out += (out.empty() ? "" : join) + std::string(t.label) + between + value;
  }
};

}  // namespace

WpmTask WpmTask::of(const PoolSnapshot& p) {
  WpmTask t;
  t.name = p.spec.name;
  t.running = p.enabled && p.target > 0;
  int64_t first = 0, last = 0;
  for (const auto& w : p.workers) {
    if (w.started_at_ms && (!first || w.started_at_ms < first)) first = w.started_at_ms;
    // As workerpoolmanager: a worker counts as alive at its start until its first keep-alive.
    last = std::max(last, w.last_heartbeat_ms ? w.last_heartbeat_ms : w.started_at_ms);
  }
  t.started_at = rfc3339(first);
  t.last_alive_at = rfc3339(last);
  t.active = p.running;
  t.cardinality = p.target;
  t.dead = p.counters.exited_bad + p.counters.killed_after_grace;
  return t;
}

std::vector<WpmWorker> WpmWorker::of(const PoolSnapshot& p) {
  std::vector<WpmWorker> out;
  for (const auto& w : p.workers) {
    if (w.pid <= 0) continue;
    // As there: "last alive" is the start until the first keep-alive.
    out.push_back({p.spec.name, w.slot, w.pid, rfc3339(w.started_at_ms),
                   rfc3339(w.last_heartbeat_ms ? w.last_heartbeat_ms : w.started_at_ms)});
  }
  return out;
}

std::string wpm_text(const WpmTask& t) {
  TextOut out{":\t", "\n", t.running};
  describe_task(out, t);
  return out.out + "\n";
}

json wpm_json(const WpmTask& t) {
  JsonOut out;
  describe_task(out, t);
  return out.j;
}

std::string wpm_text(const WpmWorker& w) {
  TextOut out{": ", ",\t"};
  describe_worker(out, w);
  return out.out;
}

json wpm_json(const WpmWorker& w) {
  JsonOut out;
  describe_worker(out, w);
  return out.j;
}

}  // namespace drover
