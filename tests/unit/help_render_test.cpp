// help_render: the help pages as a terminal shows them - no raw Markdown, 80 columns.
#include <doctest/doctest.h>

#include "shell/lua/help_pages.h"
#include "shell/lua/help_render.h"

using namespace drover;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  for (size_t at = 0; at < text.size();) {
    size_t nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    out.push_back(text.substr(at, nl - at));
    at = nl + 1;
  }
  return out;
}

}  // namespace

TEST_CASE("help render: paragraphs reflowed - examples kept - backticks gone - lists hang - tables aligned") {
  const std::string page = "thing(x) -- does a thing\n\n    drover> thing(1)   -- an example, as written\n\n"
                           "A paragraph with `code` in it that goes on for quite a while, longer than forty "
                           "columns\nand over two source lines.\n\n- an item that is long enough to wrap onto a "
                           "second line here\n- short\n\n## More\n| a | b |\n|---|---|\n| one | two |\n";
  const std::string out = render_help_page(page, 40, false);
  CHECK(out == "thing(x) -- does a thing\n\n"
               "    drover> thing(1)   -- an example, as written\n\n"
               "A paragraph with code in it that goes on\n"
               "for quite a while, longer than forty\n"
               "columns and over two source lines.\n\n"
               "- an item that is long enough to wrap\n"
               "  onto a second line here\n"
               "- short\n\n"
               "More\n----\n"
               "  a    b\n"
               "  one  two\n");
}

TEST_CASE("help render: every page and the command list fit 80 columns - but the examples, kept as written") {
  for (const HelpPage& page : help_pages()) {
    for (const auto& line : lines_of(render_help_page(page.text))) {
      if (line.starts_with("    ")) continue;  // an example is what the user types
      CHECK_MESSAGE(line.size() <= kHelpWidth, page.name, ": ", line);
    }
  }
  for (const auto& line : lines_of(render_help_index(all_bindings()))) CHECK_MESSAGE(line.size() <= kHelpWidth, line);
}
