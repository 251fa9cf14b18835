#include <doctest/doctest.h>

#include "autoscale/redis_probe.h"

using namespace drover;

namespace {

RedisAddress parsed(const std::string& url) {
  auto r = parse_redis_url(url);
  INFO(url, ": ", r ? "" : r.error().message());
  REQUIRE(r);
  return *r;
}

// The error parse_redis_url gives for url ("" when it parses).
std::string url_error(const std::string& url) {
  auto r = parse_redis_url(url);
  return r ? "" : r.error().message();
}

std::string key_of(QueueLayout layout, const std::string& name, const std::string& ns = "resque") {
  RedisQueueSpec spec;
  spec.layout = layout;
  spec.name = name;
  spec.ns = ns;
  return redis_queue_key(spec);
}

std::string probe_error(const RedisQueueSpec& spec) {
  auto r = make_redis_probe(spec);
  return r ? "" : r.error().message();
}

}  // namespace

TEST_CASE("redis url: host, port and db, with their defaults") {
  RedisAddress a = parsed("redis://10.0.0.5:6380/3");
  CHECK(a.host == "10.0.0.5");
  CHECK(a.port == 6380);
  CHECK(a.db == 3);
  CHECK(a.unix_path.empty());
  CHECK(a.user.empty());
  CHECK(a.password.empty());

  RedisAddress d = parsed("redis://cache.internal");
  CHECK(d.host == "cache.internal");
  CHECK(d.port == 6379);
  CHECK(d.db == 0);
  CHECK(parsed("redis://h/").db == 0);
  CHECK(parsed("redis://h/15").db == 15);
  CHECK(parsed("redis://h:1").port == 1);
  CHECK(parsed("redis://h:65535").port == 65535);

  RedisAddress v6 = parsed("redis://[::1]:7000/2");
  CHECK(v6.host == "::1");
  CHECK(v6.port == 7000);
  CHECK(v6.db == 2);
  CHECK(parsed("redis://[fe80::1]").port == 6379);
}

TEST_CASE("redis url: password, user and percent-decoding") {
  RedisAddress p = parsed("redis://:s3cret@127.0.0.1:6379/1");
  CHECK(p.user.empty());
  CHECK(p.password == "s3cret");
  CHECK(p.host == "127.0.0.1");
  CHECK(p.db == 1);

  RedisAddress u = parsed("redis://alice:wonder%40land%2F%25@host");
  CHECK(u.user == "alice");
  CHECK(u.password == "wonder@land/%");
  CHECK(u.host == "host");

  // An unescaped '@' or '/' in the password: the userinfo ends at the last '@'.
  RedisAddress raw = parsed("redis://:p@ss/w0rd@host:6390/4");
  CHECK(raw.password == "p@ss/w0rd");
  CHECK(raw.host == "host");
  CHECK(raw.port == 6390);
  CHECK(raw.db == 4);

  CHECK(parsed("redis://b%C3%B6b:x+y@h").user == "b\xc3\xb6" "b");
  CHECK(parsed("redis://b:x+y@h").password == "x+y");  // '+' is not a space in a URL
}

TEST_CASE("redis url: unix sockets, with db and password as parameters") {
  RedisAddress a = parsed("unix:///run/redis/redis.sock");
  CHECK(a.unix_path == "/run/redis/redis.sock");
  CHECK(a.db == 0);
  RedisAddress b = parsed("unix:///tmp/r.sock?db=7&password=p%26w&user=bob");
  CHECK(b.unix_path == "/tmp/r.sock");
  CHECK(b.db == 7);
  CHECK(b.password == "p&w");
  CHECK(b.user == "bob");
}

