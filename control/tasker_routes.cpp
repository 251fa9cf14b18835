// tasker's API (github.com/MatthiasWiesner/tasker), served with --tasker-compat, so its
// clients can move to drover unchanged. A tasker task is one job run by each of several
// endpoints; here it is a fan-out (jobs/job.h): the parent of topic TYPE, one child per
// endpoint pool (exec mode), the identifier its unique key.
//
//   POST /TYPE        {"identifier", "payload"?, "endpoints"?: [POOL, ...]}
//                     the created task, as tasker answers it (200); no endpoints: the pool
//                     named TYPE. The identifier names one waiting or running task of its
//                     type: posted again meanwhile, it answers that task and makes none.
//   GET  /TYPE/IDENT  {"task": {...}, "taskResponseList": [{...} per endpoint]}; IDENT is
//                     the identifier (its newest task) or, as in tasker, the task's id.
//
// Status names (README, "tasker compatibility"), the task's from its parent job:
//   queued -> CREATED, running -> SENT, done -> DONE, dead and cancelled -> INCOMPLETE;
// a response's from its child: waiting or running -> CREATED, finished -> FINISHED, with
// errnr 1 ("General error", tasker's one code) and errmsg when it ended dead or cancelled.
// Both also carry drover's own state name as "state".
//
// The routes match any first path segment, so they are registered last (the table's
// specific routes win) and only with the option; drover's own prefixes are refused as
// types. Same admission as every route: the token on TCP, the uid on the control socket.
// Errors are JSON {"error", "detail"} naming the field; a refused request changes nothing.
#include <ctime>

#include <fmt/format.h>

#include "control/http_control.h"
#include "control/http_reply.h"

namespace drover {

using namespace http;

namespace {

constexpr const char* kReserved[] = {"api", "tasks", "list", "healthz", "metrics"};

// tasker wrote Python's str(datetime): "2012-10-15 12:00:00.123456". Here UTC, to the ms.
json time_text(int64_t ms) {
  if (ms <= 0) return nullptr;
  const time_t s = static_cast<time_t>(ms / 1000);
  tm t{};
  gmtime_r(&s, &t);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &t);
  return fmt::format("{}.{:03}", buf, ms % 1000);
}

const char* task_status(jobs::JobState s) {
  switch (s) {
    case jobs::JobState::kQueued: return "CREATED";
    case jobs::JobState::kRunning:
    case jobs::JobState::kFailed: return "SENT";  // a parent is never failed; for a plain job
    case jobs::JobState::kDone: return "DONE";
    case jobs::JobState::kDead:
    case jobs::JobState::kCancelled: return "INCOMPLETE";
  }
  return "?";
}

// A job's args or result as the JSON it holds; text that is not JSON as a string.
json value_of(const std::string& text) {
  json v = json::parse(text, nullptr, false);
  return v.is_discarded() ? json(text) : v;
}

json task_json(const std::string& type, const jobs::Job& parent, const std::vector<jobs::Job>& kids) {
  json endpoints = json::array();
  for (const auto& k : kids) endpoints.push_back(k.topic);
  if (!parent.children) endpoints.push_back(parent.topic);  // a plain job with the key: its own pool
  return json{{"id", parent.id},
              {"identifier", parent.key},
              {"type", type},
              {"status", task_status(parent.state)},
              {"state", jobs::job_state_name(parent.state)},
              {"start_time", time_text(parent.created_ms)},
              {"endpoints", endpoints},
              {"payload", value_of(parent.args)}};
}

json response_json(const jobs::Job& task, const jobs::Job& run) {
  const bool finished = jobs::is_finished(run.state);
  const bool failed = run.state == jobs::JobState::kDead || run.state == jobs::JobState::kCancelled;
  json r{{"id", run.id},
         {"task_id", task.id},
         {"endpoint", run.topic},
         {"status", finished ? "FINISHED" : "CREATED"},
         {"state", jobs::job_state_name(run.state)},
         {"errnr", failed ? 1 : 0},
         {"errmsg", failed ? json(run.error.empty() ? std::string("cancelled") : run.error) : json(nullptr)},
         {"payload", run.result.empty() ? json(nullptr) : value_of(run.result)},
         {"start_time", time_text(run.started_ms ? run.started_ms : run.created_ms)},
         {"last_modified_time", time_text(run.finished_ms ? run.finished_ms : run.started_ms)},
         {"attempt", run.attempt}};
  return r;
}

void refuse(HttpResponse& res, int code, const char* error, const std::string& detail) {
  send_json(res, json{{"error", error}, {"detail", detail}}, code);
}

// A pool name from the request, or the sentence that says why not.
std::optional<std::string> bad_pool_name(const std::string& name) {
  if (name.empty() || name.size() > jobs::kMaxTopicBytes)
    return fmt::format("must be a pool name of 1 to {} bytes", jobs::kMaxTopicBytes);
  for (unsigned char c : name)
    if (c < 0x21 || c == 0x7f) return fmt::format("\"{}\" has a space or control character", name);
  return std::nullopt;
}

bool reserved(const std::string& type) {
  for (const char* r : kReserved)
    if (type == r) return true;
  return false;
}

// The task's answer: the parent and its children, read back.
void answer_task(EngineClient& c, const std::string& type, const jobs::Job& parent, HttpResponse& res,
                 bool with_responses) {
  std::vector<jobs::Job> kids;
  if (parent.children) {
    jobs::JobFilter f;
    f.parent = parent.id;
    f.limit = jobs::kMaxFanout;
    auto list = c.list_jobs(f);
    if (!list) return refuse(res, http_code(list.error()), "failed", list.error().message());
    kids = std::move(*list);
  }
  json task = task_json(type, parent, kids);
  if (!with_responses) return send_json(res, task);
  json responses = json::array();
  if (parent.children)
    for (const auto& k : kids) responses.push_back(response_json(parent, k));
  else
    responses.push_back(response_json(parent, parent));
  send_json(res, json{{"task", task}, {"taskResponseList", responses}});
}

}  // namespace

