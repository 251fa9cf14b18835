#include "jobs/worker_broker.h"

#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace drover::jobs {

namespace {

using json = nlohmann::json;

// Past this a message is refused by libzmq (the peer's connection is dropped): results
// are cut to kJobOutputTailBytes anyway, and a `ready` is a few dozen bytes.
constexpr int64_t kMaxMessageBytes = 1 << 20;
// Jobs one claim asks for at most: a store call stays short, and room left over is
// claimed for by the next one.
constexpr size_t kMaxClaim = 1000;
// Claimed jobs nobody has room for (their workers went) are given back after this.
constexpr auto kIdleBufferLimit = std::chrono::seconds(1);
// Messages read per wake-up before posted work and deadlines get their turn.
constexpr int kMaxBurst = 4096;

std::string tail_of(std::string text) {
  if (text.size() > kJobOutputTailBytes) text.erase(0, text.size() - kJobOutputTailBytes);
  return text;
}

std::string job_message(const Job& j) {
  return fmt::format(R"({{"job":{{"id":{},"topic":{},"attempt":{},"max_attempts":{},"timeout":{},"args":{}}}}})", j.id,
                     json(j.topic).dump(), j.attempt, j.max_attempts, j.timeout_s, j.args);
}

// What a job's record names as its worker: the pool's slot, as the broker's messages do.
std::string worker_name(const std::pair<std::string, int>& key) { return fmt::format("{}.{}", key.first, key.second); }

}  // namespace

Result<std::unique_ptr<WorkerBroker>> WorkerBroker::open(Engine& engine, JobQueue& queue, std::string endpoint,
                                                        std::string host, BrokerHooks hooks,
                                                        std::chrono::milliseconds poll) {
  std::unique_ptr<WorkerBroker> b(new WorkerBroker(engine, queue, std::move(host), std::move(hooks), poll));
  b->context_ = zmq_ctx_new();
  b->socket_ = zmq_socket(b->context_, ZMQ_ROUTER);
  const int one = 1, zero = 0;
  // A job sent to a connection that has gone must come back as an error, not vanish.
  zmq_setsockopt(b->socket_, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
  zmq_setsockopt(b->socket_, ZMQ_MAXMSGSIZE, &kMaxMessageBytes, sizeof kMaxMessageBytes);
  zmq_setsockopt(b->socket_, ZMQ_LINGER, &zero, sizeof zero);
  if (zmq_bind(b->socket_, endpoint.c_str()) != 0)
    return Status::io_error(fmt::format("jobs endpoint {}: {}", endpoint, zmq_strerror(zmq_errno())));
  b->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (b->wake_fd_ < 0) return Status::io_error(fmt::format("eventfd: {}", strerror(errno)));
  WorkerBroker* raw = b.get();
  b->thread_ = std::thread([raw] { raw->run(); });
  return b;
}

WorkerBroker::WorkerBroker(Engine& engine, JobQueue& queue, std::string host, BrokerHooks hooks,
                           std::chrono::milliseconds poll)
    : engine_(engine), queue_(queue), host_(std::move(host)), hooks_(std::move(hooks)), poll_(poll) {}

WorkerBroker::~WorkerBroker() {
  stop();
  if (socket_) zmq_close(socket_);
  if (context_) zmq_ctx_term(context_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

void WorkerBroker::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      if (!thread_.joinable()) return;
    }
    stopping_ = true;
  }
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
}

WorkerBroker::Counters WorkerBroker::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

void WorkerBroker::post(std::function<void()> fn) {
  bool first = false;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;  // the thread has gone: a late answer of the store
    first = posted_.empty();
    posted_.push_back(std::move(fn));
  }
  if (first) {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }
}

void WorkerBroker::poke(const std::optional<std::string>& topic) {
  post([this, topic] {
    for (auto& [name, t] : topics_)
      if (!topic || name == *topic) {
        t.hungry = false;
        dispatch(name);
      }
  });
}

