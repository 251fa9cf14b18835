// status(), pools(), pid(): reading the engine's state.
#include <unistd.h>

#include <fmt/format.h>

#include "shell/lua/binding.h"
#include "shell/lua/record_lua.h"
#include "shell/lua/shell_context.h"
#include "shell/lua/view.h"

namespace drover {

namespace {

// "heartbeat ipc:///run/.../heartbeat (+ tcp://127.0.0.1:5591)  5120 accepted, 1 ignored":
// where workers send, and whether what arrives is being taken. Nothing when the engine
// has no heartbeat socket.
std::string render_heartbeat_line(const HeartbeatStats& hb) {
  if (hb.worker_endpoint.empty() && hb.endpoints.empty()) return "";
  std::string extra;  // sockets bound besides the workers' own (--heartbeat, --wpm-compat)
  for (const auto& e : hb.endpoints)
    if (e != hb.worker_endpoint) extra += (extra.empty() ? "" : ", ") + e;
  std::string where = hb.worker_endpoint.empty() ? extra
                      : extra.empty()            ? hb.worker_endpoint
                                                 : hb.worker_endpoint + " (+ " + extra + ")";
  return fmt::format("heartbeat {}  {} accepted, {} ignored\n", where, hb.accepted,
                     hb.malformed + hb.oversized + hb.unknown_pid);
}

// The job queue's topics under the pools (help/status.md): what waits, runs and failed, and
// how long the oldest due job has waited. Nothing without a job queue.
std::string render_jobs(const std::vector<TopicGauge>& topics, bool color) {
  if (topics.empty()) return "";
  auto bold = [color](const std::string& s) { return color ? "\x1b[1m" + s + "\x1b[0m" : s; };
  size_t w = 4;
  for (const auto& t : topics) w = std::max(w, t.topic.size());
  constexpr const char* kRow = "{:<{}} {:>6} {:>5} {:>5} {:>5} {:>5} {:>7} {:>7} {:>6}";
  std::string out = bold(fmt::format(kRow, "jobs", w, "queued", "sched", "run", "retry", "dead", "oldest", "done",
                                     "failed")) +
                    "\n";
  for (const auto& t : topics)
    out += fmt::format(kRow, t.topic, w, t.queued, t.scheduled, t.running, t.retrying, t.dead,
                       t.oldest_age_s > 0 ? format_age(t.oldest_age_s) : "-", t.done_total, t.failed_total) +
           "\n";
  return out;
}

std::string render_status(const EngineSnapshot& snap, bool color) {
  int target = 0, running = 0;
  for (const auto& p : snap.pools) {
    target += p.target;
    running += p.running;
  }
  auto bold = [color](const std::string& s) { return color ? "\x1b[1m" + s + "\x1b[0m" : s; };
  std::string out = fmt::format("drover pid {}  up {}  {} pool{}  {}/{} workers running{}\n", snap.pid,
                                format_age(snap.uptime_s), snap.pools.size(), snap.pools.size() == 1 ? "" : "s",
                                running, target, snap.shutting_down ? "  (shutting down)" : "");
  out += render_heartbeat_line(snap.heartbeat);
  // How workers' trees are held: what survives a kill -9 of drover depends on it.
  if (!snap.containment.empty()) out += "containment " + snap.containment + "\n";
  // Only when something went wrong: a log missing lines must not go unnoticed.
  if (snap.log_lines_lost > 0 || !snap.log_error.empty())
    out += fmt::format("log {}  {} lines lost in {} failed writes{}\n", snap.log_path, snap.log_lines_lost,
                       snap.log_write_errors, snap.log_error.empty() ? "" : " (failing now: " + snap.log_error + ")");
  if (snap.pools.empty()) return out + "no pools\n" + render_jobs(snap.jobs, color);
  size_t w = 4;
  bool queues = false;  // a queue column only when some pool has a probe
  for (const auto& p : snap.pools) {
    w = std::max(w, p.spec.name.size());
    queues = queues || p.queue.read_at_ms > 0;
  }
  auto queue_cell = [queues](const PoolSnapshot& p) {
    if (!queues) return std::string();
    return fmt::format(" {:>6}", p.queue.depth ? fmt::format("{:g}", *p.queue.depth) : "-");
  };
  // 80 columns for pool names up to 12 characters (help/status.md says what each column is).
  constexpr const char* kRow = "{:<{}} {:>4} {:>4} {:>5} {:>4} {:>4} {:>4} {:>5} {:>4} {:>4} {:>5} {:>5}{}  {}";
  out += bold(fmt::format(kRow, "pool", w, "want", "run", "b/i", "stop", "back", "flap", "ok", "bad", "kill", "rest",
                          "stall", queues ? fmt::format(" {:>6}", "queue") : "", "state")) +
         "\n";
  for (const auto& p : snap.pools) {
    std::string state = p.removing ? "removing" : !p.enabled ? "stopped" : p.flapping ? "flapping" : p.rolling ? "rolling"
                                               : p.running < p.target ? "starting" : "ok";
    if (p.stalled) state = fmt::format("{} stalled", p.stalled) + (state == "ok" ? "" : ", " + state);
    if (color && state != "ok") state = "\x1b[33m" + state + "\x1b[0m";
    // Busy/idle as the workers last reported it (or the job queue's records of them, with
    // busy = redis{...}); "-" when nothing says.
    std::string load = p.busy + p.idle ? fmt::format("{}/{}", p.busy, p.idle) : "-";
    out += fmt::format(kRow, p.spec.name, w, p.target, p.running, load, p.stopping, p.backoff, p.flapping,
                       p.counters.exited_ok, p.counters.exited_bad, p.counters.killed_after_grace, p.counters.restarts,
                       p.counters.stalls, queue_cell(p), state) +
           "\n";
  }
  out += render_jobs(snap.jobs, color);
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

int l_status(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    EngineSnapshot snap = checked(L, ctx.client.snapshot());
    // Every field of the snapshot the views show (api/records.h), pools by name.
    push_record(L, snap);
    // What status() said before heartbeat() had the rest: DROVER_HEARTBEAT.
    set_string(L, "heartbeat_endpoint", snap.heartbeat.worker_endpoint);
    attach_view(L, render_status(snap, ctx.color));
    return 1;
  });
}

int l_pools(lua_State* L) {
  return guarded(L, [L] {
    EngineSnapshot snap = checked(L, shell_context_of(L).client.snapshot());
    lua_createtable(L, static_cast<int>(snap.pools.size()), 0);
    lua_Integer i = 0;
    for (const auto& p : snap.pools) {  // the snapshot is sorted by name
      lua_pushstring(L, p.spec.name.c_str());
      lua_rawseti(L, -2, ++i);
    }
    return 1;
  });
}

int l_pid(lua_State* L) {
  return guarded(L, [L] {
    lua_pushinteger(L, checked(L, shell_context_of(L).client.snapshot()).pid);
    return 1;
  });
}

const Binding kBindings[] = {
    {"status", "status()", "pools, targets, running workers, exits, restarts and flapping, with engine pid and uptime",
     l_status},
    {"pools", "pools()", "the names of the pools, sorted", l_pools},
    {"pid", "pid()", "the engine's process id", l_pid},
};

}  // namespace

std::span<const Binding> status_bindings() { return kBindings; }

}  // namespace drover
