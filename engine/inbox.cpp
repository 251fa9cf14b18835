#include "engine/inbox.h"

#include <cstdio>
#include <exception>

#include "engine/event_loop.h"

namespace drover {

bool Inbox::post(Command cmd) {
  bool was_empty;
  {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    was_empty = queue_.empty();
    queue_.push_back(std::move(cmd));
  }
  // Only the first post into an empty queue needs to wake the loop; later ones ride along.
  if (was_empty) loop_.wake();
  return true;
}

size_t Inbox::drain() {
  std::vector<Command> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(queue_);
  }
  for (auto& cmd : batch) {
    try {
      cmd();
    } catch (const std::exception& e) {
      // call() routes exceptions through its promise; a bare post() lands here.
      std::fprintf(stderr, "drover: inbox command failed: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "drover: inbox command failed\n");
    }
  }
  return batch.size();
}

void Inbox::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  drain();
}

}  // namespace drover
