// The history ring over HTTP (api/history.h), for the dashboard's charts and attached shells:
//   GET /api/v1/history?since=MS&every=N&pool=NAME
//       {"step": 1, "t_ms": [...], "pools": [{"pool", "target": [...], ...}], "topics": [...], "dropped": 0}
// since: points after this wall clock time (ms; default: the whole hour kept); every: one
// point per N samples (1..3600), the last of each group, for a long span in few points;
// pool: one pool and the topic of that name. Bad numbers are a 400 naming the parameter.
#include <charconv>

#include <fmt/format.h>

#include "control/http_control.h"
#include "control/http_reply.h"
#include "control/record_json.h"

namespace drover {

using http::HttpRequest;
using http::HttpResponse;

namespace {

// The parameter as a whole number in [lo, hi], or nullopt with a 400 sent.
std::optional<int64_t> number_param(const HttpRequest& req, HttpResponse& res, const char* key, int64_t lo, int64_t hi,
                                    int64_t fallback) {
  if (!req.has_param(key)) return fallback;
  const std::string v = req.get_param_value(key);
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || n < lo || n > hi) {
    fail(req, res, 400, "bad_number", fmt::format("{} = '{}' must be a whole number in {}..{}", key, v, lo, hi));
    return std::nullopt;
  }
  return n;
}

}  // namespace

void HttpControl::history_routes() {
  on("GET", "/api/v1/history", [this](const HttpRequest& req, HttpResponse& res) {
    if (!client_) return fail(req, res, 501, "not_implemented", "no history is kept by this server");
    auto since = number_param(req, res, "since", 0, INT64_MAX, 0);
    if (!since) return;
    auto every = number_param(req, res, "every", 1, static_cast<int64_t>(kHistorySamples), 1);
    if (!every) return;
    const std::string pool = req.has_param("pool") ? req.get_param_value("pool") : "";
    auto h = client_->history(*since, static_cast<size_t>(*every), pool);
    if (!h) return fail(req, res, 503, "unavailable", h.error().message());
    JsonWriter w;
    records::write_json(w, *h);
    res.set_content(w.take() + "\n", "application/json");
  });
}

}  // namespace drover
