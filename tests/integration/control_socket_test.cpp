// The access model end to end, with the real binary: every drover serves its API on a
// control socket only its owner can reach; `drover attach` finds it with no address, by
// PID or by path; another local user (nobody) reaches neither the socket nor, without the
// token, the TCP listener; secrets in pool env are masked unless asked for.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/as_user.h"
#include "tests/support/drover_process.h"
#include "tests/support/test_util.h"

using namespace drover::test;
using nlohmann::json;

namespace {

std::string pools_lua(int n) {
  return fmt::format("pool 'a' {{ cmd = {{ '{}', 'sleep' }}, n = {}, env = {{ DB_PASSWORD = 'hunter2', "
                     "REDIS_URL = 'redis://:s3cret@cache:6379/0', MODE = 'fast' }} }}\n",
                     fake_worker_path(), n);
}

struct Attach {
  int rc = -1;
  std::string out;
};

// `drover attach ARGS...` with no token anywhere in its environment.
Attach attach(const TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), "attach");
  DroverProcess p(args, dir.file("attach.err"), {}, {"DROVER_HTTP_TOKEN"});
  Attach a;
  a.rc = p.wait_exit(15s);
  a.out = read_file(dir.file("attach.err.out")) + read_file(dir.file("attach.err"));
  return a;
}

// connect(2) to a unix socket: 0, or the errno.
int connect_unix(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  const int rc = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
  close(fd);
  return rc;
}

}  // namespace

TEST_CASE("control socket: every drover serves one - 0600 in a 0700 directory - attach finds it by no address, PID or path") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua(1));
  DroverProcess host({dir.file("pools.lua"), "--no-shell", "-q"}, dir.file("host.err"));  // no --http
  const std::string instance = host.runtime_base() + "/" + std::to_string(host.pid());
  const std::string sock = instance + "/control.sock";
  REQUIRE(wait_until([&] { return std::filesystem::exists(sock); }, 5s));
  struct stat st {};
  REQUIRE(stat(sock.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(stat(instance.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  REQUIRE(wait_until([&] { return host.workers().size() == 1; }, 5s));

  for (const std::vector<std::string>& how :
       {std::vector<std::string>{}, {std::to_string(host.pid())}, {sock}}) {
    std::vector<std::string> args = how;
    args.insert(args.end(), {"-e", "status().pools.a.n"});
    Attach a = attach(dir, args);
    CHECK_MESSAGE(a.rc == 0, a.out);
    CHECK(a.out == "1\n");
  }
  Attach resize = attach(dir, {"-e", "config{a = 2}"});
  CHECK(resize.rc == 0);
  CHECK(wait_until([&] { return host.workers().size() == 2; }, 5s));

  // Another local user cannot reach it: the 0700 directory and the 0600 socket stop the connect.
  auto nobody = run_as_nobody([&](std::string& out) {
    out = std::strerror(connect_unix(sock));
    return connect_unix(sock) == EACCES ? 0 : 1;
  });
  CHECK_MESSAGE(nobody.exit_code == 0, nobody.out);

  host.signal(SIGTERM);
  CHECK(host.wait_exit(10s) == 0);
  CHECK_FALSE(std::filesystem::exists(instance));  // removed with the rest of its runtime directory
}

TEST_CASE("control socket: nobody gets nothing from TCP without the token - the owner sees secrets only with ?secrets=1") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua(1));
  DroverProcess host({dir.file("pools.lua"), "--no-shell", "-q", "--http", "127.0.0.1:0"}, dir.file("host.err"),
                     {}, {"DROVER_HTTP_TOKEN"});
  const int port = host.http_port();
  REQUIRE(port > 0);
  const std::string token = host.http_token();
  REQUIRE(token.size() == 64);
  const std::string token_path = dir.path() + "/drover/http-token";  // beside ERR (DroverProcess)

  // As nobody: no token, so no snapshot, no pool, no change; /healthz alone answers.
  auto nobody = run_as_nobody([&](std::string& out) {
    httplib::Client c("127.0.0.1", port);
    int failures = 0;
    for (const char* path : {"/api/v1/snapshot", "/api/v1/pools/a", "/metrics"}) {
      auto r = c.Get(path);
      if (!r || r->status != 401) {
        ++failures;
        out += fmt::format("{}: {}\n", path, r ? r->status : -1);
      }
      if (r && r->body.find("hunter2") != std::string::npos) ++failures;
    }
    auto patch = c.Patch("/api/v1/pools/a", R"({"n": 0})", "application/json");
    if (!patch || patch->status != 401) ++failures;
    auto health = c.Get("/healthz");
    if (!health || health->status != 200) ++failures;
    // Nor can it read the token drover made: the file is the owner's alone.
    if (FILE* f = std::fopen(token_path.c_str(), "r")) {
      std::fclose(f);
      ++failures;
      out += "read the token file\n";
    }
    return failures;
  });
  CHECK_MESSAGE(nobody.exit_code == 0, nobody.out);
  CHECK(host.counts()["a"] == 1);

  // The owner, with the token: secrets masked by default, shown when asked for.
  httplib::Client c("127.0.0.1", port);
  c.set_bearer_token_auth(token.c_str());
  auto r = c.Get("/api/v1/snapshot");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  CHECK(r->body.find("hunter2") == std::string::npos);
  CHECK(r->body.find("s3cret") == std::string::npos);
  json env = json::parse(r->body)["pools"][0]["spec"]["env"];
  CHECK(env["DB_PASSWORD"] == "(redacted)");
  CHECK(env["REDIS_URL"] == "redis://:(redacted)@cache:6379/0");
  CHECK(env["MODE"] == "fast");
  auto asked = c.Get("/api/v1/snapshot?secrets=1");
  REQUIRE(asked);
  CHECK(json::parse(asked->body)["pools"][0]["spec"]["env"]["DB_PASSWORD"] == "hunter2");
  host.signal(SIGTERM);
  CHECK(host.wait_exit(10s) == 0);
}

TEST_CASE("control socket: --http-host names the host clients may use - any other name is refused (DNS rebinding)") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua(1));
  DroverProcess host({dir.file("pools.lua"), "--no-shell", "-q", "--http", "127.0.0.1:0", "--http-host", "drover.example"},
                     dir.file("host.err"), {}, {"DROVER_HTTP_TOKEN"});
  const int port = host.http_port();
  REQUIRE(port > 0);
  httplib::Client c("127.0.0.1", port);
  c.set_bearer_token_auth(host.http_token().c_str());
  auto named = c.Get("/api/v1/pools", {{"Host", fmt::format("drover.example:{}", port)}});
  REQUIRE(named);
  CHECK(named->status == 200);
  auto other = c.Get("/api/v1/pools", {{"Host", fmt::format("rebound.example:{}", port)}});
  REQUIRE(other);
  CHECK(other->status == 421);
  auto ip = c.Get("/api/v1/pools");  // httplib sends Host: 127.0.0.1:PORT
  REQUIRE(ip);
  CHECK(ip->status == 200);
}
