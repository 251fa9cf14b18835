// The help pages: help/*.md, embedded into the binary at build time (CMake generates
// help_pages_data.cpp), so in-shell help and the files on disk are one source.
#pragma once

#include <span>
#include <string_view>

namespace drover {

struct HelpPage {
  std::string_view name;  // "config" for help/config.md
  std::string_view text;  // the whole Markdown page
};

std::span<const HelpPage> help_pages();
const HelpPage* find_help_page(std::string_view name);

}  // namespace drover
