// LuaLock: who may touch the shell's Lua state right now.
//
// The REPL (or main, for -e and scripts) and the autoscaler's thread share one lua_State,
// because a policy is an ordinary Lua function: it closes over the operator's globals and
// the helpers a script defined. Lua states are not thread-safe, so whoever runs Lua holds
// this lock; that is Lua's own lua_lock model with a coarser grain. The autoscaler runs
// policies on a coroutine of its own, so the two never share a Lua stack, only the state.
//
// The REPL gives the lock up while it waits for a line, and a binding gives it up while
// it blocks (log.tail following, stop() draining) with LuaUnlocked, so that policies keep
// running while an operator watches the log. A binding must not touch Lua while unlocked.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

namespace drover {

class LuaLock {
 public:
  void lock() {
    mu_.lock();
    owner_ = std::this_thread::get_id();
  }
  void unlock() {
    owner_ = std::thread::id();
    mu_.unlock();
  }
  // For callers that must not wait long (an HTTP request): false after `wait`.
  template <typename Rep, typename Period>
  bool try_lock_for(const std::chrono::duration<Rep, Period>& wait) {
    if (!mu_.try_lock_for(wait)) return false;
    owner_ = std::this_thread::get_id();
    return true;
  }
  bool held_here() const { return owner_.load() == std::this_thread::get_id(); }

 private:
  std::timed_mutex mu_;
  std::atomic<std::thread::id> owner_{};
};

// Releases the lock for a scope if this thread holds it (a binding called from a policy
// or from the REPL alike), and takes it back at the end.
class LuaUnlocked {
 public:
  explicit LuaUnlocked(LuaLock& lock) : lock_(lock), held_(lock.held_here()) {
    if (held_) lock_.unlock();
  }
  ~LuaUnlocked() {
    if (held_) lock_.lock();
  }
  LuaUnlocked(const LuaUnlocked&) = delete;
  LuaUnlocked& operator=(const LuaUnlocked&) = delete;

 private:
  LuaLock& lock_;
  bool held_;
};

}  // namespace drover
