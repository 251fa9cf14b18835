// `drover attach` end to end (issue 6): a drover serving --http, and the real binary
// attached to it with -e, as scripts use it. The interactive shell through a pty (status,
// resize, help, completion, detach) is in tests/repl/repl_test.cpp.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/support/drover_process.h"
#include "tests/support/test_util.h"

using namespace drover::test;

namespace {

std::string pools_lua(int a) {
  return "pool 'a' { cmd = { '" + std::string(fake_worker_path()) + "', 'sleep' }, n = " + std::to_string(a) + " }\n"
         "pool 'b' { cmd = { '" + std::string(fake_worker_path()) + "', 'sleep' }, n = 1 }\n";
}

// drover's TCP listener always takes a token: the hosts here get this one through the
// environment, and attach sends it from there too unless a test says otherwise.
const std::map<std::string, std::string> kTokenEnv{{"DROVER_HTTP_TOKEN", "attach-test-token-0123456789"}};

// `drover attach 127.0.0.1:PORT ARGS...`: exit status, with stdout and stderr in files.
struct Attach {
  int rc = -1;
  std::string out, err;
};
Attach attach(const TempDir& dir, int port, std::vector<std::string> args,
              const std::map<std::string, std::string>& env = kTokenEnv) {
  args.insert(args.begin(), {"attach", "127.0.0.1:" + std::to_string(port)});
  DroverProcess p(args, dir.file("attach.err"), env);
  Attach a;
  a.rc = p.wait_exit(15s);
  a.out = read_file(dir.file("attach.err.out"));
  a.err = read_file(dir.file("attach.err"));
  return a;
}

}  // namespace

TEST_CASE("attach: -e runs against the remote engine - values printed - a resize lands there - exit detaches") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua(2));
  DroverProcess host({dir.file("pools.lua"), "--no-shell", "-q", "--http", "127.0.0.1:0"}, dir.file("host.err"),
                     kTokenEnv);
  const int port = host.http_port();
  REQUIRE(port > 0);
  REQUIRE(wait_until([&] { return host.workers().size() == 3; }, 5s));

  Attach a = attach(dir, port, {"-e", "status().pools.a.n", "-e", "pid()"});
  CHECK(a.rc == 0);
  CHECK(a.out == "2\n" + std::to_string(host.pid()) + "\n");

  a = attach(dir, port, {"-e", "config{a = 4}", "-e", "exit()"});
  CHECK(a.rc == 0);
  CHECK(wait_until([&] { return host.counts()["a"] == 4; }, 5s));
  CHECK(kill(host.pid(), 0) == 0);  // exit() detached; the host goes on
  // Signals and stop/start reach the remote workers.
  a = attach(dir, port, {"-e", "stop 'b'", "-e", "status().pools.b.target"});
  CHECK(a.rc == 0);
  CHECK(a.out.find("0\n") != std::string::npos);
  CHECK(wait_until([&] { return host.counts().count("b") == 0; }, 5s));
  a = attach(dir, port, {"-e", "start 'b'"});
  CHECK(wait_until([&] { return host.counts()["b"] == 1; }, 5s));
  // The log, remotely.
  a = attach(dir, port, {"-e", "log.tail(50)"});
  CHECK(a.out.find("a.3 spawned pid") != std::string::npos);
  // Errors are the remote engine's, said here; the remote state is unchanged.
  a = attach(dir, port, {"-e", "config{nope = 2}"});
  CHECK(a.rc == 1);
  CHECK(a.out.find("config: no pool named \"nope\"") != std::string::npos);  // as a local -e: the error on stdout
  a = attach(dir, port, {"-e", "reload()"});
  CHECK(a.rc == 1);
  CHECK(host.counts() == std::map<std::string, size_t>{{"a", 4}, {"b", 1}});
  host.signal(SIGTERM);
  CHECK(host.wait_exit(10s) == 0);
}

