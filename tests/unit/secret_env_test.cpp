// secret_env: which pool env values the control plane masks by default.
#include <doctest/doctest.h>

#include "control/secret_env.h"

using namespace drover;

TEST_CASE("secret env: names that hold secrets, and names that do not") {
  for (const char* name : {"DB_PASSWORD", "password", "MYSQL_PWD_PASSWD", "api-key", "AWS_SECRET_ACCESS_KEY",
                           "SENTRY_DSN", "GITHUBTOKEN", "DROVER_HTTP_TOKEN", "Redis.Pass", "SECRET", "APIKEY",
                           "GOOGLE_APPLICATION_CREDENTIALS", "SESSION_COOKIE", "PRIVATE_KEY_PEM", "BASIC_AUTH"})
    CHECK_MESSAGE(is_secret_env_name(name), name);
  for (const char* name : {"PATH", "PWD", "KEYBOARD_LAYOUT", "PASSAGE", "QUEUE", "RACK_ENV", "MODE", "COMPASS_DIR",
                           "AUTHOR", "TOKENIZER_THREADS", ""})
    CHECK_FALSE_MESSAGE(is_secret_env_name(name), name);
}

TEST_CASE("secret env: values shown - a secret masked - a URL's password masked - the rest as is") {
  CHECK(shown_env_value("DB_PASSWORD", "hunter2") == kRedacted);
  CHECK(shown_env_value("DB_PASSWORD", "") == "");  // nothing to hide, and says it is unset
  CHECK(shown_env_value("REDIS_URL", "redis://:hunter2@cache:6379/0") == std::string("redis://:") + kRedacted + "@cache:6379/0");
  CHECK(shown_env_value("DATABASE_URL", "postgres://app:hunter2@db/app?sslmode=require") ==
        std::string("postgres://app:") + kRedacted + "@db/app?sslmode=require");
  CHECK(shown_env_value("BROKER", "redis://cache:6379/0") == "redis://cache:6379/0");  // no password
  CHECK(shown_env_value("HOME_PAGE", "http://example.com/a@b:c") == "http://example.com/a@b:c");  // '@' in the path
  CHECK(shown_env_value("UPSTREAM", "http://user@host:8080/") == "http://user@host:8080/");  // a user, no password
  CHECK(shown_env_value("MODE", "fast") == "fast");
}

TEST_CASE("secret env: redact_secrets masks every pool's secrets and leaves the rest of the snapshot") {
  EngineSnapshot snap;
  PoolSnapshot p;
  p.spec.name = "web";
  p.spec.env = {{"DB_PASSWORD", "hunter2"}, {"MODE", "fast"}};
  p.target = 3;
  snap.pools = {p, p};
  snap.pools[1].spec.name = "jobs";
  redact_secrets(snap);
  for (const auto& pool : snap.pools) {
    CHECK(pool.spec.env.at("DB_PASSWORD") == kRedacted);
    CHECK(pool.spec.env.at("MODE") == "fast");
    CHECK(pool.target == 3);
  }
}
