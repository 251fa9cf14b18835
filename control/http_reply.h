// How the HTTP routes answer, shared by the files that register them (http_control.cpp,
// api_routes.cpp, sse_streams.cpp). Internal to drover_control.
//
// workerpoolmanager's routes answer plain text unless the client sends Accept:
// application/json; everything under /api/ answers JSON whatever the Accept. An error is
// {"error": a stable code, "detail": a sentence naming the offending field or pool}.
#pragma once

#include "control/http_request.h"

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/status.h"

namespace drover::http {

using nlohmann::json;

// The largest request body any route takes (a pool definition is well under 1 KB).
inline constexpr size_t kMaxBody = 64 * 1024;

bool wants_json(const HttpRequest& req);
bool is_api(const HttpRequest& req);
// Text or JSON by the Accept header (workerpoolmanager's routes).
void reply(const HttpRequest& req, HttpResponse& res, const std::string& text, const json& body);
void send_json(HttpResponse& res, const json& body, int status = 200);
void fail(const HttpRequest& req, HttpResponse& res, int code, const std::string& error,
          const std::string& detail);
// The request's body as a JSON object. Otherwise a 415 (a Content-Type that is not JSON)
// or a 400 (not a JSON object) is already written, and nullopt.
std::optional<json> json_body(const HttpRequest& req, HttpResponse& res);
// The engine's Status codes as HTTP's: kNotFound 404, kInvalidArgument 400,
// kAlreadyExists 409, kUnavailable 503, the rest 500.
int http_code(const Status& s);
const char* reason_phrase(int code);

// An integer in [min, max] from a JSON value: 3 and 3.0 are, 3.5, "3", 1e99 and true are not.
std::optional<int> json_int(const json& v, int min, int max);

}  // namespace drover::http
