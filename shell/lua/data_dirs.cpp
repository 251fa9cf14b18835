#include "shell/lua/data_dirs.h"

#include <cstdlib>
#include <filesystem>

namespace drover {

namespace fs = std::filesystem;

namespace {

bool has_policies(const fs::path& dir) {
  std::error_code ec;
  return !dir.empty() && fs::is_directory(dir / "policies", ec);
}

}  // namespace

std::string find_data_dir(const DataDirCandidates& c) {
  if (!c.exe.empty() && !c.exe_to_data.empty()) {
    const fs::path beside_exe = (fs::path(c.exe).parent_path() / c.exe_to_data).lexically_normal();
    if (has_policies(beside_exe)) return beside_exe.string();
  }
  // Only a build tree gets here: an installed binary found its data above.
  if (has_policies(c.source)) return c.source;
  if (has_policies(c.install)) return c.install;
  return "";
}

std::vector<std::string> policy_search_path(std::string_view drover_path, const std::string& data_dir) {
  std::vector<std::string> dirs;
  std::error_code ec;
  while (!drover_path.empty()) {
    const size_t colon = drover_path.find(':');
    const std::string_view entry = drover_path.substr(0, colon);
    drover_path = colon == std::string_view::npos ? std::string_view() : drover_path.substr(colon + 1);
    if (!entry.empty() && fs::is_directory(entry, ec)) dirs.emplace_back(entry);
  }
  if (has_policies(data_dir)) dirs.push_back((fs::path(data_dir) / "policies").string());
  return dirs;
}

std::string drover_data_dir() {
  static const std::string dir = [] {
    DataDirCandidates c;
    std::error_code ec;
    c.exe = fs::read_symlink("/proc/self/exe", ec).string();
#ifdef DROVER_EXE_TO_DATA_DIR
    c.exe_to_data = DROVER_EXE_TO_DATA_DIR;
#endif
#ifdef DROVER_SOURCE_DATA_DIR
    c.source = DROVER_SOURCE_DATA_DIR;
#endif
#ifdef DROVER_INSTALL_DATA_DIR
    c.install = DROVER_INSTALL_DATA_DIR;
#endif
    return find_data_dir(c);
  }();
  return dir;
}

std::vector<std::string> policy_dirs() {
  const char* env = std::getenv("DROVER_PATH");
  return policy_search_path(env ? env : "", drover_data_dir());
}

}  // namespace drover
