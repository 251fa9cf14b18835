// fake_worker: a worker with a personality, for integration tests and benchmarks.
//
//   fake_worker sleep [SECONDS]     sleep (forever by default); on TERM print "fake_worker: TERM", exit 0
//   fake_worker exit N [DELAY_S]    exit with status N, after DELAY_S
//   fake_worker ignore-term         print "ignoring TERM", ignore SIGTERM and sleep forever
//   fake_worker flood               write numbered lines to stdout as fast as possible (exit 0 on EPIPE)
//   fake_worker print-exit TEXT     write TEXT with no newline, exit 3 at once
//   fake_worker env                 print DROVER_POOL, DROVER_SLOT, QUEUE, CWD as KEY=VALUE; then sleep
//   fake_worker fork-child          fork a grandchild that sleeps; print "child PID"; sleep
//   fake_worker fork-orphan [DELAY_S]
//                                   fork a grandchild that sleeps; print "child PID"; exit 0 after
//                                   DELAY_S, leaving the grandchild behind in the worker's group
//   fake_worker stderr TEXT         print TEXT to stderr; then sleep
//   fake_worker read-stdin          read stdin once: print "stdin: eof", "stdin: data" or
//                                   "stdin: error MESSAGE"; then sleep
//   fake_worker tick SECONDS        print "tick 1", "tick 2", ... one every SECONDS, forever
//   fake_worker escape              ignore TERM; fork a child that calls setsid (rq's work horse)
//                                   and one that double-forks (a daemon, re-parented away);
//                                   print "setsid PID" and "orphan PID"; sleep. Both sleep
//                                   forever ignoring TERM, outside the worker's group.
//   fake_worker job SECONDS         Celery's prefork and resque: fork a child that works a job of
//                                   SECONDS ("job start PID", then "job done") with TERM, QUIT and
//                                   INT at their defaults; on TERM, QUIT or INT the worker says
//                                   "warm stop", waits for the job and exits 0; forks the next
//                                   job while not stopping
// Modes that sleep exit 0 on SIGTERM after printing "fake_worker: TERM", except ignore-term
// and fork-orphan (default TERM disposition). Grandchildren keep the default dispositions
// and the worker's process group. Output goes through write(2): nothing waits in stdio.
// A bad mode or argument prints usage to stderr and exits 64.
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

constexpr int kUsageExit = 64;

void say(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) _exit(errno == EPIPE ? 0 : 1);  // the reader is gone: stop quietly
    off += static_cast<size_t>(n);
  }
}

[[noreturn]] void usage(const std::string& why) {
  say(2, "fake_worker: " + why +
             "\nusage: fake_worker sleep [SECONDS] | exit N [DELAY_S] | ignore-term | flood | print-exit TEXT"
             " | env | fork-child | fork-orphan [DELAY_S] | stderr TEXT | read-stdin | tick SECONDS\n");
  _exit(kUsageExit);
}

void on_term(int) {
  const char msg[] = "fake_worker: TERM\n";
  [[maybe_unused]] ssize_t r = write(1, msg, sizeof msg - 1);
  _exit(0);
}

void set_signal(int sig, void (*handler)(int)) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, nullptr);
}

[[noreturn]] void sleep_forever() {
  for (;;) pause();
}

// Sleeps SECONDS (fractions allowed), resuming after signals that do not end the process.
void sleep_for(double seconds) {
  timespec left{static_cast<time_t>(seconds), static_cast<long>(std::fmod(seconds, 1.0) * 1e9)};
  while (nanosleep(&left, &left) < 0 && errno == EINTR) {
  }
}

double seconds_arg(const char* s) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s, &end);
  if (errno != 0 || end == s || *end != '\0' || !(v >= 0) || v > 1e9) usage(std::string("bad seconds: ") + s);
  return v;
}

