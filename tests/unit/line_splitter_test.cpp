#include "engine/line_splitter.h"

#include <doctest/doctest.h>

#include <random>
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

using Lines = std::vector<std::string>;
using Cuts = std::vector<bool>;

// The splitter's contract written the slow, obvious way, over the whole stream at once.
void reference_split(std::string_view all, size_t max, Collect& out) {
  auto pieces = [&](std::string_view line) {
    while (line.size() > max) {
      out.lines.emplace_back(line.substr(0, max));
      out.cuts.push_back(true);
      line.remove_prefix(max);
    }
    out.lines.emplace_back(line);
    out.cuts.push_back(false);
  };
  size_t nl;
  while ((nl = all.find('\n')) != std::string_view::npos) {
    std::string_view line = all.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pieces(line);
    all.remove_prefix(nl + 1);
  }
  if (!all.empty()) {
    if (all.back() == '\r') all.remove_suffix(1);
    pieces(all);
  }
}

}  // namespace

TEST_CASE("line splitter: lines split across chunks are joined") {
  LineSplitter s(100);
  Collect c;
  s.feed("hel", c.emit());
  s.feed("lo\nwor", c.emit());
  s.feed("ld\n\nx", c.emit());
  CHECK(c.lines == Lines{"hello", "world", ""});
  CHECK(s.pending() == 1);
  s.finish(c.emit());  // the last bytes, without a newline, are not lost
  CHECK(c.lines.back() == "x");
  CHECK(s.pending() == 0);
  s.finish(c.emit());  // nothing pending: nothing emitted
  CHECK(c.lines.size() == 4);
}

TEST_CASE("line splitter: a line complete in its chunk is a view into that chunk") {
  LineSplitter s(100);
  std::string chunk = "one\ntwo\n";
  std::vector<const char*> starts;
  s.feed(chunk, [&](std::string_view l, bool) { starts.push_back(l.data()); });
  CHECK(starts == std::vector<const char*>{chunk.data(), chunk.data() + 4});
}

TEST_CASE("line splitter: CRLF endings lose the CR, a lone CR is text") {
  LineSplitter s(100);
  Collect c;
  s.feed("a\r\nb\r", c.emit());
  CHECK(s.pending() == 2);
  s.feed("\n", c.emit());  // the CR ended one chunk, the LF starts the next
  s.feed("x\ry\r\n", c.emit());
  CHECK(c.lines == Lines{"a", "b", "x\ry"});
  s.feed("progress\r", c.emit());
  s.finish(c.emit());  // a final bare CR is dropped too
  CHECK(c.lines.back() == "progress");
}

TEST_CASE("line splitter: the CR of a CRLF does not count against the cap") {
  LineSplitter s(4);
  Collect c;
  s.feed("abcd\r\n", c.emit());
  s.feed("efgh\r", c.emit());
  CHECK(s.pending() == 5);  // max + the CR that may be half of a CRLF
  s.feed("\n", c.emit());
  CHECK(c.lines == Lines{"abcd", "efgh"});
  CHECK(c.cuts == Cuts{false, false});
  // ... but when it turns out to be text, it starts the next piece.
  Collect d;
  s.feed("ijkl\r", d.emit());
  s.feed("m\n", d.emit());
  CHECK(d.lines == Lines{"ijkl", "\rm"});
  CHECK(d.cuts == Cuts{true, false});
}

TEST_CASE("line splitter: over-long lines are cut into marked pieces") {
  LineSplitter s(4);
  Collect c;
  s.feed("abcdefghij\nxy\n", c.emit());
  CHECK(c.lines == Lines{"abcd", "efgh", "ij", "xy"});
  CHECK(c.cuts == Cuts{true, true, false, false});
  // A line of exactly max bytes, or a multiple of it, ends with an uncut piece.
  Collect d;
  s.feed("1234\n12345678\n", d.emit());
  CHECK(d.lines == Lines{"1234", "1234", "5678"});
  CHECK(d.cuts == Cuts{false, true, false});
  // Pieces carried across feeds are cut at the same size.
  LineSplitter t(10);
  Collect e;
  t.feed("123456", e.emit());
  t.feed("7890abcdef\n", e.emit());
  CHECK(e.lines == Lines{"1234567890", "abcdef"});
  CHECK(e.cuts == Cuts{true, false});
}

TEST_CASE("line splitter: a megabyte without a newline keeps memory bounded") {
  const size_t max = 4096;
  LineSplitter s(max);
  Collect c;
  std::string blob(1 << 20, 'z');
  s.feed(blob, c.emit());
  CHECK(s.pending() <= max);
  CHECK(s.pending() == max);  // the last piece waits: it may still end in a newline
  CHECK(c.lines.size() == (1 << 20) / max - 1);
  for (size_t i = 0; i < c.lines.size(); ++i) {
    REQUIRE(c.lines[i].size() == max);
    REQUIRE(c.cuts[i]);
  }
  // Fed again in small chunks, the pending piece still never passes the cap.
  for (int i = 0; i < 1000; ++i) {
    s.feed(std::string_view(blob).substr(0, 777), c.emit());
    REQUIRE(s.pending() <= max);
  }
  s.feed("\n", c.emit());
  CHECK_FALSE(c.cuts.back());
  size_t total = 0;
  for (const auto& l : c.lines) total += l.size();
  CHECK(total == (1 << 20) + 1000 * 777);
  CHECK(s.pending() == 0);
}

TEST_CASE("line splitter: max_bytes 0 is taken as 1 and still makes progress") {
  LineSplitter s(0);
  Collect c;
  s.feed("ab\n", c.emit());
  CHECK(c.lines == Lines{"a", "b"});
  CHECK(c.cuts == Cuts{true, false});
}

TEST_CASE("line splitter: any chunking gives the same lines as splitting the whole stream") {
  std::mt19937 rng(12345);
  const char alphabet[] = "ab\r\n\n";
  for (int round = 0; round < 500; ++round) {
    const size_t max = 1 + rng() % 6;
    std::string all(rng() % 60, 'x');
    for (char& ch : all) ch = alphabet[rng() % (sizeof alphabet - 1)];
    Collect want;
    reference_split(all, max, want);
    LineSplitter s(max);
    Collect got;
    for (size_t off = 0; off < all.size();) {
      size_t n = std::min<size_t>(1 + rng() % 8, all.size() - off);
      s.feed(std::string_view(all).substr(off, n), got.emit());
      REQUIRE(s.pending() <= max + 1);
      off += n;
    }
    s.finish(got.emit());
    INFO("round ", round, " max ", max);
    REQUIRE(got.lines == want.lines);
    REQUIRE(got.cuts == want.cuts);
  }
}
