// fake_worker: a worker with a personality, for integration tests and benchmarks.
//
//   fake_worker sleep [SECONDS]     sleep (forever by default); on TERM print "fake_worker: TERM", exit 0
//   fake_worker exit N [DELAY_S]    exit with status N, after DELAY_S
//   fake_worker ignore-term         ignore SIGTERM and sleep forever
//   fake_worker flood               write numbered lines to stdout as fast as possible
//   fake_worker print-exit TEXT     write TEXT with no newline, exit 3 at once
//   fake_worker env                 print DROVER_POOL, DROVER_SLOT, QUEUE, cwd; then sleep
//   fake_worker fork-child          fork a grandchild that sleeps; print "child PID"; sleep
//   fake_worker stderr TEXT         print TEXT to stderr; then sleep
//   fake_worker read-stdin          print "stdin: eof" when stdin reads EOF; then sleep
// Output goes through write(2), unbuffered, so nothing is held back in stdio.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

void say(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(errno == EPIPE ? 0 : 1);
    off += static_cast<size_t>(n);
  }
}

void on_term(int) {
  const char msg[] = "fake_worker: TERM\n";
  [[maybe_unused]] ssize_t r = write(1, msg, sizeof msg - 1);
  _exit(0);
}

[[noreturn]] void sleep_forever() {
  for (;;) pause();
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "sleep";
  std::string arg = argc > 2 ? argv[2] : "";
  signal(SIGTERM, on_term);
  signal(SIGPIPE, SIG_IGN);

  if (mode == "sleep") {
    if (arg.empty()) sleep_forever();
    usleep(static_cast<useconds_t>(std::atof(arg.c_str()) * 1e6));
    return 0;
  }
  if (mode == "exit") {
    if (argc > 3) usleep(static_cast<useconds_t>(std::atof(argv[3]) * 1e6));
    return std::atoi(arg.c_str());
  }
  if (mode == "ignore-term") {
    signal(SIGTERM, SIG_IGN);
    say(1, "ignoring TERM\n");
    sleep_forever();
  }
  if (mode == "flood") {
    char buf[64 * 1024];
    unsigned long n = 0;
    for (;;) {
      size_t len = 0;
      while (len + 64 < sizeof buf) len += static_cast<size_t>(std::snprintf(buf + len, 64, "flood %lu the quick brown fox\n", n++));
      say(1, std::string(buf, len));
    }
  }
  if (mode == "print-exit") {
    say(1, arg);
    return 3;
  }
  if (mode == "env") {
    char cwd[4096];
    say(1, "DROVER_POOL=" + env_or("DROVER_POOL", "") + "\n");
    say(1, "DROVER_SLOT=" + env_or("DROVER_SLOT", "") + "\n");
    say(1, "QUEUE=" + env_or("QUEUE", "") + "\n");
    say(1, std::string("CWD=") + (getcwd(cwd, sizeof cwd) ? cwd : "?") + "\n");
    sleep_forever();
  }
  if (mode == "fork-child") {
    pid_t child = fork();
    if (child == 0) {
      signal(SIGTERM, SIG_DFL);
      sleep_forever();
    }
    say(1, "child " + std::to_string(child) + "\n");
    sleep_forever();
  }
  if (mode == "stderr") {
    say(2, arg + "\n");
    sleep_forever();
  }
  if (mode == "read-stdin") {
    char c;
    ssize_t n = read(0, &c, 1);
    say(1, n == 0 ? "stdin: eof\n" : "stdin: data\n");
    sleep_forever();
  }
  say(2, "fake_worker: unknown mode " + mode + "\n");
  return 64;
}