void WorkerBroker::worker_exited(const std::string& pool, int slot, pid_t pid, const std::string& how) {
  post([this, key = Key{pool, slot}, pid, how] {
    // What it said before it went may still wait in the socket: a result read after its
    // exit would find its job already failed (and run again).
    drain_socket();
    // The slot's jobs go whatever pid said ready for it (the worker, a `drover job` command
    // of its, or a child): the slot's process is what exited.
    (void)pid;
    forget_worker(key, how);
  });
}

void WorkerBroker::cancel(JobId id) {
  post([this, id] {
    auto it = held_.find(id);
    if (it == held_.end()) {
      // Claimed, not sent: drop it from the buffer (the store has it cancelled).
      for (auto& [name, t] : topics_)
        for (auto j = t.buffer.begin(); j != t.buffer.end(); ++j)
          if (j->id == id) {
            t.buffer.erase(j);
            return;
          }
      return;
    }
    const Key key = it->second.worker;
    Worker& w = workers_[key];
    if (!w.held.empty() && w.held.front() == id) {
      restart(key, id, "cancelled");
      return;
    }
    // Not started yet: the worker is told, and its result (if it runs it all the same)
    // finds the job no longer held.
    w.held.erase(std::find(w.held.begin(), w.held.end(), id));
    unhold(it);
    send(w.route, fmt::format(R"({{"cancel":{}}})", id));
  });
}

bool WorkerBroker::run_posted() {
  std::vector<std::function<void()>> batch;
  bool stopping;
  {
    std::lock_guard lock(mu_);
    batch.swap(posted_);
    stopping = stopping_;
  }
  uint64_t n;
  (void)!read(wake_fd_, &n, sizeof n);
  for (auto& fn : batch) fn();
  if (!stopping) return true;
  std::lock_guard lock(mu_);
  if (!posted_.empty()) return true;  // posted while these ran: one more turn
  stopped_ = true;
  return false;
}

void WorkerBroker::run() {
  pthread_setname_np(pthread_self(), "drover-broker");
  last_tick_ = std::chrono::steady_clock::now();
  for (;;) {
    zmq_pollitem_t items[2] = {{socket_, 0, ZMQ_POLLIN, 0}, {nullptr, wake_fd_, ZMQ_POLLIN, 0}};
    auto wait = poll_;
    // The nearest deadline of a job that runs with a timeout (none held: no walk, which at
    // full rate would be hundreds of entries per wake-up).
    const auto now = std::chrono::steady_clock::now();
    if (timed_held_ > 0)
      for (const auto& [id, h] : held_)
      if (h.timeout_s > 0 && h.ending.empty() && h.sent_at != SteadyTime{}) {
        auto due = h.sent_at + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   std::chrono::duration<double>(h.timeout_s));
        wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(std::max(due - now, {})) +
                                  std::chrono::milliseconds(1));
      }
    zmq_poll(items, 2, static_cast<long>(wait.count()));
    if (items[0].revents & ZMQ_POLLIN) drain_socket();
    if (!run_posted()) break;
    check_deadlines();
    if (std::chrono::steady_clock::now() - last_tick_ >= poll_) tick();
  }
  // Claimed and never sent: queued again, their attempt not counted.
  for (auto& [name, t] : topics_) {
    for (const Job& j : t.buffer) {
      JobId id = j.id;
      queue_.submit<Job>([id](JobStore& s, int64_t now) { return s.release(id, now); }, [](Result<Job>) {});
    }
    t.buffer.clear();
  }
}

void WorkerBroker::drain_socket() {
  for (int i = 0; i < kMaxBurst; ++i) {
    zmq_msg_t route, body;
    zmq_msg_init(&route);
    if (zmq_msg_recv(&route, socket_, ZMQ_DONTWAIT) < 0) {
      zmq_msg_close(&route);
      break;
    }
    std::string r(static_cast<const char*>(zmq_msg_data(&route)), zmq_msg_size(&route));
    zmq_msg_close(&route);
    std::string b;
    // One frame after the route; more frames from a confused client are read and dropped.
    int more = 1;
    bool first = true;
    while (more) {
      zmq_msg_init(&body);
      if (zmq_msg_recv(&body, socket_, 0) < 0) {
        zmq_msg_close(&body);
        break;
      }
      if (first) b.assign(static_cast<const char*>(zmq_msg_data(&body)), zmq_msg_size(&body));
      first = false;
      more = zmq_msg_more(&body);
      zmq_msg_close(&body);
    }
    on_message(r, b);
  }
  finish_results();
}

