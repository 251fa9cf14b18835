#include "shell/autoscale/retry_delays.h"

namespace drover {

RetryDelays::~RetryDelays() {
  for (auto& [_, fn] : fns_) luaL_unref(L_, LUA_REGISTRYINDEX, fn.first);
}

void RetryDelays::set(const std::string& topic, int fn_ref, std::string owner) {
  auto [it, added] = fns_.try_emplace(topic, fn_ref, std::move(owner));
  if (!added) {
    luaL_unref(L_, LUA_REGISTRYINDEX, it->second.first);
    it->second = {fn_ref, std::move(owner)};
  }
  std::lock_guard lock(mu_);
  topics_.insert(topic);
}

bool RetryDelays::remove(const std::string& topic) {
  auto it = fns_.find(topic);
  if (it == fns_.end()) return false;
  luaL_unref(L_, LUA_REGISTRYINDEX, it->second.first);
  fns_.erase(it);
  std::lock_guard lock(mu_);
  topics_.erase(topic);
  return true;
}

int RetryDelays::unload(const std::string& owner) {
  std::vector<std::string> gone;
  for (const auto& [topic, fn] : fns_)
    if (fn.second == owner) gone.push_back(topic);
  for (const auto& t : gone) remove(t);
  return static_cast<int>(gone.size());
}

bool RetryDelays::offer(const jobs::Job& job) {
  std::lock_guard lock(mu_);
  if (!topics_.count(job.topic) || pending_.size() >= kMaxPending) return false;
  pending_.push_back(job);
  return true;
}

std::vector<RetryDelays::Ask> RetryDelays::take() {
  std::deque<jobs::Job> jobs;
  {
    std::lock_guard lock(mu_);
    jobs.swap(pending_);
  }
  std::vector<Ask> out;
  for (auto& j : jobs)
    if (auto it = fns_.find(j.topic); it != fns_.end()) out.push_back({std::move(j), it->second.first});
  return out;
}

}  // namespace drover