TEST_CASE("attach: config{} resizes and removes in one batch - a bad name applies none of it - log.grep rew ff work") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua(2));
  DroverProcess host({dir.file("pools.lua"), "--no-shell", "-q", "--http", "127.0.0.1:0"}, dir.file("host.err"),
                     kTokenEnv);
  const int port = host.http_port();
  REQUIRE(port > 0);
  REQUIRE(wait_until([&] { return host.counts() == std::map<std::string, size_t>{{"a", 2}, {"b", 1}}; }, 5s));

  // Refused whole: b is not removed for the sake of a pool that is not there.
  Attach a = attach(dir, port, {"-e", "config{a = 3, b = 0, nope = 1}"});
  CHECK(a.rc == 1);
  CHECK(a.out.find("config: no pool named \"nope\"") != std::string::npos);
  a = attach(dir, port, {"-e", "(function() local c = config() return c.a .. ',' .. tostring(c.b) end)()"});
  CHECK(a.rc == 0);
  CHECK(a.out == "\"2,1\"\n");  // a string, printed as Lua would write it

  // One batch: a grows and b goes; config{} answers the sizes it produced, b left out.
  a = attach(dir, port, {"-e", "(function() local c = config{a = 3, b = 0} return c.a .. ',' .. tostring(c.b) end)()"});
  CHECK(a.rc == 0);
  CHECK(a.out == "\"3,nil\"\n");
  CHECK(wait_until([&] { return host.counts() == std::map<std::string, size_t>{{"a", 3}}; }, 5s));

  // The whole in-memory tail, as the server serves it: grep counts, rew and ff page.
  a = attach(dir, port, {"-e", "log.grep('spawned pid')"});
  CHECK(a.rc == 0);
  CHECK(a.out.find("spawned pid") != std::string::npos);
  CHECK(a.err.find("refused") == std::string::npos);
  a = attach(dir, port, {"-e", "log.rew(3)", "-e", "log.ff(2)"});
  CHECK(a.rc == 0);
  REQUIRE(a.out.size() > 3);
  CHECK(a.out.substr(a.out.size() - 3) == "\n1\n");  // back 3, forward 2: one page from the end
  host.signal(SIGTERM);
  CHECK(host.wait_exit(10s) == 0);
}

TEST_CASE("attach: a drover that wants a token - refused without it - served with it from a file or the environment") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua(1));
  write_file(dir.file("token"), "s3cret-token-for-tests\n");
  REQUIRE(chmod(dir.file("token").c_str(), 0600) == 0);
  DroverProcess host({dir.file("pools.lua"), "--no-shell", "-q", "--http", "127.0.0.1:0", "--http-token-file",
                      dir.file("token")},
                     dir.file("host.err"));
  const int port = host.http_port();
  REQUIRE(port > 0);
  Attach a = attach(dir, port, {"-e", "status().pools.a.n"}, {{"DROVER_HTTP_TOKEN", "wrong"}});
  CHECK(a.rc == 1);
  CHECK(a.out.find("token") != std::string::npos);
  CHECK(a.out.find("s3cret") == std::string::npos);
  a = attach(dir, port, {"-e", "status().pools.a.n", "--token-file", dir.file("token")}, {});
  CHECK(a.rc == 0);
  CHECK(a.out == "1\n");
  a = attach(dir, port, {"-e", "status().pools.a.n"}, {{"DROVER_HTTP_TOKEN", "s3cret-token-for-tests"}});
  CHECK(a.rc == 0);
  CHECK(a.out == "1\n");
}

TEST_CASE("attach: nothing listening - bad addresses - clear errors and exit codes") {
  TempDir dir;
  const int port = free_port();
  Attach a = attach(dir, port, {});
  CHECK(a.rc == 1);
  CHECK(a.err == "drover attach: cannot reach drover at 127.0.0.1:" + std::to_string(port) +
                     ": connection refused (is it running with --http?)\n");
  DroverProcess bad({"attach", "nowhere:port"}, dir.file("bad.err"));
  CHECK(bad.wait_exit(5s) == 2);
  CHECK(read_file(dir.file("bad.err")) == "drover attach: \"nowhere:port\" is not HOST:PORT\n");
  DroverProcess unknown({"attach", "--nope"}, dir.file("unknown.err"));
  CHECK(unknown.wait_exit(5s) == 2);
  CHECK(read_file(dir.file("unknown.err")).find("usage: drover attach [PID|SOCKET|HOST:PORT]") != std::string::npos);
}

