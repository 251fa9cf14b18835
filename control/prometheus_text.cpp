#include "control/prometheus_text.h"

#include <fmt/format.h>

namespace drover {

namespace {

// Label values escape backslash, double quote and newline.
std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void family(std::string& out, const char* name, const char* type, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

std::string prometheus_text(const EngineSnapshot& snap, const std::map<std::string, ProcessTotals>& usage) {
  std::string out;
  family(out, "drover_up", "gauge", "1 while the engine runs; 0 once it is shutting down");
  out += fmt::format("drover_up {}\n", snap.shutting_down ? 0 : 1);
  family(out, "drover_log_lines_lost_total", "counter",
         "Lines the log file did not take (a full disk, a removed file); 0 without --log");
  out += fmt::format("drover_log_lines_lost_total {}\n", snap.log_lines_lost);
  family(out, "drover_log_write_errors_total", "counter", "Failed writes to the log file (each drops a batch)");
  out += fmt::format("drover_log_write_errors_total {}\n", snap.log_write_errors);
  family(out, "drover_uptime_seconds", "gauge", "Seconds since the engine started");
  out += fmt::format("drover_uptime_seconds {:.3f}\n", snap.uptime_s);
  // The engine loop's lag, as this scrape saw it: its request's wait in the inbox, and
  // the longest single wake-up of the loop since the previous snapshot (by anyone).
  family(out, "drover_engine_loop_lag_seconds", "gauge",
         "How long this scrape's request waited for the engine loop");
  out += fmt::format("drover_engine_loop_lag_seconds {:.6f}\n", snap.loop_lag_s);
  family(out, "drover_engine_loop_busy_max_seconds", "gauge",
         "The engine loop's longest single wake-up since the previous snapshot");
  out += fmt::format("drover_engine_loop_busy_max_seconds {:.6f}\n", snap.loop_busy_max_s);

  struct Gauge {
    const char* name;
    const char* help;
    int PoolSnapshot::*field;
  };
  const Gauge gauges[] = {
      {"drover_pool_target", "Workers the pool should have", &PoolSnapshot::target},
      {"drover_pool_running", "Workers running", &PoolSnapshot::running},
      {"drover_pool_stopping", "Workers being stopped", &PoolSnapshot::stopping},
      {"drover_pool_backoff", "Slots waiting out a restart delay", &PoolSnapshot::backoff},
      {"drover_pool_flapping", "Slots held for flapping (or given up)", &PoolSnapshot::flapping},
      {"drover_pool_stalled", "Workers being stopped for missing heartbeats", &PoolSnapshot::stalled},
      {"drover_pool_busy", "Running workers whose last heartbeat said busy", &PoolSnapshot::busy},
      {"drover_pool_idle", "Running workers whose last heartbeat said idle", &PoolSnapshot::idle},
  };
  for (const auto& g : gauges) {
    family(out, g.name, "gauge", g.help);
    for (const auto& p : snap.pools) out += fmt::format("{}{{pool=\"{}\"}} {}\n", g.name, label(p.spec.name), p.*g.field);
  }
  family(out, "drover_pool_exits_total", "counter", "Worker exits since the engine started, by kind");
  for (const auto& p : snap.pools) {
    const std::string name = label(p.spec.name);
    out += fmt::format("drover_pool_exits_total{{pool=\"{}\",kind=\"ok\"}} {}\n", name, p.counters.exited_ok);
    out += fmt::format("drover_pool_exits_total{{pool=\"{}\",kind=\"bad\"}} {}\n", name, p.counters.exited_bad);
    out += fmt::format("drover_pool_exits_total{{pool=\"{}\",kind=\"killed\"}} {}\n", name,
                       p.counters.killed_after_grace);
  }
  struct Counter {
    const char* name;
    const char* help;
    uint64_t PoolCounters::*field;
  };
  const Counter counters[] = {
      {"drover_pool_started_total", "Workers started", &PoolCounters::started},
      {"drover_pool_restarts_total", "Exited workers replaced", &PoolCounters::restarts},
      {"drover_pool_stalls_total", "Workers stopped for missing heartbeats", &PoolCounters::stalls},
      {"drover_pool_spawn_failures_total", "Spawns that failed (command not found, ...)", &PoolCounters::spawn_failures},
  };
  for (const auto& c : counters) {
    family(out, c.name, "counter", c.help);
    for (const auto& p : snap.pools)
      out += fmt::format("{}{{pool=\"{}\"}} {}\n", c.name, label(p.spec.name), p.counters.*c.field);
  }
  // Gauges sampled at the scrape: cpu is a rate over the time since the previous scrape
  // (by any scraper). A cpu_seconds_total counter would have to stay monotonic across
  // worker restarts, which per-process /proc times do not. Fixed-point, not 1e-05:
  // the format allows exponents but not every hand-written reader does.
  family(out, "drover_pool_cpu_cores", "gauge",
         "CPU used by the pool's workers and their descendants since the previous scrape, in cores");
  for (const auto& p : snap.pools)
    if (auto u = usage.find(p.spec.name); u != usage.end())
      out += fmt::format("drover_pool_cpu_cores{{pool=\"{}\"}} {:.6f}\n", label(p.spec.name), u->second.cpu);
  family(out, "drover_pool_rss_bytes", "gauge",
         "Resident memory of the pool's workers and their descendants (shared pages counted in each)");
  for (const auto& p : snap.pools)
    if (auto u = usage.find(p.spec.name); u != usage.end())
      out += fmt::format("drover_pool_rss_bytes{{pool=\"{}\"}} {}\n", label(p.spec.name), u->second.rss_bytes);
  family(out, "drover_pool_processes", "gauge", "The pool's workers and their descendants alive");
  for (const auto& p : snap.pools)
    if (auto u = usage.find(p.spec.name); u != usage.end())
      out += fmt::format("drover_pool_processes{{pool=\"{}\"}} {}\n", label(p.spec.name), u->second.processes);
  // Queue depth as the pool's autoscale probe last read it; absent while unknown (no
  // probe, or Redis down), never a made-up 0.
  family(out, "drover_pool_queue_depth", "gauge", "Jobs waiting in the pool's queue, as its autoscale probe last read it");
  for (const auto& p : snap.pools)
    if (p.queue.depth) out += fmt::format("drover_pool_queue_depth{{pool=\"{}\"}} {:g}\n", label(p.spec.name), *p.queue.depth);
  family(out, "drover_pool_queue_inflight", "gauge", "Jobs of the pool's queue being worked on, by the queue's own count");
  for (const auto& p : snap.pools)
    if (p.queue.inflight)
      out += fmt::format("drover_pool_queue_inflight{{pool=\"{}\"}} {:g}\n", label(p.spec.name), *p.queue.inflight);
  family(out, "drover_heartbeats_total", "counter", "Heartbeat messages received, by what became of them");
  const auto& hb = snap.heartbeat;
  out += fmt::format("drover_heartbeats_total{{result=\"accepted\"}} {}\n", hb.accepted);
  out += fmt::format("drover_heartbeats_total{{result=\"malformed\"}} {}\n", hb.malformed);
  out += fmt::format("drover_heartbeats_total{{result=\"oversized\"}} {}\n", hb.oversized);
  out += fmt::format("drover_heartbeats_total{{result=\"unknown_pid\"}} {}\n", hb.unknown_pid);
  return out;
}

}  // namespace drover
