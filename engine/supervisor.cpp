#include "engine/supervisor.h"

#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "engine/exit_reason.h"

// waitid's idtype for pidfds (Linux 5.4); glibc 2.36 headers do not all name it.
constexpr idtype_t kPidfdIdType = static_cast<idtype_t>(3);

extern char** environ;

namespace drover {

namespace {

// Per wake-up and per pipe: a flooding worker gets at most this much of a loop iteration;
// level-triggered epoll brings it back next round, after everyone else had a turn. When
// we do not read, the pipe fills and the worker blocks in write(2): backpressure.
constexpr size_t kReadChunk = 64 * 1024;

// Every worker costs three fds (pidfd, stdout, stderr); the default soft limit of 1024
// would cap drover near 300 workers. Raise the soft limit to the hard one.
void raise_fd_limit() {
  rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

std::string slot_label(const Pool& pool, int slot) { return fmt::format("{}.{}", pool.spec.name, slot); }

}  // namespace

Supervisor::Supervisor(EventLoop& loop, const EngineOptions& options, PostFn post)
    : loop_(loop),
      post_(std::move(post)),
      options_(options),
      clock_(loop.clock()),
      started_(clock_.now()),
      self_pid_(getpid()),
      contain_(options.containment),
      guard_(contain_.cgroup_top(), contain_.instance_env()),
      ring_(options.ring_lines, options.ring_bytes) {
  read_buf_.resize(kReadChunk);
  raise_fd_limit();  // after spawner_ has recorded the limit workers should get
  // One helper per extra core, at most three: exec is kernel time, and the workers'
  // own start-up wants the cores too.
  int helpers = std::clamp(static_cast<int>(std::thread::hardware_concurrency()) - 1, 0, 3);
  if (helpers > 0 && post_)
    spawn_queue_ = std::make_unique<SpawnQueue>(helpers, [this](SpawnOutcome out) {
      auto shared = std::make_shared<SpawnOutcome>(std::move(out));
      post_([this, shared] { on_spawned(std::move(*shared)); });
    });
  if (!options_.log_path.empty()) {
    log_file_ = std::make_unique<LogFile>(options_.log_path, options_.log_max_bytes, options_.log_keep);
    Status s = log_file_->open();
    if (!s) throw std::runtime_error(s.message());
  }
  open_heartbeats();
  jobs_endpoint_ = options_.jobs_endpoint;
  if (jobs_endpoint_.empty()) {
    if (!runtime_dir_) {
      auto dir = RuntimeDir::create(options_.runtime_dir);
      if (!dir) throw std::runtime_error(dir.error().message());
      runtime_dir_ = std::move(*dir);
    }
    jobs_endpoint_ = "ipc://" + runtime_dir_->file("jobs");
  }
  emit_engine_line("containment: " + contain_.description());
  if (contain_.mode() == ContainMode::kSubreaper) on_subreaper_tick();
}

Supervisor::~Supervisor() {
  spawn_queue_.reset();  // join the helpers first: nothing may land after this
  // Every tree first, while the leaders are not reaped (their pids cannot be reused).
  for (auto& [name, pool] : pools_)
    for (auto& [idx, slot] : pool->slots)
      if (slot->has_process()) kill_tree(*pool, *slot, true);
  contain_.flush();
  for (auto& [name, pool] : pools_)
    for (auto& [idx, slot] : pool->slots) {
      if (slot->has_process()) {
        siginfo_t info;
        waitid(kPidfdIdType, slot->pidfd, &info, WEXITED);
        close(slot->pidfd);
        guard_.remove(slot->pid);
      }
      if (slot->out_fd >= 0) close(slot->out_fd);
      if (slot->err_fd >= 0) close(slot->err_fd);
      if (slot->timer) loop_.cancel_timer(slot->timer);
      cancel_stall_timer(*slot);
    }
  for (auto& [fd, path] : draining_) {
    loop_.unwatch(fd);
    close(fd);
  }
  if (reap_timer_) loop_.cancel_timer(reap_timer_);
  if (hb_resume_timer_) loop_.cancel_timer(hb_resume_timer_);
  if (heartbeats_) loop_.unwatch(heartbeats_->fd());
  if (log_file_) log_file_->flush();
}

// ---- commands ---------------------------------------------------------------------

Pool* Supervisor::find_pool(const std::string& name) {
  auto it = pools_.find(name);
  return it == pools_.end() ? nullptr : it->second.get();
}

Status Supervisor::for_pools(const std::optional<std::string>& name, const std::function<void(Pool&)>& fn) {
  if (name) {
    Pool* p = find_pool(*name);
    if (!p || p->removing) return Status::not_found(fmt::format("no pool named \"{}\"", *name));
    fn(*p);
    return Status::ok();
  }
  // Collect first: fn may finish (and erase) a pool.
  std::vector<Pool*> all;
  for (auto& [n, p] : pools_)
    if (!p->removing) all.push_back(p.get());
  for (Pool* p : all) fn(*p);
  return Status::ok();
}

Status Supervisor::apply(std::vector<PoolSpec> specs, bool remove_missing) {
  if (shutting_down_) return Status::unavailable("engine is shutting down");
  std::set<std::string> names;
  for (const auto& spec : specs) {
    if (Status s = validate_pool_spec(spec, options_.limits); !s) return s;
    if (!names.insert(spec.name).second)
      return Status::invalid(fmt::format("pool \"{}\" is defined twice", spec.name));
  }
  for (auto& spec : specs) {
    Pool* pool = find_pool(spec.name);
    if (!pool) {
      auto fresh = std::make_unique<Pool>();
      fresh->spec = std::move(spec);
      fresh->enabled = fresh->spec.autostart;
      pool = fresh.get();
      pools_.emplace(pool->spec.name, std::move(fresh));
      rebuild_env(*pool);
      emit_event(EventKind::kPoolAdded, pool, -1, 0, fmt::format("n={}{}", pool->spec.n, pool->enabled ? "" : " (stopped until start)"));
    } else {
      const int old_n = pool->target();
      const bool relaunch = !pool->spec.same_launch(spec);
      const bool new_heartbeat = pool->spec.heartbeat != spec.heartbeat;
      pool->spec = std::move(spec);
      if (new_heartbeat) rearm_stall_timers(*pool);
      pool->removing = false;
      if (relaunch) {
        ++pool->generation;
        rebuild_env(*pool);
        emit_event(EventKind::kPoolRolling, pool, -1, 0, "command or environment changed");
      }
      if (old_n != pool->target())
        emit_event(EventKind::kPoolResized, pool, -1, 0, fmt::format("{} -> {}", old_n, pool->target()));
    }
    mark_dirty(*pool);
  }
  if (remove_missing) {
    std::vector<std::string> gone;
    for (auto& [name, p] : pools_)
      if (!names.count(name) && !p->removing) gone.push_back(name);
    for (const auto& name : gone) remove_pool(name);
  }
  return Status::ok();
}

Status Supervisor::remove_pool(const std::string& name) {
  if (shutting_down_) return Status::unavailable("engine is shutting down");
  Pool* pool = find_pool(name);
  if (!pool || pool->removing) return Status::not_found(fmt::format("no pool named \"{}\"", name));
  pool->removing = true;
  mark_dirty(*pool);  // retires every slot; the pool is erased when the last one is gone
  return Status::ok();
}

Result<std::map<std::string, int>> Supervisor::configure(const std::map<std::string, int>& sizes) {
  return resize(SizeBatch{sizes, {}});
}

Result<std::map<std::string, int>> Supervisor::resize(const SizeBatch& batch) {
  if (shutting_down_) return Status::unavailable("engine is shutting down");
  // Everything is checked before anything changes: the batch applies whole or not at all.
  for (const auto& [name, n] : batch.sizes) {
    Pool* pool = find_pool(name);
    if (!pool || pool->removing) return Status::not_found(fmt::format("no pool named \"{}\"", name));
    if (n < 0 || n > options_.limits.max_workers_per_pool)
      return Status::invalid(fmt::format("pool \"{}\": n = {} is out of range 0..{}", name, n,
                                         options_.limits.max_workers_per_pool));
    if (batch.remove.count(name))
      return Status::invalid(fmt::format("pool \"{}\" is both resized and removed", name));
  }
  for (const auto& [name, n] : batch.sizes) {
    Pool& pool = *find_pool(name);
    if (pool.spec.n == n) continue;
    const int old = pool.spec.n;
    pool.spec.n = n;
    emit_event(EventKind::kPoolResized, &pool, -1, 0, fmt::format("{} -> {}", old, n));
    mark_dirty(pool);
  }
  // A pool that is not there (or already draining) is already removed: not an error.
  for (const auto& name : batch.remove) remove_pool(name);
  std::map<std::string, int> out;
  for (const auto& [name, p] : pools_)
    if (!p->removing) out[name] = p->spec.n;
  return out;
}

void Supervisor::resize_all_by(int delta) {
  std::map<std::string, int> sizes;
  for (const auto& [name, p] : pools_)
    if (!p->removing) sizes[name] = std::clamp(p->spec.n + delta, 0, options_.limits.max_workers_per_pool);
  configure(sizes);
}

Status Supervisor::start(const std::optional<std::string>& name) {
  if (shutting_down_) return Status::unavailable("engine is shutting down");
  return for_pools(name, [this](Pool& pool) {
    pool.enabled = true;
    // An operator's start is the way out of flapping and giving up: retry those now.
    for (auto& [idx, slot] : pool.slots)
      if (slot->phase == Slot::Phase::kFlapping || slot->phase == Slot::Phase::kGaveUp ||
          slot->phase == Slot::Phase::kBackoff) {
        if (slot->timer) loop_.cancel_timer(slot->timer);
        slot->timer = 0;
        slot->flap.reset();
        slot->backoff.reset();
        spawn_slot(pool, *slot);
      }
    mark_dirty(pool);
  });
}

Status Supervisor::stop(const std::optional<std::string>& name) {
  // Everything is stopping already; a "stopped" answer would claim a change it did not make.
  if (shutting_down_) return Status::unavailable("engine is shutting down");
  return for_pools(name, [this](Pool& pool) {
    pool.enabled = false;
    mark_dirty(pool);
  });
}

Status Supervisor::signal_workers(int sig, const std::optional<std::string>& name) {
  if (sig <= 0 || sig >= NSIG) return Status::invalid(fmt::format("invalid signal {}", sig));
  return for_pools(name, [sig](Pool& pool) {
    for (auto& [idx, slot] : pool.slots)
      if (slot->has_process()) kill(-slot->pid, sig);
  });
}

Status Supervisor::signal_worker(const std::string& name, int index, int sig) {
  if (sig <= 0 || sig >= NSIG) return Status::invalid(fmt::format("invalid signal {}", sig));
  Pool* pool = find_pool(name);
  if (!pool || pool->removing) return Status::not_found(fmt::format("no pool named \"{}\"", name));
  auto it = pool->slots.find(index);
  if (it == pool->slots.end())
    return Status::not_found(fmt::format("pool \"{}\" has no slot {}", name, index));
  const Slot& slot = *it->second;
  // Backoff, flapping and gave-up slots are waiting for their next process.
  if (!slot.has_process())
    return Status::unavailable(fmt::format("{} has no process to signal now", slot_label(*pool, index)));
  kill(-slot.pid, sig);
  return Status::ok();
}

Status Supervisor::restart_worker(const std::string& name, int index) {
  Pool* pool = find_pool(name);
  if (!pool || pool->removing) return Status::not_found(fmt::format("no pool named \"{}\"", name));
  auto it = pool->slots.find(index);
  if (it == pool->slots.end()) return Status::not_found(fmt::format("pool \"{}\" has no slot {}", name, index));
  Slot& slot = *it->second;
  if (!slot.has_process() || slot.stop_sent)
    return Status::unavailable(fmt::format("{} has no process to restart now", slot_label(*pool, index)));
  stop_slot(*pool, slot, Slot::Phase::kRolling);  // replaced at its exit (on_process_exit)
  return Status::ok();
}

void Supervisor::shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  emit_event(EventKind::kShutdownStarted, nullptr, -1, 0, "stopping all pools");
  std::vector<Pool*> all;
  for (auto& [n, p] : pools_) all.push_back(p.get());
  for (Pool* p : all) {
    p->removing = true;
    mark_dirty(*p);
  }
  if (pools_.empty()) {
    emit_event(EventKind::kShutdownFinished, nullptr, -1, 0, "no pools");
    if (on_finished_) on_finished_();
  }
}

void Supervisor::kill_all() {
  for (auto& [name, pool] : pools_)
    for (auto& [idx, slot] : pool->slots)
      if (slot->has_process()) kill_tree(*pool, *slot, true);
}

void Supervisor::request_reload() {
  reopen_log();
  emit_event(EventKind::kReloadRequested, nullptr, -1, 0, "SIGHUP");
}

void Supervisor::reopen_log() {
  if (log_file_) log_file_->reopen();
}

void Supervisor::add_subscriber(std::shared_ptr<Subscription> sub) { subscribers_.push_back(std::move(sub)); }

// ---- reconciling ------------------------------------------------------------------

void Supervisor::rebuild_env(Pool& pool) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq) env[std::string(*e, static_cast<size_t>(eq - *e))] = eq + 1;
  }
  for (const auto& [k, v] : pool.spec.env) env[k] = v;
  env["DROVER_POOL"] = pool.spec.name;
  if (heartbeats_) env["DROVER_HEARTBEAT"] = hb_stats_.worker_endpoint;
  env["QUEUE"] = pool.spec.queue.empty() ? pool.spec.name : pool.spec.queue;
  env.erase("DROVER_JOBS");
  env.erase("DROVER_JOBS_PREFETCH");
  if (pool.spec.worker_jobs()) {
    env["DROVER_JOBS"] = jobs_endpoint_;
    env["DROVER_JOBS_PREFETCH"] = std::to_string(pool.spec.job_prefetch);
  }
  env.erase("DROVER_SLOT");
  env.erase("DROVER_INSTANCE");
  if (const std::string& mark = contain_.instance_env(); !mark.empty())
    env["DROVER_INSTANCE"] = mark.substr(mark.find('=') + 1);
  auto base = std::make_shared<std::vector<std::string>>();
  for (const auto& [k, v] : env) base->push_back(k + "=" + v);
  pool.env_base = std::move(base);
  auto path = env.find("PATH");
  pool.path_env = path == env.end() ? "" : path->second;
}

