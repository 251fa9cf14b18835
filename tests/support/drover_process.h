// DroverProcess: the real drover binary started by a test, as an operator starts it:
// stdin /dev/null, stdout to ERR.out, stderr to ERR, and the test's environment less the
// variables named in `unset` (what must not leak in from the machine: RACK_ENV ...) plus
// `extra_env`.
// XDG_STATE_HOME and XDG_RUNTIME_DIR are ERR's directory (the test's TempDir) unless
// extra_env or unset name them: a test's drover keeps its generated HTTP token and its
// runtime directory there, never in the machine's, and drovers started with their ERR in
// one directory (a host and `drover attach`) share them, as one user's drovers do.
// SIGKILLed and reaped on scope exit if the test did not end it; its orphan guard then
// takes the workers along.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace drover::test {

class DroverProcess {
 public:
  // args follow the binary's path ("pools.lua", "--no-shell" or "attach", "HOST:PORT").
  DroverProcess(const std::vector<std::string>& args, const std::string& err,
                const std::map<std::string, std::string>& extra_env = {},
                const std::vector<std::string>& unset = {});
  ~DroverProcess();
  DroverProcess(const DroverProcess&) = delete;
  DroverProcess& operator=(const DroverProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const;
  // Exit status (128 + N for death by signal N), or -1 on timeout.
  int wait_exit(std::chrono::milliseconds timeout);
  // drover's children that run drover's own binary: the orphan guard (a fork of drover).
  std::vector<pid_t> guards() const;
  // drover's fake_worker children, sorted (once exec'd).
  std::vector<pid_t> workers() const;
  // Its workers by the pool drover told them they belong to (DROVER_POOL), any program.
  std::map<std::string, std::vector<pid_t>> workers_by_pool() const;
  // The pool sizes seen right now, e.g. {{"foo", 1}, {"foo,bar", 2}}.
  std::map<std::string, size_t> counts() const;
  // The port of "drover: serving http://HOST:PORT/" on its stderr (--http HOST:0), or 0.
  int http_port(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) const;
  const std::string& err_path() const { return err_; }
  // The HTTP token drover generated for itself (<XDG_STATE_HOME>/drover/http-token, by
  // default beside ERR), once it serves --http; "" when there is none.
  std::string http_token() const;
  // <XDG_RUNTIME_DIR>/drover: where its runtime directory (<pid>/) is.
  const std::string& runtime_base() const { return runtime_base_; }

 private:
  pid_t pid_ = -1;
  std::string err_;
  std::string state_home_, runtime_base_;
};

// `drover attach 127.0.0.1:PORT ARGS...` (e.g. "-e", "print(status())") run to its end,
// its stdout and stderr in err (and err + ".out"): its exit status and what it printed,
// stdout then stderr. -1 when it did not end within 30 s.
struct AttachRun {
  int rc = -1;
  std::string out;
};
AttachRun run_attach(int port, std::vector<std::string> args, const std::string& err,
                     const std::map<std::string, std::string>& env);

}  // namespace drover::test
