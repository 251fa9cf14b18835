#include "shell/repl/completer.h"

#include <doctest/doctest.h>

#include "shell/lua/lua_state.h"

using namespace drover;

namespace {
// A client is needed to build the state; completion itself never calls it.
struct NoEngine final : EngineClient {
  Result<EngineSnapshot> snapshot() override { return EngineSnapshot{}; }
  Result<SizeMap> configure(const SizeMap&) override { return Status::invalid("x"); }
  Status apply(std::vector<PoolSpec>, bool) override { return Status::ok(); }
  Result<SizeMap> merge_sizes(const SizeMap&) override { return Status::invalid("x"); }
  Status start(const std::optional<std::string>&) override { return Status::ok(); }
  Status stop(const std::optional<std::string>&) override { return Status::ok(); }
  Status signal_workers(int, const std::optional<std::string>&) override { return Status::ok(); }
  Status signal_worker(const std::string&, int, int) override { return Status::ok(); }
  Result<std::vector<LogLine>> log_tail(size_t, const std::optional<std::string>&) override {
    return std::vector<LogLine>{};
  }
  Result<AutoscaleView> autoscale() override { return AutoscaleView{}; }
  Status set_autoscale(const std::string&, bool) override { return Status::ok(); }
  std::shared_ptr<Subscription> subscribe(size_t c, Subscription::Filter f) override {
    return std::make_shared<Subscription>(c, f);
  }
  void report(EventKind, std::string, std::string) override {}
  void set_queue_gauge(const std::string&, const QueueGauge&) override {}
  void set_worker_busy(const std::string&, std::string, std::vector<WorkerBusy>) override {}
  void shutdown() override {}
  void kill_all() override {}
  bool wait_finished(Duration) override { return true; }
};
}  // namespace

TEST_CASE("completer: globals - fields after a dot - pool names in strings") {
  NoEngine engine;
  ShellContext ctx(engine);
  LuaState lua(ctx);
  Completer c(lua.get(), [] { return std::vector<std::string>{"bar", "baz", "foo"}; });

  CHECK(c.complete("sta") == std::vector<std::string>{"start", "status"});
  CHECK(c.complete("log.ta") == std::vector<std::string>{"log.tail", "log.tail_until"});
  CHECK(c.complete("x = log.pa") == std::vector<std::string>{"log.path"});
  CHECK(c.complete("stop \"ba") == std::vector<std::string>{"bar", "baz"});
  CHECK(c.complete("stop(\"f") == std::vector<std::string>{"foo"});
  CHECK(c.complete("help \"con") == std::vector<std::string>{"config"});
  CHECK(c.complete("whi") == std::vector<std::string>{"while"});
  CHECK(c.complete("string:up") == std::vector<std::string>{"string:upper"});
  CHECK(c.complete("nosuch.x").empty());
}