void Supervisor::mark_dirty(Pool& pool) { dirty_.insert(pool.spec.name); }

void Supervisor::reconcile_dirty() {
  // Reconciling may dirty pools again (a spawn that fails schedules a retry): repeat until
  // quiet. Each round makes progress, so this ends.
  while (!dirty_.empty()) {
    std::set<std::string> batch;
    batch.swap(dirty_);
    for (const auto& name : batch)
      if (Pool* pool = find_pool(name)) reconcile_pool(*pool);
  }
}

void Supervisor::reconcile_pool(Pool& pool) {
  std::vector<SlotView> views;
  views.reserve(pool.slots.size());
  for (const auto& [idx, s] : pool.slots)
    views.push_back({idx, s->phase, s->started_seq, s->has_process() ? s->generation : pool.generation,
                     s->effective_busy()});
  if (pool.spec.exec_jobs() && pool.target() == 0) give_back_tickets(pool);
  ReconcilePlan plan = reconcile(pool.wanted_slots(), views, pool.generation);
  // A job runs with the spec it started with: nothing to roll.
  if (pool.spec.exec_jobs()) plan.roll = -1;
  for (int idx : plan.retire) {
    Slot& slot = *pool.slots.at(idx);
    if (slot.has_process()) {
      stop_slot(pool, slot, Slot::Phase::kRetiring);
    } else if (slot.phase == Slot::Phase::kStarting) {
      slot.phase = Slot::Phase::kRetiring;  // stopped as soon as its spawn lands
      uncount_job(pool, slot);
    } else {
      drop_slot(pool, idx);
    }
  }
  std::vector<Slot*> fresh;
  for (int idx : plan.create) {
    auto slot = std::make_unique<Slot>(idx, options_.max_line_bytes);
    fresh.push_back(slot.get());
    pool.slots.emplace(idx, std::move(slot));
  }
  if (pool.spec.exec_jobs()) assign_tickets(pool, fresh);
  spawn_many(pool, fresh);
  if (plan.roll >= 0) stop_slot(pool, *pool.slots.at(plan.roll), Slot::Phase::kRolling);
  if (pool.spec.exec_jobs()) say_demand(pool);
  maybe_finish_pool(pool);
}

