// EventLoop: epoll over fds, a heap of timers, an eventfd to be woken from other
// threads, and a before_sleep step (redis's ae.c, with its own suggested fix: timers in
// a min-heap instead of an unsorted list, so 1000 grace deadlines cost O(log n) each).
//
// Thread: everything except wake() must be called on the loop thread. Callbacks run on
// the loop thread and may add or remove watches and timers, including their own.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <functional>
#include <queue>
#include <unordered_map>
#include <vector>

#include "engine/clock.h"

namespace drover {

class EventLoop {
 public:
  using FdCallback = std::function<void(uint32_t epoll_events)>;
  using TimerCallback = std::function<void()>;
  using TimerId = uint64_t;

  explicit EventLoop(const Clock& clock);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Level-triggered watch for EPOLLIN (and EPOLLHUP/ERR, always reported). `events`
  // EPOLLPRI alone is for kernfs files (cgroup.events), which always poll readable.
  void watch(int fd, FdCallback cb, uint32_t events = EPOLLIN);
  void unwatch(int fd);

  TimerId add_timer(TimePoint deadline, TimerCallback cb);
  TimerId add_timer_after(Duration d, TimerCallback cb) { return add_timer(clock_.now() + d, std::move(cb)); }
  // Cancelling a fired or unknown timer is a no-op.
  void cancel_timer(TimerId id);

  // Runs after the events of an iteration are handled, before the loop sleeps again:
  // where batched work (log flushes, event publication) happens once per wake-up.
  void set_before_sleep(std::function<void()> fn) { before_sleep_ = std::move(fn); }
  // Called from the eventfd watch when another thread wakes the loop.
  void set_on_wake(std::function<void()> fn) { on_wake_ = std::move(fn); }

  // Any thread; async-signal-safe.
  void wake();

  // Runs until stop() is called from a callback.
  void run();
  void stop() { running_ = false; }

  const Clock& clock() const { return clock_; }
  uint64_t iterations() const { return iterations_; }
  // The longest wake-up (events, timers, before_sleep) since the last call; resets it.
  Duration take_max_busy() {
    Duration d = max_busy_;
    max_busy_ = Duration::zero();
    return d;
  }
  size_t pending_timers() const { return timer_callbacks_.size(); }

 private:
  int run_due_timers();  // returns epoll timeout in ms until the next timer, or -1
  const Clock& clock_;
  int epfd_ = -1;
  int wakefd_ = -1;
  bool running_ = false;
  uint64_t iterations_ = 0;
  Duration max_busy_ = Duration::zero();
  std::unordered_map<int, FdCallback> watches_;
  struct HeapEntry {
    TimePoint deadline;
    TimerId id;
    bool operator>(const HeapEntry& o) const {
      return deadline != o.deadline ? deadline > o.deadline : id > o.id;
    }
  };
  // Cancelled timers stay in the heap and are skipped when popped (their callback is gone).
  std::priority_queue<HeapEntry, std::vector<HeapEntry>, std::greater<>> heap_;
  std::unordered_map<TimerId, TimerCallback> timer_callbacks_;
  TimerId next_timer_id_ = 1;
  std::function<void()> before_sleep_;
  std::function<void()> on_wake_;
};

}  // namespace drover
