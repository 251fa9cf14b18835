// workerpoolmanager's console (wpconsole) and its README's curl session, replayed against
// the real binary under `--wpm-config` (issue 11, point 7), with the tasks of
// examples/wpm/tasks. The console is not run itself (it is Go, with cgo readline); its
// requests are sent byte for byte as its client (utils/httpclient.go, Go's net/http) sends
// them: GET for ls/status/listworkers, http.PostForm (an empty form: Content-Length 0 and
// a form Content-Type) for set/start, DELETE with no body for stop, always with
// `Accept-Encoding: gzip`, which Go's transport adds and undoes itself. The curl session
// runs the real curl. The answers are the texts workerpoolmanager's README shows.
#include <doctest/doctest.h>
#include <strings.h>
#include <zlib.h>

#include <algorithm>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "tests/support/drover_process.h"
#include "tests/support/http_client.h"
#include "tests/support/run_command.h"
#include "tests/support/test_util.h"

using namespace drover::test;

namespace {

// A copy of examples/wpm/tasks.json: its tasks (Example, Idle) and settings, but HTTP on
// a free port and keep-alives on a port of the test's own, so that tests side by side
// never meet. The example tasks send their keep-alives to workerpoolmanager's 5591 as
// they always do; the long stall_timeout keeps them from being stalled meanwhile.
std::string tasks_json(const TempDir& dir, const std::string& autotasks, int http_port = 0,
                       const std::string& name = "tasks.json") {
  const std::string path = dir.file(name);
  write_file(path, R"({"port": )" + std::to_string(http_port) + R"(,
    "keepalives": {"host": "localhost", "inbound_port": )" +
                       std::to_string(free_port()) + R"(, "stall_timeout": 600000, "grace_period": 1000},
    "path": ")" + std::string(DROVER_EXAMPLES_DIR) +
                       R"(/wpm/tasks/", "filesuffix": "Task.py", "autotasks": )" + autotasks + "}");
  return path;
}

std::string gunzip(const std::string& in) {
  z_stream z{};
  REQUIRE(inflateInit2(&z, 16 + MAX_WBITS) == Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buf[4096];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  }
  inflateEnd(&z);
  CHECK(rc == Z_STREAM_END);
  return out;
}

struct Answer {
  int status = 0;
  std::string body;
};

// One request as wpconsole's client sends it, on a connection of its own; the answer's
// body as the console prints it (decompressed, as Go's transport does). Plus the bearer
// token drover made for itself (TCP always takes one, issue 12), which wpconsole would
// have to be given.
Answer console(int port, const std::string& method, const std::string& path, const std::string& token) {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: localhost:" + std::to_string(port) +
                    "\r\nUser-Agent: Go-http-client/1.1\r\nAuthorization: Bearer " + token + "\r\n";
  if (method == "POST") req += "Content-Length: 0\r\nContent-Type: application/x-www-form-urlencoded\r\n";
  req += "Accept-Encoding: gzip\r\n\r\n";
  const std::string raw = raw_exchange(port, req, false, 10s);
  Answer a{raw_status(raw), ""};
  const size_t head = raw.find("\r\n\r\n");
  REQUIRE(head != std::string::npos);
  a.body = raw.substr(head + 4);
  const std::string headers = raw.substr(0, head);
  if (std::regex_search(headers, std::regex("\r\nContent-Encoding: gzip", std::regex::icase))) a.body = gunzip(a.body);
  return a;
}

// The lines of listworkers for task, as workerpoolmanager's README shows them.
bool listworkers_lines(const std::string& body, const std::string& task, size_t n) {
  static const std::string stamp = "20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z";
  const std::regex line("Task: " + task + ",\tPid: [0-9]+,\tStarted: " + stamp + ",\tLast alive at: " + stamp);
  size_t count = 0;
  for (size_t pos = 0; pos < body.size();) {
    const size_t nl = body.find('\n', pos);
    if (nl == std::string::npos) return false;  // every line ends with one
    if (!std::regex_match(body.substr(pos, nl - pos), line)) return false;
    ++count;
    pos = nl + 1;
  }
  return count == n;
}