void Supervisor::maybe_finish_pool(Pool& pool) {
  if (!pool.removing || !pool.slots.empty()) return;
  std::string name = pool.spec.name;
  emit_event(EventKind::kPoolRemoved, &pool, -1, 0, "");
  pools_.erase(name);
  contain_.forget_pool(name);
  if (finished()) {
    emit_event(EventKind::kShutdownFinished, nullptr, -1, 0, "all workers stopped");
    if (on_finished_) on_finished_();
  }
}

void Supervisor::drop_slot(Pool& pool, int index) {
  auto it = pool.slots.find(index);
  if (it == pool.slots.end()) return;
  if (it->second->timer) loop_.cancel_timer(it->second->timer);
  cancel_stall_timer(*it->second);
  Slot& slot = *it->second;
  if (slot.job.id) end_job(pool, slot, JobExit::How::kNotStarted, false, "its slot went before it ran", 0);
  if (slot.job_stdin >= 0) close(slot.job_stdin);
  pool.slots.erase(it);
}

// ---- spawning and stopping ----------------------------------------------------------

Result<SpawnRequest> Supervisor::prepare_spawn(Pool& pool, Slot& slot) {
  slot.timer = 0;
  slot.stop_sent = slot.killed_after_grace = false;
  slot.heartbeats = 0;
  slot.last_heartbeat = {};
  slot.last_heartbeat_wall_ms = 0;
  slot.busy.reset();
  slot.registry_busy.reset();
  slot.registry_misses = 0;
  slot.progress.reset();
  slot.status.clear();
  slot.stalled = false;
  Result<std::string> path = resolve_executable(pool.spec.argv[0], pool.path_env, pool.spec.cwd);
  if (!path) return path.error();
  SpawnRequest req;
  req.path = *path;
  req.argv = pool.spec.argv;
  req.env_base = pool.env_base;
  req.env_extra.push_back(fmt::format("DROVER_SLOT={}", slot.index));
  req.cwd = pool.spec.cwd;
  req.cgroup = contain_.worker_cgroup(pool.spec.name, slot.index, ++cgroup_seq_);
  req.announce_fd = guard_.announce_fd();
  if (slot.job.id)
    if (Status st = add_job_spawn(slot, req); !st) return st;
  return req;
}

