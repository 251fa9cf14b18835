#include "engine/subscription.h"

namespace drover {

void Subscription::push(const EngineItem& item) {
  bool is_event = std::holds_alternative<Event>(item);
  if (is_event ? !filter_.events : !filter_.log_lines) return;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    if (items_.size() >= capacity_) {
      items_.pop_front();
      ++dropped_;
    }
    items_.push_back(item);
  }
  cv_.notify_one();
}

std::optional<EngineItem> Subscription::pop(Duration timeout) {
  std::unique_lock lock(mu_);
  if (items_.empty() && !closed_ && timeout > Duration::zero())
    cv_.wait_for(lock, timeout, [this] { return !items_.empty() || closed_; });
  if (items_.empty()) return std::nullopt;
  EngineItem item = std::move(items_.front());
  items_.pop_front();
  return item;
}

void Subscription::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

bool Subscription::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

uint64_t Subscription::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

}  // namespace drover
