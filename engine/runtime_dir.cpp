#include "engine/runtime_dir.h"
#include "engine/proc_stat.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include <fmt/format.h>

namespace drover {

namespace {

constexpr const char* kStartFile = ".start";

// The process's start time in clock ticks since boot; "" when it is gone.
std::string process_start_time(pid_t pid) {
  const auto st = read_proc_stat(pid);
  return st ? std::to_string(st->start_ticks) : "";
}

// .start is written under another name and renamed into place, so a drover cleaning up
// at the same moment reads all of it or nothing (and nothing means: keep the directory).
Status write_start_time(const std::string& dir) {
  const std::string tmp = dir + "/.start.tmp";
  std::ofstream out(tmp, std::ios::trunc);
  out << process_start_time(getpid()) << "\n";
  out.close();
  if (!out || rename(tmp.c_str(), (dir + "/" + kStartFile).c_str()) != 0)
    return Status::io_error(fmt::format("runtime dir {}: cannot write {}: {}", dir, kStartFile, std::strerror(errno)));
  return Status::ok();
}

std::string read_start_time(const std::string& dir) {
  std::ifstream in(dir + "/" + kStartFile);
  std::string t;
  in >> t;
  return t;
}

Status check_private_dir(const std::string& path, const struct stat& st) {
  if (S_ISLNK(st.st_mode))
    return Status::invalid(fmt::format("runtime dir {}: is a symlink, not a directory of ours: remove it", path));
  if (!S_ISDIR(st.st_mode)) return Status::invalid(fmt::format("runtime dir {}: not a directory", path));
  if (st.st_uid != geteuid() || (st.st_mode & 077) != 0)
    return Status::invalid(fmt::format("runtime dir {}: must be ours and mode 0700 (it is {:o}, owner uid {})", path,
                                       st.st_mode & 0777, st.st_uid));
  return Status::ok();
}

// This process's instance directory: <base>/<pid> when free, else <base>/<pid>-2, ...
// (a second engine of this process while the first one runs).
Result<std::string> make_instance_dir(const std::string& base) {
  static std::atomic<int> extra{1};
  for (int n = 1;; n = ++extra) {
    std::string path = n == 1 ? fmt::format("{}/{}", base, getpid()) : fmt::format("{}/{}-{}", base, getpid(), n);
    if (mkdir(path.c_str(), 0700) == 0) {
      if (Status s = write_start_time(path); !s) return s;
      return path;
    }
    if (errno != EEXIST) return Status::io_error(fmt::format("runtime dir {}: {}", path, std::strerror(errno)));
  }
}

}  // namespace

std::string runtime_base_dir() {
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  // Not writable: a login's variable kept across `su`, naming another user's directory.
  if (xdg && *xdg && access(xdg, W_OK | X_OK) == 0) return std::string(xdg) + "/drover";
  return fmt::format("/tmp/drover-{}", geteuid());
}

Status ensure_runtime_base(const std::string& base) {
  struct stat st;
  if (lstat(base.c_str(), &st) != 0) {
    if (errno != ENOENT) return Status::io_error(fmt::format("runtime dir {}: {}", base, std::strerror(errno)));
    // Another drover may make it at the same moment: EEXIST is fine, and checked below.
    if (mkdir(base.c_str(), 0700) != 0 && errno != EEXIST)
      return Status::io_error(fmt::format("runtime dir {}: {}", base, std::strerror(errno)));
    if (lstat(base.c_str(), &st) != 0)
      return Status::io_error(fmt::format("runtime dir {}: {}", base, std::strerror(errno)));
  }
  return check_private_dir(base, st);
}

pid_t runtime_instance_pid(const std::string& name) {
  const size_t digits = name.find_first_not_of("0123456789");
  const std::string pid = name.substr(0, digits);
  if (pid.empty() || pid.size() > 9 || pid[0] == '0') return 0;
  if (digits != std::string::npos) {  // "<pid>-<n>"
    const std::string rest = name.substr(digits);
    if (rest.size() < 2 || rest[0] != '-' || rest.find_first_not_of("0123456789", 1) != std::string::npos) return 0;
  }
  return static_cast<pid_t>(std::stol(pid));
}

bool runtime_instance_stale(const std::string& dir, pid_t pid) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0 && errno == ESRCH) return true;
  // Alive: the same process only if it started when the directory's maker did.
  const std::string recorded = read_start_time(dir);
  const std::string now = process_start_time(pid);
  return !recorded.empty() && !now.empty() && recorded != now;
}

std::vector<std::string> remove_stale_runtime_dirs(const std::string& base) {
  std::vector<std::string> removed;
  DIR* d = opendir(base.c_str());
  if (!d) return removed;
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) names.emplace_back(e->d_name);
  closedir(d);
  for (const auto& name : names) {
    const pid_t pid = runtime_instance_pid(name);
    if (pid == 0) continue;
    const std::string path = base + "/" + name;
    struct stat st;
    if (lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    if (!runtime_instance_stale(path, pid)) continue;
    // remove_all does not follow symlinks; the base is ours alone, so nothing in it was planted.
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (!ec) removed.push_back(path);
  }
  return removed;
}

Result<std::unique_ptr<RuntimeDir>> RuntimeDir::create(const std::string& wanted) {
  if (wanted.empty()) {
    const std::string base = runtime_base_dir();
    if (Status s = ensure_runtime_base(base); !s) return s;
    remove_stale_runtime_dirs(base);
    auto path = make_instance_dir(base);
    if (!path) return path.error();
    return std::unique_ptr<RuntimeDir>(new RuntimeDir(*path, true));
  }
  if (mkdir(wanted.c_str(), 0700) != 0 && errno != EEXIST)
    return Status::io_error(fmt::format("runtime dir {}: {}", wanted, std::strerror(errno)));
  struct stat st;
  if (stat(wanted.c_str(), &st) != 0)
    return Status::io_error(fmt::format("runtime dir {}: {}", wanted, std::strerror(errno)));
  if (Status s = check_private_dir(wanted, st); !s) return s;
  return std::unique_ptr<RuntimeDir>(new RuntimeDir(wanted, false));
}

RuntimeDir::~RuntimeDir() {
  if (!owned_) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);  // best effort: nothing to do about a failure here
}

}  // namespace drover
