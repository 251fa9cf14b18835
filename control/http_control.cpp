#include "control/http_control.h"

#include <httplib.h>
#include <strings.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <ctime>

#include <fmt/format.h>

#include "control/http_auth.h"
#include "control/http_reply.h"
#include "control/prometheus_text.h"

namespace drover {

using namespace http;

namespace {

constexpr int kListenBacklog = 1024;

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
      // As workerpoolmanager: a worker counts as alive at its start until its first keep-alive.
      last = std::max(last, w.last_heartbeat_ms ? w.last_heartbeat_ms : w.started_at_ms);
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
  // [::1]:8010, as in a URL.
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = -1;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 0 || port > 65535 || host.empty())
    return Status::invalid(fmt::format("--http {}: expected HOST:PORT, as in {}", spec, kDefaultHttpAddress));
  return std::make_pair(host, port);
}

HttpControl::HttpControl(Engine& engine, HttpOptions options)
    : engine_(engine), options_(std::move(options)), server_(std::make_unique<httplib::Server>()) {
  // httplib's default is 8 threads; a stream holds one for as long as its client stays.
  server_->new_task_queue = [n = std::max<size_t>(options_.threads, 2)] { return new httplib::ThreadPool(n); };
  server_->set_payload_max_length(kMaxBody);
  // Headers and body go out in two writes: with Nagle on, a kept-alive client waits out
  // its peer's delayed ACK (40 ms) for the second.
  server_->set_tcp_nodelay(true);
  // Debian's libcpp-httplib listens with a backlog of 5: a burst of clients connecting at
  // once overflows it, and the kernel drops their handshakes (a second's stall, or a reset).
  // The socket is caught here, before httplib binds it, to listen again with room (Linux
  // takes a new backlog on a listening socket). Only SO_REUSEADDR, as httplib sets, and not
  // SO_REUSEPORT: a second drover on the same port must fail, not share it.
  server_->set_socket_options([this](int fd) {
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd_ = fd;
  });
  routes();
}

HttpControl::~HttpControl() {
  if (!thread_.joinable()) return;
  // httplib's stop() does nothing until its accept loop has begun, which left a server
  // destroyed right after start() in accept() for good; and it asserts when repeated.
  // So: wait for the loop (or its end), then stop it once. Streams see the stop within a
  // poll slice (sse_streams.cpp) and give their threads back.
  while (!server_->is_running() && !listen_done_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  server_->stop();
  thread_.join();
}

Status HttpControl::start(const std::string& host, int port) {
  if (options_.token.empty() && !is_loopback_host(host))
    return Status::invalid(fmt::format("--http {}: serving beyond loopback needs a token (--http-token-file PATH or {})",
                                       host, kHttpTokenEnv));
  if (!options_.token.empty())
    if (Status s = check_token(options_.token, "the HTTP token"); !s) return s;
  port_ = port == 0 ? server_->bind_to_any_port(host) : (server_->bind_to_port(host, port) ? port : -1);
  if (port_ < 0) return Status::io_error(fmt::format("--http: cannot listen on {}:{}", host, port));
  if (listen_fd_ >= 0) ::listen(listen_fd_, kListenBacklog);
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    listen_done_ = true;
  });
  return Status::ok();
}

// httplib 0.11 reads the body of a POST, PUT, PATCH or DELETE before routing, and one
// without a Content-Length until the client closes or 5 s pass. workerpoolmanager's
// clients POST with neither (`curl -X POST .../start`), and a wrong verb would wait out
// those 5 s for its 405. So every such route is registered with a content reader, which
// httplib calls before reading anything: bodyless routes never read, the others read
// only what a Content-Length or chunking announces.
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

static httplib::Server::HandlerWithContentReader with_body(httplib::Server::Handler h) {
  return [h = std::move(h)](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& read) {
    if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) return h(req, res);
    std::string body;
    // httplib enforces the payload limit here, and says 413 when it is passed.
    if (!read([&](const char* data, size_t n) {
          body.append(data, n);
          return true;
        })) {
      if (res.status == -1) res.status = 400;  // cut short: the connection is gone anyway
      return;
    }
    // The handlers read req.body; matches still point into req.path, which outlives the copy.
    httplib::Request with = req;
    with.body = std::move(body);
    h(with, res);
  };
}

