// RetryDelays: the shell's jobs.retry_delay functions (help/jobs.md): per topic, a Lua
// function that decides how long a failed attempt waits before the next one, and the
// failed attempts waiting for its answer.
//
// The hand-off: the store thread records a failure with the default backoff (exponential
// with jitter) and tells offer(), which only queues it, never waiting on Lua; the
// autoscaler's thread takes the queue under the Lua lock, asks each function, and moves
// the retry (EngineClient::reschedule_job). Until the answer arrives, normally within
// milliseconds, the default holds; a job that has run again by then keeps what it did.
#pragma once

#include <lua.hpp>

#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "jobs/job.h"

namespace drover {

class RetryDelays {
 public:
  explicit RetryDelays(lua_State* L) : L_(L) {}  // refs live in L's registry
  ~RetryDelays();
  RetryDelays(const RetryDelays&) = delete;
  RetryDelays& operator=(const RetryDelays&) = delete;

  // Lua lock held. Installs (or replaces) the topic's function; takes the ref.
  void set(const std::string& topic, int fn_ref, std::string owner);
  bool remove(const std::string& topic);
  int unload(const std::string& owner);  // what the script `owner` set
  bool empty() const { return fns_.empty(); }

  // Any thread, never waits on Lua: keeps a failed attempt whose topic has a function.
  // False when it has none (or when kMaxPending wait already: that one keeps the default).
  bool offer(const jobs::Job& job);
  // Lua lock held: the attempts kept, each with its topic's function (a ref).
  struct Ask {
    jobs::Job job;
    int fn_ref;
  };
  std::vector<Ask> take();

  static constexpr size_t kMaxPending = 10000;

 private:
  lua_State* L_;
  std::map<std::string, std::pair<int, std::string>> fns_;  // topic -> (ref, owner); Lua lock
  std::mutex mu_;                                           // guards topics_ and pending_
  std::set<std::string> topics_;                            // fns_'s keys, for offer()
  std::deque<jobs::Job> pending_;
};

}  // namespace drover
