#include "control/http_control.h"

#include <sys/resource.h>

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "control/http_auth.h"
#include "control/http_reply.h"
#include "control/mhd_server.h"
#include "control/prometheus_text.h"
#include "control/wpm_view.h"

namespace drover {

using namespace http;

Result<std::pair<std::string, int>> parse_listen_address(const std::string& spec) {
  std::string host = "127.0.0.1", port_text = spec;
  if (size_t colon = spec.rfind(':'); colon != std::string::npos) {
    if (colon > 0) host = spec.substr(0, colon);
    port_text = spec.substr(colon + 1);
  }
  // [::1]:8010, as in a URL.
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = -1;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 0 || port > 65535 || host.empty())
    return Status::invalid(fmt::format("--http {}: expected HOST:PORT, as in {}", spec, kDefaultHttpAddress));
  return std::make_pair(host, port);
}

HttpControl::HttpControl(Engine& engine, HttpOptions options) : engine_(engine), options_(std::move(options)) {
  routes();
}

// The server goes first: its destructor ends the streams and joins its threads while the
// routes and the engine they use are still here.
HttpControl::~HttpControl() { server_.reset(); }

Status HttpControl::serve() {
  if (server_) return Status::ok();
  // 1000+ connections need as many descriptors. The engine raised the soft limit already
  // (engine/supervisor.cpp); an HttpControl serving another engine's process may not
  // have. Workers do not inherit the raised limit: the spawner restores the one drover
  // started with (engine/spawner.cpp).
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  ServerLimits limits;
  limits.max_body = kMaxBody;
  limits.threads = static_cast<unsigned>(std::max<size_t>(options_.threads, 1));
  ServerCallbacks callbacks;
  callbacks.admit = [this](HttpRequest& req) { return admit(req); };
  callbacks.handle = [this](HttpRequest& req, HttpResponse& res) { handle(req, res); };
  callbacks.too_large = [](const HttpRequest& req) {
    HttpResponse res;
    fail(req, res, 413, "too_large", fmt::format("a body of at most {} bytes", kMaxBody));
    return res;
  };
  callbacks.streams_over = [this] { return engine_.finished(); };
  try {
    server_ = std::make_unique<MhdServer>(limits, std::move(callbacks));
  } catch (const std::exception& e) {
    return Status::io_error(e.what());
  }
  return Status::ok();
}

Status HttpControl::start(const std::string& host, int port) {
  if (options_.token.empty())
    return Status::invalid(fmt::format(
        "--http {}: the HTTP listener needs a token, loopback included (--http-token-file PATH or {}); "
        "a unix socket needs none",
        host, kHttpTokenEnv));
  if (Status s = check_token(options_.token, "the HTTP token"); !s) return s;
  if (Status s = serve(); !s) return s;
  auto bound = server_->listen_tcp(host, port);
  if (!bound) return bound.error();
  port_ = *bound;
  return Status::ok();
}

Status HttpControl::start_unix(const std::string& path) {
  if (Status s = serve(); !s) return s;
  return server_->listen_unix(path);
}

void HttpControl::on(const std::string& method, const std::string& pattern, Handler h, RouteTraits traits) {
  router_.add(method, pattern, std::move(h), traits);
}

void HttpControl::handle(HttpRequest& req, HttpResponse& res) {
  // admit() matched the route already and kept its groups; the lookup is repeated only
  // for the handler (the table is read-only, so both see the same route).
  const HttpRouter::Match m = router_.match(req.method, req.path);
  if (!m.route) return fail(req, res, 404, "not_found", fmt::format("{} {}: no such route", req.method, req.path));
  req.matches = m.groups;
  try {
    m.route->handler(req, res);
  } catch (const std::exception& e) {
    // A bug: the engine's own refusals (the engine having finished among them) are Status
    // values that routes answer with their codes.
    res = HttpResponse{};
    fail(req, res, 500, "internal", e.what());
  } catch (...) {
    res = HttpResponse{};
    fail(req, res, 500, "internal", "internal error");
  }
}

