// Supervisor, the heartbeat part: what a keep-alive (or its absence) does to pool state.
//
// A message is matched to a live worker by pid (or to a worker that the pid descends
// from: `sh -c` lines, wrappers) and by pool name; it updates that slot's record. Stall
// detection is one timer per worker, armed at the deadline its last heartbeat (or its
// start, with `require`) implies. A heartbeat does not touch the timer; the timer, when
// it fires, re-arms itself at the deadline of the latest heartbeat, or stalls the worker.
// So ingest costs a hash lookup and a few stores per message, whatever the rate.
#include <algorithm>
#include <fstream>

#include <fmt/format.h>

#include "engine/supervisor.h"
#include "engine/proc_stat.h"

namespace drover {

namespace {

constexpr size_t kDrainBudget = 2048;           // messages per wake-up before other work
// Heartbeats are not urgent: one that arrives waits this long for others to share its
// wake-up. 1000 workers beating once a second then cost 20 wake-ups a second, not 1000
// (each ~10 us here, where the message itself costs ~1 us). A stall timer takes what is
// waiting before it judges, so no worker is stalled for a heartbeat still in the queue.
constexpr Duration kCoalesce = std::chrono::milliseconds(50);
constexpr int kMaxAncestry = 16;                // levels walked up from a stranger's pid
constexpr Duration kStrangerRetry = std::chrono::seconds(1);
constexpr size_t kMaxStrangers = 4096;
constexpr Duration kWarnEvery = std::chrono::seconds(10);

// The parent of pid; 0 when pid is gone.
pid_t parent_of(pid_t pid) {
  const auto st = read_proc_stat(pid);
  return st ? st->ppid : 0;
}

}  // namespace

void Supervisor::open_heartbeats() {
  if (!options_.heartbeats) return;
  std::vector<std::string> endpoints = options_.heartbeat_endpoints;
  if (endpoints.empty()) endpoints.push_back("");
  const bool needs_dir = !options_.runtime_dir.empty() || std::count(endpoints.begin(), endpoints.end(), "");
  if (needs_dir) {
    auto dir = RuntimeDir::create(options_.runtime_dir);
    if (!dir) throw std::runtime_error(dir.error().message());
    runtime_dir_ = std::move(*dir);
  }
  for (auto& ep : endpoints)
    if (ep.empty()) ep = "ipc://" + runtime_dir_->file("heartbeat");
  auto receiver = HeartbeatReceiver::open(endpoints);
  if (!receiver) throw std::runtime_error(receiver.error().message());
  heartbeats_ = std::move(*receiver);
  hb_stats_.endpoints = heartbeats_->endpoints();
  hb_stats_.worker_endpoint = hb_stats_.endpoints.front();
  loop_.watch(heartbeats_->fd(), [this](uint32_t) { on_heartbeat_readable(); });
}

void Supervisor::on_heartbeat_readable() {
  // Stop listening (the fd stays readable until drained) and come back in kCoalesce,
  // unless a drain is already due.
  loop_.unwatch(heartbeats_->fd());
  if (hb_resume_timer_) return;
  hb_resume_timer_ = loop_.add_timer_after(kCoalesce, [this] {
    hb_resume_timer_ = 0;
    drain_heartbeats();
  });
}

void Supervisor::drain_heartbeats() {
  if (hb_resume_timer_) {
    loop_.cancel_timer(hb_resume_timer_);  // taken now, from a stall timer
    hb_resume_timer_ = 0;
  }
  bool more = heartbeats_->drain(kDrainBudget, [this](std::span<const std::string_view> frames, bool more_frames) {
    on_heartbeat_message(frames, more_frames);
  });
  if (more) {
    // Stopped at the budget (a flood): the rest after this iteration's other work.
    loop_.unwatch(heartbeats_->fd());  // (watched still when a stall timer drained)
    hb_resume_timer_ = loop_.add_timer_after(Duration::zero(), [this] {
      hb_resume_timer_ = 0;
      drain_heartbeats();
    });
    return;
  }
  loop_.watch(heartbeats_->fd(), [this](uint32_t) { on_heartbeat_readable(); });
}

void Supervisor::on_heartbeat_message(std::span<const std::string_view> frames, bool more_frames) {
  ++hb_stats_.received;
  if (more_frames) return heartbeat_ignored(&HeartbeatStats::malformed, "more than 2 frames");
  ParsedHeartbeat parsed = parse_heartbeat(frames);
  switch (parsed.fault) {
    case HeartbeatFault::kNone: break;
    case HeartbeatFault::kOversized:
      return heartbeat_ignored(&HeartbeatStats::oversized, heartbeat_fault_text(parsed.fault));
    default:
      return heartbeat_ignored(&HeartbeatStats::malformed, heartbeat_fault_text(parsed.fault));
  }
  Heartbeat& hb = parsed.beat;
  Pool* pool = nullptr;
  Slot* slot = heartbeat_sender(hb.pid, hb.pool, &pool);
  if (!slot)
    return heartbeat_ignored(&HeartbeatStats::unknown_pid,
                             fmt::format("pid {} is not a live worker of pool \"{}\"", hb.pid, hb.pool));
  ++hb_stats_.accepted;
  ++slot->heartbeats;
  slot->last_heartbeat = clock_.now();
  slot->last_heartbeat_wall_ms = clock_.wall_ms();
  if (hb.status) slot->status = std::move(*hb.status);
  if (hb.busy) slot->busy = hb.busy;
  if (hb.progress) slot->progress = hb.progress;
  if (!slot->stall_timer) arm_stall_timer(*pool, *slot);
}

Slot* Supervisor::heartbeat_sender(pid_t pid, const std::string& pool_name, Pool** pool) {
  Pool* owner = nullptr;
  Slot* slot = worker_of(pid, &owner);
  if (!slot || owner->spec.name != pool_name) return nullptr;
  *pool = owner;
  return slot;
}

Slot* Supervisor::worker_of(pid_t pid, Pool** pool) {
  auto found = [&](pid_t worker) -> Slot* {
    const auto& [p, s] = by_pid_.at(worker);
    *pool = p;
    return s;
  };
  if (by_pid_.count(pid)) return found(pid);
  if (auto d = hb_descendants_.find(pid); d != hb_descendants_.end()) {
    if (by_pid_.count(d->second)) return found(d->second);
    hb_descendants_.erase(d);  // its worker is gone; the pid may be anyone's now
  }
  const TimePoint now = clock_.now();
  if (auto s = hb_strangers_.find(pid); s != hb_strangers_.end() && now < s->second) return nullptr;
  // A descendant of a worker (a `sh -c` line, a wrapper script): walk up its parents.
  pid_t p = pid;
  for (int i = 0; i < kMaxAncestry && p > 1; ++i) {
    p = parent_of(p);
    if (by_pid_.count(p)) {
      hb_descendants_[pid] = p;
      hb_strangers_.erase(pid);
      return found(p);
    }
  }
  if (hb_strangers_.size() >= kMaxStrangers) hb_strangers_.clear();
  hb_strangers_[pid] = now + kStrangerRetry;
  return nullptr;
}

void Supervisor::forget_pid(pid_t pid) {
  by_pid_.erase(pid);
  std::erase_if(hb_descendants_, [pid](const auto& kv) { return kv.second == pid; });
}

void Supervisor::heartbeat_ignored(uint64_t HeartbeatStats::*counter, const std::string& why) {
  ++(hb_stats_.*counter);
  // One line per kWarnEvery at most: a garbage flood must not become a log flood.
  const TimePoint now = clock_.now();
  if (hb_warned_at_ != TimePoint{} && now - hb_warned_at_ < kWarnEvery) {
    ++hb_ignored_quiet_;
    return;
  }
  std::string quiet = hb_ignored_quiet_ ? fmt::format(" ({} more ignored since the last such line)", hb_ignored_quiet_) : "";
  emit_engine_line(fmt::format("heartbeat ignored: {}{}; counted in heartbeat(), logged at most every {}s", why,
                               quiet, std::chrono::duration_cast<std::chrono::seconds>(kWarnEvery).count()));
  hb_warned_at_ = now;
  hb_ignored_quiet_ = 0;
}

// ---- stalls -------------------------------------------------------------------------

void Supervisor::arm_stall_timer(Pool& pool, Slot& slot) {
  const HeartbeatPolicy& policy = pool.spec.heartbeat;
  if (policy.timeout_s <= 0 || slot.stall_timer || slot.phase != Slot::Phase::kRunning) return;
  TimePoint base;
  if (slot.heartbeats > 0)
    base = slot.last_heartbeat;
  else if (policy.require)
    base = slot.silent_since;
  else
    return;  // judged only once it has spoken
  Pool* p = &pool;
  Slot* s = &slot;
  slot.stall_timer = loop_.add_timer(base + seconds_f(policy.timeout_s), [this, p, s] {
    s->stall_timer = 0;
    on_stall_timer(*p, *s);
  });
}

void Supervisor::on_stall_timer(Pool& pool, Slot& slot) {
  const HeartbeatPolicy& policy = pool.spec.heartbeat;
  if (policy.timeout_s <= 0 || slot.phase != Slot::Phase::kRunning || !slot.has_process()) return;
  // What is waiting in the socket may be this worker's heartbeat: take it before judging.
  // (Processing it can re-arm this very timer through arm_stall_timer; then it is alive.)
  if (heartbeats_) drain_heartbeats();
  if (slot.stall_timer) return;
  const TimePoint base = slot.heartbeats > 0 ? slot.last_heartbeat : slot.silent_since;
  const Duration silent = clock_.now() - base;
  if (silent < seconds_f(policy.timeout_s)) {
    arm_stall_timer(pool, slot);  // it spoke since: wait for the new deadline
    return;
  }
  slot.stalled = true;
  ++pool.counters.stalls;
  emit_event(EventKind::kWorkerStalled, &pool, slot.index, slot.pid,
             slot.heartbeats > 0 ? fmt::format("no heartbeat for {:.1f}s (timeout {}s)", to_seconds(silent), policy.timeout_s)
                                 : fmt::format("no first heartbeat within {}s of its start", policy.timeout_s));
  stop_slot(pool, slot, Slot::Phase::kStalled);
  mark_dirty(pool);
}

void Supervisor::cancel_stall_timer(Slot& slot) {
  if (slot.stall_timer) loop_.cancel_timer(slot.stall_timer);
  slot.stall_timer = 0;
}

void Supervisor::rearm_stall_timers(Pool& pool) {
  // A new policy applies from now: a worker that never spoke gets a full timeout under a
  // new `require`, rather than being stalled at once for silence nobody asked of it.
  const TimePoint now = clock_.now();
  for (auto& [idx, slot] : pool.slots) {
    cancel_stall_timer(*slot);
    if (slot->phase != Slot::Phase::kRunning) continue;
    if (slot->heartbeats == 0) slot->silent_since = now;
    arm_stall_timer(pool, *slot);
  }
}

}  // namespace drover