void Supervisor::spawn_slot(Pool& pool, Slot& slot) {
  Result<SpawnRequest> req = prepare_spawn(pool, slot);
  finish_spawn(pool, slot, req ? spawner_.spawn(*req) : Result<SpawnedProcess>(req.error()));
}

void Supervisor::spawn_many(Pool& pool, const std::vector<Slot*>& slots) {
  if (!spawn_queue_ || slots.size() < 2) {
    for (Slot* s : slots) spawn_slot(pool, *s);
    return;
  }
  for (Slot* s : slots) {
    Result<SpawnRequest> req = prepare_spawn(pool, *s);
    if (!req) {
      finish_spawn(pool, *s, req.error());
      continue;
    }
    s->phase = Slot::Phase::kStarting;
    s->spawn_token = ++spawn_seq_;
    spawn_queue_->push({std::move(*req), pool.spec.name, s->index, s->spawn_token});
  }
  // Work alongside the helpers until the queue is empty; their results arrive by inbox.
  while (auto job = spawn_queue_->try_pop()) {
    Result<SpawnedProcess> r = spawner_.spawn(job->request);
    on_spawned({std::move(*job), std::move(r)});
  }
  // A burst leaves freed request memory in this thread's arena; hand it back.
  if (slots.size() >= 256) malloc_trim(0);
}

void Supervisor::on_spawned(SpawnOutcome out) {
  Pool* pool = find_pool(out.job.pool);
  auto it = pool ? pool->slots.find(out.job.slot) : decltype(pool->slots.end()){};
  if (!pool || it == pool->slots.end() || it->second->spawn_token != out.job.token) {
    // Cannot happen while slots wait for their spawns; if it did, leave nothing behind.
    if (out.result) {
      kill(-out.result->pid, SIGKILL);
      siginfo_t info;
      waitid(kPidfdIdType, out.result->pidfd, &info, WEXITED);
      for (int fd : {out.result->pidfd, out.result->out_fd, out.result->err_fd}) close(fd);
      guard_.remove(out.result->pid);
      if (!out.result->cgroup.empty()) drain_cgroup(out.result->cgroup);
    }
    return;
  }
  Slot& slot = *it->second;
  slot.spawn_token = 0;
  mark_dirty(*pool);
  if (slot.phase != Slot::Phase::kRetiring) {
    finish_spawn(*pool, slot, std::move(out.result));
    return;
  }
  // Retired while its spawn was under way (a resize down, a stop, shutdown).
  if (!out.result) {
    if (slot.job.id) finish_spawn(*pool, slot, std::move(out.result));  // the job's failed attempt
    else drop_slot(*pool, slot.index);
    return;
  }
  finish_spawn(*pool, slot, std::move(out.result));
  stop_slot(*pool, slot, Slot::Phase::kRetiring);
}

