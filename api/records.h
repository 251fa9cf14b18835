// Records described once. Each record the API shows (an engine snapshot with its pools,
// their specs and workers, the heartbeat socket's counts, a pool's sampled usage, an
// autoscale policy, a log line, an event) lists its fields here, one line a field, and
// every form the record takes is a walk over that list:
//
//   JSON both ways  control/record_json.h   (/api/v1/snapshot, /api/v1/autoscale, the log
//                                            follow and event stream; what attach reads back)
//   JSON views      control/json_views.h    (/api/v1/pools)
//   Lua tables      shell/lua/record_lua.h  (status(), heartbeat(), pstree(), autoscale.list())
//   /metrics        control/prometheus_text.cpp
//
// so a new counter is one line below, and shows up in all of them (tests/unit/records_test
// walks the same lists to check that it does).
//
// A description is a function template over a visitor and the record, const or not:
//
//   template <class F, class R> void describe(F& f, R& r)  // R = T or const T
//
// calling f(key, member, meta) for each field. `key` is the field's JSON key. `meta` says
// what the consumers need beyond the value's type: which forms carry the field, its Lua
// name when that differs, which value means "none" (views leave it out), and how /metrics
// exports it. A member of another described type (a pool's counters) or a vector of one
// (a pool's workers) is walked in turn by the visitor. Enums go by name (EnumNames).
//
// Header-only and pure: no JSON, no Lua; the visitors live with their consumers.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "api/autoscale_view.h"
#include "api/history.h"
#include "autoscale/process_sampler.h"
#include "engine/events.h"
#include "engine/snapshot.h"
#include "jobs/job_store.h"