void HttpControl::tasker_routes() {
  if (!options_.tasker_compat) return;
  auto client = [this](HttpResponse& res) -> EngineClient* {
    if (!client_) refuse(res, 501, "not_implemented", "no job queue is wired into this server");
    return client_;
  };
  on("POST", R"(/([^/]+)/?)", [client](const HttpRequest& req, HttpResponse& res) {
    const std::string type = req.matches[1];
    if (reserved(type)) return refuse(res, 404, "not_found", fmt::format("/{} is drover's, not a task type", type));
    if (auto why = bad_pool_name(type)) return refuse(res, 400, "bad_field", "type: " + *why);
    EngineClient* c = client(res);
    if (!c) return;
    auto body = json_body(req, res);
    if (!body) return;
    jobs::JobRequest r;
    r.topic = type;
    bool identifier = false;
    for (const auto& [key, v] : body->items()) {
      if (key == "identifier") {
        if (!v.is_string() || v.get<std::string>().empty())
          return refuse(res, 400, "bad_field", fmt::format("identifier: {} must be a non-empty string", v.dump()));
        r.key = v.get<std::string>();
        if (r.key.size() > jobs::kMaxKeyBytes)
          return refuse(res, 400, "bad_field",
                        fmt::format("identifier: {} bytes is over {}", r.key.size(), jobs::kMaxKeyBytes));
        identifier = true;
      } else if (key == "payload") {
        r.args = v.dump();
      } else if (key == "endpoints") {
        if (!v.is_array() || v.size() > jobs::kMaxFanout)
          return refuse(res, 400, "bad_field",
                        fmt::format("endpoints: {} must be a list of at most {} pool names", v.dump(), jobs::kMaxFanout));
        for (size_t i = 0; i < v.size(); ++i) {
          const std::string field = fmt::format("endpoints[{}]", i);
          if (!v[i].is_string()) return refuse(res, 400, "bad_field", fmt::format("{}: {} must be a pool name", field, v[i].dump()));
          const std::string name = v[i].get<std::string>();
          if (auto why = bad_pool_name(name)) return refuse(res, 400, "bad_field", field + ": " + *why);
          for (const auto& seen : r.topics)
            if (seen == name) return refuse(res, 400, "bad_field", fmt::format("{}: \"{}\" is named twice", field, name));
          r.topics.push_back(name);
        }
      } else {
        return refuse(res, 400, "bad_field", fmt::format("{}: is not a field a task takes (identifier, payload, endpoints)", key));
      }
    }
    if (!identifier) return refuse(res, 400, "bad_field", "identifier: is required");
    if (r.topics.empty()) r.topics.push_back(type);
    auto made = c->enqueue_jobs({std::move(r)});
    if (!made) {
      const bool bad = made.error().code() == Status::Code::kInvalidArgument;
      return refuse(res, bad ? 400 : http_code(made.error()), bad ? "bad_field" : "failed", made.error().message());
    }
    answer_task(*c, type, made->front(), res, false);
  }, RouteTraits{.takes_body = true});
  on("GET", R"(/([^/]+)/([^/]+)/?)", [client](const HttpRequest& req, HttpResponse& res) {
    const std::string type = req.matches[1], ident = req.matches[2];
    if (reserved(type)) return refuse(res, 404, "not_found", fmt::format("/{} is drover's, not a task type", type));
    EngineClient* c = client(res);
    if (!c) return;
    // By identifier first, the newest task that has it; then, as tasker did, by id.
    jobs::JobFilter f;
    f.topic = type;
    f.key = ident;
    f.limit = jobs::kMaxListLimit;
    auto list = c->list_jobs(f);
    if (!list) return refuse(res, http_code(list.error()), "failed", list.error().message());
    if (!list->empty()) return answer_task(*c, type, list->back(), res, true);
    if (ident.find_first_not_of("0123456789") == std::string::npos && ident.size() < 19) {
      auto job = c->job(std::stoll(ident));
      if (job && job->topic == type && job->parent == 0) return answer_task(*c, type, *job, res, true);
    }
    refuse(res, 404, "not_found", fmt::format("no task of type {} with identifier or id {}", type, ident));
  });
}

}  // namespace drover
