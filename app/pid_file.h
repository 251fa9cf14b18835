// PidFile: drover's --pid-file, held for as long as drover runs.
//
// The file is written aside and renamed into place (a reader never sees it half written,
// and rename replaces a symlink at the path instead of writing through it), with an
// exclusive flock(2) on it held until drover exits, so that a second drover given the
// same path fails at once and clearly instead of overwriting it. At exit it is removed
// only if it still holds our pid: another drover's file is left alone.
#pragma once

#include <sys/types.h>

#include <string>

#include "engine/status.h"

namespace drover {

class PidFile {
 public:
  // Writes getpid() to path and locks it. Errors name the path and the cause; a path
  // locked by a live drover says which pid holds it.
  static Result<PidFile> create(const std::string& path);

  PidFile(PidFile&& other) noexcept;
  PidFile& operator=(PidFile&&) = delete;
  PidFile(const PidFile&) = delete;
  ~PidFile();

  // Removes the file if it is still ours (same file, our pid). Async-signal-safe enough
  // for the exit path that cannot wait for the main thread (open, read, fstat, unlink).
  void remove_if_ours();
  const std::string& path() const { return path_; }

 private:
  PidFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_ = -1;  // the locked file; the lock goes with the process
};

}  // namespace drover
