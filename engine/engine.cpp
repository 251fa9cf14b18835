#include "engine/engine.h"

#include <pthread.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <thread>

#include "engine/event_loop.h"
#include "engine/inbox.h"
#include "engine/signals.h"
#include "engine/supervisor.h"

namespace drover {

class Engine::Impl {
 public:
  explicit Impl(EngineOptions options)
      : options_(std::move(options)),
        clock_(options_.clock ? *options_.clock : SteadyClock::instance()),
        loop_(clock_),
        inbox_(loop_) {
    std::promise<void> ready;
    auto ready_future = ready.get_future();
    thread_ = std::thread([this, &ready] { run(ready); });
    try {
      ready_future.get();  // rethrows a construction failure (bad log path, heartbeat port taken)
    } catch (...) {
      thread_.join();  // it has returned already; a joinable thread must not be destroyed
      throw;
    }
  }

  ~Impl() {
    // Graceful: stop every worker (grace, then SIGKILL) before the loop ends.
    inbox_.post([this] { supervisor_->shutdown(); });
    wait_finished(Duration::max());
    inbox_.post([this] { loop_.stop(); });
    thread_.join();
  }

  // fn(supervisor) on the loop thread; nullopt once the loop has ended.
  template <typename Fn>
  auto call(Fn fn) {
    return inbox_.call([this, fn = std::move(fn)]() mutable { return fn(*supervisor_); });
  }
  // For the calls that return a Status or a Result: the engine having finished is a
  // Status like any other refusal.
  template <typename Fn>
  auto call_status(Fn fn) -> std::invoke_result_t<Fn, Supervisor&> {
    auto answer = call(std::move(fn));
    if (!answer) return Status::unavailable("the engine has finished");
    return std::move(*answer);
  }
  // Engine::set_job_gauges: read by snapshot() on its caller's thread.
  std::mutex job_gauges_mu;
  std::function<std::vector<TopicGauge>()> job_gauges;

  void post(std::function<void(Supervisor&)> fn) {
    inbox_.post([this, fn = std::move(fn)] { fn(*supervisor_); });
  }

  bool wait_finished(Duration timeout) {
    std::unique_lock lock(mu_);
    auto done = [this] { return finished_; };
    if (timeout == Duration::max()) {
      cv_.wait(lock, done);
      return true;
    }
    return cv_.wait_for(lock, timeout, done);
  }
  bool finished() const {
    std::lock_guard lock(mu_);
    return finished_;
  }
  const Clock& clock() const { return clock_; }
  const std::string& jobs_endpoint() const { return jobs_endpoint_; }
  // What the engine looked like when its loop ended: snapshot() and log_tail() answer
  // from these afterwards, so a reader that comes late sees the end, not an error.
  EngineSnapshot final_snapshot() const {
    std::lock_guard lock(mu_);
    return final_snapshot_;
  }
  std::vector<LogLine> final_log(size_t n, const std::optional<std::string>& pool) const {
    std::lock_guard lock(mu_);
    std::vector<LogLine> out;
    for (auto it = final_log_.rbegin(); it != final_log_.rend() && out.size() < n; ++it)
      if (!pool || it->pool == *pool) out.push_back(*it);
    std::reverse(out.begin(), out.end());
    return out;
  }

 private:
  void run(std::promise<void>& ready) {
    pthread_setname_np(pthread_self(), "drover-loop");  // for top -H and per-thread CPU in bench/
    try {
      supervisor_ = std::make_unique<Supervisor>(loop_, options_, [this](std::function<void()> fn) {
        inbox_.post(std::move(fn));
      });
      supervisor_->set_on_finished([this] {
        std::lock_guard lock(mu_);
        finished_ = true;
        cv_.notify_all();
      });
      if (options_.handle_signals)
        signals_ = std::make_unique<SignalWatch>(loop_, !options_.leave_sigint, [this](int sig) { on_signal(sig); });
      loop_.set_on_wake([this] { inbox_.drain(); });
      loop_.set_before_sleep([this] { supervisor_->before_sleep(); });
    } catch (...) {
      ready.set_exception(std::current_exception());
      return;
    }
    jobs_endpoint_ = supervisor_->jobs_endpoint();  // fixed from here on: read by any thread
    ready.set_value();
    try {
      loop_.run();
    } catch (const std::exception& e) {
      // The loop itself failing (epoll_wait error) is a bug or a dying machine.
      std::fprintf(stderr, "drover: engine loop failed: %s\n", e.what());
    }
    {
      // Kept before the inbox closes: a call that finds it closed reads these.
      EngineSnapshot last = supervisor_->snapshot();
      std::vector<LogLine> lines = supervisor_->log_tail(SIZE_MAX, std::nullopt);
      std::lock_guard lock(mu_);
      final_snapshot_ = std::move(last);
      final_log_ = std::move(lines);
    }
    inbox_.close();
    signals_.reset();
    supervisor_.reset();  // SIGKILLs anything left, reaps it
    std::lock_guard lock(mu_);
    finished_ = true;
    cv_.notify_all();
  }

  void on_signal(int sig) {
    switch (sig) {
      case SIGINT:
      case SIGTERM:
        if (supervisor_->shutting_down()) {
          supervisor_->kill_all();  // the operator insists
        } else {
          supervisor_->shutdown();
        }
        break;
      case SIGQUIT: supervisor_->shutdown(); break;
      case SIGHUP: supervisor_->request_reload(); break;
      case SIGTTIN: supervisor_->resize_all_by(+1); break;
      case SIGTTOU: supervisor_->resize_all_by(-1); break;
      default: supervisor_->signal_workers(sig, std::nullopt); break;  // USR1, USR2, CONT
    }
  }

