#include "shell/remote/remote_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "control/api_limits.h"
#include "control/autoscale_json.h"
#include "control/record_json.h"
#include "control/snapshot_json.h"

namespace drover {

namespace {

using nlohmann::json;

constexpr long kConnectTimeoutMs = 3000;
constexpr long kRequestTimeoutMs = 10000;
// The server sends a keep-alive comment every second; silence this long is a lost server.
constexpr long kStreamSilenceS = 30;

// curl_global_init is not thread-safe in every libcurl: once, before the first handle,
// whichever thread gets here first.
void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t append_body(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// The server's {"error", "detail"}, or the body itself, or the HTTP status.
std::string error_text(int status, const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("detail") && j["detail"].is_string()) return j["detail"].get<std::string>();
  if (j.is_object() && j.contains("error") && j["error"].is_string()) return j["error"].get<std::string>();
  if (!body.empty() && body.size() < 200) return body;
  return fmt::format("HTTP {}", status);
}

// Percent-encodes everything but unreserved characters: pool names like "foo,bar" go in paths.
std::string encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

std::string pool_path(const std::string& name) { return "/api/v1/pools/" + encode(name); }

// curl's error texts name the layer ("Couldn't connect to server"); an operator wants a
// reason, and over a unix socket the system's (no such file, permission denied).
std::string why(CURL* c, CURLcode e, bool unix_socket) {
  long os_errno = 0;
  curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
  curl_off_t connected = 0;
  curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connected);
  switch (e) {
    case CURLE_COULDNT_CONNECT:
      if (unix_socket && os_errno && os_errno != ECONNREFUSED) return std::strerror(static_cast<int>(os_errno));
      return "connection refused";
    case CURLE_OPERATION_TIMEDOUT:
      return connected == 0 ? "connect timed out" : "no answer (read failed or timed out)";
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
      return "no answer (read failed or timed out)";
    case CURLE_SEND_ERROR: return "the connection broke while sending";
    default: return curl_easy_strerror(e);
  }
}

}  // namespace

Result<RemoteAddress> parse_remote_address(const std::string& spec) {
  if (spec.find('/') != std::string::npos && spec.rfind("http://", 0) != 0) {
    RemoteAddress a;
    a.unix_path = spec;
    return a;
  }
  std::string s = spec;
  if (s.rfind("http://", 0) == 0) s.erase(0, 7);
  if (!s.empty() && s.back() == '/') s.pop_back();
  RemoteAddress a;
  const size_t colon = s.rfind(':');
  std::string port = colon == std::string::npos ? s : s.substr(colon + 1);
  if (colon != std::string::npos && colon > 0) a.host = s.substr(0, colon);
  if (colon == std::string::npos && port.find_first_not_of("0123456789") != std::string::npos) {
    a.host = port;  // "HOST" alone: the default port
    return a;
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    return Status::invalid(fmt::format("attach: \"{}\" is not HOST:PORT", spec));
  a.port = std::stoi(port);
  if (a.port < 1 || a.port > 65535) return Status::invalid(fmt::format("attach: port {} is out of range", a.port));
  return a;
}

RemoteClient::RemoteClient(RemoteAddress address) : address_(std::move(address)) {
  init_curl_once();
  http_ = curl_easy_init();
  if (!http_) throw std::runtime_error("libcurl: cannot make a handle");
}

RemoteClient::~RemoteClient() {
  {
    std::lock_guard lock(streams_mu_);
    // A stream's transfer notices in its progress callback (about once a second), or at
    // the next bytes the server sends, and returns.
    for (auto& s : streams_) s->sub->close();
    for (auto& s : streams_) s->thread.join();
  }
  curl_easy_cleanup(http_);
}

std::string RemoteClient::describe() const {
  if (!address_.unix_path.empty()) return address_.unix_path;
  return fmt::format("{}:{}", address_.host, address_.port);
}

curl_slist* RemoteClient::auth_header() const {
  // The token goes over TCP only; on the socket the server checks who we are instead.
  // Sent with the first request, not after a 401 (curl's CURLAUTH_BEARER may wait for one).
  if (address_.token.empty() || !address_.unix_path.empty()) return nullptr;
  return curl_slist_append(nullptr, ("Authorization: Bearer " + address_.token).c_str());
}

void RemoteClient::configure(CURL* c, const std::string& path) const {
  if (!address_.unix_path.empty()) {
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, address_.unix_path.c_str());
    // The Host header only: the socket is the address.
    curl_easy_setopt(c, CURLOPT_URL, ("http://localhost" + path).c_str());
  } else {
    // An IPv6 literal goes in brackets in a URL.
    const bool v6 = address_.host.find(':') != std::string::npos;
    const std::string host = v6 ? "[" + address_.host + "]" : address_.host;
    curl_easy_setopt(c, CURLOPT_URL, fmt::format("http://{}:{}{}", host, address_.port, path).c_str());
  }
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for timeouts
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, kConnectTimeoutMs);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(c, CURLOPT_PROXY, "");  // an http_proxy of the environment is not for drover
}

