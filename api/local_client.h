// LocalClient: the EngineClient of `drover pools.lua`, over the engine in this process
// and the shell's own Autoscaler. Does not own either.
//
// The engine may come later: drover runs its config file once, in the shell's Lua state,
// before it starts the engine (whose options and pools come from it), so the shell and
// its Autoscaler are made first on a LocalClient without an engine, and attach() gives it
// the engine once it runs. Until then the client has no pools, refuses what would change
// them, and keeps what is reported (a probe's warning) for the engine's log. Detached
// never: the shell goes before the engine (main).
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <tuple>
#include <vector>

#include "api/engine_client.h"
#include "engine/size_batch.h"
#include "jobs/job_service.h"

namespace drover {

class LocalClient : public EngineClient {
 public:
  LocalClient() = default;  // attach() the engine once it runs
  explicit LocalClient(Engine& engine) : engine_(&engine) {}

  // From main's thread, once; what was reported before goes to the engine now.
  void attach(Engine& engine) {
    std::lock_guard lock(mu_);
    for (auto& [kind, pool, text] : reported_) engine.report(kind, std::move(pool), std::move(text));
    reported_.clear();
    engine_.store(&engine);
  }
  // How to reach the job queue: opened on first use (or at start, when a pool runs jobs),
  // by main, which owns it; an error says why there is none (another drover holds it).
  using JobsOpener = std::function<Result<jobs::JobService*>()>;
  void serve_jobs(JobsOpener open) {
    std::lock_guard lock(mu_);
    open_jobs_ = std::move(open);
  }
  // The history ring main keeps beside the engine; it must outlive this client's use.
  void serve_history(const HistoryRing* ring) { history_ = ring; }
  // The shell's Autoscaler, once it exists; null again before it goes.
  void serve_autoscale(AutoscaleControl* autoscaler) { autoscaler_ = autoscaler; }

