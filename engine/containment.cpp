#include "engine/containment.h"
#include "engine/proc_stat.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_map>

#include <fmt/format.h>

namespace drover {

namespace {

std::atomic<int> g_instances{0};  // drover-<pid>-<n>: several engines in one process (tests)
std::atomic<int> g_subreapers{0};  // engines that asked for PR_SET_CHILD_SUBREAPER

std::string read_file(const std::string& path, size_t max = 1 << 20) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string out;
  char buf[8192];
  ssize_t n;
  while (out.size() < max && (n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

bool write_file(const std::string& path, std::string_view text) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

// Where cgroup v2 is mounted: the cgroup root on a pure v2 host, /sys/fs/cgroup/unified
// on a hybrid one. From mountinfo, as "<mount point>" with the mount's root.
bool find_cgroup2_mount(std::string* mount_point, std::string* mount_root) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    std::string fstype;
    tail >> fstype;
    if (fstype != "cgroup2") continue;
    std::istringstream head(line.substr(0, dash));
    std::string id, parent, devno, root, point;
    head >> id >> parent >> devno >> root >> point;
    *mount_point = point;
    *mount_root = root;
    return true;
  }
  return false;
}

// Our own cgroup v2 path ("0::/path"), relative to the hierarchy's root.
std::string own_cgroup() {
  std::istringstream in(read_file("/proc/self/cgroup"));
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  return {};
}

// Removes a cgroup directory and its sub-cgroups, deepest first (cgroup files go with
// their directory; only directories are removed). Fails (leaves it) while populated.
bool remove_tree(const std::string& path) {
  if (DIR* dir = opendir(path.c_str())) {
    std::vector<std::string> subs;
    while (dirent* e = readdir(dir))
      if (e->d_type == DT_DIR && std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
        subs.push_back(path + "/" + e->d_name);
    closedir(dir);
    for (const auto& sub : subs) remove_tree(sub);
  }
  return rmdir(path.c_str()) == 0 || errno == ENOENT;
}

// Waits (bounded) until a cgroup has no process left, through cgroup.events.
void wait_empty(const std::string& cgroup, std::chrono::milliseconds timeout) {
  int fd = Containment::open_events(cgroup);
  if (fd < 0) return;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (Containment::populated(fd)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLPRI, 0};
    poll(&p, 1, static_cast<int>(left.count()));
  }
  close(fd);
}

// Stale top cgroups of drovers that are gone (a guard that could not remove them):
// removed when empty. Never killed: what is in them is not ours to judge.
void sweep_stale(const std::string& parent) {
  DIR* dir = opendir(parent.c_str());
  if (!dir) return;
  std::vector<std::string> stale;
  while (dirent* e = readdir(dir)) {
    int pid = 0, n = 0;
    if (e->d_type != DT_DIR || std::sscanf(e->d_name, "drover-%d-%d", &pid, &n) != 2) continue;
    if (pid > 0 && kill(pid, 0) < 0 && errno == ESRCH) stale.push_back(parent + "/" + e->d_name);
  }
  closedir(dir);
  for (const auto& path : stale) remove_tree(path);
}


// Every process's parent and group, in one walk of /proc.
std::unordered_map<pid_t, ProcStat> proc_table() {
  std::unordered_map<pid_t, ProcStat> table;
  DIR* dir = opendir("/proc");
  if (!dir) return table;
  while (dirent* e = readdir(dir)) {
    char* end;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end || pid <= 0) continue;
    if (auto st = read_proc_stat(static_cast<pid_t>(pid))) table[static_cast<pid_t>(pid)] = std::move(*st);
  }
  closedir(dir);
  return table;
}

// The environment of a process as "K=V\0K=V\0...", wrapped in \0 so that a search for
// "\0K=V\0" matches whole entries only.
std::string environ_of(pid_t pid) { return '\0' + read_file(fmt::format("/proc/{}/environ", pid)) + '\0'; }

bool has_entry(const std::string& env, const std::string& entry) {
  std::string needle;
  needle += '\0';
  needle += entry;
  needle += '\0';
  return env.find(needle) != std::string::npos;
}

// drover's children: /proc/self/task/*/children (an adopted orphan is a child of
// whichever of our threads the kernel picked).
std::vector<pid_t> own_children() {
  std::vector<pid_t> out;
  DIR* dir = opendir("/proc/self/task");
  if (!dir) return out;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    std::istringstream in(read_file(fmt::format("/proc/self/task/{}/children", e->d_name)));
    pid_t pid;
    while (in >> pid) out.push_back(pid);
  }
  closedir(dir);
  return out;
}

}  // namespace

const char* contain_mode_name(ContainMode mode) {
  switch (mode) {
    case ContainMode::kCgroup: return "cgroup";
    case ContainMode::kSubreaper: return "subreaper";
    case ContainMode::kGroup: return "group";
  }
  return "?";
}

