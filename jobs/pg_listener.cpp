#include "jobs/pg_listener.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <memory>

#include "jobs/pg_db.h"

namespace drover::jobs {

PgListener::PgListener(std::string url, std::function<void(const std::string&)> on_topic,
                       std::function<void(const std::string&)> warn)
    : url_(std::move(url)), on_topic_(std::move(on_topic)), warn_(std::move(warn)) {
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  thread_ = std::thread([this] { run(); });
}

PgListener::~PgListener() {
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
  thread_.join();
  close(wake_fd_);
}

void PgListener::run() {
  pthread_setname_np(pthread_self(), "drover-listen");
  std::unique_ptr<PgDb> db;
  bool warned = false;
  for (;;) {
    if (!db) {
      auto c = PgDb::connect(url_);
      Status s = c ? (*c)->exec("LISTEN drover_jobs") : c.error();
      if (s) {
        db = std::move(*c);
        if (warned) warn_("listening for other hosts' jobs again");
        warned = false;
        // Whatever was enqueued while deaf: every hungry pool looks now.
        on_topic_("");
      } else if (!warned) {
        warn_("cannot listen for other hosts' jobs (found by polling meanwhile): " + s.message());
        warned = true;
      }
    }
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {db ? db->socket() : -1, POLLIN, 0}};
    // Without a connection, try again in a second; with one, sleep until a notification
    // or the destructor's wake-up.
    const int n = poll(fds, db ? 2 : 1, db ? -1 : 1000);
    if (n > 0 && (fds[0].revents & POLLIN)) return;
    if (!db || n <= 0 || !fds[1].revents) continue;
    auto topics = db->notifications();
    if (!topics) {
      db.reset();
      continue;
    }
    for (const std::string& t : *topics) on_topic_(t);
  }
}

}  // namespace drover::jobs
