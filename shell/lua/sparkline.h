// Sparklines: a series of numbers as one line of block characters, for history() and
// top(). Pure functions of their arguments; no terminal is touched here.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace drover {

// The last `width` values as block characters (▁..█, or "_.-:=+*#" when !unicode) scaled
// to the largest finite value among them; a NaN (no value then) is a blank. Each value
// takes one terminal column, so the result is at most `width` columns wide.
std::string spark_blocks(const std::vector<double>& v, size_t width, bool unicode);

// spark_blocks, then the latest finite value (" 3"), or " -" when there is none.
std::string sparkline(const std::vector<double>& v, size_t width, bool unicode);

// v in `buckets` groups of consecutive values, oldest first, each the largest finite value
// of its group (NaN when it had none): a long series fitted to a narrow column, peaks kept.
// A series no longer than `buckets` comes back as it is.
std::vector<double> squeeze_max(const std::vector<double>& v, size_t buckets);

}  // namespace drover
