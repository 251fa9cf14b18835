#include "engine/line_splitter.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace drover;

namespace {
struct Collect {
  std::vector<std::string> lines;
  std::vector<bool> cuts;
  LineSplitter::Emit emit() {
    return [this](std::string_view l, bool cut) {
      lines.emplace_back(l);
      cuts.push_back(cut);
    };
  }
};
}  // namespace

TEST_CASE("line splitter: lines split across chunks are joined") {
  LineSplitter s(100);
  Collect c;
  s.feed("hel", c.emit());
  s.feed("lo\nwor", c.emit());
  s.feed("ld\n\nx", c.emit());
  CHECK(c.lines == std::vector<std::string>{"hello", "world", ""});
  CHECK(s.pending() == 1);
  s.finish(c.emit());  // the last bytes, without a newline, are not lost
  CHECK(c.lines.back() == "x");
  CHECK(s.pending() == 0);
}

TEST_CASE("line splitter: CRLF endings lose the CR") {
  LineSplitter s(100);
  Collect c;
  s.feed("a\r\nb\r", c.emit());
  s.feed("\n", c.emit());
  CHECK(c.lines == std::vector<std::string>{"a", "b"});
}

TEST_CASE("line splitter: over-long lines are cut into marked pieces") {
  LineSplitter s(4);
  Collect c;
  s.feed("abcdefghij\nxy\n", c.emit());
  CHECK(c.lines == std::vector<std::string>{"abcd", "efgh", "ij", "xy"});
  CHECK(c.cuts == std::vector<bool>{true, true, false, false});
  // A line of exactly max bytes is whole.
  Collect d;
  s.feed("1234\n", d.emit());
  CHECK(d.lines == std::vector<std::string>{"1234"});
  CHECK(d.cuts == std::vector<bool>{false});
}

TEST_CASE("line splitter: a megabyte without a newline keeps memory bounded") {
  LineSplitter s(4096);
  Collect c;
  std::string blob(1 << 20, 'z');
  s.feed(blob, c.emit());
  CHECK(s.pending() == 4096);  // the last piece waits: it may still end in a newline
  CHECK(c.lines.size() == (1 << 20) / 4096 - 1);
  // Pieces carried across feeds are cut at the same size.
  LineSplitter t(10);
  Collect e;
  t.feed("123456", e.emit());
  t.feed("7890abcdef\n", e.emit());
  CHECK(e.lines == std::vector<std::string>{"1234567890", "abcdef"});
}
