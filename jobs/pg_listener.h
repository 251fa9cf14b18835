// PgListener: a host's ear on the shared queue. Its own connection to the PostgreSQL
// store LISTENs on drover_jobs, where every enqueue (and every call that makes jobs due
// again) NOTIFYs its topic at commit (pg_job_store.h); each topic heard is handed to
// on_topic, which pokes the dispatcher, so a job enqueued on one host starts on an idle
// other within milliseconds instead of at its next poll.
//
// A lost connection is reconnected every second (the dispatcher's poll covers the gap);
// jobs enqueued meanwhile are found by that poll, so nothing is lost, only later.
//
// Thread: its own, started by the constructor and joined by the destructor (which wakes
// it through an eventfd: no waiting out a poll timeout). on_topic runs on that thread.
#pragma once

#include <functional>
#include <string>
#include <thread>

namespace drover::jobs {

class PgListener {
 public:
  PgListener(std::string url, std::function<void(const std::string& topic)> on_topic,
             std::function<void(const std::string& message)> warn);
  ~PgListener();
  PgListener(const PgListener&) = delete;

 private:
  void run();

  std::string url_;
  std::function<void(const std::string&)> on_topic_;
  std::function<void(const std::string&)> warn_;
  int wake_fd_ = -1;
  std::thread thread_;
};

}  // namespace drover::jobs
