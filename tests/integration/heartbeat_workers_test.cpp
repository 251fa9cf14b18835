// The example heartbeat workers (examples/workers/heartbeat_worker.{cpp,py,sh}) under an
// in-process engine with a short heartbeat timeout, and the `drover heartbeat` subcommand
// the shell worker uses, run as the real binary. Where heartbeat_test.cpp speaks for fake
// workers from the test, here the workers speak for themselves: the wire format, the pid,
// the slow joiner and the stop signal are theirs to get right.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "engine/heartbeat_message.h"
#include "shell/lua/config_loader.h"
#include "tests/support/test_util.h"

extern char** environ;

using namespace drover;
using namespace drover::test;

namespace {

const std::string kExamplesDir = DROVER_EXAMPLES_DIR;

// ---- running a program to its end ---------------------------------------------------

struct Finished {
  int code = -1;  // exit status, 128 + N for death by signal N, -1: still running at the deadline
  std::string out, err;
  double seconds = 0;
};

// Changes to environ for a child: a value sets the variable, nullopt unsets it.
using Env = std::map<std::string, std::optional<std::string>>;

// A program started with environ changed by `env`, argv[0] looked up on PATH, stdin from
// /dev/null and its output kept in files. finish() waits for its end; the destructor kills
// and reaps it if nobody did.
class Program {
 public:
  Program(const std::vector<std::string>& argv, const Env& env) {
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) {
      std::string_view kv(*e);
      if (!env.count(std::string(kv.substr(0, kv.find('='))))) envs.emplace_back(kv);
    }
    for (const auto& [k, v] : env)
      if (v) envs.push_back(k + "=" + *v);
    std::vector<char*> cargv, cenv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    for (auto& e : envs) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, dir_.file("out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, dir_.file("err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    started_ = std::chrono::steady_clock::now();
    if (posix_spawnp(&pid_, cargv[0], &fa, nullptr, cargv.data(), cenv.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Program() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;

  Finished finish(std::chrono::milliseconds deadline = 10s) {
    Finished f;
    if (pid_ <= 0) {
      f.err = "spawn failed";
      return f;
    }
    int status = 0;
    if (wait_until([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, deadline)) {
      f.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = -1;
    }
    f.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    f.out = read_file(dir_.file("out"));
    f.err = read_file(dir_.file("err"));
    return f;
  }

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  std::chrono::steady_clock::time_point started_;
};

Finished run_program(const std::vector<std::string>& argv, const Env& env) {
  return Program(argv, env).finish();
}

// `drover heartbeat ARGS`, by default outside any drover (the test may run under one).
const Env kNoDroverEnv = {{"DROVER_HEARTBEAT", std::nullopt}, {"DROVER_POOL", std::nullopt}};

std::vector<std::string> heartbeat_argv(std::vector<std::string> args) {
  args.insert(args.begin(), {drover_path(), "heartbeat"});
  return args;
}

Finished drover_heartbeat(const std::vector<std::string>& args, const Env& env = kNoDroverEnv) {
  return run_program(heartbeat_argv(args), env);
}

// Debian's python3-zmq serves /usr/bin/python3; the python3 on PATH may be another one
// (pyenv) without pyzmq. The first that can import zmq, or "" when none can.
std::string python_with_zmq() {
  for (const char* python : {"/usr/bin/python3", "python3"})
    if (run_program({python, "-c", "import zmq"}, {}).code == 0) return python;
  return "";
}

// A SUB socket bound on an ipc:// path in `dir`, as the engine's: receives whole messages.
class Subscriber {
 public:
  explicit Subscriber(const TempDir& dir) : ctx_(zmq_ctx_new()), sock_(zmq_socket(ctx_, ZMQ_SUB)) {
    endpoint_ = "ipc://" + dir.file("hb.sock");
    int linger = 0, timeout_ms = 5000;
    zmq_setsockopt(sock_, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock_, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    zmq_setsockopt(sock_, ZMQ_SUBSCRIBE, "", 0);
    REQUIRE(zmq_bind(sock_, endpoint_.c_str()) == 0);
  }
  ~Subscriber() {
    zmq_close(sock_);
    zmq_ctx_term(ctx_);
  }
  const std::string& endpoint() const { return endpoint_; }
  // The frames of the next message; empty after 5 s without one.
  std::vector<std::string> recv() {
    std::vector<std::string> frames;
    for (;;) {
      zmq_msg_t m;
      zmq_msg_init(&m);
      if (zmq_msg_recv(&m, sock_, 0) < 0) {
        zmq_msg_close(&m);
        return {};
      }
      frames.emplace_back(static_cast<const char*>(zmq_msg_data(&m)), zmq_msg_size(&m));
      const bool more = zmq_msg_more(&m);
      zmq_msg_close(&m);
      if (!more) return frames;
    }
  }

 private:
  void* ctx_;
  void* sock_;
  std::string endpoint_;
};

// The engine's own parser decides what the message means.
ParsedHeartbeat parse(const std::vector<std::string>& frames) {
  std::vector<std::string_view> views(frames.begin(), frames.end());
  return parse_heartbeat(views);
}

// ---- the workers under an engine ----------------------------------------------------

const WorkerSnapshot* worker_with_pid(const EngineSnapshot& snap, const std::string& pool, pid_t pid) {
  for (const auto& w : pool_of(snap, pool).workers)
    if (w.pid == pid) return &w;
  return nullptr;
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr double kTimeout = 1.5;

// One worker of `spec` (argv and env filled in by the caller) under an engine with a
// 1.5 s heartbeat timeout and a 0.3 s heartbeat interval: it stays up, unstalled, for
// more than three timeouts, the engine sees its heartbeats and both the busy and the idle
// status it reports, and a stop ends it gracefully.
void check_worker_under_engine(PoolSpec spec) {
  TempDir dir;
  {
    Engine e(engine_options(dir));
    const std::string name = spec.name;
    spec.n = 1;
    spec.heartbeat.timeout_s = kTimeout;
    spec.grace_s = 5;
    spec.env["HEARTBEAT_INTERVAL"] = "0.3";
    spec.env["JOB_SECONDS"] = "0.8";
    spec.env["IDLE_SECONDS"] = "0.6";
    REQUIRE(e.apply({spec}));
    REQUIRE(wait_until([&] { return pool_running(e, name, 1); }, 5s));
    const pid_t pid = running_pids(e.snapshot(), name).at(0);
    INFO("pool ", name, " pid ", pid);
    // The first beats may be lost to the slow joiner; the next ones arrive.
    REQUIRE(wait_until([&] {
      auto snap = e.snapshot();
      auto* w = worker_with_pid(snap, name, pid);
      return w && w->heartbeats > 0;
    }, 5s));

    // Over more than three timeouts: the same process, never stalled, and seen both
    // working ("job N", busy, progress in 0..1) and between jobs ("idle", not busy).
    bool saw_busy = false, saw_idle = false, consistent = true;
    std::string odd;
    const bool broke = wait_until([&] {
      EngineSnapshot snap = e.snapshot();
      const PoolSnapshot& pool = pool_of(snap, name);
      const WorkerSnapshot* w = worker_with_pid(snap, name, pid);
      if (!w || w->state != SlotState::kRunning || pool.counters.stalls != 0) return true;
      if (!w->busy) return false;
      bool ok;
      if (*w->busy) {
        ok = w->status.rfind("job ", 0) == 0 && w->progress && *w->progress >= 0 && *w->progress <= 1 &&
             pool.busy == 1 && pool.idle == 0;
        saw_busy = saw_busy || ok;
      } else {
        ok = w->status == "idle" && pool.busy == 0 && pool.idle == 1;
        saw_idle = saw_idle || ok;
      }
      if (!ok) {
        consistent = false;
        odd = w->status;
      }
      return false;
    }, std::chrono::milliseconds(static_cast<int>(kTimeout * 3 * 1000 + 300)));
    CHECK_FALSE(broke);
    CHECK(saw_busy);
    CHECK(saw_idle);
    INFO("odd status: ", odd);
    CHECK(consistent);

    EngineSnapshot snap = e.snapshot();
    const PoolSnapshot& pool = pool_of(snap, name);
    REQUIRE(running_pids(snap, name) == std::vector<pid_t>{pid});
    const WorkerSnapshot& w = *worker_with_pid(snap, name, pid);
    CHECK(pool.counters.stalls == 0);
    CHECK(pool.counters.restarts == 0);
    CHECK(pool.stalled == 0);
    CHECK(w.heartbeats >= 6);  // about 16 at a 0.3 s interval over 4.8 s
    CHECK(w.last_heartbeat_ms > wall_ms() - static_cast<int64_t>(kTimeout * 1000));
    CHECK(w.last_heartbeat_ms <= wall_ms() + 50);
    CHECK(w.heartbeat_age_s >= 0);
    CHECK(w.heartbeat_age_s < kTimeout);
    REQUIRE(w.busy.has_value());
    CHECK(!w.status.empty());
    // Every message was the worker's own, well formed, under its own pid.
    CHECK(snap.heartbeat.accepted >= w.heartbeats);
    CHECK(snap.heartbeat.received == snap.heartbeat.accepted);
    CHECK(snap.heartbeat.malformed == 0);
    CHECK(snap.heartbeat.oversized == 0);
    CHECK(snap.heartbeat.unknown_pid == 0);

    // A stop: the worker finishes its job, says so and exits 0, well within the grace.
    REQUIRE(e.stop(name));
    REQUIRE(wait_until([&] { return pool_of(e.snapshot(), name).workers.empty(); }, 5s));
    CHECK_FALSE(pid_alive(pid));
    const PoolSnapshot after = pool_of(e.snapshot(), name);
    CHECK(after.counters.exited_ok == 1);
    CHECK(after.counters.exited_bad == 0);
    CHECK(after.counters.killed_after_grace == 0);
    CHECK(after.counters.stalls == 0);
    CHECK(wait_until([&] { return log_contains(e, "TERM, finished", name); }, 2s));
  }
  CHECK(zombie_children_of(getpid()).empty());
}

PoolSpec worker_pool(const std::string& name, std::vector<std::string> argv) {
  PoolSpec p;
  p.name = name;
  p.argv = std::move(argv);
  return p;
}

}  // namespace

// ---- drover heartbeat ---------------------------------------------------------------

TEST_CASE("drover heartbeat: bad usage exits 2 and names the problem") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--bogus"}, "unknown option '--bogus'"},
      {{"stray"}, "unexpected argument 'stray'"},
      {{"--status"}, "--status needs a value"},
      {{"--progress", "1.5"}, "--progress wants a number in 0..1"},
      {{"--progress", "-0.1"}, "--progress wants a number in 0..1"},
      {{"--progress", "half"}, "--progress wants a number in 0..1"},
      {{"--pid", "0"}, "--pid wants a process id"},
      {{"--pid", "-4"}, "--pid wants a process id"},
      {{"--pid", "12x"}, "--pid wants a process id"},
      {{"--busy", "--idle"}, "contradict"},
      {{"--timeout", "0"}, "--timeout wants seconds"},
      {{"--timeout", "soon"}, "--timeout wants seconds"},
      {{"--endpoint", ""}, "--endpoint is empty"},
      {{"--pool", ""}, "--pool is empty"},
  };
  for (const auto& [args, message] : cases) {
    // Usage is checked first: these fail the same with or without an engine around.
    Finished f = drover_heartbeat(args);
    INFO("args: ", args.empty() ? "" : args[0], " ", args.size() > 1 ? args[1] : "", " stderr: ", f.err);
    CHECK(f.code == 2);
    CHECK(f.err.find(message) != std::string::npos);
    CHECK(f.err.find("drover heartbeat --help") != std::string::npos);
  }
}

TEST_CASE("drover heartbeat: --help prints the usage and exits 0") {
  Finished f = drover_heartbeat({"--help"});
  CHECK(f.code == 0);
  CHECK(f.out.find("usage: drover heartbeat") != std::string::npos);
  CHECK(f.out.find("DROVER_HEARTBEAT") != std::string::npos);
  // drover's own usage mentions the subcommand.
  Finished top = run_program({drover_path(), "--help"}, {});
  CHECK(top.out.find("drover heartbeat") != std::string::npos);
}

TEST_CASE("drover heartbeat: without DROVER_HEARTBEAT or DROVER_POOL it exits 1 and says which") {
  Finished no_endpoint = drover_heartbeat({"--status", "x"}, {{"DROVER_HEARTBEAT", std::nullopt}, {"DROVER_POOL", "p"}});
  CHECK(no_endpoint.code == 1);
  CHECK(no_endpoint.err.find("DROVER_HEARTBEAT is not set") != std::string::npos);
  Finished empty = drover_heartbeat({}, {{"DROVER_HEARTBEAT", ""}, {"DROVER_POOL", "p"}});
  CHECK(empty.code == 1);
  CHECK(empty.err.find("DROVER_HEARTBEAT is not set") != std::string::npos);
  Finished no_pool = drover_heartbeat({}, {{"DROVER_HEARTBEAT", "ipc:///nonexistent/x"}, {"DROVER_POOL", std::nullopt}});
  CHECK(no_pool.code == 1);
  CHECK(no_pool.err.find("DROVER_POOL is not set") != std::string::npos);
}

TEST_CASE("drover heartbeat: no engine on the endpoint exits 1 after --timeout") {
  TempDir dir;
  const std::string nobody = "ipc://" + dir.file("nobody.sock");
  Finished f = drover_heartbeat({"--timeout", "0.3"}, {{"DROVER_HEARTBEAT", nobody}, {"DROVER_POOL", "p"}});
  CHECK(f.code == 1);
  CHECK(f.err.find("no drover engine subscribed on " + nobody) != std::string::npos);
  CHECK(f.seconds >= 0.3 - 0.01);
  CHECK(f.seconds < 0.3 + 1.0);
  Finished bad = drover_heartbeat({"--endpoint", "nosuch://x", "--pool", "p"});
  CHECK(bad.code == 1);
  CHECK(bad.err.find("cannot connect to 'nosuch://x'") != std::string::npos);
}

TEST_CASE("drover heartbeat: one message in the engine's wire format - pid defaults to the caller") {
  TempDir dir;
  Subscriber sub(dir);
  // From the environment, as a worker script runs it. Its parent is this test process.
  // Receive while it runs: like the engine's loop, a SUB socket only sends its subscription
  // to a new peer once its owner calls into it.
  Program sender(heartbeat_argv({"--status", "job 42", "--busy", "--progress", "0.25"}),
                 {{"DROVER_HEARTBEAT", sub.endpoint()}, {"DROVER_POOL", "scripts"}});
  auto frames = sub.recv();
  Finished f = sender.finish();
  INFO("stderr: ", f.err);
  REQUIRE(f.code == 0);
  REQUIRE(frames.size() == 2);
  CHECK(frames[0] == "scripts");
  ParsedHeartbeat p = parse(frames);
  REQUIRE(p.fault == HeartbeatFault::kNone);
  CHECK(p.beat.pool == "scripts");
  CHECK(p.beat.pid == getpid());
  CHECK(p.beat.status == std::optional<std::string>("job 42"));
  CHECK(p.beat.busy == std::optional<bool>(true));
  REQUIRE(p.beat.progress.has_value());
  CHECK(*p.beat.progress == doctest::Approx(0.25));

  // From the options, over the environment; only what was given is sent.
  Program again(heartbeat_argv({"--endpoint", sub.endpoint(), "--pool", "other", "--pid", "4242", "--idle"}),
                {{"DROVER_HEARTBEAT", "ipc:///nonexistent/x"}, {"DROVER_POOL", "scripts"}});
  frames = sub.recv();
  REQUIRE(again.finish().code == 0);
  REQUIRE(frames.size() == 2);
  p = parse(frames);
  REQUIRE(p.fault == HeartbeatFault::kNone);
  CHECK(p.beat.pool == "other");
  CHECK(p.beat.pid == 4242);
  CHECK(p.beat.busy == std::optional<bool>(false));
  CHECK_FALSE(p.beat.status.has_value());
  CHECK_FALSE(p.beat.progress.has_value());
  CHECK(frames[1].find("\"pid\":4242") != std::string::npos);
}

// ---- the example workers ------------------------------------------------------------

TEST_CASE("heartbeat workers: the C++ example stays up under a 1.5 s timeout - reports busy and idle - stops gracefully") {
  check_worker_under_engine(worker_pool("cpp", {HEARTBEAT_WORKER_PATH}));
}

TEST_CASE("heartbeat workers: the Python example stays up under a 1.5 s timeout - reports busy and idle - stops gracefully") {
  const std::string python = python_with_zmq();
  INFO("no python3 with pyzmq (apt-get install python3-zmq)");
  REQUIRE(!python.empty());
  check_worker_under_engine(worker_pool("py", {python, kExamplesDir + "/workers/heartbeat_worker.py"}));
}

TEST_CASE("heartbeat workers: the sh example stays up on drover heartbeat calls - reports busy and idle - stops gracefully") {
  PoolSpec p = worker_pool("sh", {kExamplesDir + "/workers/heartbeat_worker.sh"});
  p.env["DROVER_BIN"] = drover_path();
  check_worker_under_engine(p);
}

TEST_CASE("heartbeat workers: examples/heartbeats.lua runs as written - every worker heartbeats - all stop gracefully") {
  auto cfg = load_config_file(kExamplesDir + "/heartbeats.lua");
  REQUIRE(cfg);
  std::map<std::string, int> sizes;
  for (auto& p : cfg->pools) {
    INFO("pool ", p.name);
    sizes[p.name] = p.n;
    CHECK(p.heartbeat.timeout_s == 5);
    CHECK(p.cwd == kExamplesDir);  // the relative paths below resolve from there
    // The config points into scripts/build.sh's build/, this test runs from its own build
    // dir: same layout, other root.
    auto in_this_build = [](const std::string& path, const std::string& built) {
      const std::string prefix = "../build/";
      REQUIRE(path.rfind(prefix, 0) == 0);
      CHECK(built.ends_with("/" + path.substr(prefix.size())));
      return built;
    };
    if (p.name == "cpp") p.argv.at(0) = in_this_build(p.argv.at(0), HEARTBEAT_WORKER_PATH);
    if (p.name == "sh") p.env.at("DROVER_BIN") = in_this_build(p.env.at("DROVER_BIN"), drover_path());
  }
  REQUIRE(sizes == std::map<std::string, int>{{"cpp", 2}, {"py", 2}, {"sh", 1}});
  TempDir dir;
  {
    Engine e(engine_options(dir));
    REQUIRE(e.apply(cfg->pools));
    REQUIRE(wait_until([&] {
      return pool_running(e, "cpp", 2) && pool_running(e, "py", 2) && pool_running(e, "sh", 1);
    }, 5s));
    // Every worker's first heartbeat within one default interval (1 s) and some slack.
    CHECK(wait_until([&] {
      EngineSnapshot snap = e.snapshot();
      for (const auto& pool : snap.pools)
        for (const auto& w : pool.workers)
          if (w.heartbeats == 0) return false;
      return true;
    }, 5s));
    EngineSnapshot snap = e.snapshot();
    CHECK(snap.heartbeat.unknown_pid == 0);
    CHECK(snap.heartbeat.malformed == 0);
    for (const auto& pool : snap.pools) CHECK(pool.counters.stalls == 0);
  }
  // The engine's destructor stopped all five; each finished its job and said so.
  const std::string log = read_file(dir.file("drover.log"));
  size_t goodbyes = 0;
  for (size_t at = log.find("TERM, finished"); at != std::string::npos; at = log.find("TERM, finished", at + 1)) ++goodbyes;
  CHECK(goodbyes == 5);
  CHECK(log.find("killed-after-grace") == std::string::npos);
  CHECK(zombie_children_of(getpid()).empty());
}
