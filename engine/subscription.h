// Subscription: a bounded, thread-safe queue from the loop thread to one consumer.
//
// The loop never waits on a consumer: when the queue is full the oldest item is
// dropped and counted, so a stalled shell or HTTP client costs memory up to the
// capacity and nothing else. The consumer pops with a timeout.
//
// Items the filter rejects are neither queued nor counted as dropped. After close(),
// push() is a no-op and pop() still returns what was queued until it is drained, then
// nullopt at once. A capacity of 0 is taken as 1. Shared between the loop thread (push)
// and one consumer thread (pop), usually through a shared_ptr.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>

#include "engine/clock.h"
#include "engine/events.h"

namespace drover {

class Subscription {
 public:
  struct Filter {
    bool events = true;
    bool log_lines = true;
  };

  Subscription(size_t capacity, Filter filter) : capacity_(capacity > 0 ? capacity : 1), filter_(filter) {}

  // Loop thread. Never blocks beyond the mutex.
  void push(const EngineItem& item);
  // Consumer thread. Returns nullopt on timeout or once closed and drained. A timeout
  // <= 0 only polls; a timeout beyond a year (e.g. Duration::max()) waits without limit.
  std::optional<EngineItem> pop(Duration timeout);
  // Either side; wakes a waiting pop().
  void close();
  // Called after each push() that queued an item, on the pushing (loop) thread, outside
  // the lock: for a consumer that waits on many subscriptions at once (the HTTP server's
  // parked streams) rather than in pop(). It must be quick and must not call back into
  // this subscription's push(). Empty: none.
  void set_on_push(std::function<void()> fn);
  bool closed() const;
  // Items evicted unread because the queue was full.
  uint64_t dropped() const;
  const Filter& filter() const { return filter_; }

 private:
  const size_t capacity_;
  const Filter filter_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<EngineItem> items_;
  uint64_t dropped_ = 0;
  bool closed_ = false;
  std::function<void()> on_push_;
};

}  // namespace drover
