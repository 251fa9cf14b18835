#include "jobs/job_dispatcher.h"

#include <unistd.h>

#include <climits>
#include <set>

#include <fmt/format.h>

namespace drover::jobs {

namespace {

JobTicket ticket_of(const Job& j) {
  JobTicket t;
  t.id = j.id;
  t.args = j.args;
  t.attempt = j.attempt;
  t.timeout_s = j.timeout_s;
  return t;
}

// A failure's record: how it ended, then the tail of what it wrote.
std::string failure_text(const JobExit& e) { return e.output.empty() ? e.text : e.text + "\n" + e.output; }

}  // namespace

JobDispatcher::JobDispatcher(Engine& engine, JobQueue& queue, DispatchOptions options)
    : engine_(engine), queue_(queue), options_(std::move(options)) {
  if (options_.host.empty()) options_.host = machine_host_name();
  JobHooks hooks;
  hooks.on_demand = [this](const std::string& pool, int free, uint64_t taken) { on_demand(pool, free, taken); };
  hooks.on_exit = [this](const JobExit& e) { on_exit(e); };
  hooks.on_worker_exit = [this](const std::string& pool, int slot, pid_t pid, const std::string& how) {
    if (WorkerBroker* b = broker_ptr_.load()) b->worker_exited(pool, slot, pid, how);
  };
  engine_.set_job_hooks(std::move(hooks));
  poller_ = std::thread([this] { poll_loop(); });
}

JobDispatcher::~JobDispatcher() {
  engine_.set_job_hooks({});  // after this the loop calls nothing of ours
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  poller_.join();
  if (broker_) broker_->stop();  // gives back what it claimed and did not send
  // The store thread answers in order: once this barrier is answered, so is every call
  // of ours submitted before stopping_ was set, and none is submitted after (claim_for
  // submits under mu_ and checks stopping_ first).
  queue_.call<int>([](JobStore&, int64_t) -> Result<int> { return 0; }).get();
}

JobDispatcher::Counters JobDispatcher::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

Status JobDispatcher::open_broker() {
  BrokerHooks hooks;
  hooks.report_end = [this](const Job& j, const std::string& how, double run_s) { report_end(j, how, run_s); };
  hooks.retry_at = [this](int attempt, int64_t now_ms) { return retry_at(attempt, now_ms); };
  hooks.on_claimed = [this](const std::string& topic, size_t n) {
    if (options_.counters) options_.counters->on_started(topic, n);
  };
  auto b = WorkerBroker::open(engine_, queue_, engine_.jobs_endpoint(), options_.host, std::move(hooks), options_.poll);
  if (!b) return b.error();
  broker_ = std::move(*b);
  broker_ptr_.store(broker_.get());
  return Status::ok();
}

Result<std::vector<Job>> JobDispatcher::recover() {
  return queue_.call<std::vector<Job>>([](JobStore& s, int64_t now) { return s.requeue_running(now); }).get();
}

std::future<Result<std::vector<Job>>> JobDispatcher::enqueue(std::vector<JobRequest> requests) {
  auto promise = std::make_shared<std::promise<Result<std::vector<Job>>>>();
  auto future = promise->get_future();
  queue_.submit<std::vector<Job>>(
      [requests = std::move(requests)](JobStore& s, int64_t now) { return s.enqueue(requests, now); },
      [this, promise](Result<std::vector<Job>> r) {
        if (r) report_enqueued(*r);
        if (r) {
          // Hungry pools of these topics claim now, not at the next poll.
          std::vector<std::string> topics;
          bool fanout = false;  // its children's topics are not in the answer: every hungry pool claims
          {
            std::lock_guard lock(mu_);
            for (const Job& j : *r) {
              fanout = fanout || j.children > 0;
              if (auto it = demand_.find(j.topic); it != demand_.end() && it->second.hungry) {
                it->second.hungry = false;
                topics.push_back(j.topic);
              }
            }
          }
          if (fanout) poke(std::nullopt);  // pokes the broker too
          else
            for (const auto& t : topics) claim_for(t);
          if (broker_ && !fanout) {
            std::set<std::string> all;
            for (const Job& j : *r) all.insert(j.topic);
            for (const auto& t : all) broker_->poke(t);
          }
        }
        promise->set_value(std::move(r));
      });
  return future;
}

void JobDispatcher::poke(const std::optional<std::string>& topic) {
  std::vector<std::string> pools;
  {
    std::lock_guard lock(mu_);
    for (auto& [pool, d] : demand_)
      if (!topic || pool == *topic) pools.push_back(pool);
  }
  for (const auto& p : pools) claim_for(p);
  if (broker_) broker_->poke(topic);
}

Result<Job> JobDispatcher::cancel(JobId id) {
  auto job = queue_.call<Job>([id](JobStore& s, int64_t now) { return s.cancel(id, now); }).get();
  if (!job) return job;
  report_end(*job, "", 0);
  (void)engine_.cancel_job(id);  // kNotFound: it was not running here
  if (broker_) broker_->cancel(id);
  if (job->children > 0) {
    // The store cancelled the children with their parent; stop those running here.
    JobFilter kids;
    kids.parent = id;
    kids.limit = kMaxFanout;
    auto list = queue_.call<std::vector<Job>>([kids](JobStore& s, int64_t) { return s.list(kids); }).get();
    if (list)
      for (const Job& k : *list) {
        (void)engine_.cancel_job(k.id);
        if (broker_) broker_->cancel(k.id);
      }
  }
  return job;
}

void JobDispatcher::report_enqueued(const std::vector<Job>& jobs) {
  // One line per topic and call: a batch of 10,000 is one event, not 10,000.
  std::map<std::string, std::vector<JobId>> by_topic;
  for (const Job& j : jobs) by_topic[j.topic].push_back(j.id);
  std::map<std::string, uint64_t> delayed;
  for (const Job& j : jobs)
    if (j.run_at_ms > j.created_ms) ++delayed[j.topic];
  for (const auto& [topic, ids] : by_topic) {
    if (options_.counters) options_.counters->on_enqueued(topic, ids.size() - delayed[topic], delayed[topic]);
    engine_.report(EventKind::kJobsEnqueued, topic,
                   ids.size() == 1 ? fmt::format("job {}", ids[0])
                                   : fmt::format("{} jobs: {}..{}", ids.size(), ids.front(), ids.back()));
  }
}

void JobDispatcher::on_demand(const std::string& pool, int free, uint64_t taken) {
  {
    std::lock_guard lock(mu_);
    Demand& d = demand_[pool];
    d.free = free;
    d.taken = taken;
  }
  claim_for(pool);
}

void JobDispatcher::claim_for(const std::string& pool) {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  Demand& d = demand_[pool];
  // Tickets offered but not yet in the engine's count fill room it already reported.
  const auto in_flight = static_cast<int64_t>(d.offered) - static_cast<int64_t>(d.taken);
  const int want = static_cast<int>(std::max<int64_t>(0, d.free - std::max<int64_t>(0, in_flight)));
  if (want == 0 || d.claiming) return;
  d.claiming = true;
  const std::string host = options_.host;
  // Submitted under mu_: the destructor's barrier then comes after it (see there).
  queue_.submit<std::vector<Job>>(
      [pool, want, host](JobStore& s, int64_t now) { return s.claim(pool, static_cast<size_t>(want), now, host, pool); },
      [this, pool, want](Result<std::vector<Job>> r) {
        std::vector<JobTicket> tickets;
        if (r)
          for (const Job& j : *r) tickets.push_back(ticket_of(j));
        {
          std::lock_guard lock(mu_);
          Demand& d = demand_[pool];
          d.claiming = false;
          d.offered += tickets.size();
          d.hungry = static_cast<int>(tickets.size()) < want;
          counters_.claimed += tickets.size();
          if (options_.counters && !tickets.empty()) options_.counters->on_started(pool, tickets.size());
          if (stopping_) return;  // the tickets stay running in the store: recover() requeues them
        }
        if (!tickets.empty()) engine_.offer_jobs(pool, std::move(tickets));
        // Room reported while this claim ran (not hungry: there may be more due now).
        if (r && !r->empty()) claim_for(pool);
      });
}

int64_t JobDispatcher::retry_at(int attempt, int64_t now_ms) {
  std::lock_guard lock(mu_);
  const double u = std::uniform_real_distribution<double>(0, 1)(rng_);
  return now_ms + static_cast<int64_t>(options_.backoff.delay_s(attempt, u) * 1000);
}

void JobDispatcher::on_exit(const JobExit& e) {
  {
    std::lock_guard lock(mu_);
    if (e.how == JobExit::How::kNotStarted) ++counters_.given_back;
    else if (e.ok) ++counters_.done;
    else ++counters_.failed;
  }
  const JobId id = e.id;
  std::function<Result<Job>(JobStore&, int64_t)> record;
  if (e.how == JobExit::How::kNotStarted) {
    record = [id](JobStore& s, int64_t now) { return s.release(id, now); };
  } else if (e.how == JobExit::How::kCancelled) {
    // Cancelled through cancel() the store says so already; through the engine alone, not yet.
    record = [id](JobStore& s, int64_t now) { return s.cancel(id, now); };
  } else {
    const std::string worker = e.slot >= 0 ? fmt::format("{}.{}", e.pool, e.slot) : "";
    record = [this, end = JobEnd{id, {e.ok, e.ok ? e.output : failure_text(e), worker}}](JobStore& s, int64_t now) {
      return s.finish_all({end}, now, [this](int attempt, int64_t t) { return retry_at(attempt, t); }).front();
    };
  }
  record_end({std::move(record), e.how == JobExit::How::kNotStarted, e.text, e.run_s});
}

void JobDispatcher::record_end(Unrecorded end) {
  // A refusal here (the job was cancelled meanwhile, or dropped) leaves the store as it is,
  // and says nothing: what it would say was said when that happened. An unreachable store
  // (a shared database down) is different: the end is kept and tried again at each poll,
  // or the job would stay "running" under this host until drover stops.
  auto record = end.record;
  queue_.submit<Job>(std::move(record), [this, end = std::move(end)](Result<Job> r) mutable {
    if (!r && r.error().code() == Status::Code::kUnavailable) {
      std::lock_guard lock(mu_);
      if (!stopping_) unrecorded_.push_back(std::move(end));
      return;
    }
    if (!r || end.given_back) return;
    report_end(*r, end.text, end.run_s);
  });
}

void JobDispatcher::report_end(const Job& j, const std::string& how, double run_s) {
  const std::string first_line = how.substr(0, how.find('\n'));
  if (options_.counters) options_.counters->on_end(j.topic, j.state, run_s);
  switch (j.state) {
    case JobState::kDone:
      engine_.report(EventKind::kJobDone, j.topic, fmt::format("job {} (attempt {}, {:.1f}s)", j.id, j.attempt, run_s));
      break;
    case JobState::kFailed: {
      if (options_.on_retrying) options_.on_retrying(j);
      const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count();
      engine_.report(EventKind::kJobRetrying, j.topic,
                     fmt::format("job {} attempt {} failed: {}; retry in {:.1f}s", j.id, j.attempt, first_line,
                                 std::max<int64_t>(0, j.run_at_ms - now) / 1000.0));
      break;
    }
    case JobState::kDead:
      engine_.report(EventKind::kJobDead, j.topic,
                     fmt::format("job {} out of attempts ({}): {}", j.id, j.attempt, first_line));
      break;
    case JobState::kCancelled:
      engine_.report(EventKind::kJobCancelled, j.topic, fmt::format("job {}", j.id));
      break;
    default:
      break;
  }
}

void JobDispatcher::poll_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, options_.poll);
    if (stopping_) return;
    std::vector<std::string> hungry;
    for (auto& [pool, d] : demand_)
      if (d.hungry && !d.claiming) hungry.push_back(pool);
    std::vector<Unrecorded> ends;
    ends.swap(unrecorded_);
    lock.unlock();
    for (auto& e : ends) record_end(std::move(e));
    for (const auto& p : hungry) claim_for(p);
    lock.lock();
  }
}

}  // namespace drover::jobs