void HttpControl::routes() {
  // workerpoolmanager's routes: read-only ones, and the ones that change state without a
  // JSON body (what a web page can make a browser send), which need wpm_compat.
  constexpr RouteTraits kWpmRead{.wpm = true};
  constexpr RouteTraits kWpmChange{.wpm = true, .wpm_changes = true};
  on("GET", "/healthz", [this](const HttpRequest&, HttpResponse& res) {
    EngineSnapshot snap = engine_.snapshot();
    send_json(res, json{{"status", snap.shutting_down ? "stopping" : "ok"}, {"pid", snap.pid}, {"uptime", snap.uptime_s}},
              snap.shutting_down ? 503 : 200);
  }, RouteTraits{.open = true});
  on("GET", "/metrics", [this](const HttpRequest&, HttpResponse& res) {
    EngineSnapshot snap = engine_.snapshot();
    res.set_content(prometheus_text(snap, sample_usage(snap)), "text/plain; version=0.0.4; charset=utf-8");
  });
  // workerpoolmanager's routes, each with an optional trailing slash as its router (martini)
  // took them: its console sends `GET /tasks/` for `status` and `DELETE /tasks/` for `stop`
  // when no task is named.
  on("GET", "/list/?", [this](const HttpRequest& req, HttpResponse& res) {
    std::string text;
    json names = json::array();
    for (const auto& p : engine_.snapshot().pools) {
      text += (text.empty() ? "" : "\n") + p.spec.name;
      names.push_back(p.spec.name);
    }
    reply(req, res, text, names);
  }, kWpmRead);
  on("GET", "/tasks/?", [this](const HttpRequest& req, HttpResponse& res) {
    std::string text;
    json tasks = json::array();
    for (const auto& p : engine_.snapshot().pools) {
      const WpmTask t = WpmTask::of(p);
      if (!t.running) continue;  // as workerpoolmanager: the status of the active tasks
      text += (text.empty() ? "" : "\n") + wpm_text(t);
      tasks.push_back(wpm_json(t));
    }
    if (text.empty()) text = "No active tasks\n";
    text.pop_back();
    reply(req, res, text, tasks);
  }, kWpmRead);
  on("GET", R"(/tasks/([^/]+)/?)", [this](const HttpRequest& req, HttpResponse& res) {
    EngineSnapshot snap = engine_.snapshot();
    const PoolSnapshot* p = snap.find(req.matches[1]);
    if (!p) return fail(req, res, 404, "not_found", fmt::format("no task named \"{}\"", std::string(req.matches[1])));
    const WpmTask t = WpmTask::of(*p);
    std::string text = wpm_text(t);
    text.pop_back();
    reply(req, res, text, wpm_json(t));
  }, kWpmRead);
  auto start = [this](const HttpRequest& req, HttpResponse& res) {
    const std::string name = req.matches[1];
    if (Status st = engine_.start(name); !st) return fail(req, res, http_code(st), "start_failed", st.message());
    reply(req, res, "Started task manager", json{{"started", name}});
  };
  on("POST", R"(/tasks/([^/]+)/start/?)", start, kWpmChange);
  on("PUT", R"(/tasks/([^/]+)/start/?)", start, kWpmChange);
  on("GET", R"(/tasks/([^/]+)/start/?)", start, kWpmChange);
  auto stop = [this](const HttpRequest& req, HttpResponse& res) {
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
  on("DELETE", "/tasks/?", stop, kWpmChange);
  on("DELETE", R"(/tasks/([^/]+)/?)", stop, kWpmChange);
  on("POST", R"(/tasks/([^/]+)/stop/?)", stop, kWpmChange);
  on("PUT", R"(/tasks/([^/]+)/stop/?)", stop, kWpmChange);
  auto set = [this](const HttpRequest& req, HttpResponse& res) {
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
  on("POST", R"(/tasks/([^/]+)/set/([^/]+)/([^/]+)/?)", set, kWpmChange);
  on("PUT", R"(/tasks/([^/]+)/set/([^/]+)/([^/]+)/?)", set, kWpmChange);
  on("GET", R"(/tasks/([^/]+)/set/([^/]+)/([^/]+)/?)", set, kWpmChange);
  // listworkers: one line per worker process, as workerpoolmanager's README shows them.
  on("GET", R"(/tasks/([^/]+)/list/?)", [this](const HttpRequest& req, HttpResponse& res) {
    EngineSnapshot snap = engine_.snapshot();
    const std::string name = req.matches[1];
    const PoolSnapshot* p = snap.find(name);
    if (!p) return fail(req, res, 404, "not_found", fmt::format("no task named \"{}\"", name));
    std::vector<std::string> lines;
    json workers = json::array();
    for (const WpmWorker& w : WpmWorker::of(*p)) {
      lines.push_back(wpm_text(w));
      workers.push_back(wpm_json(w));
    }
    std::sort(lines.begin(), lines.end());  // workerpoolmanager sorts its replies as text
    std::string text;
    for (const auto& l : lines) text += (text.empty() ? "" : "\n") + l;
    // Its answer for a stopped task with nothing left to list.
    if (lines.empty() && !WpmTask::of(*p).running) text = fmt::format("Task {} not running", name);
    reply(req, res, text, workers);
  }, kWpmRead);
  api_routes();
  job_routes();
  history_routes();
  web_routes();
  schedule_routes();
  stream_routes();
  tasker_routes();
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

}  // namespace drover