void WorkerBroker::send(const std::string& route, const std::string& body) {
  if (route.empty()) return;
  if (zmq_send(socket_, route.data(), route.size(), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) return;
  zmq_send(socket_, body.data(), body.size(), ZMQ_DONTWAIT);
}

void WorkerBroker::on_message(const std::string& route, const std::string& body) {
  json m = json::parse(body, nullptr, false);
  auto refuse = [&](const std::string& why) {
    {
      std::lock_guard lock(mu_);
      ++counters_.bad_messages;
    }
    send(route, json{{"error", why}}.dump());
  };
  if (!m.is_object()) return refuse("a message is one JSON object");
  if (!m.contains("pool") || !m["pool"].is_string()) return refuse("\"pool\" (a string, DROVER_POOL) is missing");
  if (!m.contains("slot") || !m["slot"].is_number_integer())
    return refuse("\"slot\" (an integer, DROVER_SLOT) is missing");
  const Key key{m["pool"].get<std::string>(), m["slot"].get<int>()};

  for (const char* verb : {"done", "fail"}) {
    if (!m.contains(verb)) continue;
    if (!m[verb].is_number_integer()) return refuse(fmt::format("\"{}\" must be a job id", verb));
    const JobId id = m[verb].get<JobId>();
    const bool ok = std::string(verb) == "done";
    const char* text_field = ok ? "result" : "error";
    std::string text;
    if (m.contains(text_field)) text = m[text_field].is_string() ? m[text_field].get<std::string>() : m[text_field].dump();
    const std::string ack = m.value("ack", false) ? route : std::string();
    auto it = held_.find(id);
    if (it == held_.end() || it->second.worker != key) {
      // Not held by it (any more): cancelled meanwhile, or its worker was counted gone.
      {
        std::lock_guard lock(mu_);
        ++counters_.late_results;
      }
      if (!ack.empty()) send(ack, json{{"error", fmt::format("job {} is not held by {}.{}", id, key.first, key.second)}, {"id", id}}.dump());
    } else {
      Worker& w = workers_[key];
      w.held.erase(std::find(w.held.begin(), w.held.end(), id));
      const std::string topic = it->second.topic;
      unhold(it);
      set_head(w);
      if (w.held.empty()) topics_[topic].busy_dirty = true;
      results_.push_back({id, ok, tail_of(std::move(text)), ack, worker_name(key)});
    }
  }

  if (m.contains("ready")) {
    if (!m["ready"].is_number_integer() || m["ready"].get<int64_t>() < 0 || m["ready"].get<int64_t>() > kMaxJobPrefetch)
      return refuse(fmt::format("\"ready\" must be a count 0..{}", kMaxJobPrefetch));
    const int asked = m["ready"].get<int>();
    Worker& w = workers_[key];
    Topic& t = topics_[key.first];
    if (w.route != route) {
      t.credit -= w.credit;
      w.credit = 0;
      w.route = route;
      ++w.gen;
    }
    if (m.contains("pid") && m["pid"].is_number_integer()) w.pid = m["pid"].get<pid_t>();
    // A worker holds at most kMaxJobPrefetch, whatever it asks: one that repeats its ready
    // (a bug, or a loop) cannot drain the queue into itself.
    const int room = std::max(0, kMaxJobPrefetch - w.credit - static_cast<int>(w.held.size()));
    const int n = std::min(asked, room);
    w.credit += n;
    t.credit += n;
    for (int i = 0; i < n; ++i) t.ready.emplace_back(key.second, w.gen);
    dispatch(key.first);
  }
}

void WorkerBroker::hold(JobId id, Held h) {
  if (h.timeout_s > 0) ++timed_held_;
  held_.emplace(id, std::move(h));
}

void WorkerBroker::unhold(std::unordered_map<JobId, Held>::iterator it) {
  if (it->second.timeout_s > 0) --timed_held_;
  held_.erase(it);
}

void WorkerBroker::set_head(Worker& w) {
  if (w.held.empty()) return;
  auto it = held_.find(w.held.front());
  // Its clock starts when it becomes the job the worker runs, not when it was prefetched.
  if (it != held_.end() && it->second.sent_at == SteadyTime{}) it->second.sent_at = std::chrono::steady_clock::now();
}

void WorkerBroker::dispatch(const std::string& topic) {
  Topic& t = topics_[topic];
  while (!t.buffer.empty() && !t.ready.empty()) {
    auto [slot, gen] = t.ready.front();
    t.ready.pop_front();
    auto wit = workers_.find(Key{topic, slot});
    if (wit == workers_.end() || wit->second.gen != gen || wit->second.credit <= 0) continue;
    Worker& w = wit->second;
    const Job& j = t.buffer.front();
    const std::string msg = job_message(j);
    if (zmq_send(socket_, w.route.data(), w.route.size(), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(socket_, msg.data(), msg.size(), ZMQ_DONTWAIT) < 0) {
      // Its connection has gone (a `drover job next` that was killed): its room with it.
      t.credit -= w.credit;
      w.credit = 0;
      continue;
    }
    --w.credit;
    --t.credit;
    Held h{Key{topic, slot}, topic, SteadyTime{}, j.timeout_s, {}};
    hold(j.id, std::move(h));
    const bool was_idle = w.held.empty();
    w.held.push_back(j.id);
    set_head(w);
    if (was_idle) t.busy_dirty = true;
    t.buffer.pop_front();
    std::lock_guard lock(mu_);
    ++counters_.sent;
  }
  if (t.buffer.empty()) t.idle_buffer_since = {};
  else if (t.idle_buffer_since == SteadyTime{}) t.idle_buffer_since = std::chrono::steady_clock::now();
  const int64_t want = t.credit - static_cast<int64_t>(t.buffer.size());
  if (want > 0 && !t.claiming && !t.hungry) claim(topic, std::min<size_t>(static_cast<size_t>(want), kMaxClaim));
}

void WorkerBroker::claim(const std::string& topic, size_t n) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
  }
  Topic& t = topics_[topic];
  t.claiming = true;
  queue_.submit<std::vector<Job>>(
      [topic, n, host = host_](JobStore& s, int64_t now) { return s.claim(topic, n, now, host, topic); },
      [this, topic, n](Result<std::vector<Job>> r) {
        post([this, topic, n, r = std::move(r)]() mutable {
          Topic& t = topics_[topic];
          t.claiming = false;
          if (!r) {
            t.hungry = true;  // the store failed: the poll tries again
            return;
          }
          t.hungry = r->size() < n;
          if (hooks_.on_claimed && !r->empty()) hooks_.on_claimed(topic, r->size());
          for (Job& j : *r) t.buffer.push_back(std::move(j));
          dispatch(topic);
        });
      });
}

