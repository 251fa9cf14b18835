// request_origin: which Host and Origin headers a TCP request may carry (the DNS rebinding
// and cross-site guards), without a server.
#include <doctest/doctest.h>

#include "control/request_origin.h"

using namespace drover::http;

TEST_CASE("request_origin: Host - IP literals, localhost and allowed names - with or without a port") {
  const std::vector<std::string> none;
  for (const char* ok : {"127.0.0.1", "127.0.0.1:8010", "10.0.0.7:80", "[::1]", "[::1]:8010", "[fe80::1]:1",
                         "localhost", "LocalHost:8010"})
    CHECK_MESSAGE(host_allowed(ok, none), ok);
  for (const char* bad : {"evil.example", "evil.example:8010", "localhost.evil.example", "127.0.0.1.nip.io", "",
                          ":8010", "::1", "[::1", "[::1]x", "127.0.0.1:80x", "127.0.0.1:", "[not-v6]:1",
                          "localhost:8010:1", "1.2.3.4.5"})
    CHECK_FALSE_MESSAGE(host_allowed(bad, none), bad);
  const std::vector<std::string> allowed{"drover.internal", "Proxy.Example:8443"};
  CHECK(host_allowed("drover.internal", allowed));
  CHECK(host_allowed("DROVER.internal:9000", allowed));  // no port in the entry: any port
  CHECK(host_allowed("proxy.example:8443", allowed));
  CHECK_FALSE(host_allowed("proxy.example", allowed));  // a port in the entry: that port only
  CHECK_FALSE(host_allowed("proxy.example:8444", allowed));
  CHECK_FALSE(host_allowed("sub.drover.internal", allowed));
}

TEST_CASE("request_origin: Origin - only this server - scheme, host form and port all checked") {
  const std::vector<std::string> allowed{"drover.internal"};
  for (const char* ok : {"http://127.0.0.1:8010", "http://localhost:8010", "http://[::1]:8010", "HTTP://localhost:8010",
                         "http://drover.internal:8010"})
    CHECK_MESSAGE(origin_allowed(ok, allowed, 8010), ok);
  for (const char* bad : {"http://evil.example:8010", "http://127.0.0.1", "http://127.0.0.1:8011", "https://127.0.0.1:8010",
                          "null", "", "http://", "http://localhost:8010/", "file://", "http://drover.internal.evil:8010"})
    CHECK_FALSE_MESSAGE(origin_allowed(bad, allowed, 8010), bad);
}