std::vector<std::string> curl(const std::vector<std::string>& args, const std::string& token) {
  std::vector<std::string> argv{"/usr/bin/curl", "-sS", "-H", "Authorization: Bearer " + token};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

}  // namespace

TEST_CASE("wpm console: the session of workerpoolmanager's README - in the forms wpconsole sends") {
  TempDir dir;
  DroverProcess d({"--wpm-config", tasks_json(dir, R"({"Example": {"cardinality": 2}})"), "--no-shell", "-q"},
                  dir.file("err"));
  // The config's "port" serves HTTP without --http (0 here: any free port, which stderr tells).
  const int port = d.http_port();
  REQUIRE(port > 0);
  CHECK(read_file(dir.file("err")).find("serving http://127.0.0.1:") != std::string::npos);
  REQUIRE(wait_until([&] { return d.counts() == std::map<std::string, size_t>{{"Example", 2}}; }, 10s));
  const std::string token = d.http_token();
  REQUIRE_FALSE(token.empty());
  auto console = [&](int p, const std::string& method, const std::string& path) {
    return ::console(p, method, path, token);
  };

  // `wpconsole -host=localhost:PORT` fills its tab completion from GET /list first.
  CHECK(console(port, "GET", "/list").body == "Example\nIdle\n");
  // > ls
  Answer a = console(port, "GET", "/list");
  CHECK(a.status == 200);
  CHECK(a.body == "Example\nIdle\n");
  // > set Example cardinality 3
  a = console(port, "POST", "/tasks/Example/set/cardinality/3");
  CHECK(a.status == 200);
  CHECK(a.body == "Changed workers cardinality\n");
  CHECK(wait_until([&] { return d.counts()["Example"] == 3; }, 10s));
  // > start Idle   (a second active task, as the README's Task3)
  CHECK(console(port, "POST", "/tasks/Idle/start").body == "Started task manager\n");
  CHECK(wait_until([&] { return d.counts()["Idle"] == 1; }, 10s));
  // > stop Idle
  CHECK(console(port, "DELETE", "/tasks/Idle").body == "Stopped Idle workers\n");
  // Its answer once the worker is gone (the engine reaps it a moment after the stop).
  CHECK(wait_until([&] { return console(port, "GET", "/tasks/Idle/list").body == "Task Idle not running\n"; }, 10s));
  // > start Idle
  CHECK(console(port, "POST", "/tasks/Idle/start").body == "Started task manager\n");
  CHECK(wait_until([&] { return d.counts()["Idle"] == 1; }, 10s));
  // > listworkers Example   (GET /tasks/NAME/list: one line per worker)
  CHECK(wait_until([&] {
    a = console(port, "GET", "/tasks/Example/list");
    return listworkers_lines(a.body, "Example", 3);
  }, 10s));
  CHECK(a.status == 200);
  auto pids = d.workers_by_pool()["Example"];
  for (pid_t p : pids) CHECK(a.body.find("Pid: " + std::to_string(p) + ",") != std::string::npos);
  CHECK(wait_until([&] { return listworkers_lines(console(port, "GET", "/tasks/Idle/list").body, "Idle", 1); }, 10s));
  // > status Example
  a = console(port, "GET", "/tasks/Example");
  CHECK(a.body.rfind("Task name:\tExample\nRunning:\ttrue\nStarted at:\t20", 0) == 0);
  CHECK(a.body.find("Active Workers:\t3 / 3\n") != std::string::npos);
  // > stop   (no task: DELETE /tasks/, with the slash)
  a = console(port, "DELETE", "/tasks/");
  CHECK(a.status == 200);
  CHECK(a.body == "Stopped Example workers\nStopped Idle workers\n");
  // > status   (GET /tasks/)
  a = console(port, "GET", "/tasks/");
  CHECK(a.status == 200);
  CHECK(a.body == "No active tasks\n");
  CHECK(wait_until([&] { return d.counts().empty(); }, 10s));
  // A task it does not know: an error line, as the console prints any answer.
  a = console(port, "GET", "/tasks/Nope/list");
  CHECK(a.status == 404);
  CHECK(a.body == "ERROR: no task named \"Nope\"\n");

  d.signal(SIGTERM);
  CHECK(d.wait_exit(20s) == 0);
}

