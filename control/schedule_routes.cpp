// The schedules' routes under /api/v1 (issue 15), one per EngineClient schedule call:
//
//   GET    /api/v1/schedules            {"schedules": [...]}, by name, each with next_ms,
//                                       last_run_ms, last_job, outcome
//   POST   /api/v1/schedules            {"name", "cron" | "every", "topic", "args"?, "tz"?,
//                                       "priority"?, "attempts"?, "timeout"?, "missed"?,
//                                       "overlap"?, "enabled"?}: 201, the schedule; a
//                                       schedule of that name is replaced
//   GET    /api/v1/schedules/NAME       the schedule
//   DELETE /api/v1/schedules/NAME       removed: {"dropped": NAME}
//   POST   /api/v1/schedules/NAME/on    turned on (ticks missed while off never run)
//   POST   /api/v1/schedules/NAME/off   turned off
//   POST   /api/v1/schedules/NAME/run   one run now: 201, the job
//
// Records go out through their description (api/records.h). Bad input is a 400 naming
// the field, and changes nothing.
#include <cmath>

#include <fmt/format.h>

#include "control/http_control.h"
#include "control/http_reply.h"
#include "control/record_json.h"

namespace drover {

using namespace http;

namespace {

Result<jobs::Schedule> schedule_from_json(const json& body) {
  if (!body.is_object()) return Status::invalid("body: a schedule is an object");
  jobs::Schedule s;
  auto name_it = body.find("name");
  if (name_it != body.end() && name_it->is_string()) s.name = name_it->get<std::string>();
  auto bad = [&](const std::string& field, const std::string& what) {
    return Status::invalid(fmt::format("schedule \"{}\".{}: {}", s.name, field, what));
  };
  for (const auto& [key, v] : body.items()) {
    auto text = [&](std::string& out) -> Status {
      if (!v.is_string()) return bad(key, fmt::format("{} must be a string", v.dump()));
      out = v.get<std::string>();
      return Status::ok();
    };
    Status st;
    if (key == "name") st = text(s.name);
    else if (key == "cron") st = text(s.cron);
    else if (key == "every") st = text(s.every);
    else if (key == "tz") st = text(s.tz);
    else if (key == "topic") st = text(s.topic);
    else if (key == "args") s.args = v.dump();
    else if (key == "priority") {
      auto n = json_int(v, -1000000, 1000000);
      if (!n) return bad(key, fmt::format("{} must be a whole number", v.dump()));
      s.priority = *n;
    } else if (key == "attempts") {
      auto n = json_int(v, 1, jobs::kMaxAttempts);
      if (!n) return bad(key, fmt::format("{} must be a whole number from 1 to {}", v.dump(), jobs::kMaxAttempts));
      s.max_attempts = *n;
    } else if (key == "timeout") {
      if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0)
        return bad(key, fmt::format("{} must be a number of seconds >= 0", v.dump()));
      s.timeout_s = v.get<double>();
    } else if (key == "missed") {
      std::optional<jobs::MissedPolicy> p;
      if (v.is_string()) p = jobs::missed_policy_from_name(v.get<std::string>());
      if (!p) return bad(key, fmt::format("{} must be \"skip\", \"one\" or \"all\"", v.dump()));
      s.missed = *p;
    } else if (key == "overlap" || key == "enabled") {
      if (!v.is_boolean()) return bad(key, fmt::format("{} must be true or false", v.dump()));
      (key == "overlap" ? s.overlap : s.enabled) = v.get<bool>();
    } else {
      return bad(key, "is not a field this takes (name, cron, every, tz, topic, args, priority, attempts, timeout, "
                      "missed, overlap, enabled)");
    }
    if (!st) return st;
  }
  if (s.topic.empty() && !body.contains("topic")) return bad("topic", "is required");
  if (Status v = jobs::validate_schedule(s); !v) return v;
  return s;
}

template <typename T>
std::string record_text(const T& rec) {
  JsonWriter w;
  records::write_json(w, rec);
  return w.take() + "\n";
}

void send_record(HttpResponse& res, std::string body, int status = 200) {
  res.status = status;
  res.set_content(std::move(body), "application/json");
}

// 404 for an unknown name, 400 for a bad definition, 503 without a queue.
void fail_schedule(const HttpRequest& req, HttpResponse& res, const Status& st) {
  switch (st.code()) {
    case Status::Code::kNotFound: return fail(req, res, 404, "not_found", st.message());
    case Status::Code::kInvalidArgument: return fail(req, res, 400, "bad_field", st.message());
    case Status::Code::kAlreadyExists: return fail(req, res, 409, "exists", st.message());
    case Status::Code::kUnavailable: return fail(req, res, 503, "unavailable", st.message());
    default: return fail(req, res, 500, "failed", st.message());
  }
}

}  // namespace

void HttpControl::schedule_routes() {
  constexpr RouteTraits kJsonBody{.takes_body = true};
  auto client = [this](const HttpRequest& req, HttpResponse& res) -> EngineClient* {
    if (!client_) fail(req, res, 501, "not_implemented", "no job queue is wired into this server");
    return client_;
  };
  on("GET", "/api/v1/schedules", [client](const HttpRequest& req, HttpResponse& res) {
    EngineClient* c = client(req, res);
    if (!c) return;
    auto list = c->schedules();
    if (!list) return fail_schedule(req, res, list.error());
    JsonWriter w;
    w.begin_object().key("schedules").begin_array();
    for (const auto& s : *list) records::write_json(w, s);
    w.end_array().end_object();
    send_record(res, w.take() + "\n");
  });
  on("POST", "/api/v1/schedules", [client](const HttpRequest& req, HttpResponse& res) {
    EngineClient* c = client(req, res);
    if (!c) return;
    auto body = json_body(req, res);
    if (!body) return;
    auto s = schedule_from_json(*body);
    if (!s) return fail(req, res, 400, "bad_field", s.error().message());
    auto made = c->define_schedule(*s);
    if (!made) return fail_schedule(req, res, made.error());
    send_record(res, record_text(*made), 201);
  }, kJsonBody);
  constexpr const char* kOne = R"(/api/v1/schedules/([^/]+))";
  on("GET", kOne, [client](const HttpRequest& req, HttpResponse& res) {
    EngineClient* c = client(req, res);
    if (!c) return;
    auto s = c->schedule(req.matches[1]);
    if (!s) return fail_schedule(req, res, s.error());
    send_record(res, record_text(*s));
  });
  on("DELETE", kOne, [client](const HttpRequest& req, HttpResponse& res) {
    EngineClient* c = client(req, res);
    if (!c) return;
    const std::string name = req.matches[1];
    if (Status st = c->drop_schedule(name); !st) return fail_schedule(req, res, st);
    send_json(res, json{{"dropped", name}});
  });
  for (const char* action : {"on", "off"}) {
    const bool on_ = std::string(action) == "on";
    on("POST", fmt::format(R"(/api/v1/schedules/([^/]+)/{})", action),
       [client, on_](const HttpRequest& req, HttpResponse& res) {
         EngineClient* c = client(req, res);
         if (!c) return;
         auto s = c->set_schedule_enabled(req.matches[1], on_);
         if (!s) return fail_schedule(req, res, s.error());
         send_record(res, record_text(*s));
       });
  }
  on("POST", R"(/api/v1/schedules/([^/]+)/run)", [client](const HttpRequest& req, HttpResponse& res) {
    EngineClient* c = client(req, res);
    if (!c) return;
    auto job = c->run_schedule(req.matches[1]);
    if (!job) return fail_schedule(req, res, job.error());
    send_record(res, record_text(*job), 201);
  });
}

}  // namespace drover
