#include "control/http_control.h"

#include <httplib.h>

#include <algorithm>
#include <charconv>
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "control/json_views.h"
#include "control/prometheus_text.h"
#include "control/snapshot_json.h"

namespace drover {

namespace {

using nlohmann::json;

constexpr size_t kMaxBody = 64 * 1024;

bool wants_json(const httplib::Request& req) {
  return req.get_header_value("Accept").find("application/json") != std::string::npos;
}

void reply(const httplib::Request& req, httplib::Response& res, const std::string& text, const json& body) {
  if (wants_json(req))
    res.set_content(body.dump() + "\n", "application/json");
  else
    res.set_content(text + "\n", "text/plain; charset=utf-8");
}

void fail(const httplib::Request& req, httplib::Response& res, int code, const std::string& error,
          const std::string& detail) {
  res.status = code;
  if (req.path.rfind("/api/", 0) == 0)  // the JSON API answers JSON whatever the Accept
    res.set_content(json{{"error", error}, {"detail", detail}}.dump() + "\n", "application/json");
  else
    reply(req, res, "ERROR: " + detail, json{{"error", error}, {"detail", detail}});
}

void send_json(httplib::Response& res, const json& body) { res.set_content(body.dump() + "\n", "application/json"); }

// The request's body as a JSON object, or a 400 already written and nullopt.
std::optional<json> json_body(const httplib::Request& req, httplib::Response& res) {
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    fail(req, res, 400, "bad_json", "the body must be a JSON object");
    return std::nullopt;
  }
  return body;
}

const char* reason_phrase(int code) {
  switch (code) {
    case 400: return "bad request";
    case 404: return "no such route";
    case 405: return "method not allowed";
    case 413: return "body too large";
    default: return "error";
  }
}

int http_code(const Status& s) {
  switch (s.code()) {
    case Status::Code::kNotFound: return 404;
    case Status::Code::kInvalidArgument: return 400;
    case Status::Code::kUnavailable: return 503;
    default: return 500;
  }
}

std::string rfc3339(int64_t wall_ms) {
  if (wall_ms <= 0) return "";
  std::time_t t = static_cast<std::time_t>(wall_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// workerpoolmanager's view of a pool: a task, running or not, with its workers.
struct TaskView {
  std::string name;
  bool running = false;
  std::string started_at, last_alive_at;
  int active = 0, cardinality = 0;
  uint64_t dead = 0;

  explicit TaskView(const PoolSnapshot& p) : name(p.spec.name) {
    running = p.enabled && p.target > 0;
    int64_t first = 0, last = 0;
    for (const auto& w : p.workers) {
      if (w.started_at_ms && (!first || w.started_at_ms < first)) first = w.started_at_ms;
      last = std::max(last, w.last_heartbeat_ms);
    }
    started_at = rfc3339(first);
    last_alive_at = rfc3339(last);
    active = p.running;
    cardinality = p.target;
    dead = p.counters.exited_bad + p.counters.killed_after_grace;
  }
  std::string text() const {
    std::string out = fmt::format("Task name:\t{}\nRunning:\t{}\n", name, running ? "true" : "false");
    if (running)
      out += fmt::format("Started at:\t{}\nLast alive at:\t{}\nActive Workers:\t{} / {}\nDead Workers:\t{}\n",
                         started_at, last_alive_at, active, cardinality, dead);
    return out;
  }
  json to_json() const {
    return json{{"name", name},          {"running", running},         {"started_at", started_at},
                {"last_alive_at", last_alive_at}, {"active_workers", active}, {"cardinality", cardinality},
                {"dead_workers", dead}};
  }
};

}  // namespace

Result<std::pair<std::string, int>> parse_listen_address(const std::string& spec) {
  std::string host = "127.0.0.1", port_text = spec;
  if (size_t colon = spec.rfind(':'); colon != std::string::npos) {
    if (colon > 0) host = spec.substr(0, colon);
    port_text = spec.substr(colon + 1);
  }
  int port = -1;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 0 || port > 65535 || host.empty())
    return Status::invalid(fmt::format("--http {}: expected HOST:PORT, as in 127.0.0.1:8010", spec));
  return std::make_pair(host, port);
}

HttpControl::HttpControl(Engine& engine) : engine_(engine), server_(std::make_unique<httplib::Server>()) {
  server_->set_payload_max_length(kMaxBody);
  // Headers and body go out in two writes: with Nagle on, a kept-alive client waits out
  // its peer's delayed ACK (40 ms) for the second.
  server_->set_tcp_nodelay(true);
  routes();
}

HttpControl::~HttpControl() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

Status HttpControl::start(const std::string& host, int port) {
  // Loopback only in this slice: anything else needs the token issue 6 asks for.
  if (host != "127.0.0.1" && host != "localhost" && host != "::1")
    return Status::invalid(fmt::format("--http {}: only loopback addresses until tokens exist", host));
  port_ = port == 0 ? server_->bind_to_any_port(host) : (server_->bind_to_port(host, port) ? port : -1);
  if (port_ < 0) return Status::io_error(fmt::format("--http: cannot listen on {}:{}", host, port));
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return Status::ok();
}

// workerpoolmanager's clients POST, PUT and DELETE with no body and no Content-Length
// (`curl -X POST .../start`), which httplib would wait on or refuse while reading a body.
// Routes that take no body are registered with a content reader they never call.
static httplib::Server::HandlerWithContentReader bodyless(httplib::Server::Handler h) {
  return [h = std::move(h)](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader&) {
    // Not read, but not taken either when it is over the limit every body has.
    const std::string length = req.get_header_value("Content-Length");
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), n);
    if (!length.empty() && (ec != std::errc() || end != length.data() + length.size() || n > kMaxBody))
      return fail(req, res, 413, "too_large", fmt::format("a body of at most {} bytes", kMaxBody));
    h(req, res);
  };
}