TEST_CASE("wpm console: the curl session of workerpoolmanager's README") {
  TempDir dir;
  // Nothing autostarts, as in the README's session, which begins with no active task.
  DroverProcess d({"--wpm-config", tasks_json(dir, "{}"), "--no-shell", "-q"}, dir.file("err"));
  const int port = d.http_port();
  REQUIRE(port > 0);
  const std::string b = "http://localhost:" + std::to_string(port);
  const std::string token = d.http_token();
  REQUIRE_FALSE(token.empty());
  auto run = [&](const std::vector<std::string>& args) {
    CommandResult r = run_command(curl(args, token));
    CHECK(r.status == 0);
    return r.out;
  };
  CHECK(run({b + "/tasks"}) == "No active tasks\n");
  CHECK(run({"-X", "POST", b + "/tasks/Example/start"}) == "Started task manager\n");
  CHECK(wait_until([&] { return d.counts()["Example"] == 1; }, 10s));
  const std::regex one(
      "Task name:\tExample\nRunning:\ttrue\nStarted at:\t20[-0-9T:]+Z\nLast alive at:\t20[-0-9T:]+Z\n"
      "Active Workers:\t1 / 1\nDead Workers:\t0\n");
  CHECK(std::regex_match(run({b + "/tasks/Example"}), one));
  CHECK(run({"-X", "POST", b + "/tasks/Example/set/cardinality/4"}) == "Changed workers cardinality\n");
  CHECK(wait_until([&] { return run({b + "/tasks/Example"}).find("Active Workers:\t4 / 4\n") != std::string::npos; },
                   10s));
  CHECK(run({"-X", "POST", b + "/tasks/Idle/start"}) == "Started task manager\n");
  CHECK(run({"-X", "DELETE", b + "/tasks/Example"}) == "Stopped Example workers\n");
  CHECK(run({"-X", "DELETE", b + "/tasks"}) == "Stopped Idle workers\n");
  CHECK(run({b + "/tasks"}) == "No active tasks\n");
  CHECK(wait_until([&] { return d.counts().empty(); }, 10s));

  d.signal(SIGTERM);
  CHECK(d.wait_exit(20s) == 0);
}

TEST_CASE("wpm console: --http overrides the config's port - a port in use is an error naming the config") {
  TempDir dir;
  DroverProcess first({"--wpm-config", tasks_json(dir, "{}"), "--no-shell", "-q"}, dir.file("err1"));
  const int port = first.http_port();
  REQUIRE(port > 0);
  // The same port in the config, but --http says where: it serves there.
  const std::string taken = tasks_json(dir, "{}", port, "taken.json");
  {
    DroverProcess d({"--wpm-config", taken, "--http", "127.0.0.1:0", "--no-shell", "-q"}, dir.file("err2"));
    const int other = d.http_port();
    CHECK(other > 0);
    CHECK(other != port);
    d.signal(SIGTERM);
    INFO("stderr: ", read_file(dir.file("err2")));
    CHECK(d.wait_exit(20s) == 0);
  }
  // Without --http the config's port, taken: refused, naming where it came from.
  DroverProcess second({"--wpm-config", taken, "--no-shell", "-q"}, dir.file("err3"));
  CHECK(second.wait_exit(20s) == 1);
  CHECK(read_file(dir.file("err3")).find(taken + ": port " + std::to_string(port) +
                                         ": --http: cannot listen on 127.0.0.1:" + std::to_string(port)) !=
        std::string::npos);
  first.signal(SIGTERM);
  CHECK(first.wait_exit(20s) == 0);
}
