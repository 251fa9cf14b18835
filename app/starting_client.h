// StartingClient: the shell's EngineClient from before the engine exists. drover runs its
// config file once, in the shell's Lua state, before it starts the engine (whose options
// and pools come from it), so the shell and its Autoscaler are made first, on this client,
// and the engine is attached once it runs. Until then the client has no pools, refuses
// what would change them, and keeps what is reported (a probe's warning) for the engine's
// log. Detached never: the shell goes before the engine (main).
#pragma once

#include <atomic>
#include <mutex>
#include <tuple>
#include <vector>

#include "shell/lua/engine_client.h"

namespace drover {

class StartingClient final : public EngineClient {
 public:
  // From main's thread, once; what was reported before goes to the engine now.
  void attach(Engine& engine) {
    std::lock_guard lock(mu_);
    for (auto& [kind, pool, text] : reported_) engine.report(kind, std::move(pool), std::move(text));
    reported_.clear();
    engine_.store(&engine);
  }

  EngineSnapshot snapshot() override { return engine() ? engine()->snapshot() : EngineSnapshot{}; }
  Result<std::map<std::string, int>> configure(const std::map<std::string, int>& sizes) override {
    if (!engine()) return not_yet();
    return engine()->configure(sizes);
  }
  Result<std::map<std::string, int>> merge_sizes(const std::map<std::string, int>& sizes) override {
    if (!engine()) return not_yet();
    return engine()->resize(size_batch_from_config(sizes));
  }
  Status apply(std::vector<PoolSpec> specs, bool remove_missing) override {
    return engine() ? engine()->apply(std::move(specs), remove_missing) : not_yet();
  }
  Status start(const std::optional<std::string>& pool) override { return engine() ? engine()->start(pool) : not_yet(); }
  Status stop(const std::optional<std::string>& pool) override { return engine() ? engine()->stop(pool) : not_yet(); }
  Status signal_workers(int sig, const std::optional<std::string>& pool) override {
    return engine() ? engine()->signal_workers(sig, pool) : not_yet();
  }
  std::vector<LogLine> log_tail(size_t n, const std::optional<std::string>& pool) override {
    return engine() ? engine()->log_tail(n, pool) : std::vector<LogLine>{};
  }
  std::shared_ptr<Subscription> subscribe(size_t capacity, Subscription::Filter filter) override {
    if (engine()) return engine()->subscribe(capacity, filter);
    auto none = std::make_shared<Subscription>(capacity, filter);
    none->close();
    return none;
  }
  void report(EventKind kind, std::string pool, std::string text) override {
    if (Engine* e = engine()) return e->report(kind, std::move(pool), std::move(text));
    std::lock_guard lock(mu_);
    if (Engine* e = engine()) return e->report(kind, std::move(pool), std::move(text));
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
  bool wait_finished(Duration timeout) override { return engine() ? engine()->wait_finished(timeout) : true; }

 private:
  Engine* engine() const { return engine_.load(); }
  static Status not_yet() { return Status::unavailable("drover's engine has not started yet (the config file runs first)"); }

  std::atomic<Engine*> engine_{nullptr};
  std::mutex mu_;
  std::vector<std::tuple<EventKind, std::string, std::string>> reported_;
};

}  // namespace drover
