#include "tests/support/test_util.h"

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace drover::test {

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds deadline) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return pred();
}

namespace {
struct Stat {
  char state = '?';
  pid_t ppid = 0;
};
bool read_stat(pid_t pid, Stat& out) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return false;
  size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(line.substr(close + 2));
  rest >> out.state >> out.ppid;
  return true;
}
template <typename Fn>
void each_pid(Fn fn) {
  DIR* d = opendir("/proc");
  if (!d) return;
  while (dirent* e = readdir(d)) {
    char* end;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end == 0 && pid > 0) fn(static_cast<pid_t>(pid));
  }
  closedir(d);
}
}  // namespace

bool pid_alive(pid_t pid) {
  if (pid <= 0 || kill(pid, 0) != 0) return false;
  Stat s;
  return read_stat(pid, s) && s.state != 'Z' && s.state != 'X';
}

bool all_dead(const std::vector<pid_t>& pids) {
  return std::none_of(pids.begin(), pids.end(), [](pid_t p) { return pid_alive(p); });
}

std::vector<pid_t> zombie_children_of(pid_t parent) {
  std::vector<pid_t> out;
  each_pid([&](pid_t pid) {
    Stat s;
    if (read_stat(pid, s) && s.ppid == parent && s.state == 'Z') out.push_back(pid);
  });
  return out;
}

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  each_pid([&](pid_t pid) {
    Stat s;
    if (read_stat(pid, s) && s.ppid == parent && s.state != 'Z') out.push_back(pid);
  });
  return out;
}

std::string proc_exe(pid_t pid) {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
  return ec ? "" : p.string();
}

namespace {

// A bit of one of /proc/PID/status's signal masks ("SigCgt:", "SigIgn:").
bool signal_mask_bit(pid_t pid, const std::string& mask_key, int sig) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (f >> key) {
    if (key == mask_key) {
      std::string hex;
      f >> hex;
      unsigned long long mask = std::stoull(hex, nullptr, 16);
      return (mask >> (sig - 1)) & 1;
    }
    f.ignore(1 << 20, '\n');
  }
  return false;
}

}  // namespace

bool catches_signal(pid_t pid, int sig) { return signal_mask_bit(pid, "SigCgt:", sig); }
bool ignores_signal(pid_t pid, int sig) { return signal_mask_bit(pid, "SigIgn:", sig); }

std::string proc_env(pid_t pid, const std::string& key) {
  // Right after a vfork-style spawn returns, exec has begun but the kernel may not have
  // set up the new image's environment yet: /proc shows it empty for a moment. A worker
  // always has some environment, so an empty one means "not yet".
  std::string all;
  wait_until([&] {
    all = read_file("/proc/" + std::to_string(pid) + "/environ");
    return !all.empty() || !pid_alive(pid);
  }, std::chrono::milliseconds(1000));
  const std::string prefix = key + "=";
  for (size_t at = 0; at < all.size();) {
    size_t end = all.find('\0', at);
    if (end == std::string::npos) end = all.size();
    if (all.compare(at, prefix.size(), prefix) == 0) return all.substr(at + prefix.size(), end - at - prefix.size());
    at = end + 1;
  }
  return "";
}

long self_rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string key;
  while (f >> key) {
    if (key == "VmRSS:") {
      long kb;
      f >> kb;
      return kb;
    }
    f.ignore(1 << 20, '\n');
  }
  return -1;
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/drover-test-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

void write_file(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

EngineOptions engine_options(const TempDir& dir) {
  EngineOptions o;
  o.log_path = dir.file("drover.log");
  return o;
}

PoolSpec fake_pool(const std::string& name, int n, std::vector<std::string> args) {
  PoolSpec p;
  p.name = name;
  p.n = n;
  p.argv = {fake_worker_path()};
  p.argv.insert(p.argv.end(), args.begin(), args.end());
  p.grace_s = 2;
  return p;
}

const PoolSnapshot& pool_of(const EngineSnapshot& snap, const std::string& pool) {
  const PoolSnapshot* p = snap.find(pool);
  if (!p) throw std::runtime_error("no pool " + pool + " in snapshot");
  return *p;
}

std::vector<pid_t> running_pids(const EngineSnapshot& snap, const std::string& pool) {
  std::vector<pid_t> out;
  if (const PoolSnapshot* p = snap.find(pool))
    for (const auto& w : p->workers)
      if (w.state == SlotState::kRunning && w.pid) out.push_back(w.pid);
  std::sort(out.begin(), out.end());
  return out;
}

bool pool_running(Engine& engine, const std::string& pool, int n) {
  EngineSnapshot snap = engine.snapshot();
  const PoolSnapshot* p = snap.find(pool);
  return p && p->running == n && static_cast<int>(p->workers.size()) == n;
}

bool log_contains(Engine& engine, const std::string& text, const std::optional<std::string>& pool) {
  for (const auto& line : engine.log_tail(1000000, pool))
    if (line.text.find(text) != std::string::npos) return true;
  return false;
}

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error("free_port: no loopback port");
  close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace drover::test