RemoteClient::Reply RemoteClient::request(const std::string& method, const std::string& path, const std::string& body) {
  std::lock_guard lock(mu_);
  // Reset drops the last request's options but keeps the connection for the next.
  curl_easy_reset(http_);
  configure(http_, path);
  curl_easy_setopt(http_, CURLOPT_TIMEOUT_MS, kRequestTimeoutMs);
  curl_slist* headers = auth_header();
  if (method == "POST" || method == "PATCH") {
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(http_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(http_, CURLOPT_COPYPOSTFIELDS, body.c_str());
    if (method == "PATCH") curl_easy_setopt(http_, CURLOPT_CUSTOMREQUEST, "PATCH");
  } else if (method == "DELETE") {
    curl_easy_setopt(http_, CURLOPT_CUSTOMREQUEST, "DELETE");
  }
  curl_easy_setopt(http_, CURLOPT_HTTPHEADER, headers);
  std::string got;
  curl_easy_setopt(http_, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(http_, CURLOPT_WRITEDATA, &got);
  const CURLcode rc = curl_easy_perform(http_);
  curl_easy_setopt(http_, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  Reply out;
  if (rc != CURLE_OK) {
    out.error = fmt::format("cannot reach drover at {}: {} ({})", describe(), why(http_, rc, !address_.unix_path.empty()),
                            address_.unix_path.empty() ? "is it running with --http?" : "is it still running?");
    gone_ = true;
    return out;
  }
  gone_ = false;
  long status = 0;
  curl_easy_getinfo(http_, CURLINFO_RESPONSE_CODE, &status);
  out.status = static_cast<int>(status);
  out.body = std::move(got);
  if (out.status >= 300) out.error = error_text(out.status, out.body);
  return out;
}

Status RemoteClient::status_of(const Reply& r, const std::string& what) {
  if (r.status == 0) return Status::unavailable(r.error);
  // Whatever the server's words, say where a token comes from.
  if (r.status == 401)
    return Status::invalid(fmt::format("{} refused us: {} (the token: --token-file PATH or {})", describe(), r.error,
                                       "DROVER_HTTP_TOKEN"));
  if (r.status == 404) return Status::not_found(r.error);
  if (r.status == 409) return Status::exists(r.error);
  if (r.status == 503) return Status::unavailable(r.error);
  if (r.status >= 300) return Status::invalid(what.empty() ? r.error : what + ": " + r.error);
  return Status::ok();
}

Status RemoteClient::check() {
  Reply r = request("GET", "/api/v1/snapshot");
  if (r.status == 401) return Status::invalid("the server wants a token (--token-file or DROVER_HTTP_TOKEN)");
  if (Status s = status_of(r, ""); !s) return s;
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object()) return Status::invalid(fmt::format("{} does not speak drover's API", describe()));
  return snapshot_from_json(j) ? Status::ok() : Status::invalid("its snapshot does not parse: not a drover of this version?");
}

Result<EngineSnapshot> RemoteClient::snapshot() {
  // With the pools' secrets, as a local shell sees them: whoever may attach may change a
  // pool's env and so may read it, and write_config() must not write "(redacted)".
  Reply r = request("GET", "/api/v1/snapshot?secrets=1");
  if (Status s = status_of(r, ""); !s) return s;
  auto snap = snapshot_from_json(json::parse(r.body, nullptr, false));
  if (!snap) return Status::invalid("the snapshot from " + describe() + ": " + snap.error().message());
  return snap;
}

namespace {

// {"pools": {"foo": 3, ...}} from PATCH /api/v1/pools and /api/v1/config.
Result<SizeMap> sizes_from_answer(const std::string& body, const std::string& what) {
  const json answer = json::parse(body, nullptr, false);  // held: its elements are read below
  if (!answer.is_object() || !answer.contains("pools") || !answer["pools"].is_object())
    return Status::invalid(what + " was answered without its pools");
  SizeMap out;
  for (const auto& [name, n] : answer["pools"].items())
    if (n.is_number_integer()) out[name] = n.get<int>();
  return out;
}

// {"pool": NAME} or {} for "every pool".
std::string pool_body(const std::optional<std::string>& pool) {
  return pool ? json{{"pool", *pool}}.dump() : std::string("{}");
}

}  // namespace

Result<SizeMap> RemoteClient::configure(const SizeMap& sizes) {
  Reply r = request("PATCH", "/api/v1/pools", json(sizes).dump());
  if (Status s = status_of(r, ""); !s) return s;
  return sizes_from_answer(r.body, fmt::format("PATCH /api/v1/pools at {}", describe()));
}

Status RemoteClient::apply(std::vector<PoolSpec>, bool) {
  return Status::invalid("an attached shell has no config file to apply: reload on the drover host (kill -HUP)");
}

Result<SizeMap> RemoteClient::merge_sizes(const SizeMap& sizes) {
  Reply r = request("PATCH", "/api/v1/config", json(sizes).dump());
  if (Status s = status_of(r, ""); !s) return s;
  return sizes_from_answer(r.body, fmt::format("PATCH /api/v1/config at {}", describe()));
}

Status RemoteClient::start(const std::optional<std::string>& pool) {
  return status_of(request("POST", "/api/v1/start", pool_body(pool)), "");
}

Status RemoteClient::stop(const std::optional<std::string>& pool) {
  return status_of(request("POST", "/api/v1/stop", pool_body(pool)), "");
}

Status RemoteClient::signal_workers(int sig, const std::optional<std::string>& pool) {
  json body = {{"signal", sig}};
  if (pool) body["pool"] = *pool;
  return status_of(request("POST", "/api/v1/signal", body.dump()), "");
}

Status RemoteClient::signal_worker(const std::string& pool, int slot, int sig) {
  Reply r = request("POST", fmt::format("{}/workers/{}/signal", pool_path(pool), slot), json{{"signal", sig}}.dump());
  if (r.status == 409) return Status::unavailable(r.error);  // the slot has no process now
  return status_of(r, "");
}

Result<std::vector<LogLine>> RemoteClient::log_tail(size_t n, const std::optional<std::string>& pool) {
  // No lines asked for (log.tail(0)): none, as locally; the server serves 1 and up.
  if (n == 0) return std::vector<LogLine>{};
  // "All of it" (log.grep, log.rew) is as much as the server serves: it refuses more.
  std::string path = fmt::format("/api/v1/log?n={}", std::clamp<size_t>(n, 1, kLogTailMaxLines));
  if (pool) path += "&pool=" + encode(*pool);
  Reply r = request("GET", path);
  if (Status s = status_of(r, ""); !s) return s;
  json j = json::parse(r.body, nullptr, false);
  const json& lines = j.is_object() && j.contains("lines") ? j["lines"] : j;
  std::vector<LogLine> out;
  if (!lines.is_array()) return out;
  for (const auto& l : lines)
    if (auto line = log_line_from_json(l)) out.push_back(std::move(*line));
  return out;
}

Result<AutoscaleView> RemoteClient::autoscale() {
  Reply r = request("GET", "/api/v1/autoscale");
  if (Status s = status_of(r, ""); !s) return s;
  return autoscale_view_from_json(json::parse(r.body, nullptr, false));
}

Status RemoteClient::set_autoscale(const std::string& pool, bool enabled) {
  // The route takes no body (the pool and the switch are its path): it refuses one, even {}.
  return status_of(request("POST", fmt::format("/api/v1/autoscale/{}/{}", encode(pool), enabled ? "on" : "off")), "");
}

namespace {

// A described record, or a list of them under `key`, from a reply's body.
template <typename T>
Result<T> record_from(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  T rec{};
  std::string error;
  records::read_json(j, "", rec, error);
  if (!error.empty()) return Status::invalid("the drover's answer does not parse: " + error);
  return rec;
}
template <typename T>
Result<std::vector<T>> records_from(const std::string& body, const char* key) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains(key) || !j[key].is_array())
    return Status::invalid(fmt::format("the drover's answer has no \"{}\" list", key));
  std::vector<T> out;
  std::string error;
  for (size_t i = 0; i < j[key].size() && error.empty(); ++i)
    records::read_json(j[key][i], fmt::format("{}[{}]", key, i), out.emplace_back(), error);
  if (!error.empty()) return Status::invalid("the drover's answer does not parse: " + error);
  return out;
}

json request_json(const jobs::JobRequest& r) {
  json args = json::parse(r.args, nullptr, false);
  json j{{"args", args}, {"priority", r.priority}, {"attempts", r.max_attempts}};
  if (!r.topic.empty() || r.topics.empty()) j["topic"] = r.topic;
  if (!r.topics.empty()) j["topics"] = r.topics;
  if (r.delay_s > 0) j["delay"] = r.delay_s;
  if (r.timeout_s > 0) j["timeout"] = r.timeout_s;
  if (!r.key.empty()) j["key"] = r.key;
  return j;
}

}  // namespace

