// Every binding has a help page, every page has a binding, and each binding's
// "signature -- summary" is its page's first line: the rows and help/ never drift.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "shell/lua/binding.h"
#include "shell/lua/help_pages.h"

using namespace drover;

namespace {
std::string first_line(std::string_view text) { return std::string(text.substr(0, text.find('\n'))); }
}  // namespace

TEST_CASE("help: every binding is documented on a page") {
  for (const Binding& b : all_bindings()) {
    INFO("binding ", b.name);
    CHECK(find_help_page(help_page_of(b.name)) != nullptr);
  }
}

TEST_CASE("help: every page documents a binding") {
  std::set<std::string> pages_with_binding;
  for (const Binding& b : all_bindings()) pages_with_binding.insert(help_page_of(b.name));
  for (const HelpPage& p : help_pages()) {
    INFO("page help/", std::string(p.name), ".md");
    CHECK(pages_with_binding.count(std::string(p.name)) == 1);
  }
}

TEST_CASE("help: a binding's signature and summary are its page's first line") {
  for (const Binding& b : all_bindings()) {
    if (help_page_of(b.name) != b.name) continue;  // log.tail & co share the log page
    const HelpPage* page = find_help_page(b.name);
    REQUIRE(page != nullptr);
    CHECK(first_line(page->text) == std::string(b.signature) + " -- " + b.summary);
  }
}

TEST_CASE("help: binding names are unique") {
  std::set<std::string> names;
  for (const Binding& b : all_bindings()) CHECK(names.insert(b.name).second);
}