bool contain_mode_from_name(const std::string& name, std::optional<ContainMode>* out) {
  if (name == "auto") *out = std::nullopt;
  else if (name == "cgroup") *out = ContainMode::kCgroup;
  else if (name == "subreaper") *out = ContainMode::kSubreaper;
  else if (name == "group") *out = ContainMode::kGroup;
  else return false;
  return true;
}

Containment::Containment(std::optional<ContainMode> want) {
  if (want == ContainMode::kGroup) {
    mode_ = ContainMode::kGroup;
    description_ = "group (process groups only: children that leave the group are not followed)";
    return;
  }
  std::string why;
  if (want != ContainMode::kSubreaper && try_cgroup(&why)) {
    mode_ = ContainMode::kCgroup;
    description_ = "cgroup " + top_;
    return;
  }
  become_subreaper();
  description_ = why.empty() ? "subreaper" : "subreaper (no cgroup: " + why + ")";
}

Containment::~Containment() {
  if (!top_.empty()) {
    write_file(top_ + "/cgroup.kill", "1");
    wait_empty(top_, std::chrono::seconds(2));
    remove_tree(top_);
  }
  if (top_fd_ >= 0) close(top_fd_);
  if (mode_ == ContainMode::kSubreaper) {
    flush();
    // The orphans killed last are our children (or about to be): reap them before we go.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (!adopted_.empty() && std::chrono::steady_clock::now() < deadline) {
      tick([](pid_t) { return false; });
      if (!adopted_.empty()) usleep(2000);
    }
    if (--g_subreapers == 0) prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
  }
}

