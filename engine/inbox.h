// Inbox: how other threads talk to the loop thread (neovim's multiqueue, reduced to
// what drover needs). A command is a closure that runs on the loop thread; callers that
// want an answer use call(), which returns the closure's value through a future.
//
// The loop drains the inbox once per wake-up. A command that throws is caught at this
// edge and reported through the future (or logged), so one bad command cannot kill the
// loop. Posting never blocks on the loop: it takes a mutex for a push and wakes the loop
// only when the queue was empty.
#pragma once

#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <type_traits>
#include <vector>

namespace drover {

class EventLoop;

class Inbox {
 public:
  using Command = std::function<void()>;

  explicit Inbox(EventLoop& loop) : loop_(loop) {}

  // Any thread. Returns false once the inbox is closed (the engine has finished).
  bool post(Command cmd);

  // Any thread except the loop's. Runs fn on the loop thread and returns its value, or
  // nullopt once the inbox is closed: the engine having finished is an answer, not an
  // exception, so callers turn it into a Status where they stand. An exception thrown by
  // fn (a bug) is rethrown here. A void fn gives std::optional<Done>.
  struct Done {};
  template <typename Fn>
  auto call(Fn fn) {
    using R = std::invoke_result_t<Fn>;
    using Value = std::conditional_t<std::is_void_v<R>, Done, R>;
    auto promise = std::make_shared<std::promise<Value>>();
    auto future = promise->get_future();
    bool posted = post([promise, fn = std::move(fn)]() mutable {
      try {
        if constexpr (std::is_void_v<R>) {
          fn();
          promise->set_value(Done{});
        } else {
          promise->set_value(fn());
        }
      } catch (...) {
        promise->set_exception(std::current_exception());
      }
    });
    if (!posted) return std::optional<Value>();
    return std::optional<Value>(future.get());
  }

  // Loop thread: runs every queued command. Returns how many ran.
  size_t drain();
  // Loop thread: refuse further posts and run what is queued. Pending call()ers get
  // their answers; later ones get nullopt.
  void close();

 private:
  EventLoop& loop_;
  std::mutex mu_;
  std::vector<Command> queue_;
  bool closed_ = false;
};

}  // namespace drover
