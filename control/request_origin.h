// Where a TCP request says it is going (Host) and where it comes from (Origin): the
// guards against DNS rebinding and cross-site requests from a browser.
//
// A web page can make a browser send requests to 127.0.0.1:8010 (a cross-site form POST
// needs no CORS permission), or rebind its own name to 127.0.0.1 so its scripts read the
// answers. Either way the browser sends the page's name: as Host after a rebinding, as
// Origin on a cross-site request. So drover answers only Hosts that are addresses
// (what a rebinding cannot produce), localhost, or names it was told to allow, and
// refuses any Origin that is not itself.
#pragma once

#include <string>
#include <vector>

namespace drover::http {

// Host: an IPv4 literal, a bracketed IPv6 literal, "localhost", or a name in `allowed`,
// each with or without ":port". An entry of `allowed` with a port matches that port only.
// Names compare without case.
bool host_allowed(const std::string& host, const std::vector<std::string>& allowed);

// Origin: "http://" + a host host_allowed() takes + ":" + our port ("http://127.0.0.1:8010").
// Anything else, "null" included, is refused.
bool origin_allowed(const std::string& origin, const std::vector<std::string>& allowed, int port);

}  // namespace drover::http