Result<std::vector<jobs::Job>> RemoteClient::enqueue_jobs(std::vector<jobs::JobRequest> requests) {
  json batch = json::array();
  for (const auto& r : requests) batch.push_back(request_json(r));
  Reply r = request("POST", "/api/v1/jobs", json{{"jobs", batch}}.dump());
  if (Status s = status_of(r, ""); !s) return s;
  return records_from<jobs::Job>(r.body, "jobs");
}

Result<jobs::Job> RemoteClient::job(jobs::JobId id) {
  Reply r = request("GET", fmt::format("/api/v1/jobs/{}", id));
  if (Status s = status_of(r, ""); !s) return s;
  return record_from<jobs::Job>(r.body);
}

Result<std::vector<jobs::Job>> RemoteClient::list_jobs(const jobs::JobFilter& f) {
  std::string path = fmt::format("/api/v1/jobs?limit={}&after={}", f.limit, f.after);
  if (f.topic) path += "&topic=" + encode(*f.topic);
  if (f.state) path += fmt::format("&state={}", jobs::job_state_name(*f.state));
  if (f.parent) path += fmt::format("&parent={}", *f.parent);
  if (f.key) path += "&key=" + encode(*f.key);
  Reply r = request("GET", path);
  if (Status s = status_of(r, ""); !s) return s;
  return records_from<jobs::Job>(r.body, "jobs");
}

