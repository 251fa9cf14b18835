// Supervisor: all pool state and every decision that changes it, on the loop thread.
//
// It turns facts (a pidfd became readable, a pipe has bytes, a timer fired, a command
// arrived) into actions (spawn, signal, log, publish), asking the pure Reconciler what a
// pool should do after each change. Nothing here blocks: spawning is a vfork-style
// clone that returns once the child has exec'd, reads are non-blocking and bounded per
// wake-up, and publishing to subscribers never waits on them.
//
// Thread: loop thread only, including construction and destruction. The Engine façade
// reaches it through the Inbox.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/engine.h"
#include "engine/event_loop.h"
#include "engine/heartbeat_message.h"
#include "engine/containment.h"
#include "engine/heartbeat_receiver.h"
#include "engine/log_file.h"
#include "engine/log_ring.h"
#include "engine/orphan_guard.h"
#include "engine/pool.h"
#include "engine/runtime_dir.h"
#include "engine/spawn_queue.h"
#include "engine/spawner.h"

namespace drover {

class Supervisor {
 public:
  // post runs a closure on the loop thread (the engine's inbox); it carries the results of
  // spawns done by helper threads. Without it every spawn is inline.
  using PostFn = std::function<void(std::function<void()>)>;
  Supervisor(EventLoop& loop, const EngineOptions& options, PostFn post = nullptr);
  ~Supervisor();  // SIGKILLs any worker still alive; the Engine shuts down gracefully first

  Status apply(std::vector<PoolSpec> specs, bool remove_missing);
  Status remove_pool(const std::string& name);
  Result<std::map<std::string, int>> configure(const std::map<std::string, int>& sizes);
  Result<std::map<std::string, int>> resize(const SizeBatch& batch);
  void resize_all_by(int delta);
  Status start(const std::optional<std::string>& pool);
  Status stop(const std::optional<std::string>& pool);
  Status signal_workers(int sig, const std::optional<std::string>& pool);
  Status signal_worker(const std::string& pool, int slot, int sig);

  EngineSnapshot snapshot() const;
  std::vector<LogLine> log_tail(size_t n, const std::optional<std::string>& pool) const;
  void reopen_log();
  void add_subscriber(std::shared_ptr<Subscription> sub);
  void request_reload();  // SIGHUP: tell the config owner

  void shutdown();
  void kill_all();
  bool shutting_down() const { return shutting_down_; }
  bool finished() const { return shutting_down_ && pools_.empty(); }
  void set_on_finished(std::function<void()> fn) { on_finished_ = std::move(fn); }

  // Once per loop iteration: reconcile dirty pools, flush the log file and the echo.
  void before_sleep();

  // Engine::report: an outside component's event, under a pool's name even when the pool
  // has gone meanwhile.
  void report(EventKind kind, const std::string& pool, std::string text);
  void set_queue_gauge(const std::string& pool, const QueueGauge& gauge);
  // Engine::set_worker_busy (supervisor_busy.cpp).
  void set_worker_busy(const std::string& pool, const std::string& source, const std::vector<WorkerBusy>& workers);

  // Exec mode (supervisor_jobs.cpp): the dispatcher's hooks, its tickets, a cancel.
  // New hooks hear every jobs pool's room afresh (the pools may predate them).
  void set_job_hooks(JobHooks hooks);
  void offer_jobs(const std::string& pool, std::vector<JobTicket> tickets);
  Status cancel_job(int64_t id);
  Status restart_worker(const std::string& pool, int slot);
  const std::string& jobs_endpoint() const { return jobs_endpoint_; }

 private:
  Pool* find_pool(const std::string& name);
  Status for_pools(const std::optional<std::string>& name, const std::function<void(Pool&)>& fn);
  void rebuild_env(Pool& pool);
  // Changes mark a pool dirty; before_sleep reconciles each dirty pool once per loop
  // iteration, so a burst of 2000 exits costs a handful of O(n) passes, not 2000.
  void mark_dirty(Pool& pool);
  void reconcile_dirty();
  void reconcile_pool(Pool& pool);
  Result<SpawnRequest> prepare_spawn(Pool& pool, Slot& slot);
  void spawn_slot(Pool& pool, Slot& slot);  // inline: a restart pays no hand-off
  void spawn_many(Pool& pool, const std::vector<Slot*>& slots);  // a burst, spread over cores
  void respawn_exited();  // this wake-up's immediate restarts, as one burst per pool
  void on_spawned(SpawnOutcome out);
  void finish_spawn(Pool& pool, Slot& slot, Result<SpawnedProcess> proc);
  void stop_slot(Pool& pool, Slot& slot, SlotView::Phase phase);
  void on_grace_expired(Pool& pool, Slot& slot);
  // The final kill of a worker's whole tree (Containment), and the removal of its cgroup
  // once cgroup.events says it is empty.
  void kill_tree(Pool& pool, Slot& slot, bool leader_alive);
  void drain_cgroup(std::string cgroup);
  void on_subreaper_tick();
  void on_process_exit(Pool& pool, Slot& slot);
  void after_exit(Pool& pool, Slot& slot, bool bad, Duration uptime, bool spawn_failure);
  void schedule_retry(Pool& pool, Slot& slot, Duration delay, SlotView::Phase phase);
  void drop_slot(Pool& pool, int index);
  void read_output(Pool& pool, Slot& slot, bool err, bool drain);
  void close_output(Slot& slot, bool err);
  void maybe_finish_pool(Pool& pool);