void HttpControl::routes() {
  httplib::Server& s = *server_;
  s.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    EngineSnapshot snap = engine_.snapshot();
    res.set_content(json{{"status", snap.shutting_down ? "stopping" : "ok"}, {"pid", snap.pid},
                         {"uptime", snap.uptime_s}}.dump() + "\n",
                    "application/json");
    if (snap.shutting_down) res.status = 503;
  });
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    EngineSnapshot snap = engine_.snapshot();
    res.set_content(prometheus_text(snap, sample_usage(snap)), "text/plain; version=0.0.4; charset=utf-8");
  });
  s.Get("/list", [this](const httplib::Request& req, httplib::Response& res) {
    std::string text;
    json names = json::array();
    for (const auto& p : engine_.snapshot().pools) {
      text += (text.empty() ? "" : "\n") + p.spec.name;
      names.push_back(p.spec.name);
    }
    reply(req, res, text, names);
  });
  s.Get("/tasks", [this](const httplib::Request& req, httplib::Response& res) {
    std::string text;
    json tasks = json::array();
    for (const auto& p : engine_.snapshot().pools) {
      TaskView t(p);
      if (!t.running) continue;  // as workerpoolmanager: the status of the active tasks
      text += (text.empty() ? "" : "\n") + t.text();
      tasks.push_back(t.to_json());
    }
    if (text.empty()) text = "No active tasks\n";
    text.pop_back();
    reply(req, res, text, tasks);
  });
  s.Get(R"(/tasks/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    EngineSnapshot snap = engine_.snapshot();
    const PoolSnapshot* p = snap.find(req.matches[1]);
    if (!p) return fail(req, res, 404, "not_found", fmt::format("no task named \"{}\"", std::string(req.matches[1])));
    TaskView t(*p);
    std::string text = t.text();
    text.pop_back();
    reply(req, res, text, t.to_json());
  });
  auto start = [this](const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    if (Status st = engine_.start(name); !st) return fail(req, res, http_code(st), "start_failed", st.message());
    reply(req, res, "Started task manager", json{{"started", name}});
  };
  s.Post(R"(/tasks/([^/]+)/start)", bodyless(start));
  s.Put(R"(/tasks/([^/]+)/start)", bodyless(start));
  s.Get(R"(/tasks/([^/]+)/start)", start);
  auto stop = [this](const httplib::Request& req, httplib::Response& res) {
    std::optional<std::string> name;
    if (req.matches.size() > 1) name = req.matches[1];
    std::vector<std::string> names;
    if (name) {
      names.push_back(*name);
    } else {
      for (const auto& p : engine_.snapshot().pools)
        if (p.enabled && p.target > 0) names.push_back(p.spec.name);
    }
    if (Status st = engine_.stop(name); !st) return fail(req, res, http_code(st), "stop_failed", st.message());
    std::string text;
    for (const auto& n : names) text += (text.empty() ? "" : "\n") + fmt::format("Stopped {} workers", n);
    reply(req, res, text.empty() ? "No active tasks" : text, json{{"stopped", names}});
  };
  s.Delete("/tasks", bodyless(stop));
  s.Delete(R"(/tasks/([^/]+))", bodyless(stop));
  s.Post(R"(/tasks/([^/]+)/stop)", bodyless(stop));
  s.Put(R"(/tasks/([^/]+)/stop)", bodyless(stop));
  auto set = [this](const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1], option = req.matches[2], value = req.matches[3];
    if (option != "cardinality")
      return fail(req, res, 400, "bad_option", fmt::format("Unknown task config update command: {}", option));
    int n = -1;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || end != value.data() + value.size())
      return fail(req, res, 400, "bad_number", fmt::format("cardinality '{}' is not a whole number", value));
    auto sizes = engine_.configure({{name, n}});
    if (!sizes) return fail(req, res, http_code(sizes.error()), "set_failed", sizes.error().message());
    reply(req, res, "Changed workers cardinality", json{{"name", name}, {"cardinality", n}});
  };
  s.Post(R"(/tasks/([^/]+)/set/([^/]+)/([^/]+))", bodyless(set));
  s.Put(R"(/tasks/([^/]+)/set/([^/]+)/([^/]+))", bodyless(set));
  s.Get(R"(/tasks/([^/]+)/set/([^/]+)/([^/]+))", set);
  api_routes();
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;  // a route already said what went wrong
    fail(req, res, res.status, res.status == 404 ? "not_found" : "bad_request",
         fmt::format("{} {}: {}", req.method, req.path, reason_phrase(res.status)));
  });
  s.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    fail(req, res, 500, "internal", what);
  });
}