void WorkerBroker::finish_results() {
  if (results_.empty()) return;
  // The burst's results in one store call: one queue entry and one callback for hundreds
  // of jobs at full rate. Each finish stays its own all-or-nothing step inside it.
  std::vector<Finished> batch;
  batch.swap(results_);
  {
    std::lock_guard lock(mu_);
    for (const auto& f : batch) ++(f.ok ? counters_.done : counters_.failed);
  }
  auto retry_at = hooks_.retry_at;
  auto shared = std::make_shared<std::vector<Finished>>(std::move(batch));
  queue_.submit<std::vector<Result<Job>>>(
      [shared, retry_at](JobStore& s, int64_t now) -> Result<std::vector<Result<Job>>> {
        std::vector<JobEnd> ends;
        ends.reserve(shared->size());
        for (const auto& f : *shared) ends.push_back({f.id, {f.ok, f.text, f.worker}});
        return s.finish_all(ends, now, retry_at);
      },
      [this, shared](Result<std::vector<Result<Job>>> r) {
        std::vector<std::pair<std::string, std::string>> acks;
        for (size_t i = 0; i < shared->size(); ++i) {
          const Finished& f = (*shared)[i];
          const Result<Job> one = r ? (*r)[i] : Result<Job>(r.error());
          if (one && hooks_.report_end) {
            const double run_s = one->started_ms ? (one->finished_ms - one->started_ms) / 1000.0 : 0;
            hooks_.report_end(*one, one->error.substr(0, one->error.find('\n')), run_s);
          }
          if (f.ack_route.empty()) continue;
          acks.emplace_back(f.ack_route, one ? fmt::format(R"({{"ack":{}}})", f.id)
                                             : json{{"error", one.error().message()}, {"id", f.id}}.dump());
        }
        if (!acks.empty())
          post([this, acks = std::move(acks)] {
            for (const auto& [route, reply] : acks) send(route, reply);
          });
      });
}

