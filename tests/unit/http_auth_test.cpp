// http_auth: the token's compare, its file's checks, and which hosts count as loopback.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "control/http_auth.h"

using namespace drover;

namespace {

struct TokenFile {
  std::string path;
  TokenFile(const std::string& text, mode_t mode) {
    char tmpl[] = "/tmp/drover-token-XXXXXX";
    int fd = mkstemp(tmpl);
    REQUIRE(fd >= 0);
    close(fd);
    path = tmpl;
    std::ofstream(path) << text;
    REQUIRE(chmod(path.c_str(), mode) == 0);
  }
  ~TokenFile() { unlink(path.c_str()); }
};

}  // namespace

TEST_CASE("http_auth: constant_time_equal is equality - lengths and positions") {
  CHECK(constant_time_equal("abcdef0123456789", "abcdef0123456789"));
  CHECK_FALSE(constant_time_equal("abcdef012345678", "abcdef0123456789"));   // a prefix
  CHECK_FALSE(constant_time_equal("abcdef01234567890", "abcdef0123456789"));  // one more
  CHECK_FALSE(constant_time_equal("Abcdef0123456789", "abcdef0123456789"));
  CHECK_FALSE(constant_time_equal("abcdef0123456788", "abcdef0123456789"));
  CHECK_FALSE(constant_time_equal("", "abcdef0123456789"));
  CHECK_FALSE(constant_time_equal(std::string("abc\0def", 7), "abc"));
  CHECK(constant_time_equal("", ""));
}

TEST_CASE("http_auth: a token file - trimmed - refused when others may read it - too short - not a file") {
  const std::string token = "0123456789abcdef0123456789abcdef";
  {
    TokenFile f(token + "\n", 0600);
    auto t = read_token_file(f.path);
    REQUIRE(t);
    CHECK(*t == token);
  }
  {
    TokenFile f(token, 0400);
    CHECK(read_token_file(f.path));
  }
  for (mode_t mode : {0640, 0604, 0644, 0660}) {
    TokenFile f(token, mode);
    auto t = read_token_file(f.path);
    REQUIRE_FALSE(t);
    CHECK(t.error().message().find("lets group or others read it; chmod 600 " + f.path) != std::string::npos);
    CHECK(t.error().message().find(token) == std::string::npos);
  }
  {
    TokenFile f("short\n", 0600);
    auto t = read_token_file(f.path);
    REQUIRE_FALSE(t);
    CHECK(t.error().message() == "--http-token-file " + f.path +
                                     ": the token is shorter than 16 characters (try `openssl rand -hex 32`)");
  }
  {
    TokenFile f("0123456789 abcdef0123\n", 0600);
    CHECK_FALSE(read_token_file(f.path));
  }
  CHECK(read_token_file("/nonexistent/token").error().message() ==
        "--http-token-file /nonexistent/token: No such file or directory");
  CHECK(read_token_file("/tmp").error().message() == "--http-token-file /tmp: not a regular file");
}

TEST_CASE("http_auth: DROVER_HTTP_TOKEN is taken out of the environment") {
  setenv(kHttpTokenEnv, "from-the-environment-0123", 1);
  auto t = take_token_from_environment();
  REQUIRE(t);
  CHECK(*t == "from-the-environment-0123");
  CHECK(std::getenv(kHttpTokenEnv) == nullptr);
  CHECK_FALSE(take_token_from_environment());
}

TEST_CASE("http_auth: loopback hosts") {
  for (const char* h : {"127.0.0.1", "127.1.2.3", "::1", "localhost"}) CHECK(is_loopback_host(h));
  for (const char* h : {"0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "example.com", "", "127.0.0.1.example.com"})
    CHECK_FALSE(is_loopback_host(h));
}