int int_arg(const char* s) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 255) usage(std::string("bad exit status: ") + s);
  return static_cast<int>(v);
}

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Forks a grandchild that sleeps forever in this process group with default signal
// dispositions; prints "child PID".
void fork_grandchild() {
  pid_t child = fork();
  if (child < 0) {
    say(2, std::string("fake_worker: fork: ") + std::strerror(errno) + "\n");
    _exit(1);
  }
  if (child == 0) {
    set_signal(SIGTERM, SIG_DFL);
    set_signal(SIGPIPE, SIG_DFL);
    sleep_forever();
  }
  say(1, "child " + std::to_string(child) + "\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "sleep";
  const char* arg = argc > 2 ? argv[2] : nullptr;
  auto need_arg = [&] {
    if (!arg) usage(mode + " needs an argument");
  };
  set_signal(SIGTERM, on_term);
  set_signal(SIGPIPE, SIG_IGN);  // a closed pipe shows as EPIPE in say()

  if (mode == "sleep") {
    if (!arg) sleep_forever();
    sleep_for(seconds_arg(arg));
    return 0;
  }
  if (mode == "exit") {
    need_arg();
    int status = int_arg(arg);
    if (argc > 3) sleep_for(seconds_arg(argv[3]));
    return status;
  }
  if (mode == "ignore-term") {
    set_signal(SIGTERM, SIG_IGN);
    say(1, "ignoring TERM\n");
    sleep_forever();
  }
  if (mode == "flood") {
    static char buf[64 * 1024];
    unsigned long n = 0;
    for (;;) {
      size_t len = 0;
      while (len + 64 < sizeof buf)
        len += static_cast<size_t>(std::snprintf(buf + len, 64, "flood %05lu the quick brown fox\n", n++));
      say(1, std::string(buf, len));
    }
  }
  if (mode == "print-exit") {
    need_arg();
    say(1, arg);
    return 3;
  }
  if (mode == "env") {
    char cwd[4096];
    say(1, "DROVER_POOL=" + env_or_empty("DROVER_POOL") + "\n");
    say(1, "DROVER_SLOT=" + env_or_empty("DROVER_SLOT") + "\n");
    say(1, "QUEUE=" + env_or_empty("QUEUE") + "\n");
    say(1, std::string("CWD=") + (getcwd(cwd, sizeof cwd) ? cwd : "?") + "\n");
    sleep_forever();
  }
  if (mode == "fork-child") {
    fork_grandchild();
    sleep_forever();
  }
  if (mode == "fork-orphan") {
    double delay = arg ? seconds_arg(arg) : 0;
    set_signal(SIGTERM, SIG_DFL);
    fork_grandchild();
    sleep_for(delay);
    return 0;
  }
  if (mode == "stderr") {
    need_arg();
    say(2, std::string(arg) + "\n");
    sleep_forever();
  }
  if (mode == "read-stdin") {
    char c;
    ssize_t n;
    while ((n = read(0, &c, 1)) < 0 && errno == EINTR) {
    }
    say(1, n == 0  ? std::string("stdin: eof\n")
           : n > 0 ? std::string("stdin: data\n")
                   : "stdin: error " + std::string(std::strerror(errno)) + "\n");
    sleep_forever();
  }
  if (mode == "tick") {
    need_arg();
    const double every = seconds_arg(arg);
    for (unsigned long n = 1;; ++n) {
      sleep_for(every);
      say(1, "tick " + std::to_string(n) + "\n");
    }
  }
  if (mode == "escape") {
    set_signal(SIGTERM, SIG_IGN);  // inherited: only SIGKILL ends any of them
    int pipefd[2];
    if (pipe(pipefd) < 0) _exit(1);
    pid_t setsid_child = fork();
    if (setsid_child == 0) {
      setsid();
      [[maybe_unused]] ssize_t w = write(pipefd[1], "s", 1);  // out of the group before we say so
      sleep_forever();
    }
    char done;
    [[maybe_unused]] ssize_t got = read(pipefd[0], &done, 1);
    pid_t middle = fork();
    if (middle == 0) {
      setsid();
      pid_t daemon = fork();
      if (daemon == 0) sleep_forever();
      [[maybe_unused]] ssize_t w = write(pipefd[1], &daemon, sizeof daemon);
      _exit(0);  // the daemon is re-parented: to drover as a subreaper, else to init
    }
    pid_t daemon = 0;
    [[maybe_unused]] ssize_t r = read(pipefd[0], &daemon, sizeof daemon);
    while (waitpid(middle, nullptr, 0) < 0 && errno == EINTR) {
    }
    say(1, "setsid " + std::to_string(setsid_child) + "\norphan " + std::to_string(daemon) + "\n");
    sleep_forever();
  }
  if (mode == "job") {
    need_arg();
    const double seconds = seconds_arg(arg);
    static volatile sig_atomic_t stopping = 0;
    auto on_stop = [](int) { stopping = 1; };
    for (int sig : {SIGTERM, SIGQUIT, SIGINT}) set_signal(sig, on_stop);
    bool said = false;
    while (!stopping) {
      pid_t child = fork();
      if (child == 0) {
        for (int sig : {SIGTERM, SIGQUIT, SIGINT}) set_signal(sig, SIG_DFL);  // resque's child resets QUIT
        say(1, "job start " + std::to_string(getpid()) + "\n");
        sleep_for(seconds);
        say(1, "job done\n");
        _exit(0);
      }
      while (waitpid(child, nullptr, 0) < 0 && errno == EINTR)
        if (stopping && !said) {
          say(1, "warm stop\n");
          said = true;
        }
    }
    if (!said) say(1, "warm stop\n");
    return 0;
  }
  usage("unknown mode " + mode);
}
