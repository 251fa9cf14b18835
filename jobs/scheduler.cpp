#include "jobs/scheduler.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <deque>

#include <fmt/format.h>

namespace drover::jobs {

namespace {

int64_t system_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::vector<PlannedTick> plan_ticks(const ScheduleState& s, const CronExpr& expr, const date::time_zone* tz,
                                    int64_t now_ms, int64_t* dropped) {
  *dropped = 0;
  std::vector<PlannedTick> out;
  if (!s.schedule.enabled) return out;
  // The due ticks, keeping only the latest kMaxCatchUp: "all" runs no more than those.
  std::deque<int64_t> due;
  int64_t walked = 0;
  int64_t t = s.last_tick_ms;
  for (;;) {
    auto n = expr.next_after(t, tz);
    if (!n || *n > now_ms) break;
    due.push_back(*n);
    t = *n;
    if (due.size() > static_cast<size_t>(kMaxCatchUp)) {
      due.pop_front();
      ++*dropped;
    }
    if (++walked == kMaxTickWalk) {
      // Every second for a week: not worth walking. Count what was walked as dropped
      // and resume a minute before now, which keeps the latest ticks exact.
      *dropped += static_cast<int64_t>(due.size());
      due.clear();
      t = std::max(t, now_ms - 60'000);
    }
  }
  if (due.empty()) return out;
  const int64_t latest = due.back();
  const bool on_time = now_ms - latest <= kMissedGraceMs;
  const int64_t older = *dropped + static_cast<int64_t>(due.size()) - 1;  // ticks before the latest
  switch (s.schedule.missed) {
    case MissedPolicy::kSkip: {
      PlannedTick p{latest, {}};
      if (on_time) {
        p.plan.skipped = older;
      } else {
        p.plan.run = false;
        p.plan.skipped = older;
        p.plan.note = fmt::format("{} missed tick{} not run (missed = \"skip\")", older + 1, older ? "s" : "");
      }
      out.push_back(std::move(p));
      break;
    }
    case MissedPolicy::kOne:
      out.push_back({latest, TickPlan{true, older, ""}});
      break;
    case MissedPolicy::kAll:
      for (int64_t tick : due) out.push_back({tick, TickPlan{}});
      out.front().plan.skipped = *dropped;
      break;
  }
  return out;
}

int64_t next_tick(const ScheduleState& s, int64_t now_ms) {
  if (!s.schedule.enabled) return 0;
  auto expr = schedule_expr(s.schedule);
  auto tz = find_time_zone(s.schedule.tz);
  if (!expr || !tz) return 0;
  // A tick due but not fired yet is still the next; one missed long ago is not.
  const int64_t from = std::max(s.last_tick_ms, now_ms - kMissedGraceMs);
  return expr->next_after(from, *tz).value_or(0);
}

Scheduler::Scheduler(JobQueue& queue, Options options) : queue_(queue), options_(std::move(options)) {
  if (!options_.now) options_.now = system_ms;
  if (options_.run_thread) thread_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::poke() {
  {
    std::lock_guard lock(mu_);
    poked_ = true;
  }
  cv_.notify_all();
}

Scheduler::Counters Scheduler::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

void Scheduler::log(const std::string& line) const {
  if (options_.log) options_.log(line);
}

Result<Scheduler::Pass> Scheduler::pass(int64_t now_ms) {
  auto lines = std::make_shared<std::vector<std::string>>();
  auto r = queue_
               .call<Pass>([now_ms, lines](JobStore& store, int64_t) -> Result<Pass> {
                 ScheduleStore* schedules = store.schedules();
                 if (!schedules) return Status::unavailable("this job store keeps no schedules");
                 auto rows = schedules->list_schedules();
                 if (!rows) return rows.error();
                 Pass out;
                 for (ScheduleState& row : *rows) {
                   if (!row.schedule.enabled) continue;
                   auto expr = schedule_expr(row.schedule);
                   auto tz = find_time_zone(row.schedule.tz);
                   if (!expr || !tz) {
                     // Validated when stored; a zone the OS no longer has is the likely cause.
                     lines->push_back(fmt::format("schedule \"{}\": {}", row.schedule.name,
                                                  (!expr ? expr.error() : tz.error()).message()));
                     continue;
                   }
                   int64_t dropped = 0;
                   for (const PlannedTick& p : plan_ticks(row, *expr, *tz, now_ms, &dropped)) {
                     auto fired = schedules->fire_schedule(row.schedule.name, p.tick_ms, p.plan, now_ms);
                     if (!fired) {
                       lines->push_back(fmt::format("schedule \"{}\": tick {}: {}", row.schedule.name, p.tick_ms,
                                                    fired.error().message()));
                       break;
                     }
                     if (fired->kind == TickResult::Kind::kFired) {
                       out.fired.emplace_back(row.schedule.name, std::move(*fired->job));
                       out.skipped += p.plan.skipped;
                     } else if (fired->kind == TickResult::Kind::kSkipped) {
                       out.skipped += p.plan.skipped + 1;
                       // Once per reason: a long job under overlap = false would otherwise
                       // log a line at every tick it spans.
                       if (fired->note != row.note)
                         lines->push_back(
                             fmt::format("schedule \"{}\": tick skipped: {}", row.schedule.name, fired->note));
                       row.note = fired->note;
                     }
                     if (fired->kind == TickResult::Kind::kFired) row.note.clear();
                     if (fired->kind != TickResult::Kind::kTaken) row.last_tick_ms = p.tick_ms;
                   }
                   if (dropped)
                     lines->push_back(fmt::format("schedule \"{}\": {} missed ticks dropped (missed = \"{}\")",
                                                  row.schedule.name, dropped, missed_policy_name(row.schedule.missed)));
                   // The next tick from the cursor as it stands (another host may have moved it
                   // further: then this wakes early and finds the tick taken).
                   if (auto n = expr->next_after(std::max(row.last_tick_ms, now_ms), *tz))
                     out.next_ms = out.next_ms ? std::min(out.next_ms, *n) : *n;
                 }
                 return out;
               })
               .get();
  for (const std::string& line : *lines) log(line);
  std::lock_guard lock(mu_);
  ++counters_.passes;
  if (!r) {
    ++counters_.errors;
    return r;
  }
  counters_.fired += r->fired.size();
  counters_.skipped += static_cast<uint64_t>(r->skipped);
  return r;
}

void Scheduler::run() {
  pthread_setname_np(pthread_self(), "drover-sched");
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      poked_ = false;
    }
    const int64_t now = options_.now();
    auto r = pass(now);
    if (!r) log(fmt::format("schedules: {}", r.error().message()));
    if (r)
      for (const auto& [name, job] : r->fired)
        if (options_.fired) options_.fired(name, job);
    // Until the earliest tick, a poke, or max_sleep_ms (another host's changes); after an
    // error, a second (the store is likely busy or its disk full).
    int64_t wake = now + (r ? options_.max_sleep_ms : 1000);
    if (r && r->next_ms) wake = std::min(wake, r->next_ms);
    std::unique_lock lock(mu_);
    while (!stopping_ && !poked_) {
      const int64_t left = wake - options_.now();
      if (left <= 0) break;
      cv_.wait_for(lock, std::chrono::milliseconds(left));
    }
  }
}

}  // namespace drover::jobs
