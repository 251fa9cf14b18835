// RuntimeDir: the directory for drover's local sockets (heartbeats now; the control plane
// later), private to the user (0700), as sockets in a shared /tmp must not be.
//
// Given a path, it is created if missing (and kept at exit); an existing one must be a
// directory owned by us and not group/other accessible. Without a path, a fresh
// drover-XXXXXX is made under $XDG_RUNTIME_DIR (or /tmp) and removed, with whatever is
// left in it, when this object goes.
#pragma once

#include <memory>
#include <string>

#include "engine/status.h"

namespace drover {

class RuntimeDir {
 public:
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

}  // namespace drover
