// The job queue's routes under /api/v1 (the jobs issue), one per EngineClient job call:
//
//   POST   /api/v1/jobs            {"topic", "args"?, "priority"?, "delay"?, "attempts"?, "timeout"?, "key"?}
//                                  or {"jobs": [...]}: 201 {"jobs": [...]}, all or nothing;
//                                  "topics": [...] makes a fan-out (its parent answered)
//   GET    /api/v1/jobs?topic=&state=&after=&limit=&parent=&key=   {"jobs": [...]}, oldest first
//   GET    /api/v1/jobs/ID         the job
//   DELETE /api/v1/jobs/ID         cancel: a waiting job, or a running one's process stopped
//   POST   /api/v1/jobs/ID/retry   a dead, failed or cancelled job queued again
//   POST   /api/v1/jobs/ID/drop    a finished job deleted
//   POST   /api/v1/jobs/retry      {"topic"?}: every dead job (of a topic) queued again
//   GET    /api/v1/topics          {"topics": [{"topic", "queued", ...}]}
//
// Jobs are written through their description (api/records.h); a job's args go out as the
// JSON value they are. Bad input is a 400 naming the field, and changes nothing.
#include <charconv>
#include <climits>
#include <cmath>

#include <fmt/format.h>

#include "control/http_control.h"
#include "control/http_reply.h"
#include "control/record_json.h"

namespace drover {

using namespace http;

namespace {

constexpr size_t kMaxBatch = 10000;

Result<jobs::JobRequest> request_from_json(const json& body, const std::string& where) {
  auto bad = [&](const std::string& field, const std::string& what) {
    return Status::invalid(fmt::format("{}{}: {}", where.empty() ? "" : where + ".", field, what));
  };
  if (!body.is_object()) return Status::invalid(fmt::format("{}: a job is an object", where.empty() ? "body" : where));
  jobs::JobRequest r;
  bool topic = false;
  for (const auto& [key, v] : body.items()) {
    if (key == "topic") {
      if (!v.is_string()) return bad(key, fmt::format("{} must be a pool name", v.dump()));
      r.topic = v.get<std::string>();
      topic = true;
    } else if (key == "topics") {
      if (!v.is_array() || v.empty()) return bad(key, fmt::format("{} must be a list of pool names", v.dump()));
      for (size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_string()) return bad(fmt::format("topics[{}]", i), fmt::format("{} must be a pool name", v[i].dump()));
        r.topics.push_back(v[i].get<std::string>());
      }
    } else if (key == "args") {
      r.args = v.dump();
    } else if (key == "priority") {
      auto n = json_int(v, -1000000, 1000000);
      if (!n) return bad(key, fmt::format("{} must be a whole number", v.dump()));
      r.priority = *n;
    } else if (key == "attempts") {
      auto n = json_int(v, 1, jobs::kMaxAttempts);
      if (!n) return bad(key, fmt::format("{} must be a whole number from 1 to {}", v.dump(), jobs::kMaxAttempts));
      r.max_attempts = *n;
    } else if (key == "delay" || key == "timeout") {
      if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0)
        return bad(key, fmt::format("{} must be a number of seconds >= 0", v.dump()));
      (key == "delay" ? r.delay_s : r.timeout_s) = v.get<double>();
    } else if (key == "key") {
      if (!v.is_string()) return bad(key, fmt::format("{} must be a string", v.dump()));
      r.key = v.get<std::string>();
    } else {
      return bad(key, "is not a field this takes (topic, topics, args, priority, delay, attempts, timeout, key)");
    }
  }
  if (!topic && r.topics.empty()) return bad("topic", "is required (or topics, for a fan-out)");
  if (Status s = jobs::validate_request(r, where); !s) return s;
  return r;
}

std::optional<jobs::JobId> job_id(const std::string& text) {
  jobs::JobId id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id < 1) return std::nullopt;
  return id;
}

template <typename T>
std::string records_json(const char* key, const std::vector<T>& items) {
  JsonWriter w;
  w.begin_object().key(key).begin_array();
  for (const auto& item : items) records::write_json(w, item);
  w.end_array().end_object();
  return w.take();
}

