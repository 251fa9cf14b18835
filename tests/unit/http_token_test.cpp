// http_token (issue 12): the token drover makes for itself - its modes, its reuse, a bad
// existing file refused rather than replaced, and where it goes without HOME.
#include <doctest/doctest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "app/http_token.h"
#include "tests/support/scoped_env.h"

using namespace drover;
using namespace drover::test;

namespace {

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("http_token: the path - XDG_STATE_HOME - else HOME - else the passwd home") {
  {
    ScopedEnv state("XDG_STATE_HOME", "/somewhere/state");
    CHECK(*default_http_token_path() == "/somewhere/state/drover/http-token");
  }
  ScopedEnv state("XDG_STATE_HOME", std::nullopt);
  {
    ScopedEnv home("HOME", "/home/op");
    CHECK(*default_http_token_path() == "/home/op/.local/state/drover/http-token");
  }
  ScopedEnv home("HOME", std::nullopt);
  auto path = default_http_token_path();
  const passwd* pw = getpwuid(geteuid());
  if (pw && pw->pw_dir && pw->pw_dir[0] == '/') {
    REQUIRE(path);
    CHECK(*path == std::string(pw->pw_dir) + "/.local/state/drover/http-token");
  } else {
    REQUIRE_FALSE(path);
    CHECK(path.error().message().find("--http-token-file") != std::string::npos);
  }
}

TEST_CASE("http_token: made when missing - 64 hex characters - directory 0700 - file 0600 - reused after") {
  ScratchDir dir;
  const std::string path = dir.path() + "/state/drover/http-token";
  CHECK(*read_http_token_if_present(path) == "");
  auto made = read_or_create_http_token(path);
  REQUIRE(made);
  CHECK(made->size() == 64);
  CHECK(made->find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(mode_of(dir.path() + "/state") == 0700);
  CHECK(mode_of(dir.path() + "/state/drover") == 0700);
  CHECK(mode_of(path) == 0600);
  // A restart: the same token, so the clients that have it keep working.
  CHECK(*read_or_create_http_token(path) == *made);
  CHECK(*read_http_token_if_present(path) == *made);
  // No temporary file left beside it.
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path() + "/state/drover"),
                      std::filesystem::directory_iterator()) == 1);
  // Another place: another token.
  auto other = read_or_create_http_token(dir.path() + "/other/http-token");
  REQUIRE(other);
  CHECK(*other != *made);
}

TEST_CASE("http_token: an existing file others may read is refused - and left as it is") {
  ScratchDir dir;
  REQUIRE(mkdir((dir.path() + "/drover").c_str(), 0700) == 0);
  const std::string path = dir.path() + "/drover/http-token";
  std::ofstream(path) << "an-old-token-of-the-operator\n";
  REQUIRE(chmod(path.c_str(), 0640) == 0);
  auto token = read_or_create_http_token(path);
  REQUIRE_FALSE(token);
  CHECK(token.error().message() == "drover's HTTP token: " + path +
                                       ": mode 0640 lets group or others read it; chmod 600 " + path);
  CHECK(mode_of(path) == 0640);
  std::ifstream in(path);
  std::string kept;
  in >> kept;
  CHECK(kept == "an-old-token-of-the-operator");
  auto read = read_http_token_if_present(path);
  CHECK_FALSE(read);
  // Fixed as the error says: used as it is.
  REQUIRE(chmod(path.c_str(), 0600) == 0);
  CHECK(*read_or_create_http_token(path) == "an-old-token-of-the-operator");
}

TEST_CASE("http_token: a directory others may write to is refused") {
  ScratchDir dir;
  const std::string drover_dir = dir.path() + "/drover";
  REQUIRE(mkdir(drover_dir.c_str(), 0700) == 0);
  REQUIRE(chmod(drover_dir.c_str(), 0777) == 0);
  auto token = read_or_create_http_token(drover_dir + "/http-token");
  REQUIRE_FALSE(token);
  CHECK(token.error().message().find("must be ours and writable by us only") != std::string::npos);
}
