// Exec mode (the jobs issue): a jobs pool runs its command once per ticket, at most n at a
// time. Tickets come from the dispatcher above the engine (offer_jobs) into the pool's
// window; reconcile makes a slot per ticket that fits, and an exit ends the job and its
// slot. The dispatcher hears of every end (JobHooks::on_exit) and of the room a pool has
// (JobHooks::on_demand), both from this thread, without waiting.
#include <sys/mman.h>
#include <unistd.h>

#include <fmt/format.h>

#include "engine/supervisor.h"

namespace drover {

namespace {

// The args on a job's stdin: a memfd (any size, unlike a pipe, and nothing to pump).
int args_memfd(const std::string& args) {
  int fd = memfd_create("drover-job-args", MFD_CLOEXEC);
  if (fd < 0) return -1;
  size_t done = 0;
  while (done < args.size()) {
    ssize_t n = write(fd, args.data() + done, args.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      return -1;
    }
    done += static_cast<size_t>(n);
  }
  if (lseek(fd, 0, SEEK_SET) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Past this, DROVER_JOB_ARGS is left out (one environment string may not pass 128 KB,
// and a big environment slows every exec): the job reads its stdin.
constexpr size_t kMaxArgsInEnv = 32 * 1024;

}  // namespace

void Supervisor::set_job_hooks(JobHooks hooks) {
  job_hooks_ = std::move(hooks);
  for (auto& [name, pool] : pools_)
    if (pool->spec.exec_jobs()) {
      pool->demand_said = -1;
      mark_dirty(*pool);
    }
}

void Supervisor::offer_jobs(const std::string& name, std::vector<JobTicket> tickets) {
  Pool* pool = find_pool(name);
  // Taken counts what was offered, run or given back: the dispatcher's count of tickets in
  // flight must come back to 0 either way.
  if (pool) pool->tickets_taken += tickets.size();
  if (!pool || !pool->spec.exec_jobs() || pool->target() == 0 || shutting_down_) {
    for (JobTicket& t : tickets) {
      JobExit e;
      e.pool = name;
      e.id = t.id;
      e.how = JobExit::How::kNotStarted;
      e.text = !pool ? "no such pool" : !pool->spec.exec_jobs() ? "the pool does not run jobs" : "the pool is stopped";
      if (job_hooks_.on_exit) job_hooks_.on_exit(e);
    }
    return;
  }
  for (JobTicket& t : tickets) pool->job_window.push_back(std::move(t));
  mark_dirty(*pool);
}

Status Supervisor::cancel_job(int64_t id) {
  for (auto& [name, pool] : pools_) {
    for (auto& [idx, slot] : pool->slots)
      if (slot->job.id == id) {
        if (slot->has_process()) {
          stop_job(*pool, *slot, JobExit::How::kCancelled);
        } else {
          // Its spawn is under way: stopped as soon as it lands (on_spawned), ended at its exit.
          slot->job_end = JobExit::How::kCancelled;
          slot->phase = Slot::Phase::kRetiring;
          uncount_job(*pool, *slot);
        }
        return Status::ok();
      }
    auto& w = pool->job_window;
    for (auto it = w.begin(); it != w.end(); ++it)
      if (it->id == id) {
        JobExit e;
        e.pool = name;
        e.id = id;
        e.how = JobExit::How::kCancelled;
        e.text = "cancelled before it started";
        w.erase(it);
        if (job_hooks_.on_exit) job_hooks_.on_exit(e);
        mark_dirty(*pool);
        return Status::ok();
      }
  }
  return Status::not_found(fmt::format("no job {} is running or waiting here", id));
}

void Supervisor::assign_tickets(Pool& pool, std::vector<Slot*>& fresh) {
  std::vector<Slot*> kept;
  for (Slot* s : fresh) {
    if (pool.job_window.empty()) {
      pool.slots.erase(s->index);  // nothing to run in it (cannot happen: wanted_slots counts tickets)
      continue;
    }
    s->job = std::move(pool.job_window.front());
    pool.job_window.pop_front();
    s->job_end = JobExit::How::kExited;
    s->job_output.clear();
    s->job_counted = true;
    ++pool.jobs_running;
    kept.push_back(s);
  }
  fresh.swap(kept);
}

Status Supervisor::add_job_spawn(Slot& slot, SpawnRequest& req) {
  req.env_extra.push_back(fmt::format("DROVER_JOB_ID={}", slot.job.id));
  req.env_extra.push_back(fmt::format("DROVER_JOB_ATTEMPT={}", slot.job.attempt));
  if (slot.job.args.size() <= kMaxArgsInEnv) req.env_extra.push_back("DROVER_JOB_ARGS=" + slot.job.args);
  if (slot.job_stdin >= 0) close(slot.job_stdin);
  slot.job_stdin = args_memfd(slot.job.args);
  if (slot.job_stdin < 0) return Status::io_error(fmt::format("job {}: its args for stdin: {}", slot.job.id, strerror(errno)));
  req.stdin_fd = slot.job_stdin;
  return Status::ok();
}

void Supervisor::on_job_spawned(Pool& pool, Slot& slot) {
  if (slot.job.timeout_s <= 0) return;
  Pool* p = &pool;
  Slot* s = &slot;
  slot.job_timer = loop_.add_timer_after(seconds_f(slot.job.timeout_s), [this, p, s] {
    s->job_timer = 0;
    if (s->has_process()) stop_job(*p, *s, JobExit::How::kTimedOut);
  });
}

void Supervisor::stop_job(Pool& pool, Slot& slot, JobExit::How how) {
  if (slot.job_end == JobExit::How::kExited) slot.job_end = how;  // the first reason stays
  stop_slot(pool, slot, Slot::Phase::kRetiring);
  mark_dirty(pool);
}

void Supervisor::uncount_job(Pool& pool, Slot& slot) {
  if (!slot.job_counted) return;
  slot.job_counted = false;
  --pool.jobs_running;
}

void Supervisor::end_job(Pool& pool, Slot& slot, JobExit::How how, bool ok, std::string text, double run_s) {
  if (slot.job_timer) loop_.cancel_timer(slot.job_timer);
  slot.job_timer = 0;
  uncount_job(pool, slot);
  JobExit e;
  e.pool = pool.spec.name;
  e.id = slot.job.id;
  e.how = how;
  e.ok = ok;
  if (how == JobExit::How::kTimedOut) text = fmt::format("timed out after {}s, then {}", slot.job.timeout_s, text);
  else if (how == JobExit::How::kCancelled) text = fmt::format("cancelled, then {}", text);
  e.text = std::move(text);
  e.output = std::move(slot.job_output);
  e.slot = slot.index;
  e.pid = slot.pid;
  e.run_s = run_s;
  slot.job = {};
  slot.job_output.clear();
  if (job_hooks_.on_exit) job_hooks_.on_exit(e);
}

void Supervisor::give_back_tickets(Pool& pool) {
  while (!pool.job_window.empty()) {
    JobExit e;
    e.pool = pool.spec.name;
    e.id = pool.job_window.front().id;
    e.how = JobExit::How::kNotStarted;
    e.text = "the pool stopped before it ran";
    pool.job_window.pop_front();
    if (job_hooks_.on_exit) job_hooks_.on_exit(e);
  }
}

void Supervisor::say_demand(Pool& pool) {
  const int free = pool.target() == 0 ? 0 : pool.spec.n - pool.jobs_running - static_cast<int>(pool.job_window.size());
  if (free == pool.demand_said) return;
  pool.demand_said = free;
  if (job_hooks_.on_demand) job_hooks_.on_demand(pool.spec.name, std::max(free, 0), pool.tickets_taken);
}

void Supervisor::keep_job_output(Slot& slot, std::string_view text) {
  slot.job_output.append(text);
  slot.job_output += '\n';
  if (slot.job_output.size() > kJobOutputTailBytes) {
    // Keep the tail, from a line start when there is one.
    size_t cut = slot.job_output.size() - kJobOutputTailBytes;
    size_t nl = slot.job_output.find('\n', cut);
    slot.job_output.erase(0, nl != std::string::npos && nl + 1 < slot.job_output.size() ? nl + 1 : cut);
  }
}

}  // namespace drover
