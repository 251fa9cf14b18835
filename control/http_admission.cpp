// Admission: whether a request is answered at all, decided on its headers alone, before
// any body byte is read (the server calls this first; control/mhd_server.cpp). A refusal
// here costs the server the headers it already holds, and nothing more: the body of a
// 401, a 413 or a 404 is never read.
//
// The order is the order of what a refusal may tell: a peer or a browser that is not
// allowed learns nothing but that (403/421); a client without the token learns nothing
// about routes (401); then the route (404/405), workerpoolmanager's mode (403), and
// the body (413, 400, 415).
#include <unistd.h>
#include <strings.h>

#include <charconv>

#include <fmt/format.h>

#include "control/http_auth.h"
#include "control/http_control.h"
#include "control/http_reply.h"
#include "control/request_origin.h"

namespace drover {

using namespace http;

namespace {

HttpResponse refusal(const HttpRequest& req, int code, const std::string& error, const std::string& detail) {
  HttpResponse res;
  fail(req, res, code, error, detail);
  return res;
}

bool bearer_matches(const HttpRequest& req, const std::string& token) {
  const std::string auth = req.get_header_value("Authorization");
  constexpr std::string_view kScheme = "Bearer ";
  if (auth.size() <= kScheme.size() || strncasecmp(auth.c_str(), kScheme.data(), kScheme.size()) != 0) return false;
  return constant_time_equal(std::string_view(auth).substr(kScheme.size()), token);
}

bool is_json_type(const std::string& type) {
  std::string media = type.substr(0, type.find(';'));
  while (!media.empty() && media.back() == ' ') media.pop_back();
  for (char& c : media) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return media == "application/json" ||
         (media.rfind("application/", 0) == 0 && media.size() > 5 && media.compare(media.size() - 5, 5, "+json") == 0);
}

}  // namespace

std::optional<HttpResponse> HttpControl::admit(HttpRequest& req) const {
  const bool head_or_get = req.method == "GET" || req.method == "HEAD";
  const HttpRouter::Match m = router_.match(req.method, req.path);
  const bool open = head_or_get && m.route && m.route->traits.open;

  // Who is asking.
  if (req.peer.unix_socket) {
    // The socket's mode keeps others out already; this holds when the mode was widened.
    if (req.peer.uid != geteuid() && req.peer.uid != 0)
      return refusal(req, 403, "forbidden",
                     fmt::format("uid {} may not use this socket: it serves uid {} and root", req.peer.uid, geteuid()));
  } else {
    const std::string host = req.get_header_value("Host");
    if (req.has_header("Host") && !host_allowed(host, options_.allowed_hosts))
      return refusal(req, 421, "bad_host",
                     fmt::format("Host \"{}\" is not a name of this server: it answers IP addresses, localhost and "
                                 "the names it is told to allow (a guard against DNS rebinding)",
                                 host));
    if (req.has_header("Origin") && !origin_allowed(req.get_header_value("Origin"), options_.allowed_hosts, port_))
      return refusal(req, 403, "bad_origin",
                     fmt::format("Origin \"{}\" is not this server: requests from other sites are refused",
                                 req.get_header_value("Origin")));
    // The token, except for the open routes: the health probe (a load balancer carries no
    // secret, and it tells nothing but "up") and the dashboard's files; and, with wpm_compat, workerpoolmanager's routes for local
    // clients: its console sends no token.
    const bool wpm_local = options_.wpm_compat && req.peer.loopback && m.route && m.route->traits.wpm;
    if (!open && !wpm_local && !bearer_matches(req, options_.token)) {
      HttpResponse res = refusal(req, 401, "unauthorized",
                                 req.has_header("Authorization") ? "the bearer token is not this server's"
                                                                 : "this server needs Authorization: Bearer TOKEN");
      res.set_header("WWW-Authenticate", "Bearer realm=\"drover\"");
      return res;
    }
  }

  // Which route.
  if (!m.route) {
    if (m.allow.empty())
      return refusal(req, 404, "not_found", fmt::format("{} {}: no such route", req.method, req.path));
    HttpResponse res =
        refusal(req, 405, "method_not_allowed", fmt::format("{} {}: this path takes {}", req.method, req.path, m.allow));
    res.set_header("Allow", m.allow);
    return res;
  }
  if (m.route->traits.wpm_changes && !options_.wpm_compat)
    return refusal(req, 403, "wpm_compat_off",
                   fmt::format("{} {} is workerpoolmanager's, which changes state on a GET or a POST without a "
                               "JSON body: a web page can make a browser send one. Start drover with --wpm-compat "
                               "to answer it (and its routes then answer local clients without a token); or use "
                               "PATCH /api/v1/pools/NAME",
                               req.method, req.path));
  req.matches = m.groups;

  // The body: declared, its length; or chunked, then counted as it comes.
  const std::string length = req.get_header_value("Content-Length");
  uint64_t declared = 0;
  if (!length.empty()) {
    auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), declared);
    if (ec != std::errc() || end != length.data() + length.size())
      return refusal(req, 400, "bad_request", fmt::format("Content-Length \"{}\" is not a number", length));
    if (declared > kMaxBody)
      return refusal(req, 413, "too_large", fmt::format("a body of at most {} bytes", kMaxBody));
  }
  const bool has_body = declared > 0 || req.has_header("Transfer-Encoding");
  if (has_body && !m.route->traits.takes_body)
    return refusal(req, 400, "unexpected_body", fmt::format("{} {} takes no body", req.method, req.path));
  // A body is JSON, said so: a form or text/plain is what a cross-site page can send
  // without asking, and `curl -d` without the header learns here what to send.
  if (has_body && !is_json_type(req.get_header_value("Content-Type")))
    return refusal(req, 415, "unsupported_media_type",
                   "the body must be JSON, sent with Content-Type: application/json (got " +
                       req.get_header_value("Content-Type").substr(0, req.get_header_value("Content-Type").find(';')) + ")");
  return std::nullopt;
}

}  // namespace drover
