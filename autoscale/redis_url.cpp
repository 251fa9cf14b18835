// The pure half of redis_probe.h: URLs, layout names and key names. No I/O here, so the
// unit tests cover all of it without a server.
//
// Error messages quote the part that is wrong, never the whole URL: the URL may hold a
// password, and errors end up in logs.
#include <sys/un.h>

#include <cctype>
#include <charconv>
#include <climits>

#include <fmt/format.h>

#include "autoscale/redis_probe.h"

namespace drover {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 percent-decoding, for user and password ("p%40ss" is "p@ss"). '+' stays '+':
// that is form encoding, not URL encoding.
Result<std::string> percent_decode(const std::string& s, const char* what) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    int hi = i + 1 < s.size() ? hex_value(s[i + 1]) : -1;
    int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
    if (hi < 0 || lo < 0)
      return Status::invalid(fmt::format("redis URL: bad percent-escape in the {} (%XX with two hex digits)", what));
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// A decimal number in [lo, hi]; `what` names it in the error ("port", "db").
Result<int> parse_bounded(const std::string& s, const char* what, long lo, long hi) {
  long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec == std::errc::invalid_argument || end != s.data() + s.size() || s[0] == '-')
    return Status::invalid(fmt::format("redis URL: {} '{}' is not a number", what, s));
  if (ec == std::errc::result_out_of_range || v < lo || v > hi)
    return Status::invalid(fmt::format("redis URL: {} {} out of range ({}-{})", what, s, lo, hi));
  return static_cast<int>(v);
}

// "user:password" (either may be empty). A user alone is refused: AUTH needs a password,
// and a silently ignored user would only surface later as NOAUTH.
Status parse_userinfo(const std::string& info, RedisAddress& addr) {
  size_t colon = info.find(':');
  if (colon == std::string::npos)
    return Status::invalid(fmt::format(
        "redis URL: user '{}' without a password (redis://user:PASSWORD@host, or redis://:PASSWORD@host)", info));
  auto user = percent_decode(info.substr(0, colon), "user");
  if (!user) return user.error();
  auto password = percent_decode(info.substr(colon + 1), "password");
  if (!password) return password.error();
  addr.user = std::move(*user);
  addr.password = std::move(*password);
  return Status::ok();
}

// After "redis://": [[user]:password@]host[:port][/db]. The password may hold '/' or '@'
// when its writer forgot to escape them, so the userinfo ends at the last '@'.
Result<RedisAddress> parse_tcp(std::string rest) {
  RedisAddress addr;
  if (size_t at = rest.rfind('@'); at != std::string::npos) {
    if (Status st = parse_userinfo(rest.substr(0, at), addr); !st) return st;
    rest.erase(0, at + 1);
  }
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "" : rest.substr(slash + 1);
  std::string port_text;
  if (!hostport.empty() && hostport[0] == '[') {  // [::1]:6379
    size_t close = hostport.find(']');
    if (close == std::string::npos) return Status::invalid("redis URL: '[' of an IPv6 host without its ']'");
    addr.host = hostport.substr(1, close - 1);
    std::string after = hostport.substr(close + 1);
    if (!after.empty() && after[0] != ':')
      return Status::invalid(fmt::format("redis URL: '{}' after the IPv6 host (expected :PORT)", after));
    if (after == ":") return Status::invalid("redis URL: empty port after ':'");
    if (!after.empty()) port_text = after.substr(1);
  } else {
    size_t colon = hostport.find(':');
    addr.host = hostport.substr(0, colon);
    if (colon != std::string::npos) {
      port_text = hostport.substr(colon + 1);
      if (port_text.empty()) return Status::invalid("redis URL: empty port after ':'");
    }
  }
  if (addr.host.empty()) return Status::invalid("redis URL: no host (redis://HOST[:PORT][/DB])");
  if (!port_text.empty()) {
    auto port = parse_bounded(port_text, "port", 1, 65535);
    if (!port) return port.error();
    addr.port = *port;
  }
  if (!path.empty()) {
    auto db = parse_bounded(path, "db", 0, INT_MAX);
    if (!db) return db.error();
    addr.db = *db;
  }
  return addr;
}