TEST_CASE("attach: the autoscale routes show the host's policies - and switch one off") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua(1) +
                                        "autoscale 'a' { every = 0.1, max = 3, policy = function() return 3 end }\n");
  DroverProcess host({dir.file("pools.lua"), "--no-shell", "-q", "--http", "127.0.0.1:0"}, dir.file("host.err"),
                     kTokenEnv);
  const int port = host.http_port();
  REQUIRE(port > 0);
  REQUIRE(wait_until([&] { return host.counts()["a"] == 3; }, 5s));
  httplib::Client c("127.0.0.1", port);
  c.set_bearer_token_auth(kTokenEnv.at("DROVER_HTTP_TOKEN").c_str());
  auto r = c.Get("/api/v1/autoscale");
  REQUIRE(r);
  CHECK(r->status == 200);
  auto j = nlohmann::json::parse(r->body);
  REQUIRE(j["policies"].size() == 1);
  CHECK(j["policies"][0]["pool"] == "a");
  CHECK(j["policies"][0]["max"] == 3);
  CHECK(j["policies"][0]["enabled"] == true);
  CHECK(j["policies"][0]["changes"] == 1);
  auto off = c.Post("/api/v1/autoscale/a/off", "", "application/json");
  REQUIRE(off);
  CHECK(off->status == 200);
  CHECK(nlohmann::json::parse(c.Get("/api/v1/autoscale")->body)["policies"][0]["enabled"] == false);
  auto nope = c.Post("/api/v1/autoscale/zzz/on", "", "application/json");
  REQUIRE(nope);
  CHECK(nope->status == 404);
  // Switched off: a manual size stays.
  Attach a = attach(dir, port, {"-e", "config{a = 2}"});
  CHECK(a.rc == 0);
  std::this_thread::sleep_for(500ms);
  CHECK(host.counts()["a"] == 2);
}

// Issue 12: `drover attach` with no address looks for this user's drovers on this host.
// Each DroverProcess here has the test's directory as XDG_RUNTIME_DIR, so the machine's
// other drovers are not seen.
TEST_CASE("attach: no address and no drover of ours running - a clear error saying where it looked") {
  TempDir dir;
  DroverProcess none({"attach", "-e", "status()"}, dir.file("none.err"));
  CHECK(none.wait_exit(5s) == 1);
  CHECK(read_file(dir.file("none.err")) == "drover attach: no drover of yours is running here (looked in " +
                                               dir.path() + "/drover); give HOST:PORT or a socket path\n");
  CHECK(read_file(dir.file("none.err.out")).empty());
}

namespace {

// A unix socket file nobody listens on, as a control socket looks to `drover attach`
// before it connects.
void make_socket_file(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  REQUIRE(path.size() < sizeof a.sun_path);
  std::strcpy(a.sun_path, path.c_str());
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  close(fd);
}

}  // namespace

TEST_CASE("attach: no address and several drovers of ours - listed by pid - a PID picks one - a number no drover has is a port") {
  TempDir dir;
  const std::string base = dir.path() + "/drover";
  REQUIRE(mkdir(base.c_str(), 0700) == 0);
  // Two live processes with control sockets (this test and its parent stand in for two
  // drovers: nothing here proves they are not, so both count).
  std::vector<pid_t> pids{getpid(), getppid()};
  std::sort(pids.begin(), pids.end());
  for (pid_t p : pids) {
    REQUIRE(mkdir((base + "/" + std::to_string(p)).c_str(), 0700) == 0);
    make_socket_file(base + "/" + std::to_string(p) + "/control.sock");
  }
  DroverProcess several({"attach", "-e", "status()"}, dir.file("several.err"));
  CHECK(several.wait_exit(5s) == 2);
  CHECK(read_file(dir.file("several.err")) ==
        "drover attach: 2 drovers of yours are running here; say which: drover attach PID\n"
        "  pid " + std::to_string(pids[0]) + ": " + base + "/" + std::to_string(pids[0]) + "/control.sock\n"
        "  pid " + std::to_string(pids[1]) + ": " + base + "/" + std::to_string(pids[1]) + "/control.sock\n");
  // A PID: that one's socket (nobody answers on it here), with no token sent.
  const std::string mine = base + "/" + std::to_string(getpid()) + "/control.sock";
  DroverProcess by_pid({"attach", std::to_string(getpid()), "-e", "status()"}, dir.file("pid.err"));
  CHECK(by_pid.wait_exit(5s) == 1);
  CHECK(read_file(dir.file("pid.err.out")) ==
        "(command line):1: cannot reach drover at " + mine + ": connection refused (is it still running?)\n");
  // The socket's path: the same.
  DroverProcess by_path({"attach", mine, "-e", "status()"}, dir.file("path.err"));
  CHECK(by_path.wait_exit(5s) == 1);
  CHECK(read_file(dir.file("path.err.out")) ==
        "(command line):1: cannot reach drover at " + mine + ": connection refused (is it still running?)\n");
  // A number that is no drover's pid: a port on 127.0.0.1, as before.
  const int port = free_port();
  DroverProcess by_port({"attach", std::to_string(port)}, dir.file("port.err"));
  CHECK(by_port.wait_exit(5s) == 1);
  CHECK(read_file(dir.file("port.err")) == "drover attach: cannot reach drover at 127.0.0.1:" + std::to_string(port) +
                                               ": connection refused (is it running with --http?)\n");
}

