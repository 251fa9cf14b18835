// A job of drover's own queue (the jobs issue): what it runs, where it is in its life, and
// what became of it. Plain values, no SQL, no Lua, no JSON: the store keeps them, the
// engine runs them, api/ describes their fields for every serializer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/status.h"

namespace drover::jobs {

using JobId = int64_t;

// queued -> running -> done
//                   -> failed (waiting out its retry delay) -> running ...
//                   -> dead (out of attempts)  -> queued again by retry()
// queued | failed | running -> cancelled
//
// A fan-out (JobRequest::topics) is a parent job and one child job per topic. Children
// live as above; the parent is never claimed: its state follows theirs (queued until one
// starts, running, then done when every child is done, dead when one is dead and the rest
// have finished, cancelled otherwise), and cancelling it cancels the children that wait
// or run.
enum class JobState { kQueued, kRunning, kDone, kFailed, kDead, kCancelled };

const char* job_state_name(JobState s);  // "queued", "running", ...
std::optional<JobState> job_state_from_name(const std::string& name);
// queued and failed jobs wait to run; a finished one (done, dead, cancelled) never runs again
// unless retried.
inline bool is_waiting(JobState s) { return s == JobState::kQueued || s == JobState::kFailed; }
inline bool is_finished(JobState s) {
  return s == JobState::kDone || s == JobState::kDead || s == JobState::kCancelled;
}

// What a client asks for: enqueue("resize", {file = "a.png"}, {priority = 5, ...}).
struct JobRequest {
  std::string topic;        // the pool that runs it
  std::string args = "{}";  // JSON text, kept as given
  int priority = 0;         // higher runs first
  double delay_s = 0;       // not before now + delay
  int max_attempts = 3;     // runs in all, the first included
  double timeout_s = 0;     // 0: none
  std::string key;          // unique key: while a job with it waits or runs, enqueue returns that job
  // Fan-out: one child job per topic, each with these args and options and no key; the
  // request's own job is their parent, of `topic` (kFanoutTopic when empty), with the key.
  std::vector<std::string> topics;
};

inline constexpr const char* kFanoutTopic = "fanout";
inline constexpr size_t kMaxFanout = 100;

struct Job {
  JobId id = 0;
  std::string topic;
  std::string args = "{}";
  int priority = 0;
  JobState state = JobState::kQueued;
  int64_t run_at_ms = 0;  // wall clock: not before (the delay, a retry's backoff)
  int attempt = 0;        // runs begun so far
  int max_attempts = 3;
  double timeout_s = 0;
  std::string key;
  int64_t created_ms = 0, started_ms = 0, finished_ms = 0;  // 0: not yet
  std::string host, worker;  // who ran the latest attempt
  std::string result;        // a done job's output (bounded)
  std::string error;         // the latest failure: exit status and output tail
  JobId parent = 0;          // a fan-out's child: its parent; 0: none
  int children = 0;          // a fan-out's parent: how many children it has (it is never claimed)

  bool operator==(const Job&) const = default;
};

// Bounds a request must keep; the checks every store applies before it changes anything.
inline constexpr size_t kMaxTopicBytes = 200;
inline constexpr size_t kMaxArgsBytes = 1 << 20;
inline constexpr size_t kMaxKeyBytes = 1024;
inline constexpr int kMaxAttempts = 1000;
inline constexpr double kMaxDelayS = 10 * 365 * 86400.0;
// The message names the field after `where` ("jobs[2].topic: ...").
Status validate_request(const JobRequest& r, const std::string& where);

// This machine's hostname ("localhost" if it has none): the default name a drover runs
// jobs under (Job::host), and its name in a shared queue's fleet.
std::string machine_host_name();

// How a run ended, as the runner reports it.
struct JobOutcome {
  bool ok = false;
  std::string output;  // result when ok, error otherwise
  // Who ran it, when the runner knows better than the claim did ("resize.2": the pool's
  // slot; a claim names only the pool). Empty: the claim's stands.
  std::string worker;
};

}  // namespace drover::jobs