Result<std::vector<jobs::TopicStats>> RemoteClient::job_stats() {
  Reply r = request("GET", "/api/v1/topics");
  if (Status s = status_of(r, ""); !s) return s;
  return records_from<jobs::TopicStats>(r.body, "topics");
}

Result<History> RemoteClient::history(int64_t since_ms, size_t every, const std::string& only) {
  std::string path = fmt::format("/api/v1/history?since={}&every={}", since_ms, every);
  if (!only.empty()) path += "&pool=" + encode(only);
  Reply r = request("GET", path);
  if (Status s = status_of(r, ""); !s) return s;
  return record_from<History>(r.body);
}

Result<jobs::Fleet> RemoteClient::fleet() {
  Reply r = request("GET", "/api/v1/fleet");
  if (Status s = status_of(r, ""); !s) return s;
  auto hosts = records_from<jobs::HostRecord>(r.body, "hosts");
  if (!hosts) return hosts.error();
  auto topics = records_from<jobs::TopicStats>(r.body, "topics");
  if (!topics) return topics.error();
  return jobs::Fleet{std::move(*hosts), std::move(*topics)};
}

Result<jobs::Job> RemoteClient::cancel_job(jobs::JobId id) {
  Reply r = request("DELETE", fmt::format("/api/v1/jobs/{}", id));
  if (Status s = status_of(r, ""); !s) return s;
  return record_from<jobs::Job>(r.body);
}