void HttpControl::on(const std::string& method, const std::string& pattern, Handler h, bool take_no_body) {
  auto known = std::find_if(known_paths_.begin(), known_paths_.end(), [&](const auto& k) { return k.pattern == pattern; });
  if (known == known_paths_.end()) known = known_paths_.insert(known_paths_.end(), {pattern, std::regex(pattern), {}});
  known->methods.insert(method);
  if (method == "GET") {
    known->methods.insert("HEAD");  // httplib answers HEAD from the GET route
    server_->Get(pattern, std::move(h));
  } else {
    with_reader(method, pattern, take_no_body ? bodyless(std::move(h)) : with_body(std::move(h)));
  }
}

void HttpControl::with_reader(const std::string& method, const std::string& pattern,
                              httplib::Server::HandlerWithContentReader h) {
  httplib::Server& s = *server_;
  if (method == "POST") s.Post(pattern, std::move(h));
  else if (method == "PUT") s.Put(pattern, std::move(h));
  else if (method == "PATCH") s.Patch(pattern, std::move(h));
  else s.Delete(pattern, std::move(h));
}

// After every route: the verbs a known path does not take answer 405 at once, rather than
// after httplib has waited for a body (GET, HEAD, OPTIONS and others reach the error
// handler, which answers the same).
void HttpControl::refuse_other_verbs() {
  for (const auto& known : known_paths_)
    for (const char* method : {"POST", "PUT", "PATCH", "DELETE"})
      if (!known.methods.count(method))
        with_reader(method, known.pattern, bodyless([this](const httplib::Request& req, httplib::Response& res) {
                      const std::string allow = allowed_methods(req.path);
                      res.set_header("Allow", allow);
                      fail(req, res, 405, "method_not_allowed",
                           fmt::format("{} {}: this path takes {}", req.method, req.path, allow));
                    }));
  // And a path no route knows is a 404 at once, whatever the verb.
  for (const char* method : {"POST", "PUT", "PATCH", "DELETE"})
    with_reader(method, ".*", bodyless([](const httplib::Request& req, httplib::Response& res) {
                  fail(req, res, 404, "not_found", fmt::format("{} {}: no such route", req.method, req.path));
                }));
}

std::string HttpControl::allowed_methods(const std::string& path) const {
  std::set<std::string> methods;
  for (const auto& k : known_paths_)
    if (std::regex_match(path, k.re)) methods.insert(k.methods.begin(), k.methods.end());
  std::string out;
  for (const auto& m : methods) out += (out.empty() ? "" : ", ") + m;
  return out;
}

bool HttpControl::authorized(const httplib::Request& req) const {
  // /healthz stays open: a load balancer's probe carries no secret, and it tells nothing
  // but "up" (issue 6 allows it; README says so).
  if (options_.token.empty() || req.path == "/healthz") return true;
  const std::string auth = req.get_header_value("Authorization");
  constexpr std::string_view kScheme = "Bearer ";
  if (auth.size() <= kScheme.size() || strncasecmp(auth.c_str(), kScheme.data(), kScheme.size()) != 0) return false;
  return constant_time_equal(std::string_view(auth).substr(kScheme.size()), options_.token);
}

