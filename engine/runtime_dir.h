// RuntimeDir: the directory for one drover's local sockets (heartbeats, the control
// socket), private to the user (0700), as sockets in a shared /tmp must not be.
//
// Layout (issue 12): one per-user base directory, $XDG_RUNTIME_DIR/drover when
// XDG_RUNTIME_DIR is set and writable, else /tmp/drover-<uid>; inside it, one directory
// per running drover, named by its pid:
//
//   /run/user/1000/drover/        0700, ours, never a symlink
//   /run/user/1000/drover/4242/   0700: heartbeat, control.sock, .start
//
// `drover attach` finds a drover by these names (app/control_socket.h). A second
// RuntimeDir in the same process (an in-process test running two engines) is named
// <pid>-<n>, so that its sockets never meet the first's.
//
// A drover killed with SIGKILL leaves its directory behind; the next one to start removes
// every directory whose drover is gone: its pid is not alive, or the pid now belongs to a
// process started at another moment (.start holds the owner's start time in clock ticks
// since boot, from /proc/PID/stat). A directory whose pid is alive and whose start time
// cannot be compared is kept: removing a live drover's sockets is the one thing never done.
//
// Given an explicit path instead, it is created if missing (and kept at exit); an
// existing one must be a directory owned by us and not group/other accessible.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/status.h"

namespace drover {

class RuntimeDir {
 public:
  // Empty `wanted`: this process's directory under runtime_base_dir(), removed with what
  // is left in it when this object goes; stale directories are removed first.
  static Result<std::unique_ptr<RuntimeDir>> create(const std::string& wanted);
  ~RuntimeDir();
  RuntimeDir(const RuntimeDir&) = delete;
  RuntimeDir& operator=(const RuntimeDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  RuntimeDir(std::string path, bool owned) : path_(std::move(path)), owned_(owned) {}
  std::string path_;
  bool owned_;
};

// Where the per-user base directory is (it may not exist): reads the environment only.
std::string runtime_base_dir();

// Makes the base directory (0700) when missing. An existing one must be a real directory
// (not a symlink), owned by us, with no group/other bits: anything else was planted by
// someone else, and is an error naming it.
Status ensure_runtime_base(const std::string& base);

// The name of an instance directory, "4242" or "4242-2", as a pid; 0 for any other name.
pid_t runtime_instance_pid(const std::string& name);

// Whether the drover that made the instance directory `dir` (named for `pid`) is gone.
bool runtime_instance_stale(const std::string& dir, pid_t pid);

// Removes every stale instance directory under base; returns the paths removed.
std::vector<std::string> remove_stale_runtime_dirs(const std::string& base);

}  // namespace drover
