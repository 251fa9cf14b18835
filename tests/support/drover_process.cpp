#include "tests/support/drover_process.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <regex>

#include "tests/support/test_util.h"

extern char** environ;

namespace drover::test {

DroverProcess::DroverProcess(const std::vector<std::string>& args, const std::string& err,
                             const std::map<std::string, std::string>& extra_env,
                             const std::vector<std::string>& unset)
    : err_(err) {
  std::vector<std::string> argv{drover_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::map<std::string, std::string> own_env = extra_env;
  const std::string err_dir = err.substr(0, err.rfind('/'));
  for (const char* key : {"XDG_STATE_HOME", "XDG_RUNTIME_DIR"})
    if (std::find(unset.begin(), unset.end(), key) == unset.end()) own_env.emplace(key, err_dir);
  state_home_ = own_env.count("XDG_STATE_HOME") ? own_env["XDG_STATE_HOME"] : "";
  runtime_base_ = own_env.count("XDG_RUNTIME_DIR") ? own_env["XDG_RUNTIME_DIR"] + "/drover" : "";
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    std::string key = kv.substr(0, kv.find('='));
    if (own_env.count(key) || std::find(unset.begin(), unset.end(), key) != unset.end()) continue;
    env.push_back(kv);
  }
  for (const auto& [k, v] : own_env) env.push_back(k + "=" + v);
  std::vector<char*> cenv;
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, (err + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int rc = posix_spawn(&pid_, drover_path(), &fa, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  REQUIRE(rc == 0);
  REQUIRE(pid_ > 1);
}

DroverProcess::~DroverProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

std::string DroverProcess::http_token() const {
  if (state_home_.empty()) return "";
  std::string token = read_file(state_home_ + "/drover/http-token");
  while (!token.empty() && token.back() == '\n') token.pop_back();
  return token;
}

void DroverProcess::signal(int sig) const {
  REQUIRE(pid_ > 1);  // never kill(-1, ...) or kill(0, ...)
  REQUIRE(kill(pid_, sig) == 0);
}

int DroverProcess::wait_exit(std::chrono::milliseconds timeout) {
  int status = 0;
  if (!wait_until([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, timeout)) return -1;
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::vector<pid_t> DroverProcess::guards() const {
  // posix_spawn returns after the exec, so /proc/PID/exe is drover's from the start.
  const std::string exe = proc_exe(pid_);
  std::vector<pid_t> out;
  for (pid_t c : children_of(pid_))
    if (!exe.empty() && proc_exe(c) == exe) out.push_back(c);
  return out;
}

std::vector<pid_t> DroverProcess::workers() const {
  std::vector<pid_t> out;
  for (pid_t c : children_of(pid_))
    if (proc_exe(c).find("fake_worker") != std::string::npos) out.push_back(c);
  std::sort(out.begin(), out.end());
  return out;
}

std::map<std::string, std::vector<pid_t>> DroverProcess::workers_by_pool() const {
  std::map<std::string, std::vector<pid_t>> out;
  for (pid_t c : children_of(pid_))
    if (std::string pool = proc_env(c, "DROVER_POOL"); !pool.empty()) out[pool].push_back(c);
  for (auto& [_, pids] : out) std::sort(pids.begin(), pids.end());
  return out;
}

std::map<std::string, size_t> DroverProcess::counts() const {
  std::map<std::string, size_t> out;
  for (const auto& [pool, pids] : workers_by_pool()) out[pool] = pids.size();
  return out;
}

int DroverProcess::http_port(std::chrono::milliseconds timeout) const {
  std::smatch m;
  std::string text;
  const std::regex serving(R"(serving http://[^:/]+:([0-9]+)/)");
  wait_until([&] {
    text = read_file(err_);
    return std::regex_search(text, m, serving);
  }, timeout);
  return m.empty() ? 0 : std::stoi(m[1]);
}

AttachRun run_attach(int port, std::vector<std::string> args, const std::string& err,
                     const std::map<std::string, std::string>& env) {
  args.insert(args.begin(), {"attach", "127.0.0.1:" + std::to_string(port)});
  DroverProcess p(args, err, env);
  AttachRun run;
  run.rc = p.wait_exit(std::chrono::seconds(30));
  run.out = read_file(err + ".out") + read_file(err);
  return run;
}

}  // namespace drover::test
