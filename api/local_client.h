// LocalClient: the EngineClient of `drover pools.lua`, over the engine in this process
// and the shell's own Autoscaler. Does not own either.
#pragma once

#include <fmt/format.h>

#include "api/engine_client.h"
#include "engine/size_batch.h"

namespace drover {

class LocalClient final : public EngineClient {
 public:
  explicit LocalClient(Engine& engine) : engine_(engine) {}
  // The shell's Autoscaler, once it exists; null again before it goes.
  void serve_autoscale(AutoscaleControl* autoscaler) { autoscaler_ = autoscaler; }

  Result<EngineSnapshot> snapshot() override { return engine_.snapshot(); }
  Result<SizeMap> configure(const SizeMap& sizes) override { return engine_.configure(sizes); }
  Result<SizeMap> merge_sizes(const SizeMap& sizes) override {
    return engine_.resize(size_batch_from_config(sizes));
  }
  Status apply(std::vector<PoolSpec> specs, bool remove_missing) override {
    return engine_.apply(std::move(specs), remove_missing);
  }
  Status start(const std::optional<std::string>& pool) override { return engine_.start(pool); }
  Status stop(const std::optional<std::string>& pool) override { return engine_.stop(pool); }
  Status signal_workers(int sig, const std::optional<std::string>& pool) override {
    return engine_.signal_workers(sig, pool);
  }
  Status signal_worker(const std::string& pool, int slot, int sig) override {
    return engine_.signal_worker(pool, slot, sig);
  }
  Result<std::vector<LogLine>> log_tail(size_t n, const std::optional<std::string>& pool) override {
    return engine_.log_tail(n, pool);
  }
  std::shared_ptr<Subscription> subscribe(size_t capacity, Subscription::Filter filter) override {
    return engine_.subscribe(capacity, filter);
  }
  Result<AutoscaleView> autoscale() override {
    if (!autoscaler_) return Status::unavailable("autoscaling is not available in this shell");
    return autoscaler_->view();
  }
  Status set_autoscale(const std::string& pool, bool enabled) override {
    if (!autoscaler_) return Status::unavailable("autoscaling is not available in this shell");
    if (!autoscaler_->set_enabled(pool, enabled))
      return Status::not_found(fmt::format("no autoscale policy for \"{}\"", pool));
    return Status::ok();
  }
  void report(EventKind kind, std::string pool, std::string text) override {
    engine_.report(kind, std::move(pool), std::move(text));
  }
  void set_queue_gauge(const std::string& pool, const QueueGauge& gauge) override {
    engine_.set_queue_gauge(pool, gauge);
  }
  void set_worker_busy(const std::string& pool, std::string source, std::vector<WorkerBusy> workers) override {
    engine_.set_worker_busy(pool, std::move(source), std::move(workers));
  }
  void shutdown() override { engine_.shutdown(); }
  void kill_all() override { engine_.kill_all(); }
  bool wait_finished(Duration timeout) override { return engine_.wait_finished(timeout); }

 private:
  Engine& engine_;
  AutoscaleControl* autoscaler_ = nullptr;
};

}  // namespace drover
