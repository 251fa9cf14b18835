#include "control/http_reply.h"

#include <cmath>

namespace drover::http {

bool wants_json(const HttpRequest& req) {
  return req.get_header_value("Accept").find("application/json") != std::string::npos;
}

bool is_api(const HttpRequest& req) { return req.path.rfind("/api/", 0) == 0; }

void reply(const HttpRequest& req, HttpResponse& res, const std::string& text, const json& body) {
  if (wants_json(req))
    res.set_content(body.dump() + "\n", "application/json");
  else
    res.set_content(text + "\n", "text/plain; charset=utf-8");
}

void send_json(HttpResponse& res, const json& body, int status) {
  res.status = status;
  // replace: invalid UTF-8 from a worker's output must not throw halfway through a reply.
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n", "application/json");
}

void fail(const HttpRequest& req, HttpResponse& res, int code, const std::string& error,
          const std::string& detail) {
  const json body{{"error", error}, {"detail", detail}};
  if (is_api(req) || code == 401)
    send_json(res, body, code);
  else {
    res.status = code;
    reply(req, res, "ERROR: " + detail, body);
  }
}

std::optional<json> json_body(const HttpRequest& req, HttpResponse& res) {
  // No Content-Type is taken as JSON (a bare client); a form or text is refused, so that
  // `curl -d` without `-H 'Content-Type: application/json'` learns what to send.
  const std::string type = req.get_header_value("Content-Type");
  const std::string media = type.substr(0, type.find(';'));
  const bool is_json = media == "application/json" ||
                       (media.rfind("application/", 0) == 0 && media.size() > 5 &&
                        media.compare(media.size() - 5, 5, "+json") == 0);
  if (!type.empty() && !is_json) {
    fail(req, res, 415, "unsupported_media_type",
         "the body must be JSON, sent with Content-Type: application/json (got " + media + ")");
    return std::nullopt;
  }
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    fail(req, res, 400, "bad_json", req.body.empty() ? "the body must be a JSON object, and is empty"
                                                     : "the body must be a JSON object");
    return std::nullopt;
  }
  return body;
}

int http_code(const Status& s) {
  switch (s.code()) {
    case Status::Code::kNotFound: return 404;
    case Status::Code::kInvalidArgument: return 400;
    case Status::Code::kAlreadyExists: return 409;
    case Status::Code::kUnavailable: return 503;
    default: return 500;
  }
}

const char* reason_phrase(int code) {
  switch (code) {
    case 400: return "bad request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "no such route";
    case 405: return "method not allowed";
    case 409: return "conflict";
    case 413: return "body too large";
    case 414: return "URI too long";
    case 415: return "unsupported media type";
    case 421: return "misdirected request";
    case 503: return "unavailable";
    default: return "error";
  }
}

std::optional<int> json_int(const json& v, int min, int max) {
  double d = 0;
  if (v.is_number_integer()) {
    // Unsigned and signed 64-bit values both fit a double's range check exactly enough
    // here: anything beyond int's range is refused either way.
    d = v.is_number_unsigned() ? static_cast<double>(v.get<uint64_t>()) : static_cast<double>(v.get<int64_t>());
  } else if (v.is_number_float()) {
    d = v.get<double>();
    if (!std::isfinite(d) || d != std::floor(d)) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (d < min || d > max) return std::nullopt;
  return static_cast<int>(d);
}

}  // namespace drover::http
