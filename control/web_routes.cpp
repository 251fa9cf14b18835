// The dashboard (web/): GET / is its page, GET /ui/FILE its script and style, embedded in
// the binary (control/web_assets.h). They are open routes: the files hold no data, and
// the page asks for the token, keeps it in the tab's sessionStorage and sends it as
// `Authorization: Bearer` with each API request, never in a URL.
//
// The headers keep the page to itself: its scripts and styles come only from this server
// (no inline script, so an injected tag cannot run), it connects only here, and no other
// site may frame it (clickjacking). State changes are API requests with a bearer header
// and a JSON body, which a cross-site page cannot make a browser send (admission also
// refuses a foreign Origin).
#include <fmt/format.h>

#include "control/http_control.h"
#include "control/http_reply.h"
#include "control/web_assets.h"

namespace drover {

using namespace http;

namespace {

void send_asset(const WebAsset& a, HttpResponse& res) {
  res.set_content(std::string(a.body), std::string(a.content_type));
  res.set_header("Content-Security-Policy",
                 "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                 "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  // Small and built into the binary: a new drover must not be shown an old page.
  res.set_header("Cache-Control", "no-cache");
}

}  // namespace

void HttpControl::web_routes() {
  constexpr RouteTraits kOpen{.open = true};
  on("GET", "/", [](const HttpRequest&, HttpResponse& res) { send_asset(*find_web_asset("index.html"), res); }, kOpen);
  on("GET", R"(/ui/([A-Za-z0-9_.-]+))", [](const HttpRequest& req, HttpResponse& res) {
    const WebAsset* a = find_web_asset(req.matches[1]);
    if (!a) return fail(req, res, 404, "not_found", fmt::format("no dashboard file \"{}\"", std::string(req.matches[1])));
    send_asset(*a, res);
  }, kOpen);
}

}  // namespace drover