  // Exec mode (supervisor_jobs.cpp).
  // New slots of a jobs pool take the oldest waiting tickets; a slot without one is not made.
  void assign_tickets(Pool& pool, std::vector<Slot*>& fresh);
  Status add_job_spawn(Slot& slot, SpawnRequest& req);  // env and stdin for its ticket
  void on_job_spawned(Pool& pool, Slot& slot);          // arms its timeout
  void end_job(Pool& pool, Slot& slot, JobExit::How how, bool ok, std::string text, double run_s);
  void stop_job(Pool& pool, Slot& slot, JobExit::How how);  // timeout, cancel
  void uncount_job(Pool& pool, Slot& slot);  // it stops running (being stopped, ended, dropped)
  void give_back_tickets(Pool& pool);        // its pool cannot run them (stopped, removed)
  void say_demand(Pool& pool);
  void keep_job_output(Slot& slot, std::string_view text);

  // Heartbeats (supervisor_heartbeats.cpp).
  void open_heartbeats();
  void on_heartbeat_readable();
  void drain_heartbeats();
  void on_heartbeat_message(std::span<const std::string_view> frames, bool more_frames);
  Slot* heartbeat_sender(pid_t pid, const std::string& pool_name, Pool** pool);
  // The live worker pid is, or descends from (any pool); null for a stranger.
  Slot* worker_of(pid_t pid, Pool** pool);
  void heartbeat_ignored(uint64_t HeartbeatStats::*counter, const std::string& why);
  void arm_stall_timer(Pool& pool, Slot& slot);
  void on_stall_timer(Pool& pool, Slot& slot);
  void cancel_stall_timer(Slot& slot);
  void forget_pid(pid_t pid);
  void rearm_stall_timers(Pool& pool);

  void emit_line(LogLine line);
  void emit_engine_line(std::string text);
  void flush_log_file();  // before_sleep: flush, and say when the file starts or stops failing
  void emit_event(EventKind kind, const Pool* pool, int slot, pid_t pid, std::string text);


  EventLoop& loop_;
  PostFn post_;
  const EngineOptions options_;
  const Clock& clock_;
  const TimePoint started_;
  const pid_t self_pid_;
  Spawner spawner_;
  Containment contain_;  // before guard_, which is given its cgroup or mark
  OrphanGuard guard_;
  uint64_t cgroup_seq_ = 0;
  std::unordered_map<int, std::string> draining_;  // cgroup.events fd -> a dead worker's cgroup
  EventLoop::TimerId reap_timer_ = 0;               // subreaper: adopted orphans
  LogRing ring_;
  std::unique_ptr<LogFile> log_file_;
  std::map<std::string, std::unique_ptr<Pool>> pools_;
  std::set<std::string> dirty_;  // pools to reconcile before the loop sleeps
  std::vector<std::pair<std::string, int>> respawn_now_;  // (pool, slot) to restart before sleeping
  std::vector<std::shared_ptr<Subscription>> subscribers_;
  int64_t spawn_seq_ = 0;
  bool shutting_down_ = false;
  std::function<void()> on_finished_;
  std::string read_buf_;
  std::string echo_buf_;  // lines for options_.echo_fd, written in before_sleep
  // Heartbeats: the socket, the live workers by pid, and what is remembered about senders
  // that are not (yet) workers, so a flood of strangers costs one /proc walk per pid.
  std::unique_ptr<RuntimeDir> runtime_dir_;
  std::unique_ptr<HeartbeatReceiver> heartbeats_;
  HeartbeatStats hb_stats_;
  std::unordered_map<pid_t, std::pair<Pool*, Slot*>> by_pid_;
  std::unordered_map<pid_t, pid_t> hb_descendants_;  // a worker's descendant -> the worker
  std::unordered_map<pid_t, TimePoint> hb_strangers_;  // pid -> when to look it up again
  TimePoint hb_warned_at_{};
  uint64_t hb_ignored_quiet_ = 0;  // ignored since the last warning line
  EventLoop::TimerId hb_resume_timer_ = 0;
  JobHooks job_hooks_;
  std::string jobs_endpoint_;
  std::unique_ptr<SpawnQueue> spawn_queue_;  // last: destroyed (joined) first
};

}  // namespace drover
