#include "engine/runtime_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

namespace drover {

Result<std::unique_ptr<RuntimeDir>> RuntimeDir::create(const std::string& wanted) {
  if (wanted.empty()) {
    const char* base = std::getenv("XDG_RUNTIME_DIR");
    std::string dir = base && *base && access(base, W_OK | X_OK) == 0 ? base : "/tmp";
    std::string templ = dir + "/drover-XXXXXX";
    if (!mkdtemp(templ.data()))  // mkdtemp makes it 0700
      return Status::io_error(fmt::format("runtime dir {}: {}", templ, std::strerror(errno)));
    return std::unique_ptr<RuntimeDir>(new RuntimeDir(templ, true));
  }
  if (mkdir(wanted.c_str(), 0700) != 0 && errno != EEXIST)
    return Status::io_error(fmt::format("runtime dir {}: {}", wanted, std::strerror(errno)));
  struct stat st;
  if (stat(wanted.c_str(), &st) != 0)
    return Status::io_error(fmt::format("runtime dir {}: {}", wanted, std::strerror(errno)));
  if (!S_ISDIR(st.st_mode)) return Status::invalid(fmt::format("runtime dir {}: not a directory", wanted));
  if (st.st_uid != geteuid() || (st.st_mode & 077) != 0)
    return Status::invalid(fmt::format("runtime dir {}: must be ours and mode 0700 (it is {:o})", wanted,
                                       st.st_mode & 0777));
  return std::unique_ptr<RuntimeDir>(new RuntimeDir(wanted, false));
}

RuntimeDir::~RuntimeDir() {
  if (!owned_) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);  // best effort: nothing to do about a failure here
}

}  // namespace drover