bool Containment::try_cgroup(std::string* why) {
  std::string mount, root;
  if (!find_cgroup2_mount(&mount, &root)) {
    *why = "cgroup v2 is not mounted";
    return false;
  }
  std::string own = own_cgroup();
  // Our path is relative to the hierarchy's root; the mount shows it from `root` down.
  if (root != "/" && own.rfind(root, 0) == 0) own = own.substr(root.size());
  std::string parent = mount + (own == "/" ? "" : own);
  sweep_stale(parent);
  std::string top = fmt::format("{}/drover-{}-{}", parent, getpid(), ++g_instances);
  if (mkdir(top.c_str(), 0755) < 0) {
    *why = fmt::format("cannot create {}: {}", top, std::strerror(errno));
    return false;
  }
  auto fail = [&](std::string reason) {
    *why = std::move(reason);
    remove_tree(top);
    return false;
  };
  if (access((top + "/cgroup.kill").c_str(), W_OK) != 0) return fail("no cgroup.kill (Linux 5.14 or later)");
  // Can a process join a cgroup of ours? (Not under a systemd unit without Delegate=yes,
  // nor in a container whose cgroup tree is read-only.) A child tries, as a worker will.
  std::string probe = top + "/probe";
  if (mkdir(probe.c_str(), 0755) < 0) return fail(fmt::format("cannot create {}: {}", probe, std::strerror(errno)));
  int procs = open((probe + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
  int err = errno;
  if (procs < 0) return fail(fmt::format("cannot open {}/cgroup.procs: {}", probe, std::strerror(err)));
  pid_t child = fork();
  if (child == 0) _exit(write(procs, "0", 1) == 1 ? 0 : 1);  // write and _exit only: we may have threads
  close(procs);
  int status = 0;
  while (child > 0 && waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (child < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return fail(fmt::format("a process cannot join {}", probe));
  rmdir(probe.c_str());
  top_fd_ = open(top.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (top_fd_ < 0) return fail(fmt::format("cannot open {}: {}", top, std::strerror(errno)));
  top_ = std::move(top);
  return true;
}

void Containment::become_subreaper() {
  mode_ = ContainMode::kSubreaper;
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0) ++g_subreapers;
  // Unique across drovers and across time on this host (a pid alone may be reused).
  instance_env_ = fmt::format("DROVER_INSTANCE={}-{}-{}", getpid(),
                              std::chrono::steady_clock::now().time_since_epoch().count(), g_instances++);
}

std::string Containment::worker_cgroup(const std::string& pool, int slot, uint64_t seq) {
  if (mode_ != ContainMode::kCgroup) return {};
  std::string dir = top_ + "/pool-" + pool;
  if (pool_dirs_.insert(pool).second) mkdir(dir.c_str(), 0755);  // EEXIST is fine
  return fmt::format("{}/{}.{}", dir, slot, seq);
}

void Containment::forget_pool(const std::string& pool) {
  if (pool_dirs_.erase(pool)) rmdir((top_ + "/pool-" + pool).c_str());  // EBUSY: later
}

void Containment::remove_pool_dir_of(const std::string& cgroup) {
  size_t slash = cgroup.rfind('/');
  if (slash == std::string::npos || cgroup.compare(0, top_.size(), top_) != 0) return;
  const std::string dir = cgroup.substr(0, slash);
  if (!pool_dirs_.count(dir.substr(top_.size() + 6))) rmdir(dir.c_str());  // "/pool-" is 6
}

void Containment::kill_tree(const Target& t) {
  if (t.pid > 0) kill(-t.pid, SIGKILL);
  switch (mode_) {
    case ContainMode::kCgroup:
      if (!t.cgroup.empty()) write_file(t.cgroup + "/cgroup.kill", "1");
      return;
    case ContainMode::kSubreaper:
      pending_.push_back(t);
      return;
    case ContainMode::kGroup:
      return;
  }
}

void Containment::flush() {
  if (pending_.empty()) return;
  std::vector<Target> targets = std::move(pending_);
  pending_.clear();
  auto table = proc_table();
  std::unordered_map<pid_t, std::vector<pid_t>> kids;
  for (const auto& [pid, st] : table) kids[st.ppid].push_back(pid);
  std::vector<pid_t> doomed;
  auto add_tree = [&](pid_t root) {
    std::vector<pid_t> stack{root};
    while (!stack.empty()) {
      pid_t p = stack.back();
      stack.pop_back();
      doomed.push_back(p);
      if (auto it = kids.find(p); it != kids.end()) stack.insert(stack.end(), it->second.begin(), it->second.end());
      if (doomed.size() > table.size()) return;  // a parent-pid cycle cannot happen; stay bounded anyway
    }
  };
  // A live leader's descendants, by parent: a setsid'd child is still its child.
  for (const auto& t : targets)
    if (t.leader_alive && t.pid > 0)
      if (auto it = kids.find(t.pid); it != kids.end())
        for (pid_t k : it->second) add_tree(k);
  // What left the tree came to us (we are the subreaper): our children with this
  // instance's, pool's and slot's mark, and their descendants.
  const pid_t self = getpid();
  if (auto it = kids.find(self); it != kids.end()) {
    for (pid_t child : it->second) {
      const auto& st = table[child];
      // Still in a target's group: killed with it a moment ago, dead or dying, and now
      // ours to reap (a zombie's environment cannot be read).
      if (std::any_of(targets.begin(), targets.end(), [&](const Target& t) { return t.pid > 0 && st.pgrp == t.pid; })) {
        add_tree(child);
        continue;
      }
      if (st.state == 'Z') continue;
      std::string env = environ_of(child);
      if (!has_entry(env, instance_env_)) continue;
      for (const auto& t : targets)
        if (has_entry(env, "DROVER_POOL=" + t.pool) && has_entry(env, fmt::format("DROVER_SLOT={}", t.slot))) {
          add_tree(child);
          break;
        }
    }
  }
  for (pid_t p : doomed) kill(p, SIGKILL);
  // Each may end as a zombie child of ours (its parent died first): reap them in tick().
  adopted_.insert(doomed.begin(), doomed.end());
}

void Containment::tick(const std::function<bool(pid_t)>& is_worker) {
  if (mode_ != ContainMode::kSubreaper) return;
  std::set<pid_t> seen;
  for (pid_t child : own_children()) {
    seen.insert(child);
    if (adopted_.count(child) || strangers_.count(child) || is_worker(child)) continue;
    if (has_entry(environ_of(child), instance_env_)) adopted_.insert(child);
    else strangers_.insert(child);
  }
  std::erase_if(strangers_, [&](pid_t p) { return !seen.count(p); });
  std::erase_if(adopted_, [&](pid_t p) {
    if (is_worker(p)) return true;  // the pid was reused by a worker: its exit is the pidfd's
    siginfo_t info{};
    if (waitid(P_PID, static_cast<id_t>(p), &info, WEXITED | WNOHANG) == 0) return info.si_pid == p;
    // Not our child, yet: its parent may still be dying, and then it comes to us (even as
    // a zombie). Forgotten only once it is gone altogether.
    if (errno != ECHILD) return true;
    return !read_proc_stat(p);
  });
}

bool Containment::remove(const std::string& cgroup) { return rmdir(cgroup.c_str()) == 0 || errno == ENOENT; }

int Containment::open_events(const std::string& cgroup) {
  return open((cgroup + "/cgroup.events").c_str(), O_RDONLY | O_CLOEXEC);
}

bool Containment::populated(int events_fd) {
  char buf[256];
  ssize_t n = pread(events_fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return false;
  buf[n] = '\0';
  return std::strstr(buf, "populated 1") != nullptr;
}

std::vector<pid_t> Containment::members(const std::string& cgroup) {
  std::vector<pid_t> out;
  std::istringstream in(read_file(cgroup + "/cgroup.procs"));
  pid_t pid;
  while (in >> pid) out.push_back(pid);
  return out;
}

}  // namespace drover