  EngineOptions options_;
  const Clock& clock_;
  EventLoop loop_;
  Inbox inbox_;
  std::unique_ptr<Supervisor> supervisor_;  // loop thread only
  std::unique_ptr<SignalWatch> signals_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool finished_ = false;
  EngineSnapshot final_snapshot_;     // guarded by mu_
  std::string jobs_endpoint_;  // written before ready is set, constant after
  std::vector<LogLine> final_log_;    // guarded by mu_
};

Engine::Engine(EngineOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Engine::~Engine() = default;

Status Engine::apply(std::vector<PoolSpec> specs, bool remove_missing) {
  return impl_->call_status([specs = std::move(specs), remove_missing](Supervisor& s) mutable {
    return s.apply(std::move(specs), remove_missing);
  });
}
Status Engine::remove_pool(const std::string& name) {
  return impl_->call_status([name](Supervisor& s) { return s.remove_pool(name); });
}
Result<std::map<std::string, int>> Engine::configure(const std::map<std::string, int>& sizes) {
  return impl_->call_status([sizes](Supervisor& s) { return s.configure(sizes); });
}
Result<std::map<std::string, int>> Engine::resize(SizeBatch batch) {
  return impl_->call_status([batch = std::move(batch)](Supervisor& s) { return s.resize(batch); });
}
void Engine::resize_all_by(int delta) {
  impl_->call([delta](Supervisor& s) { s.resize_all_by(delta); });
}
Status Engine::start(const std::optional<std::string>& pool) {
  return impl_->call_status([pool](Supervisor& s) { return s.start(pool); });
}
Status Engine::stop(const std::optional<std::string>& pool) {
  return impl_->call_status([pool](Supervisor& s) { return s.stop(pool); });
}
Status Engine::signal_workers(int sig, const std::optional<std::string>& pool) {
  return impl_->call_status([sig, pool](Supervisor& s) { return s.signal_workers(sig, pool); });
}
Status Engine::signal_worker(const std::string& pool, int slot, int sig) {
  return impl_->call_status([pool, slot, sig](Supervisor& s) { return s.signal_worker(pool, slot, sig); });
}
EngineSnapshot Engine::snapshot() {
  const Clock& clock = impl_->clock();
  const TimePoint posted = clock.now();
  auto snap = impl_->call([&clock, posted](Supervisor& s) {
    EngineSnapshot snap = s.snapshot();
    snap.loop_lag_s = to_seconds(clock.now() - posted);  // the inbox's wait: the loop's lag
    return snap;
  });
  EngineSnapshot out = snap ? std::move(*snap) : impl_->final_snapshot();
  std::lock_guard lock(impl_->job_gauges_mu);
  if (impl_->job_gauges) out.jobs = impl_->job_gauges();
  return out;
}
void Engine::set_job_gauges(std::function<std::vector<TopicGauge>()> fn) {
  std::lock_guard lock(impl_->job_gauges_mu);
  impl_->job_gauges = std::move(fn);
}
std::vector<LogLine> Engine::log_tail(size_t n, const std::optional<std::string>& pool) {
  auto lines = impl_->call([n, pool](Supervisor& s) { return s.log_tail(n, pool); });
  return lines ? std::move(*lines) : impl_->final_log(n, pool);
}
void Engine::reopen_log() {
  impl_->call([](Supervisor& s) { s.reopen_log(); });
}
std::shared_ptr<Subscription> Engine::subscribe(size_t capacity, Subscription::Filter f) {
  auto sub = std::make_shared<Subscription>(capacity, f);
  // After the end there is nothing more to follow: the subscription comes back closed.
  if (!impl_->call([sub](Supervisor& s) { s.add_subscriber(sub); })) sub->close();
  return sub;
}
void Engine::report(EventKind kind, std::string pool, std::string text) {
  impl_->post([kind, pool = std::move(pool), text = std::move(text)](Supervisor& s) mutable {
    s.report(kind, pool, std::move(text));
  });
}
void Engine::set_queue_gauge(const std::string& pool, const QueueGauge& gauge) {
  impl_->post([pool, gauge](Supervisor& s) { s.set_queue_gauge(pool, gauge); });
}
void Engine::set_worker_busy(const std::string& pool, std::string source, std::vector<WorkerBusy> workers) {
  impl_->post([pool, source = std::move(source), workers = std::move(workers)](Supervisor& s) {
    s.set_worker_busy(pool, source, workers);
  });
}
void Engine::set_job_hooks(JobHooks hooks) {
  impl_->call([hooks = std::move(hooks)](Supervisor& s) mutable { s.set_job_hooks(std::move(hooks)); });
}
void Engine::offer_jobs(const std::string& pool, std::vector<JobTicket> tickets) {
  impl_->post([pool, tickets = std::move(tickets)](Supervisor& s) mutable { s.offer_jobs(pool, std::move(tickets)); });
}
const std::string& Engine::jobs_endpoint() const { return impl_->jobs_endpoint(); }

Status Engine::restart_worker(const std::string& pool, int slot) {
  return impl_->call_status([pool, slot](Supervisor& s) { return s.restart_worker(pool, slot); });
}

Status Engine::cancel_job(int64_t id) {
  return impl_->call_status([id](Supervisor& s) { return s.cancel_job(id); });
}
void Engine::shutdown() {
  impl_->post([](Supervisor& s) { s.shutdown(); });
}
void Engine::kill_all() {
  impl_->post([](Supervisor& s) { s.kill_all(); });
}
bool Engine::wait_finished(Duration timeout) { return impl_->wait_finished(timeout); }
bool Engine::finished() const { return impl_->finished(); }

}  // namespace drover
