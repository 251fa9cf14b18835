#include "shell/remote/remote_client.h"

#include <httplib.h>

#include <cctype>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "control/snapshot_json.h"

namespace drover {

namespace {

using nlohmann::json;

constexpr time_t kRequestTimeoutS = 10;

void set_auth(httplib::Client& c, const RemoteAddress& a) {
  if (!a.token.empty()) c.set_bearer_token_auth(a.token.c_str());
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

// httplib's error names are one word ("Connection"); an operator wants a reason.
std::string why(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection: return "connection refused";
    case httplib::Error::ConnectionTimeout: return "connect timed out";
    case httplib::Error::Read: return "no answer (read failed or timed out)";
    case httplib::Error::Write: return "the connection broke while sending";
    default: return httplib::to_string(e);
  }
}

}  // namespace

Result<RemoteAddress> parse_remote_address(const std::string& spec) {
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

RemoteClient::RemoteClient(RemoteAddress address)
    : address_(std::move(address)), http_(std::make_unique<httplib::Client>(address_.host, address_.port)) {
  http_->set_keep_alive(true);
  http_->set_connection_timeout(3, 0);
  http_->set_read_timeout(kRequestTimeoutS, 0);
  http_->set_write_timeout(kRequestTimeoutS, 0);
  set_auth(*http_, address_);
}

RemoteClient::~RemoteClient() {
  std::lock_guard lock(streams_mu_);
  for (auto& s : streams_) {
    s->sub->close();
    s->client->stop();  // a stream blocked in a read returns now
  }
  for (auto& s : streams_) s->thread.join();
}

std::string RemoteClient::describe() const { return fmt::format("{}:{}", address_.host, address_.port); }

RemoteClient::Reply RemoteClient::request(const std::string& method, const std::string& path, const std::string& body) {
  std::lock_guard lock(mu_);
  const char* type = "application/json";
  httplib::Result r = method == "POST"    ? http_->Post(path.c_str(), body, type)
                      : method == "PATCH"  ? http_->Patch(path.c_str(), body, type)
                      : method == "DELETE" ? http_->Delete(path.c_str())
                                           : http_->Get(path.c_str());
  Reply out;
  if (!r) {
    out.error = fmt::format("cannot reach drover at {}: {} (is it running with --http?)", describe(), why(r.error()));
    gone_ = true;
    return out;
  }
  gone_ = false;
  out.status = r->status;
  out.body = r->body;
  if (r->status >= 300) out.error = error_text(r->status, r->body);
  return out;
}

Status RemoteClient::status_of(const Reply& r, const std::string& what) {
  if (r.status == 0) return Status::unavailable(r.error);
  if (r.status == 404) return Status::not_found(r.error);
  if (r.status == 409) return Status::exists(r.error);
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

EngineSnapshot RemoteClient::snapshot() {
  Reply r = request("GET", "/api/v1/snapshot");
  if (Status s = status_of(r, "snapshot"); !s) throw std::runtime_error(s.message());
  auto snap = snapshot_from_json(json::parse(r.body, nullptr, false));
  if (!snap) throw std::runtime_error("snapshot from " + describe() + ": " + snap.error().message());
  return std::move(*snap);
}

Result<std::map<std::string, int>> RemoteClient::configure(const std::map<std::string, int>& sizes) {
  // Pool by pool through PATCH /pools/NAME {"n"}: PATCH /config would take 0 for a removal.
  // Checked first, so that a batch with an unknown name changes nothing, as locally.
  EngineSnapshot snap = snapshot();
  for (const auto& [name, n] : sizes)
    if (!snap.find(name)) return Status::not_found(fmt::format("no pool named \"{}\"", name));
  for (const auto& [name, n] : sizes)
    if (Status s = status_of(request("PATCH", pool_path(name), json{{"n", n}}.dump()), name); !s) return s;
  std::map<std::string, int> out;
  for (const auto& p : snapshot().pools) out[p.spec.name] = p.spec.n;
  return out;
}

Status RemoteClient::apply(std::vector<PoolSpec>, bool) {
  return Status::invalid("an attached shell has no config file to apply: reload on the drover host (kill -HUP)");
}

Status RemoteClient::remove_pool(const std::string& name) { return status_of(request("DELETE", pool_path(name)), ""); }

Status RemoteClient::set_enabled(const std::string& pool, bool enabled) {
  return status_of(request("PATCH", pool_path(pool), json{{"enabled", enabled}}.dump()), "");
}

Status RemoteClient::start(const std::optional<std::string>& pool) {
  if (pool) return set_enabled(*pool, true);
  for (const auto& p : snapshot().pools)
    if (Status s = set_enabled(p.spec.name, true); !s) return s;
  return Status::ok();
}

Status RemoteClient::stop(const std::optional<std::string>& pool) {
  if (pool) return set_enabled(*pool, false);
  for (const auto& p : snapshot().pools)
    if (Status s = set_enabled(p.spec.name, false); !s) return s;
  return Status::ok();
}

Status RemoteClient::signal_workers(int sig, const std::optional<std::string>& pool) {
  EngineSnapshot snap = snapshot();
  if (pool && !snap.find(*pool)) return Status::not_found(fmt::format("no pool named \"{}\"", *pool));
  for (const auto& p : snap.pools) {
    if (pool && p.spec.name != *pool) continue;
    for (const auto& w : p.workers) {
      if (!w.pid) continue;
      Reply r = request("POST", fmt::format("{}/workers/{}/signal", pool_path(p.spec.name), w.slot),
                        json{{"signal", sig}}.dump());
      // A worker that exited between the snapshot and the signal is no error.
      if (r.status != 404 && r.status != 409)
        if (Status s = status_of(r, "signal"); !s) return s;
    }
  }
  return Status::ok();
}

std::vector<LogLine> RemoteClient::log_tail(size_t n, const std::optional<std::string>& pool) {
  std::string path = fmt::format("/api/v1/log?n={}", n);
  if (pool) path += "&pool=" + encode(*pool);
  Reply r = request("GET", path);
  if (Status s = status_of(r, "log"); !s) throw std::runtime_error(s.message());
  json j = json::parse(r.body, nullptr, false);
  const json& lines = j.is_object() && j.contains("lines") ? j["lines"] : j;
  std::vector<LogLine> out;
  if (!lines.is_array()) return out;
  for (const auto& l : lines)
    if (auto line = log_line_from_json(l)) out.push_back(std::move(*line));
  return out;
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
    s->client = std::make_unique<httplib::Client>(address_.host, address_.port);
    s->client->set_connection_timeout(3, 0);
    // The server sends a keep-alive comment every second; silence this long is a lost server.
    s->client->set_read_timeout(30, 0);
    set_auth(*s->client, address_);
    Stream* raw = s.get();
    s->thread = std::thread([this, raw, path, events] { run_stream(*raw, path, events); });
    streams_.push_back(std::move(s));
  };
  if (filter.events) open("/api/v1/events", true);
  if (filter.log_lines) open("/api/v1/log/follow", false);
  return sub;
}

void RemoteClient::run_stream(Stream& s, const std::string& path, bool events) {
  // Server-Sent Events: "event: KIND\ndata: JSON\n\n"; comments (": keepalive") skipped.
  std::string buffer;
  auto on_data = [&](const char* data, size_t len) {
    if (s.sub->closed()) return false;
    buffer.append(data, len);
    size_t end;
    while ((end = buffer.find("\n\n")) != std::string::npos) {
      std::string block = buffer.substr(0, end);
      buffer.erase(0, end + 2);
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
      if (events) {
        if (auto ev = event_from_json(j)) s.sub->push(*ev);
      } else if (auto line = log_line_from_json(j)) {
        s.sub->push(*line);
      }
    }
    return !s.sub->closed();
  };
  auto r = s.client->Get(path.c_str(), on_data);
  // Ended by the server (it shut down) or the network, not by us: the attach is over.
  if (!s.sub->closed() && events) gone_ = true;
  (void)r;
  s.sub->close();
  s.done = true;
}

}  // namespace drover
