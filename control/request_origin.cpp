#include "control/request_origin.h"

#include <arpa/inet.h>
#include <strings.h>

#include <algorithm>
#include <cctype>

namespace drover::http {

namespace {

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() <= 5 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// "name[:port]" or "[v6][:port]" -> name (brackets kept for v6) and port ("" when none).
// False when the form is broken.
bool split_host(const std::string& host, std::string& name, std::string& port) {
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string::npos) return false;
    name = host.substr(0, close + 1);
    const std::string rest = host.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':' || !all_digits(rest.substr(1))) return false;
    port = rest.substr(1);
    return true;
  }
  const size_t colon = host.find(':');
  name = host.substr(0, colon);
  if (colon == std::string::npos) return !name.empty();
  port = host.substr(colon + 1);
  return !name.empty() && all_digits(port);
}

bool is_ip_literal(const std::string& name) {
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
    in6_addr v6{};
    return inet_pton(AF_INET6, name.substr(1, name.size() - 2).c_str(), &v6) == 1;
  }
  in_addr v4{};
  return inet_pton(AF_INET, name.c_str(), &v4) == 1;
}

}  // namespace

bool host_allowed(const std::string& host, const std::vector<std::string>& allowed) {
  std::string name, port;
  if (!split_host(host, name, port)) return false;
  name = lower(name);
  if (is_ip_literal(name) || name == "localhost") return true;
  for (const auto& entry : allowed) {
    std::string allowed_name, allowed_port;
    if (!split_host(entry, allowed_name, allowed_port)) continue;
    if (lower(allowed_name) == name && (allowed_port.empty() || allowed_port == port)) return true;
  }
  return false;
}

bool origin_allowed(const std::string& origin, const std::vector<std::string>& allowed, int port) {
  constexpr std::string_view kScheme = "http://";
  if (origin.size() <= kScheme.size() || strncasecmp(origin.c_str(), kScheme.data(), kScheme.size()) != 0) return false;
  const std::string host = origin.substr(kScheme.size());
  std::string name, origin_port;
  if (!split_host(host, name, origin_port)) return false;
  return origin_port == std::to_string(port) && host_allowed(host, allowed);
}

}  // namespace drover::http
