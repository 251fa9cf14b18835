#include "control/http_router.h"

#include <set>

namespace drover::http {

void HttpRouter::add(const std::string& method, const std::string& pattern, Handler handler, RouteTraits traits) {
  routes_.push_back(Route{method, pattern, std::regex(pattern), std::move(handler), traits});
}

HttpRouter::Match HttpRouter::match(const std::string& method, const std::string& path) const {
  Match m;
  const std::string& verb = method == "HEAD" ? std::string("GET") : method;
  std::set<std::string> verbs;
  std::smatch found;
  // The first route in registration order wins, as with httplib before: the table lists
  // the specific patterns where they overlap.
  for (const auto& r : routes_) {
    if (!std::regex_match(path, found, r.re)) continue;
    if (r.method == verb && !m.route) {
      m.route = &r;
      for (const auto& g : found) m.groups.push_back(g.str());
    }
    verbs.insert(r.method);
    if (r.method == "GET") verbs.insert("HEAD");
  }
  if (m.route) return m;
  for (const auto& v : verbs) m.allow += (m.allow.empty() ? "" : ", ") + v;
  return m;
}

}  // namespace drover::http
