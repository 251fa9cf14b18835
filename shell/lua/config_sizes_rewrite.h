// Updating the sizes in a config file someone wrote by hand, and nothing else.
//
// write_config() over a hand-written config must not lose what the user wrote there:
// defaults{}, autoscale lines, load lines, comments, the order and layout. So instead of
// regenerating the file, each pool's `n = NUMBER` is found in its `pool "name" { ... }`
// table and its number replaced; every other byte stays. The scan knows Lua's strings,
// long strings and comments, so a `pool "x"` or `n = 3` inside them is never touched.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/status.h"

namespace drover {

struct SizesRewrite {
  std::string text;                  // the file with the new sizes
  std::vector<std::string> changed;  // "web 2 -> 5", in file order
};

// Every pool named in sizes must be found with a literal `n = NUMBER` at the top level of
// its table; otherwise an InvalidArgument naming the pool and why (defined in a loop, by
// a variable, or with no n), and nothing is rewritten. Pools of the file not in sizes are
// left as they are.
Result<SizesRewrite> rewrite_pool_sizes(const std::string& text, const std::map<std::string, int>& sizes);

// The first line write_config() puts in a file it generates: a file that starts with it
// may be overwritten whole.
inline constexpr const char* kWrittenByDrover = "-- written by drover's write_config()";

}  // namespace drover
