// The help pages (help/*.md, Markdown) as a terminal shows them: no raw Markdown, lines
// that fit the width, code examples as written.
//
// Paragraphs and list items are reflowed to the width (list items with a hanging indent);
// indented blocks (examples) are kept as they are; `code` loses its backticks (bold on a
// colour terminal); "## Heading" becomes the heading, bold or underlined by dashes.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "shell/lua/binding.h"

namespace drover {

inline constexpr size_t kHelpWidth = 80;

std::string render_help_page(std::string_view markdown, size_t width = kHelpWidth, bool color = false);

// The command list: "  signature  summary", the summary wrapped under its column; a
// signature too long for the column gets a line of its own.
std::string render_help_index(std::span<const Binding> bindings, size_t width = kHelpWidth);

}  // namespace drover