void Supervisor::finish_spawn(Pool& pool, Slot& slot, Result<SpawnedProcess> proc) {
  if (slot.job_stdin >= 0) {
    close(slot.job_stdin);
    slot.job_stdin = -1;
  }
  if (!proc && slot.job.id) {
    // A job whose command cannot start failed its attempt: the queue's retries and dead
    // list take it from here, not this slot's backoff.
    ++pool.counters.spawn_failures;
    ++pool.counters.exited_bad;
    emit_event(EventKind::kSpawnFailed, &pool, slot.index, 0, proc.error().message());
    end_job(pool, slot, JobExit::How::kExited, false, proc.error().message(), 0);
    drop_slot(pool, slot.index);
    mark_dirty(pool);
    return;
  }
  if (!proc) {
    // A spawn failure is an exit with a reason: it goes through backoff and flapping like
    // any crash, so a missing command ends `flapping`, not in a spawn storm.
    slot.pid = 0;
    slot.last_exit = proc.error().message();
    ++pool.counters.spawn_failures;
    ++pool.counters.exited_bad;
    emit_event(EventKind::kSpawnFailed, &pool, slot.index, 0, slot.last_exit);
    after_exit(pool, slot, /*bad=*/true, Duration::zero(), /*spawn_failure=*/true);
    return;
  }
  slot.phase = Slot::Phase::kRunning;
  slot.pid = proc->pid;
  slot.pidfd = proc->pidfd;
  slot.out_fd = proc->out_fd;
  slot.err_fd = proc->err_fd;
  slot.started = clock_.now();
  slot.started_wall_ms = clock_.wall_ms();
  slot.started_seq = ++spawn_seq_;
  slot.generation = pool.generation;
  slot.cgroup = std::move(proc->cgroup);
  // The guard knows it already: the child announced itself before exec.
  by_pid_[slot.pid] = {&pool, &slot};
  slot.silent_since = slot.started;
  arm_stall_timer(pool, slot);
  ++pool.counters.started;
  Pool* p = &pool;
  Slot* s = &slot;
  // The slot and pool outlive these watches: every path that erases a slot first closes
  // (and unwatches) its fds.
  loop_.watch(slot.pidfd, [this, p, s](uint32_t) { on_process_exit(*p, *s); });
  loop_.watch(slot.out_fd, [this, p, s](uint32_t) { read_output(*p, *s, false, false); });
  loop_.watch(slot.err_fd, [this, p, s](uint32_t) { read_output(*p, *s, true, false); });
  emit_event(EventKind::kWorkerSpawned, &pool, slot.index, slot.pid,
             slot.job.id ? fmt::format("job {} attempt {}", slot.job.id, slot.job.attempt) : "");
  if (slot.job.id) on_job_spawned(pool, slot);
}

void Supervisor::stop_slot(Pool& pool, Slot& slot, SlotView::Phase phase) {
  // A stalled worker that is then retired keeps slot.stalled: its exit is a bad one
  // either way, and as a retired one it is not replaced.
  slot.phase = phase;
  cancel_stall_timer(slot);
  uncount_job(pool, slot);  // a job being stopped frees its place for the next ticket
  if (slot.stop_sent) return;
  slot.stop_sent = true;
  const bool group = effective_stop_to(pool.spec) == StopTo::kGroup;
  kill(group ? -slot.pid : slot.pid, pool.spec.stop_signal);
  emit_event(EventKind::kWorkerStopping, &pool, slot.index, slot.pid,
             fmt::format("SIG{} to its {}, SIGKILL in {}s", signal_name(pool.spec.stop_signal),
                         group ? "group" : "process", pool.spec.grace_s));
  Pool* p = &pool;
  Slot* s = &slot;
  slot.timer = loop_.add_timer_after(seconds_f(pool.spec.grace_s), [this, p, s] { on_grace_expired(*p, *s); });
}

void Supervisor::on_grace_expired(Pool& pool, Slot& slot) {
  slot.timer = 0;
  if (!slot.has_process()) return;
  slot.killed_after_grace = true;
  kill_tree(pool, slot, true);
  emit_event(EventKind::kWorkerKilledAfterGrace, &pool, slot.index, slot.pid,
             fmt::format("still running {}s after SIG{}", pool.spec.grace_s, signal_name(pool.spec.stop_signal)));
}

// ---- exits --------------------------------------------------------------------------

void Supervisor::kill_tree(Pool& pool, Slot& slot, bool leader_alive) {
  contain_.kill_tree({slot.pid, leader_alive, pool.spec.name, slot.index, slot.cgroup});
}

void Supervisor::drain_cgroup(std::string cgroup) {
  if (Containment::remove(cgroup)) {
    contain_.remove_pool_dir_of(cgroup);
    return;
  }
  int fd = Containment::open_events(cgroup);
  if (fd < 0) return;  // the top's removal at exit takes it
  if (!Containment::populated(fd)) {
    if (Containment::remove(cgroup)) contain_.remove_pool_dir_of(cgroup);
    close(fd);
    return;
  }
  draining_[fd] = std::move(cgroup);
  // kernfs files always poll readable: EPOLLPRI alone, raised when `populated` changes.
  loop_.watch(
      fd,
      [this, fd](uint32_t) {
        if (Containment::populated(fd)) return;
        if (Containment::remove(draining_[fd])) contain_.remove_pool_dir_of(draining_[fd]);
        loop_.unwatch(fd);
        close(fd);
        draining_.erase(fd);
      },
      EPOLLPRI);
}