// After "unix://": /path/to/sock[?db=N&password=P&user=U]. A socket path holds no '?'
// in practice, so the first '?' starts the query.
Result<RedisAddress> parse_unix(const std::string& rest) {
  RedisAddress addr;
  size_t q = rest.find('?');
  addr.unix_path = rest.substr(0, q);
  if (addr.unix_path.size() < 2 || addr.unix_path[0] != '/')
    return Status::invalid("redis URL: a unix socket needs an absolute path (unix:///path/to/sock)");
  if (addr.unix_path.size() >= sizeof(sockaddr_un::sun_path))
    return Status::invalid(fmt::format("redis URL: unix socket path too long ({} bytes, at most {})",
                                       addr.unix_path.size(), sizeof(sockaddr_un::sun_path) - 1));
  std::string query = q == std::string::npos ? "" : rest.substr(q + 1);
  size_t pos = 0;
  while (pos < query.size()) {
    size_t amp = query.find('&', pos);
    std::string param = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    pos = amp == std::string::npos ? query.size() : amp + 1;
    size_t eq = param.find('=');
    std::string key = param.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : param.substr(eq + 1);
    if (key == "db") {
      auto db = parse_bounded(value, "db", 0, INT_MAX);
      if (!db) return db.error();
      addr.db = *db;
    } else if (key == "password" || key == "user") {
      auto decoded = percent_decode(value, key.c_str());
      if (!decoded) return decoded.error();
      (key == "user" ? addr.user : addr.password) = std::move(*decoded);
    } else {
      return Status::invalid(fmt::format("redis URL: unknown parameter '{}' (db, password or user)", key));
    }
  }
  if (!addr.user.empty() && addr.password.empty())
    return Status::invalid(fmt::format("redis URL: user '{}' without a password", addr.user));
  return addr;
}

}  // namespace

Result<QueueLayout> queue_layout_from_name(const std::string& name) {
  for (QueueLayout l : {QueueLayout::kResque, QueueLayout::kRq, QueueLayout::kSidekiq, QueueLayout::kCelery,
                        QueueLayout::kKey})
    if (name == queue_layout_name(l)) return l;
  return Status::invalid(fmt::format("unknown queue layout '{}' (resque, rq, sidekiq, celery or key)", name));
}

const char* queue_layout_name(QueueLayout layout) {
  switch (layout) {
    case QueueLayout::kResque: return "resque";
    case QueueLayout::kRq: return "rq";
    case QueueLayout::kSidekiq: return "sidekiq";
    case QueueLayout::kCelery: return "celery";
    case QueueLayout::kKey: return "key";
  }
  return "?";
}

Result<RedisAddress> parse_redis_url(const std::string& url) {
  if (url.starts_with("redis://")) return parse_tcp(url.substr(8));
  if (url.starts_with("unix://")) return parse_unix(url.substr(7));
  if (url.starts_with("rediss://"))
    return Status::invalid("redis URL: rediss:// (TLS) is not supported; use redis:// or unix://");
  size_t sep = url.find("://");
  if (sep == std::string::npos)
    return Status::invalid("redis URL: no scheme (redis://HOST[:PORT][/DB] or unix:///PATH)");
  return Status::invalid(fmt::format("redis URL: unknown scheme '{}://' (redis:// or unix://)", url.substr(0, sep)));
}

std::string redis_queue_key(const RedisQueueSpec& spec) {
  switch (spec.layout) {
    case QueueLayout::kResque: return spec.ns + ":queue:" + spec.name;
    case QueueLayout::kRq: return "rq:queue:" + spec.name;
    case QueueLayout::kSidekiq: return "queue:" + spec.name;
    case QueueLayout::kCelery:
    case QueueLayout::kKey: return spec.name;
  }
  return spec.name;
}

}  // namespace drover
