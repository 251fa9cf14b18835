// Where drover finds what it ships beside the binary: the autoscale policies that
// `load "queue_proportional"` names, and the examples.
//
// An installed drover finds its data directory relative to its own executable
// (/proc/self/exe): <prefix>/bin/drover reads <prefix>/share/drover, so a package built
// for one prefix and unpacked under another (DESTDIR, --prefix, a .deb) still works. A
// drover run from its build tree has no such directory next to it and falls back to
// the source tree it was built from, while that still exists; a binary copied away
// from both falls back to the data directory of the prefix it was configured for.
//
// Policies are searched for, in order, in each directory of DROVER_PATH (colon-separated,
// as PATH; empty and missing entries are skipped), then in <data dir>/policies.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace drover {

// Where each candidate for the data directory is; the compiled-in values in production,
// anything in a test.
struct DataDirCandidates {
  std::string exe;             // the running binary (/proc/self/exe)
  std::string exe_to_data;     // from the binary's directory to the data dir: "../share/drover"
  std::string source;          // the source tree the binary was built from (a developer's)
  std::string install;         // the configured ${datadir}/drover, absolute
};

// The first candidate that holds a policies/ directory: next to the executable, then the
// source tree, then the configured install directory; "" when none does.
std::string find_data_dir(const DataDirCandidates& c);

// The policy search path: each existing directory of drover_path (a DROVER_PATH value),
// then data_dir/policies when it exists.
std::vector<std::string> policy_search_path(std::string_view drover_path, const std::string& data_dir);

// This binary's data directory (found once) and its policy search path (DROVER_PATH is
// read on each call, so a test or a shell may change it).
std::string drover_data_dir();
std::vector<std::string> policy_dirs();

}  // namespace drover