Result<jobs::Job> RemoteClient::retry_job(jobs::JobId id) {
  Reply r = request("POST", fmt::format("/api/v1/jobs/{}/retry", id), "");
  if (Status s = status_of(r, ""); !s) return s;
  return record_from<jobs::Job>(r.body);
}

Result<size_t> RemoteClient::retry_dead_jobs(const std::optional<std::string>& topic) {
  Reply r = request("POST", "/api/v1/jobs/retry", topic ? json{{"topic", *topic}}.dump() : "{}");
  if (Status s = status_of(r, ""); !s) return s;
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("retried") || !j["retried"].is_number_unsigned())
    return Status::invalid("the drover's answer has no \"retried\" count");
  return j["retried"].get<size_t>();
}

Status RemoteClient::drop_job(jobs::JobId id) {
  return status_of(request("POST", fmt::format("/api/v1/jobs/{}/drop", id), ""), "");
}

Result<std::vector<jobs::ScheduleState>> RemoteClient::schedules() {
  Reply r = request("GET", "/api/v1/schedules");
  if (Status s = status_of(r, ""); !s) return s;
  return records_from<jobs::ScheduleState>(r.body, "schedules");
}

Result<jobs::ScheduleState> RemoteClient::schedule(const std::string& name) {
  Reply r = request("GET", "/api/v1/schedules/" + encode(name));
  if (Status s = status_of(r, ""); !s) return s;
  return record_from<jobs::ScheduleState>(r.body);
}

Result<jobs::ScheduleState> RemoteClient::define_schedule(const jobs::Schedule& d) {
  // The definition's fields only (control/schedule_routes.cpp takes no runtime ones).
  json j{{"name", d.name},         {"topic", d.topic},
         {"args", json::parse(d.args, nullptr, false)},
         {"priority", d.priority}, {"attempts", d.max_attempts},
         {"timeout", d.timeout_s}, {"missed", jobs::missed_policy_name(d.missed)},
         {"overlap", d.overlap},   {"enabled", d.enabled}};
  if (!d.cron.empty()) j["cron"] = d.cron;
  if (!d.every.empty()) j["every"] = d.every;
  if (!d.tz.empty()) j["tz"] = d.tz;
  Reply r = request("POST", "/api/v1/schedules", j.dump());
  if (Status s = status_of(r, ""); !s) return s;
  return record_from<jobs::ScheduleState>(r.body);
}

Result<jobs::ScheduleState> RemoteClient::set_schedule_enabled(const std::string& name, bool on) {
  Reply r = request("POST", fmt::format("/api/v1/schedules/{}/{}", encode(name), on ? "on" : "off"), "");
  if (Status s = status_of(r, ""); !s) return s;
  return record_from<jobs::ScheduleState>(r.body);
}

