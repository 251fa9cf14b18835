// HttpRouter: method + path pattern -> handler, one table for every listener.
//
// A path matches a route when the whole path matches its regex (std::regex_match). A
// known path asked with a verb none of its routes takes is a 405, with the verbs it does
// take in Allow; a path no route knows is a 404. HEAD is answered by the GET route.
//
// Routes are added before serving starts and the table is read-only afterwards, so
// lookups from the server's threads need no lock.
#pragma once

#include <functional>
#include <regex>
#include <string>
#include <vector>

#include "control/http_request.h"

namespace drover::http {

using Handler = std::function<void(const HttpRequest&, HttpResponse&)>;

// What a route takes and who may call it, checked on the request's headers before any
// body byte is read (HttpControl's admission).
struct RouteTraits {
  bool takes_body = false;  // a JSON body; otherwise a body is refused unread
  bool wpm = false;         // one of workerpoolmanager's routes (/tasks, /list)
  bool wpm_changes = false; // ... one that changes state (start, stop, set, DELETE)
  // Answers GET without the token: /healthz and the dashboard's files, which hold no
  // data (the page asks for the token and sends it with every API request it makes).
  bool open = false;
};

struct Route {
  std::string method, pattern;
  std::regex re;
  Handler handler;
  RouteTraits traits;
};

class HttpRouter {
 public:
  void add(const std::string& method, const std::string& pattern, Handler handler, RouteTraits traits = {});

  struct Match {
    const Route* route = nullptr;      // set when found
    std::vector<std::string> groups;   // [0] the whole path, then the regex's groups
    std::string allow;                 // a known path's verbs ("GET, HEAD, POST") when the verb is wrong
  };
  // route set: found. Otherwise allow non-empty: 405; empty: 404.
  Match match(const std::string& method, const std::string& path) const;

 private:
  std::vector<Route> routes_;
};

}  // namespace drover::http
