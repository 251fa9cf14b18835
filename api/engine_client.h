// EngineClient: what the shell's bindings may ask of an engine, local or remote.
//
// The same bindings serve `drover pools.lua` (LocalClient, in-process) and, with the
// control-plane issue, `drover attach host:port` (a RemoteClient over HTTP/JSON), as one
// neovim API serves Lua and RPC. Every call returns values; none hands out references
// into engine state. Calls may block briefly on the engine's inbox, never on workers.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/size_batch.h"

namespace drover {

class EngineClient {
 public:
  virtual ~EngineClient() = default;

  virtual EngineSnapshot snapshot() = 0;
  virtual Result<std::map<std::string, int>> configure(const std::map<std::string, int>& sizes) = 0;
  // config{}: name -> n merged in one engine call, n = 0 removing the pool (SizeBatch);
  // all or nothing. Returns the resulting sizes, pools being removed left out.
  virtual Result<std::map<std::string, int>> merge_sizes(const std::map<std::string, int>& sizes) = 0;
  virtual Status apply(std::vector<PoolSpec> specs, bool remove_missing) = 0;
  virtual Status start(const std::optional<std::string>& pool) = 0;
  virtual Status stop(const std::optional<std::string>& pool) = 0;
  virtual Status signal_workers(int sig, const std::optional<std::string>& pool) = 0;
  virtual std::vector<LogLine> log_tail(size_t n, const std::optional<std::string>& pool) = 0;
  virtual std::shared_ptr<Subscription> subscribe(size_t capacity, Subscription::Filter filter) = 0;
  virtual void report(EventKind kind, std::string pool, std::string text) = 0;
  virtual void set_queue_gauge(const std::string& pool, const QueueGauge& gauge) = 0;
  virtual void set_worker_busy(const std::string& pool, std::string source, std::vector<WorkerBusy> workers) = 0;
  virtual void shutdown() = 0;
  virtual void kill_all() = 0;
  virtual bool wait_finished(Duration timeout) = 0;
  // Who the shell talks to, for what it says when that one goes: "drover" here, "the
  // drover at 127.0.0.1:8010" attached.
  virtual std::string name() const { return "drover"; }
};

// The in-process engine. Does not own it.
class LocalClient final : public EngineClient {
 public:
  explicit LocalClient(Engine& engine) : engine_(engine) {}
  EngineSnapshot snapshot() override { return engine_.snapshot(); }
  Result<std::map<std::string, int>> configure(const std::map<std::string, int>& sizes) override {
    return engine_.configure(sizes);
  }
  Result<std::map<std::string, int>> merge_sizes(const std::map<std::string, int>& sizes) override {
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
  std::vector<LogLine> log_tail(size_t n, const std::optional<std::string>& pool) override {
    return engine_.log_tail(n, pool);
  }
  std::shared_ptr<Subscription> subscribe(size_t capacity, Subscription::Filter filter) override {
    return engine_.subscribe(capacity, filter);
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
};

}  // namespace drover