std::string record_json(const jobs::Job& job) {
  JsonWriter w;
  records::write_json(w, job);
  return w.take();
}

void send_text_json(HttpResponse& res, std::string body, int status = 200) {
  res.status = status;
  res.set_content(std::move(body) + "\n", "application/json");
}

// A job call's refusal: 404 for a job that is not there, 409 for one in the wrong state
// or holding a key, 503 without a queue.
void fail_job(const HttpRequest& req, HttpResponse& res, const Status& st) {
  switch (st.code()) {
    case Status::Code::kNotFound: return fail(req, res, 404, "not_found", st.message());
    case Status::Code::kInvalidArgument: return fail(req, res, 409, "conflict", st.message());
    case Status::Code::kAlreadyExists: return fail(req, res, 409, "exists", st.message());
    case Status::Code::kUnavailable: return fail(req, res, 503, "unavailable", st.message());
    default: return fail(req, res, 500, "failed", st.message());
  }
}

}  // namespace

void HttpControl::job_routes() {
  constexpr RouteTraits kJsonBody{.takes_body = true};
  auto client = [this](const HttpRequest& req, HttpResponse& res) -> EngineClient* {
    if (!client_) fail(req, res, 501, "not_implemented", "no job queue is wired into this server");
    return client_;
  };
  on("POST", "/api/v1/jobs", [this, client](const HttpRequest& req, HttpResponse& res) {
    EngineClient* c = client(req, res);
    if (!c) return;
    auto body = json_body(req, res);
    if (!body) return;
    std::vector<jobs::JobRequest> requests;
    if (body->contains("jobs")) {
      const json& list = (*body)["jobs"];
      if (body->size() != 1 || !list.is_array() || list.empty() || list.size() > kMaxBatch)
        return fail(req, res, 400, "bad_field",
                    fmt::format("a batch is {{\"jobs\": [1 to {} jobs]}} and nothing else", kMaxBatch));
      for (size_t i = 0; i < list.size(); ++i) {
        auto r = request_from_json(list[i], fmt::format("jobs[{}]", i));
        if (!r) return fail(req, res, 400, "bad_field", r.error().message());
        requests.push_back(std::move(*r));
      }
    } else {
      auto r = request_from_json(*body, "");
      if (!r) return fail(req, res, 400, "bad_field", r.error().message());
      requests.push_back(std::move(*r));
    }
    auto made = c->enqueue_jobs(std::move(requests));
    if (!made) {
      if (made.error().code() == Status::Code::kInvalidArgument)
        return fail(req, res, 400, "bad_field", made.error().message());
      return fail_job(req, res, made.error());
    }
    send_text_json(res, records_json("jobs", *made), 201);
  }, kJsonBody);
  on("GET", "/api/v1/jobs", [client](const HttpRequest& req, HttpResponse& res) {
    EngineClient* c = client(req, res);
    if (!c) return;
    jobs::JobFilter f;
    if (req.has_param("topic")) f.topic = req.get_param_value("topic");
    if (req.has_param("state")) {
      f.state = jobs::job_state_from_name(req.get_param_value("state"));
      if (!f.state)
        return fail(req, res, 400, "bad_field",
                    fmt::format("state '{}' is not one of queued, running, done, failed, dead, cancelled",
                                req.get_param_value("state")));
    }
    if (req.has_param("key")) f.key = req.get_param_value("key");
    if (req.has_param("parent")) {
      f.parent = job_id(req.get_param_value("parent"));
      if (!f.parent)
        return fail(req, res, 400, "bad_number",
                    fmt::format("parent = '{}' must be a job id", req.get_param_value("parent")));
    }
    for (const char* key : {"after", "limit"}) {
      if (!req.has_param(key)) continue;
      const std::string v = req.get_param_value(key);
      size_t n = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      const bool limit = std::string(key) == "limit";
      if (ec != std::errc() || end != v.data() + v.size() || (limit && (n < 1 || n > jobs::kMaxListLimit)))
        return fail(req, res, 400, "bad_number",
                    limit ? fmt::format("limit = '{}' must be a whole number in 1..{}", v, jobs::kMaxListLimit)
                          : fmt::format("after = '{}' must be a job id", v));
      if (limit) f.limit = n;
      else f.after = static_cast<jobs::JobId>(std::min<size_t>(n, INT64_MAX));
    }
    auto list = c->list_jobs(f);
    if (!list) return fail_job(req, res, list.error());
    send_text_json(res, records_json("jobs", *list));
  });
  on("GET", "/api/v1/topics", [client](const HttpRequest& req, HttpResponse& res) {
    EngineClient* c = client(req, res);
    if (!c) return;
    auto stats = c->job_stats();
    if (!stats) return fail_job(req, res, stats.error());
    send_text_json(res, records_json("topics", *stats));
  });
  on("GET", "/api/v1/fleet", [client](const HttpRequest& req, HttpResponse& res) {
    EngineClient* c = client(req, res);
    if (!c) return;
    auto fleet = c->fleet();
    if (!fleet) return fail_job(req, res, fleet.error());
    JsonWriter w;
    w.begin_object().key("hosts").begin_array();
    for (const auto& h : fleet->hosts) records::write_json(w, h);
    w.end_array().key("topics").begin_array();
    for (const auto& t : fleet->topics) records::write_json(w, t);
    w.end_array().end_object();
    send_text_json(res, w.take());
  });
  on("POST", "/api/v1/jobs/retry", [client](const HttpRequest& req, HttpResponse& res) {
    EngineClient* c = client(req, res);
    if (!c) return;
    auto body = json_body(req, res);
    if (!body) return;
    std::optional<std::string> topic;
    for (const auto& [key, v] : body->items()) {
      if (key != "topic" || !v.is_string())
        return fail(req, res, 400, "bad_field", "the body is {} or {\"topic\": NAME}");
      topic = v.get<std::string>();
    }
    auto n = c->retry_dead_jobs(topic);
    if (!n) return fail_job(req, res, n.error());
    send_json(res, json{{"retried", *n}});
  }, kJsonBody);
  // One job: GET it, DELETE cancels it, POST .../retry and .../drop.
  auto one = [client](std::function<void(EngineClient&, jobs::JobId, const HttpRequest&, HttpResponse&)> fn) {
    return [client, fn](const HttpRequest& req, HttpResponse& res) {
      EngineClient* c = client(req, res);
      if (!c) return;
      auto id = job_id(req.matches[1]);
      if (!id) return fail(req, res, 400, "bad_number", fmt::format("job id '{}' is not a whole number >= 1", std::string(req.matches[1])));
      fn(*c, *id, req, res);
    };
  };
  auto answer = [](const HttpRequest& req, HttpResponse& res, const Result<jobs::Job>& r) {
    if (!r) return fail_job(req, res, r.error());
    send_text_json(res, record_json(*r));
  };
  on("GET", R"(/api/v1/jobs/([^/]+))", one([answer](EngineClient& c, jobs::JobId id, const HttpRequest& req, HttpResponse& res) {
    answer(req, res, c.job(id));
  }));
  on("DELETE", R"(/api/v1/jobs/([^/]+))", one([answer](EngineClient& c, jobs::JobId id, const HttpRequest& req, HttpResponse& res) {
    answer(req, res, c.cancel_job(id));
  }));
  on("POST", R"(/api/v1/jobs/([^/]+)/retry)", one([answer](EngineClient& c, jobs::JobId id, const HttpRequest& req, HttpResponse& res) {
    answer(req, res, c.retry_job(id));
  }));
  on("POST", R"(/api/v1/jobs/([^/]+)/drop)", one([](EngineClient& c, jobs::JobId id, const HttpRequest& req, HttpResponse& res) {
    if (Status st = c.drop_job(id); !st) return fail_job(req, res, st);
    send_json(res, json{{"dropped", id}});
  }));
}

}  // namespace drover
