// For unit tests of code that reads the environment and the file system (the runtime
// directory, the token file): a variable set (or unset) for one scope, and a scratch
// directory removed with what is in it. Header-only: unit_tests link no test_util.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <optional>
#include <string>

namespace drover::test {

class ScopedEnv {
 public:
  // value nullopt: unset for the scope.
  ScopedEnv(std::string name, const std::optional<std::string>& value) : name_(std::move(name)) {
    if (const char* old = getenv(name_.c_str())) old_ = old;
    if (value) setenv(name_.c_str(), value->c_str(), 1);
    else unsetenv(name_.c_str());
  }
  ~ScopedEnv() {
    if (old_) setenv(name_.c_str(), old_->c_str(), 1);
    else unsetenv(name_.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

class ScratchDir {
 public:
  ScratchDir() {
    std::string t = "/tmp/drover-unit-XXXXXX";
    if (mkdtemp(t.data())) path_ = t;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace drover::test
