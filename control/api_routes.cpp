// The JSON API under /api/v1: pools, workers, config, the log tail, the snapshot and the
// autoscaler's hooks (the two streams are in sse_streams.cpp).
//
// Every route reads and checks its whole input first, then makes one engine call, which
// validates again and changes nothing when it refuses: so a bad request, however it is
// bad, leaves the engine as it was. Field errors are 400 "bad_field" with a detail that
// names the field and says what it takes.
#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <csignal>

#include <fmt/format.h>

#include "control/api_limits.h"
#include "control/http_control.h"
#include "control/http_reply.h"
#include "control/json_views.h"
#include "control/secret_env.h"
#include "engine/size_batch.h"
#include "control/snapshot_json.h"

namespace drover {

using namespace http;

namespace {

std::string no_pool(const std::string& name) { return fmt::format("no pool named \"{}\"", name); }

// Each reader fills `out` from a JSON value, or returns the detail of a 400.
using Problem = std::optional<std::string>;

Problem read_cmd(const json& v, std::vector<std::string>& out) {
  if (v.is_string()) {
    out = command_from_string(v.get<std::string>());
    return out.empty() ? Problem("\"cmd\": the command line is empty") : std::nullopt;
  }
  if (v.is_array() && !v.empty() && std::all_of(v.begin(), v.end(), [](const json& a) { return a.is_string(); })) {
    out = v.get<std::vector<std::string>>();
    return std::nullopt;
  }
  return fmt::format("\"cmd\": {} must be a command line or a non-empty array of strings", v.dump());
}

Problem read_env(const json& v, std::map<std::string, std::string>& out) {
  if (!v.is_object()) return fmt::format("\"env\": {} must be an object of strings", v.dump());
  out.clear();
  for (const auto& [key, value] : v.items()) {
    if (!value.is_string()) return fmt::format("\"env\": {} of {} must be a string", value.dump(), key);
    out[key] = value.get<std::string>();
  }
  return std::nullopt;
}

Problem read_string(const std::string& key, const json& v, std::string& out) {
  if (!v.is_string()) return fmt::format("\"{}\": {} must be a string", key, v.dump());
  out = v.get<std::string>();
  return std::nullopt;
}

// "HUP", "SIGHUP", "hup" or 1.
int signal_from_json(const json& v) {
  if (v.is_string()) return signal_from_name(v.get<std::string>());
  return json_int(v, 1, NSIG - 1).value_or(0);
}

// POST /api/v1/pools: the body as a spec with PoolSpec's defaults for what it leaves out
// (the Lua config's defaults{} live in the shell, out of this server's reach).
Result<PoolSpec> spec_from_body(const json& body) {
  PoolSpec spec;
  bool named = false, commanded = false;
  for (const auto& [key, v] : body.items()) {
    Problem p;
    if (key == "name") {
      p = read_string(key, v, spec.name);
      named = true;
    } else if (key == "cmd") {
      p = read_cmd(v, spec.argv);
      commanded = true;
    } else if (key == "n") {
      if (auto n = json_int(v, 0, INT_MAX)) spec.n = *n;
      else p = fmt::format("\"n\": {} must be a whole number >= 0", v.dump());
    } else if (key == "cwd" || key == "queue") {
      p = read_string(key, v, key == "cwd" ? spec.cwd : spec.queue);
    } else if (key == "env") {
      p = read_env(v, spec.env);
    } else if (key == "stop_signal") {
      spec.stop_signal = signal_from_json(v);
      if (!spec.stop_signal) p = fmt::format("\"stop_signal\": {} is not a signal name or number", v.dump());
    } else if (key == "stop_to") {
      auto to = v.is_string() ? stop_to_from_name(v.get<std::string>()) : std::nullopt;
      if (to) spec.stop_to = *to;
      else p = fmt::format("\"stop_to\": {} must be \"auto\", \"process\" or \"group\"", v.dump());
    } else if (key == "grace") {
      if (v.is_number() && std::isfinite(v.get<double>()) && v.get<double>() >= 0) spec.grace_s = v.get<double>();
      else p = fmt::format("\"grace\": {} must be a number of seconds >= 0", v.dump());
    } else if (key == "autostart") {
      if (v.is_boolean()) spec.autostart = v.get<bool>();
      else p = fmt::format("\"autostart\": {} must be true or false", v.dump());
    } else {
      p = fmt::format("\"{}\" is not a field this takes (name, cmd, n, cwd, env, queue, stop_signal, stop_to, grace, autostart)",
                      key);
    }
    if (p) return Status::invalid(*p);
  }
  if (!named) return Status::invalid("\"name\" is required");
  if (!commanded) return Status::invalid("\"cmd\" is required");
  if (Status s = validate_pool_spec(spec); !s) return s;
  return spec;
}

// PATCH /api/v1/pools/NAME: what the body asks to change.
struct PoolPatch {
  std::optional<int> n;
  std::optional<bool> enabled;
  std::optional<std::vector<std::string>> argv;
  std::optional<std::map<std::string, std::string>> env;
};

Result<PoolPatch> patch_from_body(const json& body) {
  PoolPatch patch;
  for (const auto& [key, v] : body.items()) {
    Problem p;
    if (key == "n" && json_int(v, 0, INT_MAX)) {
      patch.n = json_int(v, 0, INT_MAX);
    } else if (key == "enabled" && v.is_boolean()) {
      patch.enabled = v.get<bool>();
    } else if (key == "cmd") {
      p = read_cmd(v, patch.argv.emplace());
    } else if (key == "env") {
      p = read_env(v, patch.env.emplace());
    } else if (key == "n") {
      p = fmt::format("\"n\" must be a whole number >= 0, got {}", v.dump());
    } else if (key == "enabled") {
      p = fmt::format("\"enabled\" must be true or false, got {}", v.dump());
    } else {
      p = fmt::format("\"{}\" is not a field this takes (n: whole number >= 0, enabled: bool, cmd: line or argv, "
                      "env: object of strings)",
                      key);
    }
    if (p) return Status::invalid(*p);
  }
  return patch;
}

// A body of pool sizes, {"foo": 3, "bar": 0}; with zero_or_false (PATCH /api/v1/config,
// the shell's config{}) false reads as 0, the size that removes the pool there.
Result<std::map<std::string, int>> sizes_from_body(const json& body, bool zero_or_false) {
  std::map<std::string, int> sizes;
  for (const auto& [name, value] : body.items()) {
    auto n = json_int(value, 0, INT_MAX);
    if (zero_or_false && value.is_boolean() && !value.get<bool>()) n = 0;
    if (!n)
      return Status::invalid(fmt::format("\"{}\": {} must be a whole number >= 0{}", name, value.dump(),
                                         zero_or_false ? " or false" : ""));
    sizes[name] = *n;
  }
  return sizes;
}

// An engine call's refusal as a reply: the error word from its code where one says more
// than `otherwise` ("not_found" for a missing pool, "unavailable" once the engine has
// finished), the HTTP status from http_code.
void fail_status(const HttpRequest& req, HttpResponse& res, const Status& st, const char* otherwise) {
  const char* error = st.code() == Status::Code::kNotFound      ? "not_found"
                      : st.code() == Status::Code::kUnavailable ? "unavailable"
                                                                : otherwise;
  fail(req, res, http_code(st), error, st.message());
}

}  // namespace

// The engine's snapshot as a client may see it: pool env secrets masked
// (control/secret_env.h) unless the request asks with ?secrets=1. Any client that got
// this far holds the token or is the owner on the control socket, so it may ask.
EngineSnapshot HttpControl::shown_snapshot(const http::HttpRequest& req) {
  EngineSnapshot snap = engine_.snapshot();
  if (req.get_param_value("secrets") != "1") redact_secrets(snap);
  return snap;
}

void HttpControl::api_routes() {
  constexpr RouteTraits kJsonBody{.takes_body = true};
  on("GET", "/api/v1/snapshot", [this](const HttpRequest& req, HttpResponse& res) {
    res.set_content(snapshot_json_text(shown_snapshot(req)) + "\n", "application/json");
  });
  on("GET", "/api/v1/pools", [this](const HttpRequest& req, HttpResponse& res) {
    json pools = json::array();
    for (const auto& p : shown_snapshot(req).pools) pools.push_back(pool_json(p, false));
    send_json(res, json{{"pools", pools}});
  });
  on("POST", "/api/v1/pools", [this](const HttpRequest& req, HttpResponse& res) {
    auto body = json_body(req, res);
    if (!body) return;
    auto spec = spec_from_body(*body);
    if (!spec) return fail(req, res, 400, "bad_field", spec.error().message());
    const std::string name = spec->name;
    std::lock_guard lock(define_mu_);
    if (engine_.snapshot().find(name))
      return fail(req, res, 409, "exists",
                  fmt::format("a pool named \"{}\" exists; PATCH /api/v1/pools/{} changes it", name, name));
    if (Status st = engine_.apply({std::move(*spec)}); !st)
      return fail_status(req, res, st, st.code() == Status::Code::kInvalidArgument ? "bad_field" : "failed");
    EngineSnapshot snap = shown_snapshot(req);
    const PoolSnapshot* p = snap.find(name);
    if (!p) return fail(req, res, 409, "conflict", fmt::format("pool \"{}\" was removed as it was created", name));
    res.set_header("Location", "/api/v1/pools/" + name);
    send_json(res, pool_json(*p, true), 201);
  }, kJsonBody);
  on("GET", R"(/api/v1/pools/([^/]+))", [this](const HttpRequest& req, HttpResponse& res) {
    EngineSnapshot snap = shown_snapshot(req);
    const PoolSnapshot* p = snap.find(req.matches[1]);
    if (!p) return fail(req, res, 404, "not_found", no_pool(req.matches[1]));
    send_json(res, pool_json(*p, true));
  });
  // {"n": 3} resizes live; {"enabled": false|true} stops or starts the pool; "cmd" and
  // "env" (which replaces the pool's overrides) roll its workers one at a time.
  on("PATCH", R"(/api/v1/pools/([^/]+))", [this](const HttpRequest& req, HttpResponse& res) {
    const std::string name = req.matches[1];
    auto body = json_body(req, res);
    if (!body) return;
    auto patch = patch_from_body(*body);
    if (!patch) return fail(req, res, 400, "bad_field", patch.error().message());
    std::lock_guard lock(define_mu_);
    EngineSnapshot snap = engine_.snapshot();
    const PoolSnapshot* current = snap.find(name);
    if (!current) return fail(req, res, 404, "not_found", no_pool(name));
    if (patch->argv || patch->env) {
      PoolSpec spec = current->spec;
      if (patch->argv) spec.argv = *patch->argv;
      if (patch->env) spec.env = *patch->env;
      if (patch->n) spec.n = *patch->n;
      if (Status st = validate_pool_spec(spec); !st) return fail(req, res, 400, "bad_field", st.message());
      if (Status st = engine_.apply({std::move(spec)}); !st)
        return fail(req, res, http_code(st), "bad_field", st.message());
    } else if (patch->n) {
      if (auto r = engine_.configure({{name, *patch->n}}); !r) return fail_status(req, res, r.error(), "bad_size");
    }
    if (patch->enabled)
      if (Status st = *patch->enabled ? engine_.start(name) : engine_.stop(name); !st)
        return fail_status(req, res, st, "failed");
    snap = shown_snapshot(req);
    const PoolSnapshot* p = snap.find(name);
    if (!p) return fail(req, res, 404, "not_found", no_pool(name));
    send_json(res, pool_json(*p, false));
  }, kJsonBody);
  on("DELETE", R"(/api/v1/pools/([^/]+))", [this](const HttpRequest& req, HttpResponse& res) {
    const std::string name = req.matches[1];
    if (Status st = engine_.remove_pool(name); !st) return fail_status(req, res, st, "failed");
    send_json(res, json{{"removed", name}});
  });
  on("GET", R"(/api/v1/pools/([^/]+)/workers)", [this](const HttpRequest& req, HttpResponse& res) {
    EngineSnapshot snap = engine_.snapshot();
    const PoolSnapshot* p = snap.find(req.matches[1]);
    if (!p) return fail(req, res, 404, "not_found", no_pool(req.matches[1]));
    json workers = json::array();
    for (const auto& w : p->workers) workers.push_back(worker_json(w));
    send_json(res, json{{"pool", p->spec.name}, {"workers", workers}});
  });
  // {"signal": "HUP"} or {"signal": 1}: to the worker's process group, as the engine's
  // signal_workers does for a whole pool.
  on("GET", R"(/api/v1/pools/([^/]+)/usage)", [this](const HttpRequest& req, HttpResponse& res) {
    EngineSnapshot snap = engine_.snapshot();
    const PoolSnapshot* p = snap.find(req.matches[1]);
    if (!p) return fail(req, res, 404, "not_found", fmt::format("no pool named \"{}\"", std::string(req.matches[1])));
    // One root per worker (keyed by slot), summed for the pool: a /proc scan on this
    // request's thread.
    std::map<std::string, std::vector<pid_t>> roots;
    for (const auto& w : p->workers)
      if (w.pid > 0) roots[std::to_string(w.slot)].push_back(w.pid);
    std::map<std::string, ProcessTotals> totals;
    {
      std::lock_guard lock(usage_mu_);
      totals = usage_sampler_.sample(roots);
    }
    json workers = json::array();
    ProcessTotals sum;
    for (const auto& w : p->workers) {
      auto it = totals.find(std::to_string(w.slot));
      if (w.pid <= 0 || it == totals.end()) continue;
      sum.cpu += it->second.cpu;
      sum.rss_bytes += it->second.rss_bytes;
      sum.processes += it->second.processes;
      workers.push_back(json{{"slot", w.slot}, {"pid", w.pid}, {"cpu", it->second.cpu},
                             {"rss_bytes", it->second.rss_bytes}, {"processes", it->second.processes}});
    }
    send_json(res, json{{"pool", p->spec.name}, {"cpu", sum.cpu}, {"rss_bytes", sum.rss_bytes},
                        {"processes", sum.processes}, {"workers", workers}});
  });
  on("POST", R"(/api/v1/pools/([^/]+)/workers/([^/]+)/signal)", [this](const HttpRequest& req,
                                                                         HttpResponse& res) {
    const std::string name = req.matches[1], slot_text = req.matches[2];
    int slot = -1;
    auto [end, ec] = std::from_chars(slot_text.data(), slot_text.data() + slot_text.size(), slot);
    if (ec != std::errc() || end != slot_text.data() + slot_text.size() || slot < 0)
      return fail(req, res, 400, "bad_number", fmt::format("slot '{}' is not a whole number >= 0", slot_text));
    auto body = json_body(req, res);
    if (!body) return;
    if (body->size() != 1 || !body->contains("signal"))
      return fail(req, res, 400, "bad_field", "the body is {\"signal\": NAME or NUMBER} and nothing else");
    const int sig = signal_from_json((*body)["signal"]);
    if (!sig)
      return fail(req, res, 400, "bad_field",
                  fmt::format("\"signal\": {} is not a signal name or number", (*body)["signal"].dump()));
    Status st = engine_.signal_worker(name, slot, sig);
    if (!st) {
      const bool no_process = st.code() == Status::Code::kUnavailable;
      return fail(req, res, no_process ? 409 : http_code(st), no_process ? "no_process" : "not_found", st.message());
    }
    send_json(res, json{{"pool", name}, {"slot", slot}, {"signal", signal_name(sig)}});
  }, kJsonBody);
  // {"foo": 3, "bar": 0}: resizes existing pools live, all or nothing (0: no workers, the
  // pool kept; PATCH /api/v1/config is the one where 0 removes). Answers every pool's size.
  on("PATCH", "/api/v1/pools", [this](const HttpRequest& req, HttpResponse& res) {
    auto body = json_body(req, res);
    if (!body) return;
    auto sizes = sizes_from_body(*body, false);
    if (!sizes) return fail(req, res, 400, "bad_size", sizes.error().message());
    std::lock_guard lock(define_mu_);
    auto r = engine_.configure(*sizes);
    if (!r) return fail_status(req, res, r.error(), "bad_size");
    send_json(res, json{{"pools", *r}});
  }, kJsonBody);
  // {} for every pool, {"pool": NAME} for one: the shell's start() and stop().
  auto start_or_stop = [this](bool start) {
    return [this, start](const HttpRequest& req, HttpResponse& res) {
      auto body = json_body(req, res);
      if (!body) return;
      std::optional<std::string> pool;
      for (const auto& [key, v] : body->items()) {
        if (key != "pool") return fail(req, res, 400, "bad_field", fmt::format("\"{}\" is not a field this takes (pool)", key));
        if (Problem p = read_string(key, v, pool.emplace())) return fail(req, res, 400, "bad_field", *p);
      }
      Status st = start ? engine_.start(pool) : engine_.stop(pool);
      if (!st) return fail_status(req, res, st, "failed");
      send_json(res, json{{start ? "started" : "stopped", pool ? json(*pool) : json("all")}});
    };
  };
  on("POST", "/api/v1/start", start_or_stop(true), kJsonBody);
  on("POST", "/api/v1/stop", start_or_stop(false), kJsonBody);
  // {"signal": "USR1"} to every worker's process group, {"pool": NAME} for one pool's: the
  // shell's kill().
  on("POST", "/api/v1/signal", [this](const HttpRequest& req, HttpResponse& res) {
    auto body = json_body(req, res);
    if (!body) return;
    std::optional<std::string> pool;
    int sig = 0;
    for (const auto& [key, v] : body->items()) {
      if (key == "signal") {
        if (!(sig = signal_from_json(v)))
          return fail(req, res, 400, "bad_field", fmt::format("\"signal\": {} is not a signal name or number", v.dump()));
      } else if (key == "pool") {
        if (Problem p = read_string(key, v, pool.emplace())) return fail(req, res, 400, "bad_field", *p);
      } else {
        return fail(req, res, 400, "bad_field", fmt::format("\"{}\" is not a field this takes (signal, pool)", key));
      }
    }
    if (!sig) return fail(req, res, 400, "bad_field", "\"signal\" is required");
    Status st = engine_.signal_workers(sig, pool);
    if (!st) return fail_status(req, res, st, "failed");
    send_json(res, json{{"signal", signal_name(sig)}, {"pool", pool ? json(*pool) : json("all")}});
  }, kJsonBody);
  // The shell's config{}: {"foo": 2, "bar": 0} merges sizes live; 0 or false removes a pool.
  // One engine call (Engine::resize) checks the whole body before anything changes and
  // answers with the sizes it produced.
  on("PATCH", "/api/v1/config", [this](const HttpRequest& req, HttpResponse& res) {
    auto body = json_body(req, res);
    if (!body) return;
    auto sizes = sizes_from_body(*body, true);
    if (!sizes) return fail(req, res, 400, "bad_size", sizes.error().message());
    std::lock_guard lock(define_mu_);
    auto r = engine_.resize(size_batch_from_config(*sizes));
    if (!r) return fail_status(req, res, r.error(), "bad_size");
    send_json(res, json{{"pools", *r}});
  }, kJsonBody);
  // The last n lines (default 100, at most kLogTailMaxLines), of one pool with ?pool=.
  on("GET", "/api/v1/log", [this](const HttpRequest& req, HttpResponse& res) {
    size_t n = 100;
    if (req.has_param("n")) {
      const std::string v = req.get_param_value("n");
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || end != v.data() + v.size() || n < 1 || n > kLogTailMaxLines)
        return fail(req, res, 400, "bad_number",
                    fmt::format("n = '{}' must be a whole number in 1..{}", v, kLogTailMaxLines));
    }
    std::optional<std::string> pool;
    if (req.has_param("pool")) pool = req.get_param_value("pool");
    json lines = json::array();
    for (const auto& l : engine_.log_tail(n, pool)) lines.push_back(log_line_json(l));
    send_json(res, json{{"lines", lines}});
  });
  // The autoscaler's seam: the shell wires it with set_autoscale_hooks.
  on("GET", "/api/v1/autoscale", [this](const HttpRequest& req, HttpResponse& res) {
    if (!autoscale_.list) return fail(req, res, 501, "not_implemented", "no autoscaler is wired into this server");
    auto r = autoscale_.list();
    if (!r) return fail_status(req, res, r.error(), "failed");
    send_json(res, *r);
  });
  on("POST", R"(/api/v1/autoscale/([^/]+)/(on|off))", [this](const HttpRequest& req, HttpResponse& res) {
    if (!autoscale_.set_enabled)
      return fail(req, res, 501, "not_implemented", "no autoscaler is wired into this server");
    const std::string pool = req.matches[1];
    const bool on = req.matches[2] == "on";
    if (Status st = autoscale_.set_enabled(pool, on); !st) return fail_status(req, res, st, "failed");
    send_json(res, json{{"pool", pool}, {"enabled", on}});
  });
}

}  // namespace drover
