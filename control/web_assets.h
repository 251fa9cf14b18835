// The dashboard's files (web/), embedded at build time by control/embed_web.cmake.
#pragma once

#include <span>
#include <string_view>

namespace drover {

struct WebAsset {
  std::string_view name;          // "index.html", "app.js"
  std::string_view content_type;  // from the extension
  std::string_view body;
};

std::span<const WebAsset> web_assets();
const WebAsset* find_web_asset(std::string_view name);  // nullptr: no such file

}  // namespace drover