// A held job failed by drover, not its worker (its worker exited, or was restarted): it
// goes to the store with the burst's results, in order after them.
void WorkerBroker::fail(JobId id, std::string text, const Key& worker) {
  results_.push_back({id, false, tail_of(std::move(text)), "", worker_name(worker)});
  finish_results();
}

void WorkerBroker::release(JobId id) {
  {
    std::lock_guard lock(mu_);
    ++counters_.given_back;
  }
  queue_.submit<Job>([id](JobStore& s, int64_t now) { return s.release(id, now); }, [](Result<Job>) {});
}

void WorkerBroker::forget_worker(const Key& key, const std::string& how) {
  auto it = workers_.find(key);
  if (it == workers_.end()) return;
  Worker& w = it->second;
  Topic& t = topics_[key.first];
  t.credit -= w.credit;
  bool first = true;
  for (JobId id : w.held) {
    auto h = held_.find(id);
    if (h == held_.end()) continue;
    if (!h->second.ending.empty()) fail(id, h->second.ending + ", then " + how, key);
    else if (first) fail(id, "its worker exited mid-job: " + how, key);
    else release(id);
    first = false;
    unhold(h);
  }
  if (!w.held.empty()) t.busy_dirty = true;
  workers_.erase(it);
  dispatch(key.first);
}

void WorkerBroker::restart(const Key& key, JobId id, std::string why) {
  auto h = held_.find(id);
  if (h == held_.end() || !h->second.ending.empty()) return;
  h->second.ending = std::move(why);
  // Its exit (on_worker_exit) ends the job with this reason. A worker that has no process
  // now is exiting already: that exit does the same.
  (void)engine_.restart_worker(key.first, key.second);
}

void WorkerBroker::check_deadlines() {
  if (timed_held_ == 0) return;
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::pair<Key, JobId>> due;
  for (const auto& [id, h] : held_)
    if (h.timeout_s > 0 && h.ending.empty() && h.sent_at != SteadyTime{} &&
        now - h.sent_at >= std::chrono::duration<double>(h.timeout_s))
      due.emplace_back(h.worker, id);
  for (auto& [key, id] : due) restart(key, id, fmt::format("timed out after {}s", held_[id].timeout_s));
}

void WorkerBroker::tick() {
  last_tick_ = std::chrono::steady_clock::now();
  for (auto& [name, t] : topics_) {
    if (!t.buffer.empty() && t.credit <= 0 && t.idle_buffer_since != SteadyTime{} &&
        last_tick_ - t.idle_buffer_since >= kIdleBufferLimit) {
      for (const Job& j : t.buffer) release(j.id);
      t.buffer.clear();
      t.idle_buffer_since = {};
    }
    if (t.hungry) {
      t.hungry = false;
      dispatch(name);
    }
    if (t.busy_dirty) {
      // Busy-aware scale-down: a worker holding a job is busy; the engine stops idle ones first.
      t.busy_dirty = false;
      std::vector<WorkerBusy> states;
      for (auto it = workers_.lower_bound(Key{name, INT32_MIN}); it != workers_.end() && it->first.first == name; ++it)
        if (it->second.pid > 0) states.push_back({it->second.pid, !it->second.held.empty()});
      engine_.set_worker_busy(name, "drover", std::move(states));
    }
  }
}

}  // namespace drover::jobs
