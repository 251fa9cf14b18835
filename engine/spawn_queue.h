// SpawnQueue: spreads a burst of spawns (bring-up, a large resize) over the cores.
//
// clone+exec costs ~0.4 ms of kernel time per worker on a small VM, and the calling
// thread waits it out (vfork semantics). A lone restart is spawned inline by the loop,
// with no hand-off; a burst is queued here, and both the loop thread and `helpers`
// threads take jobs until the queue is empty. Each thread owns its own Spawner (child
// stack, reserved fds). A helper's result travels back to the loop through `deliver`
// (the engine's inbox); the loop's own results are returned directly.
//
// PR_SET_PDEATHSIG ties a worker to the thread that spawned it, so helpers live as
// long as the engine.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/spawner.h"

namespace drover {

struct SpawnJob {
  SpawnRequest request;
  std::string pool;
  int slot = -1;
  uint64_t token = 0;  // matches the slot's pending spawn; guards against stale results
};

struct SpawnOutcome {
  SpawnJob job;
  Result<SpawnedProcess> result = Status::ok();
};

class SpawnQueue {
 public:
  using Deliver = std::function<void(SpawnOutcome)>;

  SpawnQueue(int helpers, Deliver deliver);
  ~SpawnQueue();  // stops and joins the helpers; queued jobs are dropped
  SpawnQueue(const SpawnQueue&) = delete;
  SpawnQueue& operator=(const SpawnQueue&) = delete;

  void push(SpawnJob job);
  // Loop thread: take one job to spawn inline, if any is left.
  std::optional<SpawnJob> try_pop();
  int helpers() const { return static_cast<int>(threads_.size()); }

 private:
  void run();
  Deliver deliver_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<SpawnJob> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace drover
