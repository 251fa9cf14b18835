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

class LocalClient final : public EngineClient {
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
    return open();
  }
  static Status not_yet() {
    return Status::unavailable("drover's engine has not started yet (the config file runs first)");
  }

  std::atomic<Engine*> engine_{nullptr};
  std::atomic<AutoscaleControl*> autoscaler_{nullptr};
  std::mutex mu_;  // guards reported_ and open_jobs_, and attach() against report()
  JobsOpener open_jobs_;
  std::vector<std::tuple<EventKind, std::string, std::string>> reported_;
};

}  // namespace drover
