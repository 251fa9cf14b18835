// Containment: nothing a worker starts outlives the worker or drover, wherever it goes.
//
// A process group does not hold a worker's tree: rq's work horse, a setsid'd helper or a
// double-forked daemon leaves it, and killing the group misses them. Two ways to hold
// the whole tree, chosen at start:
//
//   cgroup     one cgroup v2 per worker, <ours>/drover-<pid>-<n>/pool-<name>/<slot>.<seq>.
//              The spawned child joins its cgroup before exec (so before clone returns
//              to whichever thread spawned it); everything it starts stays there, setsid
//              or not. The final kill is cgroup.kill; cgroup.events says when the tree is
//              empty, then the directory is removed. Needs a writable cgroup v2 tree with
//              cgroup.kill (Linux 5.14): root on the host (on a hybrid layout the v2 tree
//              is /sys/fs/cgroup/unified), or a systemd unit with Delegate=yes.
//   subreaper  drover is PR_SET_CHILD_SUBREAPER, so orphans of a worker's tree are
//              re-parented to drover rather than init; every worker (and what inherits its
//              environment) carries DROVER_INSTANCE. The final kill of a worker takes its
//              process group, its descendants (by parent pid, while it lives) and every
//              process marked with this instance, pool and slot. A descendant that both
//              leaves the tree and clears its environment is not found.
//   group      the process group only (what drover did before): chosen explicitly.
//
// Thread: the loop thread, except worker_cgroup_path() (any thread, const) and the
// static helpers.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace drover {

enum class ContainMode { kCgroup, kSubreaper, kGroup };
const char* contain_mode_name(ContainMode mode);
// "auto" is nullopt; an unknown name is an error (false).
bool contain_mode_from_name(const std::string& name, std::optional<ContainMode>* out);

class Containment {
 public:
  // want: nullopt = cgroup where it works, else subreaper. Asking for cgroup where it
  // cannot work falls back to subreaper, and description() says why.
  explicit Containment(std::optional<ContainMode> want);
  // Kills whatever is left in drover's cgroups and removes them.
  ~Containment();
  Containment(const Containment&) = delete;
  Containment& operator=(const Containment&) = delete;

  ContainMode mode() const { return mode_; }
  // For status() and the start-up log line: "cgroup /sys/fs/cgroup/unified/drover-12-1".
  const std::string& description() const { return description_; }
  // cgroup mode: drover's top cgroup directory (an O_PATH|O_DIRECTORY fd), for the orphan
  // guard, which kills and removes it should drover die. -1 otherwise.
  int top_dir_fd() const { return top_fd_; }
  const std::string& cgroup_top() const { return top_; }
  // subreaper mode: "DROVER_INSTANCE=<token>", put into every worker's environment. Empty otherwise.
  const std::string& instance_env() const { return instance_env_; }

  // cgroup mode: the directory a new worker of `pool` starts in (the spawner creates it);
  // the pool's directory is created here on first use. Empty in the other modes.
  std::string worker_cgroup(const std::string& pool, int slot, uint64_t seq);
  // A removed pool: its directory goes now if empty, else when its last worker's cgroup
  // is removed (remove_pool_dir_of).
  void forget_pool(const std::string& pool);
  // After a worker's cgroup is removed: its pool's directory too, if the pool is gone.
  void remove_pool_dir_of(const std::string& cgroup);

  // The final kill of one worker's tree (its leader may be a zombie, never reaped yet).
  // cgroup: cgroup.kill. subreaper: the group now; the marked processes (and a live
  // leader's descendants) at the next flush(), one /proc walk for all of a wake-up's kills.
  struct Target {
    pid_t pid = 0;
    bool leader_alive = false;  // not exited: its descendants can be found by parent pid
    std::string pool;
    int slot = -1;
    std::string cgroup;
  };
  void kill_tree(const Target& target);
  void flush();
  // subreaper, every second or so: note drover's children that carry this instance's
  // mark and are not workers (orphans adopted from a worker's tree), and reap those of
  // them that have died. Only marked ones: the host's other children are left alone.
  void tick(const std::function<bool(pid_t)>& is_worker);

  // cgroup mode: removes an emptied worker cgroup; false while it is still populated.
  static bool remove(const std::string& cgroup);
  // An fd on cgroup.events to watch for EPOLLPRI; -1 on error.
  static int open_events(const std::string& cgroup);
  static bool populated(int events_fd);
  // The pids in a cgroup (cgroup.procs), for pstree.
  static std::vector<pid_t> members(const std::string& cgroup);

 private:
  bool try_cgroup(std::string* why);
  void become_subreaper();

  ContainMode mode_ = ContainMode::kGroup;
  std::string description_;
  std::string top_;  // cgroup mode: drover's top cgroup directory
  int top_fd_ = -1;
  std::set<std::string> pool_dirs_;
  std::string instance_env_;
  std::vector<Target> pending_;  // subreaper: kills for flush()
  std::set<pid_t> adopted_;      // subreaper: marked orphans re-parented to us, to reap
  std::set<pid_t> strangers_;    // subreaper: children checked and not marked
};

}  // namespace drover
