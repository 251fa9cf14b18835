// Where drover finds its policies (shell/lua/data_dirs.h, script_loader.h): DROVER_PATH's
// directories first, then the data directory's policies/; the installed data directory
// beside the binary wins over the source tree; missing directories are skipped.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "shell/lua/data_dirs.h"
#include "shell/lua/script_loader.h"

using namespace drover;
namespace fs = std::filesystem;

namespace {

// A scratch tree under the test's temporary directory, removed at the end.
struct Tree {
  fs::path root = fs::temp_directory_path() / ("drover-data-dirs-" + std::to_string(::getpid()));
  Tree() { fs::create_directories(root); }
  ~Tree() { fs::remove_all(root); }
  std::string dir(const std::string& rel) const {
    fs::create_directories(root / rel);
    return (root / rel).string();
  }
  std::string file(const std::string& rel, const std::string& text = "return 1\n") const {
    fs::create_directories((root / rel).parent_path());
    std::ofstream(root / rel) << text;
    return (root / rel).string();
  }
};

}  // namespace

TEST_CASE("data dirs: DROVER_PATH's directories come first, in order, then the data dir's policies") {
  Tree t;
  const std::string a = t.dir("a"), b = t.dir("b"), data = t.dir("share/drover");
  t.dir("share/drover/policies");
  const std::string missing = (t.root / "missing").string();
  CHECK(policy_search_path(a + ":" + missing + "::" + b, data) ==
        std::vector<std::string>{a, b, data + "/policies"});
  CHECK(policy_search_path("", data) == std::vector<std::string>{data + "/policies"});
  CHECK(policy_search_path(a + ":", "") == std::vector<std::string>{a});
  CHECK(policy_search_path("", (t.root / "nowhere").string()).empty());
}

TEST_CASE("data dirs: a policy name resolves through the search path, the first directory that has it") {
  Tree t;
  const std::string mine = t.file("mine/queue_proportional.lua");
  const std::string shipped = t.file("share/drover/policies/queue_proportional.lua");
  const std::string only_shipped = t.file("share/drover/policies/rebalance.lua");
  const auto path = policy_search_path(t.dir("mine") + ":" + (t.root / "missing").string(),
                                       (t.root / "share/drover").string());
  CHECK(resolve_script("queue_proportional", {}, path) == mine);
  CHECK(resolve_script("queue_proportional.lua", {}, path) == mine);
  CHECK(resolve_script("rebalance", {}, path) == only_shipped);
  CHECK(resolve_script("queue_proportional", {}, {path.back()}) == shipped);
  CHECK(resolve_script("no_such_policy", {}, path).empty());
  // The script directories (the config's) come before the policy path.
  const std::string beside_config = t.file("config/rebalance.lua");
  CHECK(resolve_script("rebalance", {t.dir("config")}, path) == beside_config);
}

TEST_CASE("data dirs: installed beside the binary wins over the source tree, which wins over the prefix") {
  Tree t;
  t.dir("prefix/bin");
  t.dir("src/policies");
  t.dir("configured/policies");
  DataDirCandidates c{.exe = (t.root / "prefix/bin/drover").string(),
                      .exe_to_data = "../share/drover",
                      .source = (t.root / "src").string(),
                      .install = (t.root / "configured").string()};
  // A build tree: nothing installed beside the binary.
  CHECK(find_data_dir(c) == c.source);
  t.dir("prefix/share/drover/policies");
  CHECK(find_data_dir(c) == (t.root / "prefix/share/drover").string());
  // A binary copied away from both: the configured prefix, while it has policies.
  c.exe = (t.root / "elsewhere/drover").string();
  fs::remove_all(t.root / "src");
  CHECK(find_data_dir(c) == c.install);
  fs::remove_all(t.root / "configured");
  CHECK(find_data_dir(c) == "");
}

TEST_CASE("data dirs: a policy name is a Lua name that is not a keyword, never a chunk") {
  CHECK(is_policy_name("queue_proportional"));
  CHECK(is_policy_name("_x1"));
  CHECK_FALSE(is_policy_name("return"));
  CHECK_FALSE(is_policy_name("end"));
  CHECK_FALSE(is_policy_name("1abc"));
  CHECK_FALSE(is_policy_name("return 1"));
  CHECK_FALSE(is_policy_name("policies/x.lua"));
  CHECK_FALSE(is_policy_name(""));
}

TEST_CASE("data dirs: this build tree's policies are the source tree's") {
  // unit_tests runs from the build tree, where nothing is installed beside it.
  CHECK(drover_data_dir() == std::string(DROVER_SOURCE_DIR));
  CHECK(resolve_script("queue_proportional", {}) ==
        (fs::path(DROVER_SOURCE_DIR) / "policies/queue_proportional.lua").lexically_normal().string());
}

TEST_CASE("data dirs: a load of a policy's old path names the policy to load instead") {
  const std::string old_path = no_script_message("../scripts/queue_proportional.lua", {});
  CHECK(old_path.find("no script ../scripts/queue_proportional.lua") != std::string::npos);
  CHECK(old_path.find("a shipped policy has this name: load \"queue_proportional\"") != std::string::npos);
  CHECK(no_script_message("../scripts/no_such_policy.lua", {}).find("shipped policy") == std::string::npos);
}