std::map<std::string, ProcessTotals> HttpControl::sample_usage(const EngineSnapshot& snap) {
  // Every worker with a process counts, stopping and stalled ones too: they still use
  // the machine until they are gone.
  std::map<std::string, std::vector<pid_t>> roots;
  for (const auto& p : snap.pools) {
    auto& pids = roots[p.spec.name];
    for (const auto& w : p.workers)
      if (w.pid > 0) pids.push_back(w.pid);
  }
  std::lock_guard lock(sampler_mu_);
  return sampler_.sample(roots);
}

// ---- the JSON API, /api/v1 ----------------------------------------------------------

void HttpControl::api_routes() {
  httplib::Server& s = *server_;
  s.Get("/api/v1/pools", [this](const httplib::Request&, httplib::Response& res) {
    json pools = json::array();
    for (const auto& p : engine_.snapshot().pools) pools.push_back(pool_json(p, false));
    send_json(res, json{{"pools", pools}});
  });
  s.Get(R"(/api/v1/pools/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    EngineSnapshot snap = engine_.snapshot();
    const PoolSnapshot* p = snap.find(req.matches[1]);
    if (!p) return fail(req, res, 404, "not_found", fmt::format("no pool named \"{}\"", std::string(req.matches[1])));
    send_json(res, pool_json(*p, true));
  });
  // {"n": 3} resizes live; {"enabled": false|true} stops or starts the pool.
  s.Patch(R"(/api/v1/pools/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    auto body = json_body(req, res);
    if (!body) return;
    std::optional<int> n;
    std::optional<bool> enabled;
    for (const auto& [key, value] : body->items()) {
      if (key == "n" && value.is_number_integer() && value.get<int64_t>() >= 0 && value.get<int64_t>() <= INT32_MAX)
        n = value.get<int>();
      else if (key == "enabled" && value.is_boolean())
        enabled = value.get<bool>();
      else
        return fail(req, res, 400, "bad_field",
                    fmt::format("\"{}\": {} is not a field this takes (n: whole number >= 0, enabled: bool)", key,
                                value.dump()));
    }
    if (!engine_.snapshot().find(name)) return fail(req, res, 404, "not_found", fmt::format("no pool named \"{}\"", name));
    if (n)
      if (auto r = engine_.configure({{name, *n}}); !r) return fail(req, res, http_code(r.error()), "bad_size", r.error().message());
    if (enabled)
      if (Status st = *enabled ? engine_.start(name) : engine_.stop(name); !st)
        return fail(req, res, http_code(st), "failed", st.message());
    EngineSnapshot snap = engine_.snapshot();
    if (const PoolSnapshot* p = snap.find(name)) send_json(res, pool_json(*p, false));
  });
  s.Delete(R"(/api/v1/pools/([^/]+))", bodyless([this](const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    if (Status st = engine_.remove_pool(name); !st) return fail(req, res, http_code(st), "not_found", st.message());
    send_json(res, json{{"removed", name}});
  }));
  // The shell's config{}: {"foo": 2, "bar": 0} merges sizes live; 0 or false removes a pool.
  // The whole body is checked before anything changes.
  s.Patch("/api/v1/config", [this](const httplib::Request& req, httplib::Response& res) {
    auto body = json_body(req, res);
    if (!body) return;
    EngineSnapshot snap = engine_.snapshot();
    std::map<std::string, int> sizes;
    std::vector<std::string> removes;
    for (const auto& [name, value] : body->items()) {
      if (!snap.find(name)) return fail(req, res, 404, "not_found", fmt::format("no pool named \"{}\"", name));
      if (value.is_boolean() && !value.get<bool>()) {
        removes.push_back(name);
      } else if (value.is_number_integer() && value.get<int64_t>() >= 0 && value.get<int64_t>() <= INT32_MAX) {
        if (value.get<int>() == 0) removes.push_back(name);
        else sizes[name] = value.get<int>();
      } else {
        return fail(req, res, 400, "bad_size", fmt::format("\"{}\": {} must be a whole number >= 0 or false", name,
                                                           value.dump()));
      }
    }
    if (!sizes.empty())
      if (auto r = engine_.configure(sizes); !r) return fail(req, res, http_code(r.error()), "bad_size", r.error().message());
    for (const auto& name : removes) engine_.remove_pool(name);
    json out = json::object();
    for (const auto& p : engine_.snapshot().pools)
      if (std::find(removes.begin(), removes.end(), p.spec.name) == removes.end()) out[p.spec.name] = p.spec.n;
    send_json(res, json{{"pools", out}});
  });
  // The last n lines (default 100, at most 10000), of one pool with ?pool=.
  s.Get("/api/v1/log", [this](const httplib::Request& req, httplib::Response& res) {
    size_t n = 100;
    if (req.has_param("n")) {
      const std::string v = req.get_param_value("n");
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || end != v.data() + v.size() || n < 1 || n > 10000)
        return fail(req, res, 400, "bad_number", fmt::format("n = '{}' must be a whole number in 1..10000", v));
    }
    std::optional<std::string> pool;
    if (req.has_param("pool")) pool = req.get_param_value("pool");
    json lines = json::array();
    for (const auto& l : engine_.log_tail(n, pool)) lines.push_back(log_line_json(l));
    send_json(res, json{{"lines", lines}});
  });
}

}  // namespace drover

