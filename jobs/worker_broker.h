// WorkerBroker: worker mode (the jobs issue). Long-lived workers of a pool with
// `jobs = { mode = "worker" }` fetch jobs from drover over ZeroMQ, one JSON object per
// message, on the endpoint in their DROVER_JOBS (a ROUTER socket here, a DEALER there):
//
//   worker -> drover  {"pool": P, "slot": S, "pid": X, "ready": N}      room for N more jobs
//                     {"pool": P, "slot": S, "done": ID, "result": "..", "ready": 1}
//                     {"pool": P, "slot": S, "fail": ID, "error": "..", "ready": 1}
//                     "ack": true on a done/fail asks for {"ack": ID} once it is recorded
//   drover -> worker  {"job": {"id", "topic", "args", "attempt", "max_attempts", "timeout"}}
//                     {"cancel": ID}   a job it holds but has not started was cancelled
//                     {"ack": ID} or {"error": "...", "id": ID}
//
// P and S are the worker's DROVER_POOL and DROVER_SLOT: a worker is its slot, so that a
// shell script's `drover job` commands, each its own connection, act for it. A `ready`
// from a new connection replaces the slot's earlier room (a new process, or a client that
// reconnected), and jobs go to the latest connection.
//
// The lease is the process: drover is the parent of every worker and hears of its exit at
// once (the engine's JobHooks::on_worker_exit; a stalled worker is stopped by its pool's
// heartbeat policy, then exits). The jobs it held go back at that moment: it runs them in
// the order they came, so the first unfinished one failed (attempt counted, retried after
// a backoff or dead) and the rest are given back unrun. A job past its timeout, or
// cancelled while it runs, ends by restarting its worker (stop signal, SIGKILL at grace).
//
// Threads: one thread owns the socket and every map here; other threads and the store's
// answers post to it. It never waits on the store; it calls the engine only to restart a
// worker (rare) and posts busy states to it (throttled).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/engine.h"
#include "jobs/job_queue.h"

namespace drover::jobs {

struct BrokerHooks {
  // A job's end as the store recorded it (done, retrying, dead, cancelled): events.
  std::function<void(const Job&, const std::string& how, double run_s)> report_end;
  // When a failed attempt runs again (wall clock, ms).
  std::function<int64_t(int attempt, int64_t now_ms)> retry_at;
  // n jobs of the topic were claimed (marked running): the topic's counters.
  std::function<void(const std::string& topic, size_t n)> on_claimed;
};

class WorkerBroker {
 public:
  // Binds `endpoint` (kInvalidArgument / kIoError naming it when it cannot) and starts.
  static Result<std::unique_ptr<WorkerBroker>> open(Engine& engine, JobQueue& queue, std::string endpoint,
                                                   std::string host, BrokerHooks hooks,
                                                   std::chrono::milliseconds poll = std::chrono::milliseconds(200));
  // Gives back the jobs claimed and not sent, then stops. What workers hold stays running
  // in the store until their exits are told (the engine shuts down first) or the next
  // start requeues it.
  ~WorkerBroker();
  WorkerBroker(const WorkerBroker&) = delete;

  // Any thread. Jobs of the topic (nullopt: any) may be due now: claim for waiting workers.
  void poke(const std::optional<std::string>& topic);
  // Any thread (the engine's loop: it must not block, and does not).
  void worker_exited(const std::string& pool, int slot, pid_t pid, const std::string& how);
  // Any thread. The store has the job cancelled already: stop it where a worker holds it.
  void cancel(JobId id);
  // Stops the thread after running what was posted; later posts are dropped.
  void stop();

  struct Counters {
    uint64_t sent = 0, done = 0, failed = 0, given_back = 0, late_results = 0, bad_messages = 0;
  };
  Counters counters() const;

 private:
  using Key = std::pair<std::string, int>;  // pool, slot
  using SteadyTime = std::chrono::steady_clock::time_point;
  struct Held {
    Key worker;
    std::string topic;
    SteadyTime sent_at{};
    double timeout_s = 0;
    std::string ending;  // why its worker is being restarted: "timed out after 5s", "cancelled"
  };
  struct Worker {
    std::string route;  // the connection jobs go to
    uint64_t gen = 0;   // bumped when route changes: room promised by an older one is void
    int credit = 0;
    pid_t pid = 0;
    std::deque<JobId> held;  // in the order sent: the first is the one it runs
    SteadyTime head_since{};  // when held.front() became its current job
  };
  struct Topic {
    std::deque<Job> buffer;                   // claimed, not sent yet
    std::deque<std::pair<int, uint64_t>> ready;  // one entry per unit of room: slot, gen
    int64_t credit = 0;                       // room promised by live connections
    bool claiming = false;
    bool hungry = false;  // the last claim came back short: wait for a poke or the poll
    bool busy_dirty = false;
    SteadyTime idle_buffer_since{};  // buffer non-empty and nobody with room
  };

  WorkerBroker(Engine& engine, JobQueue& queue, std::string host, BrokerHooks hooks, std::chrono::milliseconds poll);
  void run();
  void post(std::function<void()> fn);
  bool run_posted();  // false once stopping and drained
  void drain_socket();
  void on_message(const std::string& route, const std::string& body);
  void send(const std::string& route, const std::string& body);
  void dispatch(const std::string& topic);
  void claim(const std::string& topic, size_t n);
  void fail(JobId id, std::string text, const Key& worker);
  void finish_results();  // what a burst of messages reported, to the store in one call
  void release(JobId id);
  void forget_worker(const Key& key, const std::string& how);
  void set_head(Worker& w);
  void hold(JobId id, Held h);  // held_ and timed_held_ together
  void unhold(std::unordered_map<JobId, Held>::iterator it);
  void check_deadlines();
  void tick();  // every poll: hungry topics claim again, idle buffers go back, busy states
  void restart(const Key& key, JobId id, std::string why);

  Engine& engine_;
  JobQueue& queue_;
  std::string host_;
  BrokerHooks hooks_;
  std::chrono::milliseconds poll_;
  void* context_ = nullptr;
  void* socket_ = nullptr;
  int wake_fd_ = -1;

  mutable std::mutex mu_;  // guards posted_, stopping_, counters_
  std::vector<std::function<void()>> posted_;
  bool stopping_ = false;
  bool stopped_ = false;
  Counters counters_;

  // The broker thread's own state.
  std::map<Key, Worker> workers_;
  std::unordered_map<JobId, Held> held_;
  size_t timed_held_ = 0;  // entries of held_ with a timeout: deadlines are looked at only then
  std::map<std::string, Topic> topics_;
  struct Finished {
    JobId id;
    bool ok;
    std::string text, ack_route;
    std::string worker;  // "pool.slot"
  };
  std::vector<Finished> results_;  // read from the socket, not yet sent to the store
  SteadyTime last_tick_{};
  std::thread thread_;
};

}  // namespace drover::jobs
