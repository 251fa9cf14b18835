#include "engine/subscription.h"

#include <chrono>
#include <utility>

namespace drover {

namespace {
// wait_for adds the timeout to now(), which overflows for Duration::max(); anything this
// long is "forever" and uses an untimed wait instead.
constexpr Duration kForever = std::chrono::hours(24 * 365);
}  // namespace

void Subscription::push(const EngineItem& item) {
  const bool is_event = std::holds_alternative<Event>(item);
  if (is_event ? !filter_.events : !filter_.log_lines) return;
  // Copy outside the lock: the consumer should wait on the mutex for a pointer swap,
  // not for string copies.
  EngineItem copy = item;
  std::function<void()> on_push;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    if (items_.size() >= capacity_) {
      items_.pop_front();
      ++dropped_;
    }
    items_.push_back(std::move(copy));
    if (on_push_) on_push = on_push_;
  }
  cv_.notify_one();
  if (on_push) on_push();
}

void Subscription::set_on_push(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  on_push_ = std::move(fn);
}

std::optional<EngineItem> Subscription::pop(Duration timeout) {
  std::unique_lock lock(mu_);
  auto ready = [this] { return !items_.empty() || closed_; };
  if (timeout >= kForever) {
    cv_.wait(lock, ready);
  } else if (timeout > Duration::zero()) {
    cv_.wait_for(lock, timeout, ready);
  }
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
