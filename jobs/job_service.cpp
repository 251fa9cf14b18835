#include "jobs/job_service.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace drover::jobs {

namespace {

// mkdir -p with each new directory 0700: the state directory holds other users' business.
Status make_private_dirs(const std::string& dir) {
  std::string path;
  for (const auto& part : std::filesystem::path(dir)) {
    path = (std::filesystem::path(path) / part).string();
    if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
      return Status::io_error(fmt::format("{}: {}", path, strerror(errno)));
  }
  return Status::ok();
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<std::string> default_state_dir() {
  if (const char* s = std::getenv("XDG_STATE_HOME"); s && *s == '/') return std::string(s) + "/drover";
  if (const char* h = std::getenv("HOME"); h && *h == '/') return std::string(h) + "/.local/state/drover";
  return Status::invalid("no place for the job store: neither XDG_STATE_HOME nor HOME is set; give --state DIR");
}

Result<std::unique_ptr<JobService>> JobService::open(Engine& engine, JobServiceOptions o) {
  std::unique_ptr<JobService> svc(new JobService());
  svc->host_ = !o.host.empty() ? o.host : !o.dispatch.host.empty() ? o.dispatch.host : machine_host_name();
  svc->started_ms_ = wall_ms();
  svc->http_ = o.http_address;
  svc->engine_ = &engine;
  svc->warn_ = o.warn ? o.warn : [](const std::string& m) { fmt::print(stderr, "drover: job store: {}\n", m); };
  std::unique_ptr<JobStore> store;
  if (!o.store_url.empty()) {
    if (!is_postgres_url(o.store_url))
      return Status::invalid(fmt::format("job store \"{}\": not a postgresql:// or postgres:// URL", o.store_url));
    auto pg = PgJobStore::open(o.store_url, svc->host_);
    if (!pg) return pg.error();
    svc->path_ = (*pg)->db().where();
    svc->shared_ = true;
    store = std::move(*pg);
  } else {
    if (Status s = svc->lock_state_dir(o.state_dir); !s) return s;
    auto sqlite = SqliteJobStore::open(svc->path_, o.durability);
    if (!sqlite) return sqlite.error();
    store = std::move(*sqlite);
  }
  o.dispatch.host = svc->host_;
  svc->queue_ = std::make_unique<JobQueue>(std::move(store));
  if (svc->shared_) {
    // In the fleet before anything else: from here on no peer mistakes this run's jobs
    // for a previous run's, and this run's requeue_running() below takes back only those.
    HostLeaseOptions lo;
    lo.lease = o.lease;
    lo.describe = [s = svc.get()] { return s->describe(); };
    lo.on_renewal = [s = svc.get()](const LeaseRenewal& r) { s->on_renewal(r); };
    lo.warn = svc->warn_;
    auto lease = HostLease::start(*svc->queue_, std::move(lo));
    if (!lease) return lease.error();
    svc->lease_ = std::move(*lease);
  }
  // Before the dispatcher exists: no claim of this run can be mistaken for a leftover.
  auto left = svc->queue_->call<std::vector<Job>>([](JobStore& s, int64_t now) { return s.requeue_running(now); }).get();
  if (!left) return left.error();
  svc->recovered_ = left->size();
  auto pruned = svc->queue_->call<size_t>([r = o.retention](JobStore& s, int64_t now) { return s.prune(r, now); }).get();
  if (!pruned) return pruned.error();
  o.dispatch.counters = &svc->counters_;
  o.dispatch.on_retrying = [s = svc.get()](const Job& j) {
    std::lock_guard lock(s->retry_mu_);
    if (s->retry_listener_) s->retry_listener_(j);
  };
  svc->dispatcher_ = std::make_unique<JobDispatcher>(engine, *svc->queue_, std::move(o.dispatch));
  // The first refresh before anyone reads: status() right after start has the counts.
  int64_t read_at = 0;
  auto live = svc->queue_->call<std::vector<TopicStats>>([&read_at](JobStore& s, int64_t now) {
                                 read_at = now;
                                 return s.live_stats(now);
                               }).get();
  if (live) svc->counters_.refresh(*live, read_at);
  svc->retention_ = o.retention;
  svc->prune_every_ = o.prune_every;
  svc->refresher_ = std::thread([s = svc.get()] { s->refresh_loop(); });
  // The schedules fire from here on; a tick's job wakes the pools of its topic.
  Scheduler::Options so;
  so.fired = [s = svc.get(), &engine](const std::string& name, const Job& job) {
    s->dispatcher_->poke(job.topic);
    engine.report(EventKind::kJobsEnqueued, job.topic, fmt::format("job {} (schedule \"{}\")", job.id, name));
  };
  so.log = [&engine](const std::string& line) { engine.report(EventKind::kPolicyWarning, "", line); };
  svc->scheduler_ = std::make_unique<Scheduler>(*svc->queue_, std::move(so));
  engine.set_job_gauges([s = svc.get()] { return s->gauges(); });
  if (Status s = svc->dispatcher_->open_broker(); !s) return s;
  if (svc->shared_)
    svc->listener_ = std::make_unique<PgListener>(
        o.store_url,
        [d = svc->dispatcher_.get()](const std::string& topic) {
          d->poke(topic.empty() ? std::nullopt : std::optional<std::string>(topic));
        },
        // Silent: the lease already warns once when the store is unreachable and once when
        // it is back; a second voice for the same outage would be noise. Meanwhile the
        // dispatcher's poll finds what the listener cannot hear.
        [](const std::string&) {});
  return svc;
}

HostRecord JobService::describe() {
  HostRecord me;
  me.name = host_;
  me.pid = getpid();
  me.started_ms = started_ms_;
  {
    std::lock_guard lock(http_mu_);
    me.http = http_;
  }
  // The engine answers from its loop; this thread (the lease's) waits, the loop does not.
  nlohmann::json pools = nlohmann::json::array();
  if (engine_)
    for (const auto& p : engine_->snapshot().pools)
      pools.push_back({{"name", p.spec.name}, {"size", p.target}, {"running", p.running}});
  me.pools = pools.dump();
  return me;
}

void JobService::on_renewal(const LeaseRenewal& r) {
  for (const std::string& h : r.expired) {
    size_t n = 0;
    for (const Job& j : r.requeued) n += j.host == h;
    warn_(fmt::format("host {} went silent (its lease ran out): {} running job{} queued again", h, n,
                      n == 1 ? "" : "s"));
  }
  // The first renewal runs in open(), before the dispatcher exists: it claims on its own
  // once the pools report room, so there is nobody to poke yet.
  if (!r.requeued.empty() && dispatcher_) dispatcher_->poke(std::nullopt);
}

void JobService::set_http_address(std::string address) {
  std::lock_guard lock(http_mu_);
  http_ = std::move(address);
}

Result<Fleet> JobService::fleet() {
  auto f = queue_->call<Fleet>([](JobStore& s, int64_t now) { return s.fleet(now); }).get();
  if (f) f->self = host_;
  if (!f || shared_) return f;
  // One host, not written anywhere: this one, as it is now.
  HostRecord me = describe();
  for (const TopicStats& t : f->topics) me.running_jobs += t.running;
  f->hosts.push_back(std::move(me));
  return f;
}

Status JobService::lock_state_dir(const std::string& state_dir) {
  if (Status s = make_private_dirs(state_dir); !s) return s;
  path_ = state_dir + "/jobs.db";
  const std::string lock_path = path_ + ".lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) return Status::io_error(fmt::format("{}: {}", lock_path, strerror(errno)));
  if (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    char owner[32] = {};
    (void)!pread(lock_fd_, owner, sizeof owner - 1, 0);
    return Status::unavailable(fmt::format("the job store {} is in use by another drover (pid {}); give this one "
                                           "its own --state DIR",
                                           path_, std::strtol(owner, nullptr, 10)));
  }
  const std::string pid = std::to_string(getpid());
  if (ftruncate(lock_fd_, 0) != 0 || pwrite(lock_fd_, pid.data(), pid.size(), 0) < 0)
    return Status::io_error(fmt::format("{}: {}", lock_path, strerror(errno)));
  return Status::ok();
}

JobService::~JobService() {
  if (engine_) engine_->set_job_gauges({});  // waits for a snapshot reading gauges()
  if (refresher_.joinable()) {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    refresher_.join();
  }
  scheduler_.reset();
  lease_.reset();
  listener_.reset();
  dispatcher_.reset();
  if (shared_ && queue_) {
    // Out of the fleet, and what still runs under this name back to the queue, where a
    // peer starts it now rather than at the lease's end. If the store is down, the lease
    // runs out instead.
    (void)queue_->call<int>([h = host_](JobStore& s, int64_t now) -> Result<int> {
                   if (Status st = s.leave(h, now); !st) return st;
                   return 0;
                 }).get();
  }
  queue_.reset();
  if (lock_fd_ >= 0) close(lock_fd_);  // the lock goes with it
}

std::vector<TopicGauge> JobService::gauges() const { return counters_.gauges(wall_ms()); }

void JobService::refresh_loop() {
  pthread_setname_np(pthread_self(), "drover-jobstats");
  // Once a second, or less often when the query is slow (a million waiting jobs: about a
  // third of a second, bench/RESULTS.md): it takes at most a tenth of the store thread.
  auto took_ms = std::make_shared<std::atomic<int64_t>>(0);
  std::unique_lock lock(mu_);
  auto every = [&] {
    return std::min(prune_every_, std::chrono::milliseconds(std::max<int64_t>(1000, 10 * took_ms->load())));
  };
  auto last_prune = std::chrono::steady_clock::now();
  while (!cv_.wait_for(lock, every(), [this] { return stopping_; })) {
    lock.unlock();
    if (std::chrono::steady_clock::now() - last_prune >= prune_every_) {
      // The retention, kept while drover runs (not only at start): done, dead and
      // cancelled jobs past the count or the age are deleted, a fan-out whole.
      last_prune = std::chrono::steady_clock::now();
      queue_->submit<size_t>([r = retention_](JobStore& s, int64_t now) { return s.prune(r, now); }, [](Result<size_t>) {});
    }
    // On the store thread, in the group of whatever else is pending; the answer (and its
    // clock) arrive after that group's commit.
    auto read_at = std::make_shared<int64_t>(0);  // the store's clock for the ages it gives
    queue_->submit<std::vector<TopicStats>>(
        [read_at, took_ms](JobStore& s, int64_t now) {
          *read_at = now;
          const auto t0 = std::chrono::steady_clock::now();
          auto r = s.live_stats(now);
          took_ms->store(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
                             .count());
          return r;
        },
        [this, read_at](Result<std::vector<TopicStats>> r) {
          if (r) counters_.refresh(*r, *read_at);
        });
    lock.lock();
  }
}

Result<std::vector<Job>> JobService::enqueue(std::vector<JobRequest> requests) {
  return dispatcher_->enqueue(std::move(requests)).get();
}
Result<Job> JobService::get(JobId id) {
  return queue_->call<Job>([id](JobStore& s, int64_t) { return s.get(id); }).get();
}
Result<std::vector<Job>> JobService::list(const JobFilter& f) {
  return queue_->call<std::vector<Job>>([f](JobStore& s, int64_t) { return s.list(f); }).get();
}
Result<std::vector<TopicStats>> JobService::stats() {
  auto r = queue_->stats().get();
  if (!r) return r;
  const std::vector<TopicGauge> since_start = counters_.gauges(0);
  for (TopicStats& t : *r)
    for (const TopicGauge& g : since_start)
      if (g.topic == t.topic) {
        t.enqueued = g.enqueued_total;
        t.started = g.started_total;
        t.retried = g.failed_total - g.dead_total;
        t.completed = g.done_total;
      }
  return r;
}
Result<Job> JobService::cancel(JobId id) { return dispatcher_->cancel(id); }
Result<Job> JobService::retry(JobId id) {
  auto r = queue_->call<Job>([id](JobStore& s, int64_t now) { return s.retry(id, now); }).get();
  if (r) dispatcher_->poke(r->topic);
  return r;
}
Result<size_t> JobService::retry_dead(const std::optional<std::string>& topic) {
  auto r = queue_->call<size_t>([topic](JobStore& s, int64_t now) { return s.retry_dead(topic, now); }).get();
  if (r && *r) dispatcher_->poke(topic);
  return r;
}
Result<Job> JobService::reschedule(JobId id, int attempt, double delay_s) {
  if (!(delay_s >= 0) || delay_s > kMaxDelayS)
    return Status::invalid(fmt::format("a retry delay must be 0..{} seconds, not {}", kMaxDelayS, delay_s));
  auto r = queue_->call<Job>([=](JobStore& s, int64_t now) {
                   return s.reschedule(id, attempt, now + static_cast<int64_t>(delay_s * 1000));
                 }).get();
  if (r) dispatcher_->poke(r->topic);  // due sooner than the backoff said: claim it then
  return r;
}

void JobService::set_retry_listener(std::function<void(const Job&)> fn) {
  std::lock_guard lock(retry_mu_);
  retry_listener_ = std::move(fn);
}

Status JobService::drop(JobId id) {
  auto r = queue_->call<int>([id](JobStore& s, int64_t) -> Result<int> {
                   if (Status st = s.drop(id); !st) return st;
                   return 0;
                 }).get();
  return r ? Status::ok() : r.error();
}

namespace {

// A schedule as a listing shows it: its next tick and last outcome filled in.
ScheduleState shown(ScheduleState s, int64_t now_ms) {
  s.next_ms = next_tick(s, now_ms);
  s.outcome = schedule_outcome(s);
  return s;
}

ScheduleStore& schedules_of(JobStore& s) {
  // Both stores keep them (sqlite_schedules.cpp, pg_schedules.cpp); JobService opens nothing else.
  return *s.schedules();
}

}  // namespace

Result<ScheduleState> JobService::define_schedule(const Schedule& def) {
  auto r = queue_->call<ScheduleState>([def](JobStore& s, int64_t now) {
                   return schedules_of(s).upsert_schedule(def, now);
                 }).get();
  if (!r) return r;
  scheduler_->poke();
  return shown(std::move(*r), wall_ms());
}

Result<std::vector<ScheduleState>> JobService::schedules() {
  auto r = queue_->call<std::vector<ScheduleState>>([](JobStore& s, int64_t) {
                   return schedules_of(s).list_schedules();
                 }).get();
  if (!r) return r;
  const int64_t now = wall_ms();
  for (ScheduleState& st : *r) st = shown(std::move(st), now);
  return r;
}

Result<ScheduleState> JobService::schedule(const std::string& name) {
  auto r = queue_->call<ScheduleState>([name](JobStore& s, int64_t) { return schedules_of(s).get_schedule(name); })
               .get();
  if (!r) return r;
  return shown(std::move(*r), wall_ms());
}

Result<ScheduleState> JobService::set_schedule_enabled(const std::string& name, bool on) {
  auto r = queue_->call<ScheduleState>([name, on](JobStore& s, int64_t now) {
                   return schedules_of(s).set_schedule_enabled(name, on, now);
                 }).get();
  if (!r) return r;
  scheduler_->poke();
  return shown(std::move(*r), wall_ms());
}

Result<Job> JobService::run_schedule(const std::string& name) {
  auto r = queue_->call<Job>([name](JobStore& s, int64_t now) { return schedules_of(s).run_schedule_now(name, now); })
               .get();
  if (r) dispatcher_->poke(r->topic);
  return r;
}

Status JobService::drop_schedule(const std::string& name) {
  auto r = queue_->call<int>([name](JobStore& s, int64_t) -> Result<int> {
                   if (Status st = schedules_of(s).remove_schedule(name); !st) return st;
                   return 0;
                 }).get();
  if (!r) return r.error();
  scheduler_->poke();
  return Status::ok();
}

}  // namespace drover::jobs