  Result<EngineSnapshot> snapshot() override {
    if (Engine* e = engine()) return e->snapshot();
    return EngineSnapshot{};
  }
  Result<SizeMap> configure(const SizeMap& sizes) override {
    if (Engine* e = engine()) return e->configure(sizes);
    return not_yet();
  }
  Result<SizeMap> merge_sizes(const SizeMap& sizes) override {
    if (Engine* e = engine()) return e->resize(size_batch_from_config(sizes));
    return not_yet();
  }
  Status apply(std::vector<PoolSpec> specs, bool remove_missing) override {
    if (Engine* e = engine()) return e->apply(std::move(specs), remove_missing);
    return not_yet();
  }
  Status start(const std::optional<std::string>& pool) override {
    if (Engine* e = engine()) return e->start(pool);
    return not_yet();
  }
  Status stop(const std::optional<std::string>& pool) override {
    if (Engine* e = engine()) return e->stop(pool);
    return not_yet();
  }
  Status signal_workers(int sig, const std::optional<std::string>& pool) override {
    if (Engine* e = engine()) return e->signal_workers(sig, pool);
    return not_yet();
  }
  Status signal_worker(const std::string& pool, int slot, int sig) override {
    if (Engine* e = engine()) return e->signal_worker(pool, slot, sig);
    return not_yet();
  }
  Result<std::vector<LogLine>> log_tail(size_t n, const std::optional<std::string>& pool) override {
    if (Engine* e = engine()) return e->log_tail(n, pool);
    return std::vector<LogLine>{};
  }
  std::shared_ptr<Subscription> subscribe(size_t capacity, Subscription::Filter filter) override {
    if (Engine* e = engine()) return e->subscribe(capacity, filter);
    auto none = std::make_shared<Subscription>(capacity, filter);
    none->close();
    return none;
  }
  Result<AutoscaleView> autoscale() override {
    AutoscaleControl* a = autoscaler_.load();
    if (!a) return Status::unavailable("autoscaling is not available in this shell");
    return a->view();
  }
  Status set_autoscale(const std::string& pool, bool enabled) override {
    AutoscaleControl* a = autoscaler_.load();
    if (!a) return Status::unavailable("autoscaling is not available in this shell");
    if (!a->set_enabled(pool, enabled))
      return Status::not_found(fmt::format("no autoscale policy for \"{}\"", pool));
    return Status::ok();
  }
  Result<std::vector<jobs::Job>> enqueue_jobs(std::vector<jobs::JobRequest> requests) override {
    auto q = jobs_service();
    if (!q) return q.error();
    return (*q)->enqueue(std::move(requests));
  }
  Result<jobs::Job> job(jobs::JobId id) override {
    auto q = jobs_service();
    if (!q) return q.error();
    return (*q)->get(id);
  }
  Result<std::vector<jobs::Job>> list_jobs(const jobs::JobFilter& filter) override {
    auto q = jobs_service();
    if (!q) return q.error();
    return (*q)->list(filter);
  }
  Result<std::vector<jobs::TopicStats>> job_stats() override {
    auto q = jobs_service();
    if (!q) return q.error();
    return (*q)->stats();
  }
  Result<jobs::Fleet> fleet() override {
    auto q = jobs_service();
    if (!q) return q.error();
    return (*q)->fleet();
  }
  Result<jobs::Job> cancel_job(jobs::JobId id) override {
    auto q = jobs_service();
    if (!q) return q.error();
    return (*q)->cancel(id);
  }
  Result<jobs::Job> retry_job(jobs::JobId id) override {
    auto q = jobs_service();
    if (!q) return q.error();
    return (*q)->retry(id);
  }
  Result<size_t> retry_dead_jobs(const std::optional<std::string>& topic) override {
    auto q = jobs_service();
    if (!q) return q.error();
    return (*q)->retry_dead(topic);
  }
  Status drop_job(jobs::JobId id) override {
    auto q = jobs_service();
    if (!q) return q.error();
    return (*q)->drop(id);
  }
  Result<History> history(int64_t since_ms, size_t every, const std::string& only) override {
    const HistoryRing* ring = history_.load();
    if (!ring) return EngineClient::history(since_ms, every, only);
    return ring->read(since_ms, every, only);
  }
  Status watch_job_retries(std::function<void(const jobs::Job&)> fn) override {
    jobs::JobService* open = nullptr;
    {
      std::lock_guard lock(mu_);
      retry_watch_ = std::move(fn);
      open = retry_watched_;
    }
    // Not open yet: jobs_service() installs it when it opens.
    if (open) open->set_retry_listener(current_retry_watch());
    return Status::ok();
  }
  Result<jobs::Job> reschedule_job(jobs::JobId id, int attempt, double delay_s) override {
    auto q = jobs_service();
    if (!q) return q.error();
    return (*q)->reschedule(id, attempt, delay_s);
  }
  Result<std::vector<jobs::ScheduleState>> schedules() override {
    auto q = jobs_service();
    if (!q) return q.error();
    return (*q)->schedules();
  }
  Result<jobs::ScheduleState> schedule(const std::string& name) override {
    auto q = jobs_service();
    if (!q) return q.error();
    return (*q)->schedule(name);
  }
  Result<jobs::ScheduleState> define_schedule(const jobs::Schedule& s) override {
    auto q = jobs_service();
    if (!q) return q.error();
    return (*q)->define_schedule(s);
  }
  Result<jobs::ScheduleState> set_schedule_enabled(const std::string& name, bool on) override {
    auto q = jobs_service();
    if (!q) return q.error();
    return (*q)->set_schedule_enabled(name, on);
  }
  Result<jobs::Job> run_schedule(const std::string& name) override {
    auto q = jobs_service();
    if (!q) return q.error();
    return (*q)->run_schedule(name);
  }
  Status drop_schedule(const std::string& name) override {
    auto q = jobs_service();
    if (!q) return q.error();
    return (*q)->drop_schedule(name);
  }
  void report(EventKind kind, std::string pool, std::string text) override {
    if (Engine* e = engine()) return e->report(kind, std::move(pool), std::move(text));
    std::lock_guard lock(mu_);
    if (Engine* e = engine()) return e->report(kind, std::move(pool), std::move(text));  // attached meanwhile
    if (reported_.size() < 100) reported_.emplace_back(kind, std::move(pool), std::move(text));
  }
  void set_queue_gauge(const std::string& pool, const QueueGauge& gauge) override {
    if (Engine* e = engine()) e->set_queue_gauge(pool, gauge);
  }
  void set_worker_busy(const std::string& pool, std::string source, std::vector<WorkerBusy> workers) override {
    if (Engine* e = engine()) e->set_worker_busy(pool, std::move(source), std::move(workers));
  }
  void shutdown() override {
    if (Engine* e = engine()) e->shutdown();
  }
  void kill_all() override {
    if (Engine* e = engine()) e->kill_all();
  }
  bool wait_finished(Duration timeout) override {
    Engine* e = engine();
    return e ? e->wait_finished(timeout) : true;
  }

 private:
  Engine* engine() const { return engine_.load(); }
  Result<jobs::JobService*> jobs_service() {
    JobsOpener open;
    {
      std::lock_guard lock(mu_);
      open = open_jobs_;
    }
    if (!open) return Status::unavailable("drover's engine has not started yet (the config file runs first)");
    auto q = open();
    if (!q) return q;
    bool install = false;
    {
      std::lock_guard lock(mu_);
      install = retry_watched_ != *q;
      retry_watched_ = *q;
    }
    if (install) (*q)->set_retry_listener(current_retry_watch());
    return q;
  }
  std::function<void(const jobs::Job&)> current_retry_watch() {
    std::lock_guard lock(mu_);
    return retry_watch_;
  }
  static Status not_yet() {
    return Status::unavailable("drover's engine has not started yet (the config file runs first)");
  }

  std::atomic<Engine*> engine_{nullptr};
  std::atomic<AutoscaleControl*> autoscaler_{nullptr};
  std::atomic<const HistoryRing*> history_{nullptr};
  std::mutex mu_;  // guards reported_, open_jobs_ and the retry watch, and attach() against report()
  JobsOpener open_jobs_;
  std::function<void(const jobs::Job&)> retry_watch_;  // jobs.retry_delay's listener
  jobs::JobService* retry_watched_ = nullptr;         // the queue it was installed in
  std::vector<std::tuple<EventKind, std::string, std::string>> reported_;
};

}  // namespace drover