TEST_CASE("attach: HOST:PORT with no token given - the one drover made for this user is used") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua(1));
  DroverProcess host({dir.file("pools.lua"), "--no-shell", "-q", "--http", "127.0.0.1:0"}, dir.file("host.err"));
  const int port = host.http_port();
  REQUIRE(port > 0);
  const std::string token_file = dir.path() + "/drover/http-token";
  CHECK(read_file(dir.file("host.err")).find("(bearer token in " + token_file + ")") != std::string::npos);
  struct stat st {};
  REQUIRE(stat(token_file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  // Required on loopback too: a client without it is refused.
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get("/api/v1/pools");
  REQUIRE(r);
  CHECK(r->status == 401);
  // The same user (the same state directory): no flags needed.
  Attach a = attach(dir, port, {"-e", "status().pools.a.n"}, {});  // no DROVER_HTTP_TOKEN either
  CHECK(a.rc == 0);
  CHECK(a.out == "1\n");
  // Another state directory, with no token file: refused, and told why.
  a = attach(dir, port, {"-e", "status().pools.a.n"}, {{"XDG_STATE_HOME", dir.file("elsewhere")}});
  CHECK(a.rc == 1);
  CHECK(a.out.find("refused us") != std::string::npos);
  CHECK(a.out.find("--token-file") != std::string::npos);
}

TEST_CASE("attach: a kill -9'd drover's runtime directory is removed by the next drover's start") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua(1));
  const std::string base = dir.path() + "/drover";
  std::string left;
  {
    DroverProcess first({dir.file("pools.lua"), "--no-shell", "-q"}, dir.file("first.err"));
    left = base + "/" + std::to_string(first.pid());
    REQUIRE(wait_until([&] { return std::filesystem::exists(left + "/heartbeat"); }, 5s));
    first.signal(SIGKILL);
    CHECK(first.wait_exit(5s) == 128 + SIGKILL);
  }
  CHECK(std::filesystem::exists(left));  // nobody removed it
  DroverProcess second({dir.file("pools.lua"), "--no-shell", "-q"}, dir.file("second.err"));
  const std::string own = base + "/" + std::to_string(second.pid());
  CHECK(wait_until([&] { return std::filesystem::exists(own + "/heartbeat"); }, 5s));
  CHECK_FALSE(std::filesystem::exists(left));
  second.signal(SIGTERM);
  CHECK(second.wait_exit(10s) == 0);
  CHECK_FALSE(std::filesystem::exists(own));  // a drover that stops removes its own
}

TEST_CASE("attach: write_config() writes the pools' secrets as they are - not the redacted view") {
  TempDir dir;
  write_file(dir.file("pools.lua"), "pool 'a' { cmd = { '" + std::string(fake_worker_path()) +
                                        "', 'sleep' }, n = 1, env = { DB_PASSWORD = 's3cret-pw' } }\n");
  DroverProcess host({dir.file("pools.lua"), "--no-shell", "-q", "--http", "127.0.0.1:0"}, dir.file("host.err"),
                     kTokenEnv);
  const int port = host.http_port();
  REQUIRE(port > 0);
  REQUIRE(wait_until([&] { return host.workers().size() == 1; }, 5s));
  Attach a = attach(dir, port, {"-e", "write_config('" + dir.file("written.lua") + "')"});
  CHECK(a.rc == 0);
  const std::string written = read_file(dir.file("written.lua"));
  CHECK(written.find("s3cret-pw") != std::string::npos);
  CHECK(written.find("(redacted)") == std::string::npos);
  host.signal(SIGTERM);
  CHECK(host.wait_exit(10s) == 0);
}