void HttpControl::routes() {
  httplib::Server& s = *server_;
  // Before routing, so an unauthorized client never gets its body read.
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (authorized(req)) return httplib::Server::HandlerResponse::Unhandled;
    res.set_header("WWW-Authenticate", "Bearer realm=\"drover\"");
    fail(req, res, 401, "unauthorized",
         req.has_header("Authorization") ? "the bearer token is not this server's"
                                         : "this server needs Authorization: Bearer TOKEN");
    return httplib::Server::HandlerResponse::Handled;
  });
  on("GET", "/healthz", [this](const httplib::Request&, httplib::Response& res) {
    EngineSnapshot snap = engine_.snapshot();
    send_json(res, json{{"status", snap.shutting_down ? "stopping" : "ok"}, {"pid", snap.pid}, {"uptime", snap.uptime_s}},
              snap.shutting_down ? 503 : 200);
  });
  on("GET", "/metrics", [this](const httplib::Request&, httplib::Response& res) {
    EngineSnapshot snap = engine_.snapshot();
    res.set_content(prometheus_text(snap, sample_usage(snap)), "text/plain; version=0.0.4; charset=utf-8");
  });
  // workerpoolmanager's routes, each with an optional trailing slash as its router (martini)
  // took them: its console sends `GET /tasks/` for `status` and `DELETE /tasks/` for `stop`
  // when no task is named.
  on("GET", "/list/?", [this](const httplib::Request& req, httplib::Response& res) {
    std::string text;
    json names = json::array();
    for (const auto& p : engine_.snapshot().pools) {
      text += (text.empty() ? "" : "\n") + p.spec.name;
      names.push_back(p.spec.name);
    }
    reply(req, res, text, names);
  });
  on("GET", "/tasks/?", [this](const httplib::Request& req, httplib::Response& res) {
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
  on("GET", R"(/tasks/([^/]+)/?)", [this](const httplib::Request& req, httplib::Response& res) {
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
  on("POST", R"(/tasks/([^/]+)/start/?)", start, true);
  on("PUT", R"(/tasks/([^/]+)/start/?)", start, true);
  on("GET", R"(/tasks/([^/]+)/start/?)", start);
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
  on("DELETE", "/tasks/?", stop, true);
  on("DELETE", R"(/tasks/([^/]+)/?)", stop, true);
  on("POST", R"(/tasks/([^/]+)/stop/?)", stop, true);
  on("PUT", R"(/tasks/([^/]+)/stop/?)", stop, true);
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
  on("POST", R"(/tasks/([^/]+)/set/([^/]+)/([^/]+)/?)", set, true);
  on("PUT", R"(/tasks/([^/]+)/set/([^/]+)/([^/]+)/?)", set, true);
  on("GET", R"(/tasks/([^/]+)/set/([^/]+)/([^/]+)/?)", set);
  // listworkers: one line per worker process, as workerpoolmanager's README shows them.
  on("GET", R"(/tasks/([^/]+)/list/?)", [this](const httplib::Request& req, httplib::Response& res) {
    EngineSnapshot snap = engine_.snapshot();
    const std::string name = req.matches[1];
    const PoolSnapshot* p = snap.find(name);
    if (!p) return fail(req, res, 404, "not_found", fmt::format("no task named \"{}\"", name));
    std::vector<std::string> lines;
    json workers = json::array();
    for (const auto& w : p->workers) {
      if (w.pid <= 0) continue;  // a slot waiting out its backoff has no process to list
      // As there: "last alive" is the start until the first keep-alive.
      const std::string started = rfc3339(w.started_at_ms);
      const std::string alive = rfc3339(w.last_heartbeat_ms ? w.last_heartbeat_ms : w.started_at_ms);
      lines.push_back(fmt::format("Task: {},\tPid: {},\tStarted: {},\tLast alive at: {}", name, w.pid, started, alive));
      workers.push_back(json{{"task", name}, {"slot", w.slot}, {"pid", w.pid}, {"started_at", started},
                             {"last_alive_at", alive}});
    }
    std::sort(lines.begin(), lines.end());  // workerpoolmanager sorts its replies as text
    std::string text;
    for (const auto& l : lines) text += (text.empty() ? "" : "\n") + l;
    // Its answer for a stopped task with nothing left to list.
    if (lines.empty() && !TaskView(*p).running) text = fmt::format("Task {} not running", name);
    reply(req, res, text, workers);
  });
  api_routes();
  stream_routes();
  refuse_other_verbs();
  s.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;  // a route already said what went wrong
    // No route took it: a wrong verb (GET, OPTIONS, TRACE ...) on a known path is a 405.
    if (res.status == 404) {
      const std::string allow = allowed_methods(req.path);
      if (!allow.empty() && (", " + allow + ",").find(", " + req.method + ",") == std::string::npos) {
        res.set_header("Allow", allow);
        return fail(req, res, 405, "method_not_allowed", fmt::format("{} {}: this path takes {}", req.method, req.path, allow));
      }
    }
    const char* error = res.status == 404 ? "not_found" : res.status == 413 ? "too_large" : "bad_request";
    fail(req, res, res.status, error, fmt::format("{} {}: {}", req.method, req.path, reason_phrase(res.status)));
  });
  s.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    // The engine's inbox refuses calls once its loop has ended: that is a shutdown, not a bug.
    if (engine_.finished()) return fail(req, res, 503, "unavailable", "the engine has shut down");
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

}  // namespace drover