namespace drover::records {

// Which forms carry a field.
enum In : uint8_t {
  kWire = 1,  // the lossless JSON (what a remote shell reads back into the same struct)
  kView = 2,  // what people and scripts read: Lua tables, the JSON views
  kAll = kWire | kView,
};

// Which value means "none": views leave such a field out. An unset std::optional is
// always none; kEmpty is for strings.
enum class None : uint8_t { kNever, kEmpty, kNegative, kNotPositive };

// What the lossless JSON does with a none value: writes it as it is, as null, or leaves
// the key out. A reader takes null (and absence) for a none field as "keep the default".
enum class WireNone : uint8_t { kValue, kNull, kOmit };

// kHistogram: a RunHistogram field, exported as NAME_bucket{le=...}, NAME_sum, NAME_count.
enum class MetricKind : uint8_t { kGauge, kCounter, kHistogram };

// How /metrics exports a field. Fields that share a name are one family, each adding its
// label (kind="ok"); a pool's fields get pool="name" as well.
struct Metric {
  const char* name = nullptr;  // nullptr: not exported
  MetricKind kind = MetricKind::kGauge;
  const char* help = "";
  const char* label = nullptr;  // `kind="ok"`
  int digits = -1;              // a double's fixed-point digits; -1: shortest form
};

struct Meta {
  uint8_t in = kAll;
  const char* lua = nullptr;  // the Lua name when it is not the key
  None none = None::kNever;
  WireNone wire_none = WireNone::kValue;
  bool quantity = false;  // Lua: a double that is whole is pushed as an integer (640, not 640.0)
  bool flat = false;      // Lua: a nested record's fields join the parent table
  bool signal = false;    // an int that is a signal: JSON by name ("TERM"), read by name or number
  bool redact = false;    // a URL whose password the JSON writes as "***" (it reaches every client)
  bool json_text = false; // a string holding JSON text (a job's args): JSON carries the value
                          // itself, read back from any value; Lua gets the value it holds
  bool required = false;  // a reader refuses the record without it ("kind: missing")
  Metric metric{};
};

inline const char* lua_name(const char* key, const Meta& m) { return m.lua ? m.lua : key; }

// Whether v is "none" under m.
template <typename T>
bool is_none(const T& v, const Meta& m) {
  using V = std::remove_cvref_t<T>;
  if constexpr (requires { v.has_value(); }) return !v.has_value();
  else if constexpr (requires { v.enabled(); }) return m.none == None::kEmpty && !v.enabled();  // a BusyRegistry
  else if constexpr (std::is_same_v<V, std::string>) return m.none == None::kEmpty && v.empty();
  else if constexpr (std::is_arithmetic_v<V> && !std::is_same_v<V, bool>) {
    if (m.none == None::kNegative) return v < 0;
    if (m.none == None::kNotPositive) return v <= 0;
    return false;
  } else return false;
}

// ---- enums by name ------------------------------------------------------------------

template <typename E>
struct EnumNames;  // static name(E), from_name(string_view) -> optional<E>, kWhat

template <>
struct EnumNames<SlotState> {
  static constexpr std::array kAll = {SlotState::kStarting, SlotState::kRunning,  SlotState::kBackoff,
                                      SlotState::kFlapping, SlotState::kGaveUp,   SlotState::kStopping,
                                      SlotState::kStalled};
  static constexpr const char* kWhat = "a slot state";
  static const char* name(SlotState s) { return slot_state_name(s); }
  static std::optional<SlotState> from_name(std::string_view n) {
    for (SlotState s : kAll)
      if (n == slot_state_name(s)) return s;
    return std::nullopt;
  }
};

template <>
struct EnumNames<JobMode> {
  static constexpr std::array kAll = {JobMode::kExec, JobMode::kWorker};
  static constexpr const char* kWhat = "\"exec\" or \"worker\"";
  static const char* name(JobMode m) { return job_mode_name(m); }
  static std::optional<JobMode> from_name(std::string_view n) { return job_mode_from_name(std::string(n)); }
};

template <>
struct EnumNames<StopTo> {
  static constexpr std::array kAll = {StopTo::kAuto, StopTo::kProcess, StopTo::kGroup};
  static constexpr const char* kWhat = "\"auto\", \"process\" or \"group\"";
  static const char* name(StopTo to) { return stop_to_name(to); }
  static std::optional<StopTo> from_name(std::string_view n) { return stop_to_from_name(std::string(n)); }
};

template <>
struct EnumNames<LogStream> {
  static constexpr std::array kAll = {LogStream::kStdout, LogStream::kStderr, LogStream::kEngine};
  static constexpr const char* kWhat = "stdout, stderr or engine";
  static const char* name(LogStream s) {
    return s == LogStream::kStdout ? "stdout" : s == LogStream::kStderr ? "stderr" : "engine";
  }
  static std::optional<LogStream> from_name(std::string_view n) {
    for (LogStream s : kAll)
      if (n == name(s)) return s;
    return std::nullopt;
  }
};

template <>
struct EnumNames<EventKind> {
  static constexpr const char* kWhat = "an event kind";
  static const char* name(EventKind k) { return event_kind_name(k); }
  static std::optional<EventKind> from_name(std::string_view n) {
    // The enum is dense from kWorkerSpawned to kLastEventKind; event_kind_name says "?" past it.
    for (int k = 0; k <= static_cast<int>(kLastEventKind); ++k)
      if (n == event_kind_name(static_cast<EventKind>(k))) return static_cast<EventKind>(k);
    return std::nullopt;
  }
};

template <>
struct EnumNames<jobs::JobState> {
  static constexpr std::array kAll = {jobs::JobState::kQueued, jobs::JobState::kRunning, jobs::JobState::kDone,
                                      jobs::JobState::kFailed, jobs::JobState::kDead,    jobs::JobState::kCancelled};
  static constexpr const char* kWhat = "a job state (queued, running, done, failed, dead, cancelled)";
  static const char* name(jobs::JobState s) { return jobs::job_state_name(s); }
  static std::optional<jobs::JobState> from_name(std::string_view n) { return jobs::job_state_from_name(std::string(n)); }
};

template <>
struct EnumNames<jobs::MissedPolicy> {
  static constexpr std::array kAll = {jobs::MissedPolicy::kSkip, jobs::MissedPolicy::kOne, jobs::MissedPolicy::kAll};
  static constexpr const char* kWhat = "a missed policy (skip, one, all)";
  static const char* name(jobs::MissedPolicy p) { return jobs::missed_policy_name(p); }
  static std::optional<jobs::MissedPolicy> from_name(std::string_view n) {
    return jobs::missed_policy_from_name(std::string(n));
  }
};

template <typename T>
concept NamedEnum = std::is_enum_v<std::remove_cv_t<T>> && requires { EnumNames<std::remove_cv_t<T>>::kWhat; };

// ---- the records ----------------------------------------------------------------------

template <typename R, typename T>
concept Rec = std::is_same_v<std::remove_const_t<R>, T>;

// A pool's spec, as a snapshot carries it (the config's own form is shell/lua/config_loader).
template <class F, Rec<BackoffPolicy> R>
void describe(F& f, R& b) {
  f("initial", b.initial_s);
  f("max", b.max_s);
  f("factor", b.factor);
  f("reset_after", b.reset_after_s);
}

template <class F, Rec<FlapPolicy> R>
void describe(F& f, R& fl) {
  f("max_exits", fl.max_exits);
  f("window", fl.window_s);
  f("cooldown", fl.cooldown_s);
  f("give_up_after", fl.give_up_after);
}

template <class F, Rec<HeartbeatPolicy> R>
void describe(F& f, R& h) {
  f("timeout", h.timeout_s);
  f("require", h.require);
}

template <class F, Rec<BusyRegistry> R>
void describe(F& f, R& b) {
  f("layout", b.layout);
  f("url", b.url, {.redact = true});
  f("namespace", b.ns);
  f("timeout", b.timeout_s);
}

template <class F, Rec<PoolSpec> R>
void describe(F& f, R& s) {
  f("name", s.name);
  f("argv", s.argv);
  f("n", s.n);
  f("cwd", s.cwd);
  f("env", s.env);
  f("queue", s.queue);
  f("stop_signal", s.stop_signal, {.signal = true});
  f("stop_to", s.stop_to);
  f("grace", s.grace_s);
  f("backoff", s.backoff);
  f("flap", s.flap);
  f("heartbeat", s.heartbeat);
  f("busy_registry", s.busy_registry, {.none = None::kEmpty, .wire_none = WireNone::kOmit});  // none: no layout
  f("autostart", s.autostart);
  f("jobs", s.jobs);  // the pool runs jobs of its topic from drover's queue
  f("job_mode", s.job_mode);
  f("job_prefetch", s.job_prefetch);
}

// A job of drover's own queue (jobs/job.h): GET /api/v1/jobs/ID, jobs.get(id).
template <class F, Rec<jobs::Job> R>
void describe(F& f, R& j) {
  f("id", j.id);
  f("topic", j.topic);
  f("args", j.args, {.json_text = true});
  f("priority", j.priority);
  f("state", j.state);
  f("run_at_ms", j.run_at_ms);
  f("attempt", j.attempt);
  f("max_attempts", j.max_attempts);
  f("timeout", j.timeout_s, {.quantity = true});
  f("key", j.key, {.none = None::kEmpty});
  f("created_ms", j.created_ms);
  f("started_ms", j.started_ms, {.none = None::kNotPositive});
  f("finished_ms", j.finished_ms, {.none = None::kNotPositive});
  f("host", j.host, {.none = None::kEmpty});
  f("worker", j.worker, {.none = None::kEmpty});
  f("result", j.result, {.none = None::kEmpty});
  f("error", j.error, {.none = None::kEmpty});
  f("parent", j.parent, {.none = None::kNotPositive});      // a fan-out's child
  f("children", j.children, {.none = None::kNotPositive});  // a fan-out's parent: how many
}

// One topic's counts (GET /api/v1/topics, jobs.stats()).
template <class F, Rec<jobs::TopicStats> R>
void describe(F& f, R& t) {
  f("topic", t.topic);
  f("queued", t.queued);
  f("scheduled", t.scheduled);
  f("running", t.running);
  f("done", t.done);
  f("failed", t.failed);
  f("dead", t.dead);
  f("cancelled", t.cancelled);
  f("oldest_age", t.oldest_age_s, {.quantity = true});
  // taskqueue's counts (help/jobs.md), since drover started.
  f("enqueued", t.enqueued);
  f("started", t.started);
  f("retried", t.retried);
  f("completed", t.completed);
}

// A schedule (jobs/schedule.h) with what became of its ticks: GET /api/v1/schedules,
// schedules(). One flat record: the definition's fields, then the runtime's.
template <class F, Rec<jobs::ScheduleState> R>
void describe(F& f, R& s) {
  f("name", s.schedule.name, {.required = true});
  f("cron", s.schedule.cron, {.none = None::kEmpty});
  f("every", s.schedule.every, {.none = None::kEmpty});
  f("tz", s.schedule.tz, {.none = None::kEmpty});
  f("topic", s.schedule.topic);
  f("args", s.schedule.args, {.json_text = true});
  f("priority", s.schedule.priority);
  f("attempts", s.schedule.max_attempts);
  f("timeout", s.schedule.timeout_s, {.quantity = true});
  f("missed", s.schedule.missed);
  f("overlap", s.schedule.overlap);
  f("enabled", s.schedule.enabled);
  f("created_ms", s.created_ms);
  f("last_tick_ms", s.last_tick_ms);
  f("next_ms", s.next_ms, {.none = None::kNotPositive});
  f("last_run_ms", s.last_run_ms, {.none = None::kNotPositive});
  f("last_job", s.last_job, {.none = None::kNotPositive});
  f("outcome", s.outcome, {.none = None::kEmpty});
  f("runs", s.runs);
  f("skipped", s.skipped);
  f("note", s.note, {.none = None::kEmpty});
}

// One host of a shared job store's fleet (GET /api/v1/fleet, fleet()).
template <class F, Rec<jobs::HostRecord> R>
void describe(F& f, R& h) {
  f("name", h.name);
  f("pid", h.pid);
  f("http", h.http, {.none = None::kEmpty});
  f("started_ms", h.started_ms);
  f("lease_until_ms", h.lease_until_ms);
  f("pools", h.pools);  // JSON text: [{"name", "size", "running"}], as the host last renewed
  f("running_jobs", h.running_jobs);
}

template <class F, Rec<RunHistogram> R>
void describe(F& f, R& h) {
  f("bounds", h.bounds);  // seconds, upper bounds
  f("counts", h.counts);  // runs per bucket, not cumulative; one more for past the last bound
  f("sum", h.sum);
  f("count", h.count);
}

// One topic of drover's own queue in a snapshot (jobs/topic_counters.h): status().jobs,
// /metrics. The store's counts as of its latest refresh (at most a second old), and totals
// since drover started.
template <class F, Rec<TopicGauge> R>
void describe(F& f, R& t) {
  constexpr const char* kState = "Jobs in the store by state, as of its latest refresh (at most a second old)";
  constexpr auto kCounter = MetricKind::kCounter;
  auto state = [kState](const char* label) { return Metric{"drover_jobs", MetricKind::kGauge, kState, label}; };
  f("topic", t.topic);
  f("queued", t.queued, {.metric = state("state=\"queued\"")});
  f("scheduled", t.scheduled, {.metric = state("state=\"scheduled\"")});
  f("running", t.running, {.metric = state("state=\"running\"")});
  f("retrying", t.retrying, {.metric = state("state=\"retrying\"")});
  f("dead", t.dead, {.metric = state("state=\"dead\"")});
  f("oldest_age", t.oldest_age_s,
    {.quantity = true,
     .metric = {"drover_jobs_oldest_age_seconds", MetricKind::kGauge,
                "How long the topic's oldest due job has waited (0: none waits)", nullptr, 3}});
  f("enqueued_total", t.enqueued_total,
    {.metric = {"drover_jobs_enqueued_total", kCounter, "Jobs enqueued since drover started (a key's repeat too)"}});
  f("started_total", t.started_total, {.metric = {"drover_jobs_started_total", kCounter, "Attempts started"}});
  f("done_total", t.done_total, {.metric = {"drover_jobs_done_total", kCounter, "Attempts that succeeded"}});
  f("failed_total", t.failed_total,
    {.metric = {"drover_jobs_failed_total", kCounter, "Attempts that failed, to be retried or dead"}});
  f("dead_total", t.dead_total, {.metric = {"drover_jobs_dead_total", kCounter, "Jobs out of attempts"}});
  f("cancelled_total", t.cancelled_total, {.metric = {"drover_jobs_cancelled_total", kCounter, "Jobs cancelled"}});
  f("run_time", t.run_time,
    {.metric = {"drover_job_run_seconds", MetricKind::kHistogram,
                "How long attempts ran that came to an end (done or failed)"}});
}

template <class F, Rec<PoolCounters> R>
void describe(F& f, R& c) {
  constexpr const char* kExits = "Worker exits since the engine started, by kind";
  constexpr auto kCounter = MetricKind::kCounter;
  f("started", c.started, {.metric = {"drover_pool_started_total", kCounter, "Workers started"}});
  f("exits_ok", c.exited_ok, {.metric = {"drover_pool_exits_total", kCounter, kExits, "kind=\"ok\""}});
  f("exits_bad", c.exited_bad, {.metric = {"drover_pool_exits_total", kCounter, kExits, "kind=\"bad\""}});
  f("spawn_failures", c.spawn_failures,
    {.metric = {"drover_pool_spawn_failures_total", kCounter, "Spawns that failed (command not found, ...)"}});
  f("killed", c.killed_after_grace, {.metric = {"drover_pool_exits_total", kCounter, kExits, "kind=\"killed\""}});
  f("restarts", c.restarts, {.metric = {"drover_pool_restarts_total", kCounter, "Exited workers replaced"}});
  f("stalls", c.stalls, {.metric = {"drover_pool_stalls_total", kCounter, "Workers stopped for missing heartbeats"}});
}

template <class F, Rec<QueueGauge> R>
void describe(F& f, R& q) {
  // In a pool's Lua table: queue, inflight. Absent from /metrics while unknown (no probe,
  // or Redis down), never a made-up 0.
  f("depth", q.depth,
    {.lua = "queue", .quantity = true,
     .metric = {"drover_pool_queue_depth", MetricKind::kGauge,
                "Jobs waiting in the pool's queue, as its autoscale probe last read it"}});
  f("inflight", q.inflight,
    {.quantity = true,
     .metric = {"drover_pool_queue_inflight", MetricKind::kGauge,
                "Jobs of the pool's queue being worked on, by the queue's own count"}});
  f("read_at_ms", q.read_at_ms, {.in = kWire});
}

template <class F, Rec<WorkerSnapshot> R>
void describe(F& f, R& w) {
  f("slot", w.slot);
  f("pid", w.pid);
  f("state", w.state);
  f("started_at_ms", w.started_at_ms, {.in = kWire});
  f("uptime", w.uptime_s);
  f("retry_in", w.retry_in_s, {.none = None::kNotPositive});
  f("restarts", w.restarts);
  f("last_exit", w.last_exit);
  f("generation", w.generation, {.in = kWire});
  f("heartbeats", w.heartbeats);
  f("last_heartbeat_ms", w.last_heartbeat_ms, {.in = kWire});
  f("heartbeat_age", w.heartbeat_age_s, {.none = None::kNegative});
  f("busy", w.busy);
  f("busy_from", w.busy_from, {.none = None::kEmpty});  // set with busy: "heartbeat", "rq", ...
  f("progress", w.progress);
  f("status", w.status, {.none = None::kEmpty});
  f("cgroup", w.cgroup, {.in = kWire});
}

template <class F, Rec<PoolSnapshot> R>
void describe(F& f, R& p) {
  auto gauge = [](const char* name, const char* help) { return Metric{name, MetricKind::kGauge, help}; };
  f("spec", p.spec, {.in = kWire});
  // The spec's fields a person looks for first, in the views (the wire has them in spec).
  f("name", p.spec.name, {.in = kView});
  f("n", p.spec.n, {.in = kView});
  f("cmd", p.spec.argv, {.in = kView});
  f("enabled", p.enabled);
  f("target", p.target, {.metric = gauge("drover_pool_target", "Workers the pool should have")});
  f("starting", p.starting);
  f("running", p.running, {.metric = gauge("drover_pool_running", "Workers running")});
  f("stopping", p.stopping, {.metric = gauge("drover_pool_stopping", "Workers being stopped")});
  f("backoff", p.backoff, {.metric = gauge("drover_pool_backoff", "Slots waiting out a restart delay")});
  f("flapping", p.flapping, {.metric = gauge("drover_pool_flapping", "Slots held for flapping (or given up)")});
  f("stalled", p.stalled,
    {.metric = gauge("drover_pool_stalled", "Workers being stopped for missing heartbeats")});
  f("busy", p.busy, {.metric = gauge("drover_pool_busy", "Running workers whose last heartbeat said busy")});
  f("idle", p.idle, {.metric = gauge("drover_pool_idle", "Running workers whose last heartbeat said idle")});
  f("rolling", p.rolling);
  f("removing", p.removing);
  f("queue", p.queue, {.flat = true});
  f("counters", p.counters, {.flat = true});
  f("workers", p.workers);
}

template <class F, Rec<HeartbeatStats> R>
void describe(F& f, R& h) {
  constexpr const char* kHelp = "Heartbeat messages received, by what became of them";
  constexpr auto kCounter = MetricKind::kCounter;
  f("endpoints", h.endpoints);
  f("worker_endpoint", h.worker_endpoint, {.lua = "endpoint"});  // what workers get in DROVER_HEARTBEAT
  f("received", h.received);  // = accepted + malformed + oversized + unknown_pid
  f("accepted", h.accepted, {.metric = {"drover_heartbeats_total", kCounter, kHelp, "result=\"accepted\""}});
  f("malformed", h.malformed, {.metric = {"drover_heartbeats_total", kCounter, kHelp, "result=\"malformed\""}});
  f("oversized", h.oversized, {.metric = {"drover_heartbeats_total", kCounter, kHelp, "result=\"oversized\""}});
  f("unknown_pid", h.unknown_pid,
    {.metric = {"drover_heartbeats_total", kCounter, kHelp, "result=\"unknown_pid\""}});
}

template <class F, Rec<EngineSnapshot> R>
void describe(F& f, R& s) {
  f("pid", s.pid);
  f("uptime", s.uptime_s,
    {.metric = {"drover_uptime_seconds", MetricKind::kGauge, "Seconds since the engine started", nullptr, 3}});
  f("shutting_down", s.shutting_down);
  f("log_path", s.log_path);
  f("containment", s.containment);  // "cgroup <dir>", "subreaper ...", "group ..."
  f("log_write_errors", s.log_write_errors,
    {.metric = {"drover_log_write_errors_total", MetricKind::kCounter,
                "Failed writes to the log file (each drops a batch)"}});
  f("log_lines_lost", s.log_lines_lost,
    {.metric = {"drover_log_lines_lost_total", MetricKind::kCounter,
                "Lines the log file did not take (a full disk, a removed file); 0 without --log"}});
  f("log_error", s.log_error);
  f("loop_iterations", s.loop_iterations);
  // The engine loop's lag, as this snapshot's request saw it: its wait in the inbox, and
  // the longest single wake-up of the loop since the previous snapshot (by anyone).
  f("loop_lag", s.loop_lag_s,
    {.metric = {"drover_engine_loop_lag_seconds", MetricKind::kGauge,
                "How long this scrape's request waited for the engine loop", nullptr, 6}});
  f("loop_busy_max", s.loop_busy_max_s,
    {.metric = {"drover_engine_loop_busy_max_seconds", MetricKind::kGauge,
                "The engine loop's longest single wake-up since the previous snapshot", nullptr, 6}});
  f("subscribers", s.subscribers);
  f("heartbeat", s.heartbeat);
  f("pools", s.pools);  // Lua: a table by pool name
  f("jobs", s.jobs);    // Lua: a table by topic; empty without a job queue
}

// What a pool's processes use, sampled at a /metrics scrape (autoscale/process_sampler.h).
// Gauges, not counters: cpu is a rate over the time since the previous scrape (by any
// scraper); a cpu_seconds_total would have to stay monotonic across worker restarts,
// which per-process /proc times do not.
template <class F, Rec<ProcessTotals> R>
void describe(F& f, R& t) {
  f("cpu", t.cpu,
    {.metric = {"drover_pool_cpu_cores", MetricKind::kGauge,
                "CPU used by the pool's workers and their descendants since the previous scrape, in cores", nullptr,
                6}});
  f("rss_bytes", t.rss_bytes,
    {.metric = {"drover_pool_rss_bytes", MetricKind::kGauge,
                "Resident memory of the pool's workers and their descendants (shared pages counted in each)"}});
  f("processes", t.processes,
    {.metric = {"drover_pool_processes", MetricKind::kGauge, "The pool's workers and their descendants alive"}});
}

// A line of worker (or engine) output, as the log follow and log tail send it.
template <class F, Rec<LogLine> R>
void describe(F& f, R& l) {
  f("time_ms", l.wall_ms);
  f("pool", l.pool);  // empty for the engine's own lines
  f("slot", l.slot);
  f("pid", l.pid);
  f("stream", l.stream);
  f("text", l.text);
}

// An engine event, as the event stream sends it.
template <class F, Rec<Event> R>
void describe(F& f, R& e) {
  f("kind", e.kind, {.required = true});  // no default would be true
  f("time_ms", e.wall_ms);
  f("pool", e.pool);
  f("slot", e.slot);
  f("pid", e.pid);
  f("text", e.text);
}

template <class F, Rec<AutoscaleInfo> R>
void describe(F& f, R& i) {
  constexpr WireNone kOmit = WireNone::kOmit;
  f("pool", i.pool);
  f("every", i.every_s, {.quantity = true});
  f("min", i.limits.min);
  f("max", i.limits.max);
  f("cooldown", i.limits.cooldown_s, {.quantity = true});
  f("enabled", i.enabled);
  f("suspended", i.suspended);
  f("errors", i.errors_in_row);
  f("last_error", i.last_error, {.none = None::kEmpty, .wire_none = kOmit});
  f("queue", i.queue, {.quantity = true});  // the latest depth
  f("probe", i.probe, {.none = None::kEmpty, .wire_none = kOmit});
  f("recommended", i.last_recommended, {.none = None::kNegative, .wire_none = WireNone::kNull});  // not run yet
  f("last_reason", i.last_reason, {.none = None::kEmpty, .wire_none = kOmit});
  f("last_run", i.last_run_wall_s, {.none = None::kNotPositive});
  f("runs", i.runs);
  f("changes", i.changes);
  f("overruns", i.overruns);
  f("script", i.owner, {.none = None::kEmpty, .wire_none = kOmit});  // the file that defined it
}

template <class F, Rec<AutoscaleView> R>
void describe(F& f, R& v) {
  f("policies", v.policies);
  f("budget", v.budget, {.none = None::kNotPositive, .wire_none = WireNone::kNull});
  f("timers", v.timers);
}

// The history ring's reads (api/history.h): GET /api/v1/history, history(). Columns, one
// value a point; NaN (JSON null) where a series had none.
template <class F, Rec<PoolHistory> R>
void describe(F& f, R& p) {
  f("pool", p.pool);
  f("target", p.target);
  f("running", p.running);
  f("busy", p.busy);
  f("restarts", p.restarts);  // in that second
  f("queue", p.queue);
  f("cpu", p.cpu);              // cores
  f("rss_bytes", p.rss_bytes);  // resident bytes of the workers and their descendants
}

template <class F, Rec<TopicHistory> R>
void describe(F& f, R& t) {
  f("topic", t.topic);
  f("queued", t.queued);
  f("running", t.running);
  f("oldest_age", t.oldest_age_s);
  f("done", t.done);  // per second
  f("failed", t.failed);
  f("run_p50", t.run_p50_s);  // seconds, of the runs that ended that second
  f("run_p95", t.run_p95_s);
}

template <class F, Rec<History> R>
void describe(F& f, R& h) {
  f("step", h.step_s);
  f("t_ms", h.t_ms);
  f("pools", h.pools);
  f("topics", h.topics);
  f("dropped", h.dropped);
}

// A type with a description (describe(f, t) above).
struct NoVisitor {
  template <typename T>
  void operator()(const char*, T&, const Meta& = {}) {}
};
template <typename T>
concept Described = requires(NoVisitor& f, T& t) { describe(f, t); };

template <typename T>
struct IsVector : std::false_type {};
template <typename T, typename A>
struct IsVector<std::vector<T, A>> : std::true_type {
  using Item = T;
};
// A vector of described records (a pool's workers).
template <typename T>
concept DescribedVector = IsVector<T>::value && Described<typename IsVector<T>::Item>;

}  // namespace drover::records
