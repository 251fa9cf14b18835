#include "engine/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace drover {

namespace {
[[noreturn]] void throw_errno(const char* what) {
  throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}
}  // namespace

EventLoop::EventLoop(const Clock& clock) : clock_(clock) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) throw_errno("epoll_create1");
  wakefd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wakefd_ < 0) throw_errno("eventfd");
  watch(wakefd_, [this](uint32_t) {
    uint64_t n;
    while (read(wakefd_, &n, sizeof n) > 0) {
    }
    if (on_wake_) on_wake_();
  });
}

EventLoop::~EventLoop() {
  if (wakefd_ >= 0) close(wakefd_);
  if (epfd_ >= 0) close(epfd_);
}

void EventLoop::watch(int fd, FdCallback cb, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  bool existed = watches_.count(fd) > 0;
  if (epoll_ctl(epfd_, existed ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0) throw_errno("epoll_ctl");
  watches_[fd] = std::move(cb);
}

void EventLoop::unwatch(int fd) {
  if (watches_.erase(fd)) epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
}

EventLoop::TimerId EventLoop::add_timer(TimePoint deadline, TimerCallback cb) {
  TimerId id = next_timer_id_++;
  heap_.push({deadline, id});
  timer_callbacks_.emplace(id, std::move(cb));
  return id;
}

void EventLoop::cancel_timer(TimerId id) { timer_callbacks_.erase(id); }

void EventLoop::wake() {
  uint64_t one = 1;
  // A full counter (never in practice) still leaves the fd readable: the wake is not lost.
  [[maybe_unused]] ssize_t r = write(wakefd_, &one, sizeof one);
}

int EventLoop::run_due_timers() {
  while (!heap_.empty()) {
    HeapEntry top = heap_.top();
    auto it = timer_callbacks_.find(top.id);
    if (it == timer_callbacks_.end()) {  // cancelled
      heap_.pop();
      continue;
    }
    TimePoint now = clock_.now();
    if (top.deadline > now) {
      // Round up: waking a hair early would spin through epoll_wait(0) until the deadline.
      auto ms = std::chrono::ceil<std::chrono::milliseconds>(top.deadline - now).count();
      return static_cast<int>(std::min<int64_t>(ms, 60'000));
    }
    heap_.pop();
    TimerCallback cb = std::move(it->second);
    timer_callbacks_.erase(it);
    cb();
  }
  return -1;
}

void EventLoop::run() {
  running_ = true;
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  TimePoint woke = clock_.now();
  while (running_) {
    int timeout = run_due_timers();
    if (running_ && before_sleep_) before_sleep_();
    // Timers may have been added by before_sleep; never sleep past one.
    if (running_ && !heap_.empty()) timeout = run_due_timers();
    // How long this wake-up kept the loop from everything else: what a command posted at
    // its start waited. Two clock reads per iteration.
    const Duration busy = clock_.now() - woke;
    if (busy > max_busy_) max_busy_ = busy;
    if (!running_) break;
    int n = epoll_wait(epfd_, events, kMaxEvents, timeout);
    woke = clock_.now();
    ++iterations_;
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      auto it = watches_.find(events[i].data.fd);
      if (it == watches_.end()) continue;  // unwatched by an earlier callback this round
      // Copy: the callback may unwatch (and so destroy) itself.
      FdCallback cb = it->second;
      cb(events[i].events);
    }
  }
}

}  // namespace drover