TEST_CASE("redis url: errors name the bad part and never echo the password") {
  CHECK(url_error("redis://h:70000") == "redis URL: port 70000 out of range (1-65535)");
  CHECK(url_error("redis://h:0") == "redis URL: port 0 out of range (1-65535)");
  CHECK(url_error("redis://h:99999999999999999999") ==
        "redis URL: port 99999999999999999999 out of range (1-65535)");
  CHECK(url_error("redis://h:abc") == "redis URL: port 'abc' is not a number");
  CHECK(url_error("redis://h:-1") == "redis URL: port '-1' is not a number");
  CHECK(url_error("redis://h:") == "redis URL: empty port after ':'");
  CHECK(url_error("redis://h/zero") == "redis URL: db 'zero' is not a number");
  CHECK(url_error("redis://h/1/2") == "redis URL: db '1/2' is not a number");
  CHECK(url_error("redis://h/-2") == "redis URL: db '-2' is not a number");
  CHECK(url_error("redis://h/0?x=1") == "redis URL: db '0?x=1' is not a number");
  CHECK(url_error("redis://:6379/0") == "redis URL: no host (redis://HOST[:PORT][/DB])");
  CHECK(url_error("redis://") == "redis URL: no host (redis://HOST[:PORT][/DB])");
  CHECK(url_error("redis://[::1:6379") == "redis URL: '[' of an IPv6 host without its ']'");
  CHECK(url_error("redis://[::1]x") == "redis URL: 'x' after the IPv6 host (expected :PORT)");
  CHECK(url_error("http://h:6379") == "redis URL: unknown scheme 'http://' (redis:// or unix://)");
  CHECK(url_error("rediss://h") == "redis URL: rediss:// (TLS) is not supported; use redis:// or unix://");
  CHECK(url_error("localhost:6379") == "redis URL: no scheme (redis://HOST[:PORT][/DB] or unix:///PATH)");
  CHECK(url_error("redis://alice@h") ==
        "redis URL: user 'alice' without a password (redis://user:PASSWORD@host, or redis://:PASSWORD@host)");
  CHECK(url_error("redis://:pa%zzss@h") ==
        "redis URL: bad percent-escape in the password (%XX with two hex digits)");
  CHECK(url_error("redis://:pass%4@h") ==
        "redis URL: bad percent-escape in the password (%XX with two hex digits)");
  CHECK(url_error("redis://u%:p@h") == "redis URL: bad percent-escape in the user (%XX with two hex digits)");
  CHECK(url_error("unix://relative.sock") == "redis URL: a unix socket needs an absolute path (unix:///path/to/sock)");
  CHECK(url_error("unix://") == "redis URL: a unix socket needs an absolute path (unix:///path/to/sock)");
  CHECK(url_error("unix:///s?db=x") == "redis URL: db 'x' is not a number");
  CHECK(url_error("unix:///s?pw=x") == "redis URL: unknown parameter 'pw' (db, password or user)");
  CHECK(url_error("unix:///s?user=bob") == "redis URL: user 'bob' without a password");
  CHECK(url_error("unix:///" + std::string(120, 'a')) ==
        "redis URL: unix socket path too long (121 bytes, at most 107)");
  // A bad part after the password is reported without the password.
  CHECK(url_error("redis://:hunter2@h:bad").find("hunter2") == std::string::npos);
}

TEST_CASE("redis layouts: names both ways, and the key each keeps waiting jobs in") {
  for (const char* name : {"resque", "rq", "sidekiq", "celery", "key"}) {
    auto l = queue_layout_from_name(name);
    REQUIRE(l);
    CHECK(std::string(queue_layout_name(*l)) == name);
  }
  auto bad = queue_layout_from_name("bull");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message() == "unknown queue layout 'bull' (resque, rq, sidekiq, celery or key)");

  CHECK(key_of(QueueLayout::kResque, "high") == "resque:queue:high");
  CHECK(key_of(QueueLayout::kResque, "high", "myapp") == "myapp:queue:high");
  CHECK(key_of(QueueLayout::kRq, "default") == "rq:queue:default");
  CHECK(key_of(QueueLayout::kSidekiq, "mailers") == "queue:mailers");
  CHECK(key_of(QueueLayout::kCelery, "celery") == "celery");
  CHECK(key_of(QueueLayout::kKey, "jobs:pending") == "jobs:pending");
}

TEST_CASE("redis probe: the spec is checked up front; describe() shows no password") {
  RedisQueueSpec spec;
  spec.url = "redis://ops:hunter2@10.1.2.3:6381/5";
  spec.layout = QueueLayout::kRq;
  spec.name = "default";
  auto probe = make_redis_probe(spec);
  REQUIRE(probe);
  CHECK((*probe)->describe() == "redis://ops@10.1.2.3:6381/5 rq:queue:default");

  spec.url = "redis://:hunter2@[::1]:6379/0";
  spec.layout = QueueLayout::kKey;
  spec.name = "q";
  CHECK((*make_redis_probe(spec))->describe() == "redis://[::1]:6379/0 q");
  spec.url = "unix:///tmp/r.sock?db=2&password=hunter2";
  CHECK((*make_redis_probe(spec))->describe() == "unix:///tmp/r.sock?db=2 q");

  spec.url = "redis://h:70000";
  CHECK(probe_error(spec) == "redis URL: port 70000 out of range (1-65535)");
  spec.url = "redis://h";
  spec.name = "";
  CHECK(probe_error(spec) == "redis probe: empty queue name");
  spec.name = "q";
  spec.layout = QueueLayout::kResque;
  spec.ns = "";
  CHECK(probe_error(spec) == "redis probe: empty resque namespace");
  spec.ns = "resque";
  spec.timeout_s = 0;
  CHECK(probe_error(spec) == "redis probe: timeout 0 s out of range (0, 3600]");
  spec.timeout_s = -1;
  CHECK(probe_error(spec) == "redis probe: timeout -1 s out of range (0, 3600]");
  spec.timeout_s = 0.25;
  CHECK(probe_error(spec) == "");
}