Result<jobs::Job> RemoteClient::run_schedule(const std::string& name) {
  Reply r = request("POST", fmt::format("/api/v1/schedules/{}/run", encode(name)), "");
  if (Status s = status_of(r, ""); !s) return s;
  return record_from<jobs::Job>(r.body);
}

Status RemoteClient::drop_schedule(const std::string& name) {
  return status_of(request("DELETE", "/api/v1/schedules/" + encode(name)), "");
}

void RemoteClient::report(EventKind kind, std::string pool, std::string text) {
  // A policy of this shell: its lines go to this screen only (the remote log is the
  // remote drover's). Printed as the REPL prints events.
  std::fprintf(stderr, "%s %s: %s\n", pool.empty() ? "drover" : pool.c_str(), event_kind_name(kind), text.c_str());
}

bool RemoteClient::wait_finished(Duration) { return detached_ || gone_; }

std::shared_ptr<Subscription> RemoteClient::subscribe(size_t capacity, Subscription::Filter filter) {
  auto sub = std::make_shared<Subscription>(capacity, filter);
  std::lock_guard lock(streams_mu_);
  // Reap the streams whose subscriptions are done.
  for (auto it = streams_.begin(); it != streams_.end();) {
    if ((*it)->done) {
      (*it)->thread.join();
      it = streams_.erase(it);
    } else {
      ++it;
    }
  }
  auto open = [&](const std::string& path, bool events) {
    auto s = std::make_unique<Stream>();
    s->sub = sub;
    Stream* raw = s.get();
    s->thread = std::thread([this, raw, path, events] { run_stream(*raw, path, events); });
    streams_.push_back(std::move(s));
  };
  if (filter.events) open("/api/v1/events", true);
  if (filter.log_lines) open("/api/v1/log/follow", false);
  return sub;
}

namespace {

// A stream's transfer state, for curl's callbacks.
struct StreamTransfer {
  Subscription& sub;
  bool events;
  std::string buffer;
};

// Server-Sent Events: "event: KIND\ndata: JSON\n\n"; comments (": keepalive") skipped.
size_t on_stream_data(char* data, size_t size, size_t n, void* user) {
  auto& t = *static_cast<StreamTransfer*>(user);
  if (t.sub.closed()) return 0;  // anything short of size * n ends the transfer
  t.buffer.append(data, size * n);
  size_t end;
  while ((end = t.buffer.find("\n\n")) != std::string::npos) {
    std::string block = t.buffer.substr(0, end);
    t.buffer.erase(0, end + 2);
    std::string payload;
    size_t at = 0;
    while (at < block.size()) {
      size_t nl = block.find('\n', at);
      std::string line = block.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
      at = nl == std::string::npos ? block.size() : nl + 1;
      if (line.rfind("data:", 0) == 0) payload += line.substr(line.size() > 5 && line[5] == ' ' ? 6 : 5);
    }
    if (payload.empty()) continue;
    json j = json::parse(payload, nullptr, false);
    if (t.events) {
      if (auto ev = event_from_json(j)) t.sub.push(*ev);
    } else if (auto line = log_line_from_json(j)) {
      t.sub.push(*line);
    }
  }
  return size * n;
}

// Called about once a second while the stream is idle: non-zero aborts it, so a closed
// subscription's thread ends even when the server sends nothing.
int on_stream_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<StreamTransfer*>(user)->sub.closed() ? 1 : 0;
}

}  // namespace

void RemoteClient::run_stream(Stream& s, const std::string& path, bool events) {
  StreamTransfer t{*s.sub, events, {}};
  curl_slist* headers = auth_header();
  if (CURL* c = curl_easy_init()) {
    configure(c, path);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, kStreamSilenceS);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_stream_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_stream_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
    curl_easy_perform(c);
    curl_easy_cleanup(c);
  }
  curl_slist_free_all(headers);
  // Ended by the server (it shut down) or the network, not by us: the attach is over.
  if (!s.sub->closed() && events) gone_ = true;
  s.sub->close();
  s.done = true;
}

}  // namespace drover