void Supervisor::on_subreaper_tick() {
  reap_timer_ = 0;
  // Workers are reaped through their pidfds, the guard by its owner: neither is ours here.
  contain_.tick([this](pid_t pid) { return by_pid_.count(pid) > 0 || pid == guard_.pid(); });
  reap_timer_ = loop_.add_timer_after(std::chrono::seconds(1), [this] { on_subreaper_tick(); });
}

void Supervisor::on_process_exit(Pool& pool, Slot& slot) {
  // A readable pidfd means the worker has exited; until we reap it, its zombie holds the
  // pid, so the process-group id cannot have been reused. Whatever the worker left goes
  // with it now (systemd's control-group semantics): its group, and with cgroup or
  // subreaper containment what left the group too (setsid, double fork).
  kill_tree(pool, slot, false);
  siginfo_t info{};
  if (waitid(kPidfdIdType, slot.pidfd, &info, WEXITED | WNOHANG) < 0 || info.si_pid == 0)
    return;  // spurious wake-up; level-triggered epoll will tell us again
  // The last bytes a worker wrote are in the pipes now: take them before the exit line.
  if (slot.out_fd >= 0) read_output(pool, slot, false, true);
  if (slot.err_fd >= 0) read_output(pool, slot, true, true);
  close_output(slot, false);
  close_output(slot, true);
  loop_.unwatch(slot.pidfd);
  close(slot.pidfd);
  slot.pidfd = -1;
  guard_.remove(slot.pid);
  forget_pid(slot.pid);
  cancel_stall_timer(slot);
  const pid_t pid = slot.pid;
  slot.pid = 0;
  if (!slot.cgroup.empty()) drain_cgroup(std::move(slot.cgroup));
  slot.cgroup.clear();
  if (slot.timer) loop_.cancel_timer(slot.timer);
  slot.timer = 0;

  const Duration uptime = clock_.now() - slot.started;
  const ExitReason reason = ExitReason::from_siginfo(info);
  const bool asked = slot.stop_sent && !slot.stalled;
  slot.last_exit = slot.stalled ? fmt::format("stalled, then {}", reason.text()) : reason.text();
  bool bad = false;
  if (slot.killed_after_grace) {
    ++pool.counters.killed_after_grace;
    bad = slot.stalled;
  } else if (!slot.stalled && (asked || reason.ok())) {
    ++pool.counters.exited_ok;
  } else {
    ++pool.counters.exited_bad;
    bad = true;
  }
  emit_event(EventKind::kWorkerExited, &pool, slot.index, pid,
             fmt::format("{} after {:.1f}s{}", slot.last_exit, to_seconds(uptime),
                         slot.killed_after_grace ? " (killed after grace)" : asked ? " (stopped)" : ""));
  slot.stalled = false;
  if (pool.spec.worker_jobs() && job_hooks_.on_worker_exit) job_hooks_.on_worker_exit(pool.spec.name, slot.index, pid, slot.last_exit);
  if (slot.job.id) {
    // An exit ends the job, whatever the slot's phase; the slot goes with it.
    JobExit::How how = slot.job_end;
    if (how == JobExit::How::kExited && asked) how = JobExit::How::kStopped;
    end_job(pool, slot, how, how == JobExit::How::kExited && reason.ok(), slot.last_exit, to_seconds(uptime));
    drop_slot(pool, slot.index);
    mark_dirty(pool);
    return;
  }
  switch (slot.phase) {
    case Slot::Phase::kRetiring:
      drop_slot(pool, slot.index);
      mark_dirty(pool);
      return;
    case Slot::Phase::kRolling:
      spawn_slot(pool, slot);
      mark_dirty(pool);  // next roll, if any
      return;
    default:
      after_exit(pool, slot, bad, uptime, false);
      mark_dirty(pool);
  }
}

void Supervisor::after_exit(Pool& pool, Slot& slot, bool bad, Duration uptime, bool spawn_failure) {
  if (pool.target() == 0 || shutting_down_) {
    slot.phase = Slot::Phase::kRetiring;  // nothing to restart into; reconcile drops it
    drop_slot(pool, slot.index);
    return;
  }
  ++slot.restarts;
  ++pool.counters.restarts;
  if (bad) {
    switch (slot.flap.on_bad_exit(pool.spec.flap, clock_.now())) {
      case FlapDetector::Verdict::kFlapping:
        slot.backoff.reset();
        emit_event(EventKind::kSlotFlapping, &pool, slot.index, 0,
                   fmt::format("more than {} bad exits in {}s; retrying in {}s", pool.spec.flap.max_exits,
                               pool.spec.flap.window_s, pool.spec.flap.cooldown_s));
        schedule_retry(pool, slot, seconds_f(pool.spec.flap.cooldown_s), Slot::Phase::kFlapping);
        return;
      case FlapDetector::Verdict::kGiveUp:
        if (slot.timer) loop_.cancel_timer(slot.timer);
        slot.timer = 0;
        slot.phase = Slot::Phase::kGaveUp;
        emit_event(EventKind::kSlotGaveUp, &pool, slot.index, 0,
                   fmt::format("flapped {} times; start the pool to retry", slot.flap.episodes()));
        return;
      case FlapDetector::Verdict::kOk:
        break;
    }
  }
  Duration delay = slot.backoff.on_exit(pool.spec.backoff, uptime);
  // A spawn failure never retries in the same wake-up, whatever reset_after says.
  if (spawn_failure) delay = std::max(delay, seconds_f(pool.spec.backoff.initial_s));
  if (delay == Duration::zero()) {
    // Still in this wake-up, but after every exit it reported: when many workers died at
    // once (kill -9 of a tenth, an OOM sweep) their replacements go out as one burst,
    // spread over the spawn helpers, instead of one after another on this thread.
    slot.phase = Slot::Phase::kStarting;
    respawn_now_.emplace_back(pool.spec.name, slot.index);
    return;
  }
  emit_event(EventKind::kBackoffScheduled, &pool, slot.index, 0, fmt::format("respawn in {:.2f}s", to_seconds(delay)));
  schedule_retry(pool, slot, delay, Slot::Phase::kBackoff);
}

void Supervisor::schedule_retry(Pool& pool, Slot& slot, Duration delay, SlotView::Phase phase) {
  slot.phase = phase;
  slot.retry_at = clock_.now() + delay;
  if (slot.timer) loop_.cancel_timer(slot.timer);
  Pool* p = &pool;
  Slot* s = &slot;
  slot.timer = loop_.add_timer(slot.retry_at, [this, p, s] {
    s->timer = 0;
    spawn_slot(*p, *s);
    mark_dirty(*p);
  });
}

// ---- output -------------------------------------------------------------------------

void Supervisor::read_output(Pool& pool, Slot& slot, bool err, bool drain) {
  int& fd = err ? slot.err_fd : slot.out_fd;
  LineSplitter& splitter = err ? slot.err_lines : slot.out_lines;
  const LogStream stream = err ? LogStream::kStderr : LogStream::kStdout;
  auto emit = [&](std::string_view text, bool cut) {
    LogLine line;
    line.wall_ms = clock_.wall_ms();
    line.pool = pool.spec.name;
    line.slot = slot.index;
    line.pid = slot.pid;
    line.stream = stream;
    line.text.reserve(text.size() + (cut ? 4 : 0));
    line.text.assign(text);
    if (cut) line.text += " ...";
    if (slot.job.id) keep_job_output(slot, line.text);
    emit_line(std::move(line));
  };
  // One chunk per wake-up normally; at exit, everything that is buffered.
  do {
    ssize_t n = read(fd, read_buf_.data(), read_buf_.size());
    if (n > 0) {
      splitter.feed(std::string_view(read_buf_.data(), static_cast<size_t>(n)), emit);
      if (static_cast<size_t>(n) < read_buf_.size()) break;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    // EOF or error: the write end is gone. Flush the partial line now.
    splitter.finish(emit);
    close_output(slot, err);
    return;
  } while (drain);
  if (drain) splitter.finish(emit);
}

void Supervisor::close_output(Slot& slot, bool err) {
  int& fd = err ? slot.err_fd : slot.out_fd;
  if (fd < 0) return;
  loop_.unwatch(fd);
  close(fd);
  fd = -1;
}

// ---- publishing ---------------------------------------------------------------------

void Supervisor::emit_line(LogLine line) {
  if (log_file_) log_file_->append(line);
  if (options_.echo_fd >= 0) {
    echo_buf_ += format_log_prefix(line);
    echo_buf_ += line.text;
    echo_buf_ += '\n';
  }
  if (!subscribers_.empty()) {
    EngineItem item(line);
    for (auto& sub : subscribers_) sub->push(item);
    // Drop subscriptions their owners have closed.
    std::erase_if(subscribers_, [](const auto& s) { return s->closed(); });
  }
  ring_.append(std::move(line));
}

// A log file that stops taking lines (a full disk) is said once when it starts failing
// and once when it takes lines again, on the terminal, to subscribers and in the ring;
// the counts are in every snapshot (status(), /metrics).
void Supervisor::flush_log_file() {
  if (!log_file_) return;
  const bool was_failing = log_file_->failing();
  const uint64_t lost_before = log_file_->lines_lost();
  log_file_->flush();
  if (log_file_->failing() && !was_failing)
    emit_engine_line(fmt::format("log file {}: write failed ({}); lines are lost until it takes them again",
                                 log_file_->path(), log_file_->last_error()));
  else if (!log_file_->failing() && was_failing && log_file_->lines_lost() == lost_before)
    emit_engine_line(fmt::format("log file {}: writing again; {} lines were lost", log_file_->path(),
                                 log_file_->lines_lost()));
}

void Supervisor::emit_engine_line(std::string text) {
  LogLine line;
  line.wall_ms = clock_.wall_ms();
  line.pid = self_pid_;
  line.stream = LogStream::kEngine;
  line.text = std::move(text);
  emit_line(std::move(line));
}

void Supervisor::emit_event(EventKind kind, const Pool* pool, int slot, pid_t pid, std::string text) {
  Event ev{kind, clock_.wall_ms(), pool ? pool->spec.name : "", slot, pid, std::move(text)};
  LogLine line;
  line.wall_ms = ev.wall_ms;
  line.pool = ev.pool;
  line.slot = slot;
  line.pid = self_pid_;
  line.stream = LogStream::kEngine;
  std::string who = pool ? (slot >= 0 ? slot_label(*pool, slot) : pool->spec.name) : "engine";
  line.text = fmt::format("{} {}{}{}{}", who, event_kind_name(kind), pid ? fmt::format(" pid {}", pid) : "",
                          ev.text.empty() ? "" : ": ", ev.text);
  emit_line(std::move(line));
  if (!subscribers_.empty()) {
    EngineItem item(ev);
    for (auto& sub : subscribers_) sub->push(item);
  }
}

void Supervisor::report(EventKind kind, const std::string& pool, std::string text) {
  if (const Pool* p = find_pool(pool); p || pool.empty()) {
    emit_event(kind, p, -1, 0, std::move(text));
    return;
  }
  // The pool was removed while the report was on its way: say so under its name.
  emit_engine_line(fmt::format("{} {}: {}", pool, event_kind_name(kind), text));
}

void Supervisor::set_queue_gauge(const std::string& pool, const QueueGauge& gauge) {
  if (Pool* p = find_pool(pool)) p->queue = gauge;
}

void Supervisor::respawn_exited() {
  if (respawn_now_.empty()) return;
  std::map<std::string, std::vector<Slot*>> by_pool;
  for (const auto& [name, index] : respawn_now_) {
    Pool* pool = find_pool(name);
    if (!pool) continue;
    auto it = pool->slots.find(index);
    if (it == pool->slots.end() || it->second->phase != Slot::Phase::kStarting || it->second->spawn_token) continue;
    if (shutting_down_ || pool->target() == 0) {
      drop_slot(*pool, index);  // stopped or shut down since the exit: nothing to restart into
      mark_dirty(*pool);
      continue;
    }
    by_pool[name].push_back(it->second.get());
  }
  respawn_now_.clear();
  for (auto& [name, slots] : by_pool) spawn_many(*find_pool(name), slots);
}

void Supervisor::before_sleep() {
  respawn_exited();
  reconcile_dirty();
  contain_.flush();  // subreaper: this wake-up's kills, in one walk of /proc
  flush_log_file();
  if (!echo_buf_.empty()) {
    // One write per wake-up. A blocked terminal would hold the loop here, so an echo fd
    // is for a terminal or journald; production logs belong in the log file.
    size_t off = 0;
    while (off < echo_buf_.size()) {
      ssize_t n = write(options_.echo_fd, echo_buf_.data() + off, echo_buf_.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    echo_buf_.clear();
  }
}

// ---- reading state ------------------------------------------------------------------

EngineSnapshot Supervisor::snapshot() const {
  EngineSnapshot snap;
  snap.pid = self_pid_;
  const TimePoint now = clock_.now();
  snap.uptime_s = to_seconds(now - started_);
  snap.shutting_down = shutting_down_;
  snap.log_path = options_.log_path;
  if (log_file_) {
    snap.log_write_errors = log_file_->write_errors();
    snap.log_lines_lost = log_file_->lines_lost();
    snap.log_error = log_file_->failing() ? log_file_->last_error() : "";
  }
  snap.containment = contain_.description();
  snap.loop_iterations = loop_.iterations();
  snap.loop_busy_max_s = to_seconds(loop_.take_max_busy());
  snap.heartbeat = hb_stats_;
  // Closed ones are dropped at the next line published; until then they are not open.
  snap.subscribers = static_cast<size_t>(
      std::count_if(subscribers_.begin(), subscribers_.end(), [](const auto& sub) { return !sub->closed(); }));
  for (const auto& [name, pool] : pools_) {
    PoolSnapshot ps;
    ps.spec = pool->spec;
    ps.enabled = pool->enabled;
    ps.removing = pool->removing;
    ps.target = pool->target();
    ps.counters = pool->counters;
    ps.queue = pool->queue;
    ps.workers.reserve(pool->slots.size());
    for (const auto& [idx, s] : pool->slots) {
      WorkerSnapshot w;
      w.slot = idx;
      w.pid = s->pid;
      w.restarts = s->restarts;
      w.last_exit = s->last_exit;
      w.generation = s->generation;
      switch (s->phase) {
        case Slot::Phase::kRunning: w.state = SlotState::kRunning; ++ps.running; break;
        case Slot::Phase::kStarting: w.state = SlotState::kStarting; ++ps.starting; break;
        case Slot::Phase::kBackoff: w.state = SlotState::kBackoff; ++ps.backoff; break;
        case Slot::Phase::kFlapping: w.state = SlotState::kFlapping; ++ps.flapping; break;
        case Slot::Phase::kGaveUp: w.state = SlotState::kGaveUp; ++ps.flapping; break;
        case Slot::Phase::kRetiring:
        case Slot::Phase::kRolling: w.state = SlotState::kStopping; ++ps.stopping; break;
        case Slot::Phase::kStalled: w.state = SlotState::kStalled; ++ps.stalled; break;
      }
      w.heartbeats = s->heartbeats;
      if (s->heartbeats > 0) {
        w.last_heartbeat_ms = s->last_heartbeat_wall_ms;
        w.heartbeat_age_s = to_seconds(now - s->last_heartbeat);
      }
      w.busy = s->effective_busy();
      if (s->busy) w.busy_from = "heartbeat";
      else if (s->registry_busy) w.busy_from = pool->busy_source;
      w.progress = s->progress;
      w.status = s->status;
      w.cgroup = s->cgroup;
      if (s->phase == Slot::Phase::kRunning && w.busy) ++(*w.busy ? ps.busy : ps.idle);
      if (s->has_process()) {
        w.started_at_ms = s->started_wall_ms;
        w.uptime_s = to_seconds(now - s->started);
        if (s->generation < pool->generation) ps.rolling = true;
      } else if (s->phase == Slot::Phase::kBackoff || s->phase == Slot::Phase::kFlapping) {
        w.retry_in_s = std::max(0.0, to_seconds(s->retry_at - now));
      }
      ps.workers.push_back(std::move(w));
    }
    snap.pools.push_back(std::move(ps));
  }
  return snap;
}

std::vector<LogLine> Supervisor::log_tail(size_t n, const std::optional<std::string>& pool) const {
  return ring_.tail(n, pool);
}

}  // namespace drover
