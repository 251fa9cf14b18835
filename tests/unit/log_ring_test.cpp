#include "engine/log_ring.h"

#include <doctest/doctest.h>

using namespace drover;

namespace {
LogLine line(const std::string& pool, const std::string& text) {
  LogLine l;
  l.pool = pool;
  l.text = text;
  return l;
}
}  // namespace

TEST_CASE("log ring: bounded by line count, oldest evicted first") {
  LogRing r(3, 1 << 20);
  CHECK(r.last_seq() == 0);
  for (int i = 1; i <= 5; ++i) CHECK(r.append(line("p", std::to_string(i))) == static_cast<uint64_t>(i));
  CHECK(r.size() == 3);
  CHECK(r.evicted() == 2);
  CHECK(r.last_seq() == 5);
  auto t = r.tail(10);
  REQUIRE(t.size() == 3);
  CHECK(t[0].text == "3");
  CHECK(t[2].text == "5");
}

TEST_CASE("log ring: bounded by bytes, counting text, pool name and overhead") {
  const size_t per_line = 1 + 10 + LogRing::kLineOverhead;  // pool "p", 10 bytes of text
  LogRing r(1000, 3 * per_line);
  for (int i = 0; i < 3; ++i) r.append(line("p", std::string(10, 'x')));
  CHECK(r.size() == 3);
  CHECK(r.bytes() == 3 * per_line);
  r.append(line("p", "0123456789"));
  CHECK(r.size() == 3);
  CHECK(r.evicted() == 1);
  CHECK(r.bytes() == 3 * per_line);
  // A longer line pushes out as many old ones as it needs.
  r.append(line("p", std::string(10 + 2 * per_line, 'y')));  // costs 3 * per_line
  CHECK(r.size() == 1);
  CHECK(r.evicted() == 4);
  CHECK(r.bytes() == 3 * per_line);
}

TEST_CASE("log ring: a line bigger than the byte bound is numbered but not kept") {
  LogRing r(10, 100);
  r.append(line("p", "small"));
  CHECK(r.append(line("p", std::string(200, 'x'))) == 2);
  CHECK(r.size() == 0);
  CHECK(r.bytes() == 0);
  CHECK(r.evicted() == 2);
  CHECK(r.append(line("p", "next")) == 3);
  CHECK(r.since(0, 10).at(0).text == "next");
}

TEST_CASE("log ring: tail filters by pool and keeps order") {
  LogRing r(100, 1 << 20);
  r.append(line("a", "a1"));
  r.append(line("b", "b1"));
  r.append(line("a", "a2"));
  r.append(line("a", "a3"));
  auto t = r.tail(2, std::string("a"));
  REQUIRE(t.size() == 2);
  CHECK(t[0].text == "a2");
  CHECK(t[1].text == "a3");
  CHECK(r.tail(10, std::string("b")).size() == 1);
  CHECK(r.tail(10, std::string("none")).empty());
  CHECK(r.tail(0).empty());
  auto all = r.tail(2);
  REQUIRE(all.size() == 2);
  CHECK(all[0].text == "a2");
}

TEST_CASE("log ring: since() returns what came after a sequence number") {
  LogRing r(3, 1 << 20);
  CHECK(r.since(0, 10).empty());
  for (int i = 1; i <= 5; ++i) r.append(line("p", std::to_string(i)));
  auto s = r.since(3, 10);
  REQUIRE(s.size() == 2);
  CHECK(s[0].text == "4");
  CHECK(s[1].text == "5");
  // Lines 1 and 2 were evicted: what is left comes back, and the caller can tell how
  // many it missed from the oldest seq held.
  auto from_start = r.since(0, 10);
  REQUIRE(from_start.size() == 3);
  CHECK(from_start[0].text == "3");
  CHECK(r.last_seq() - r.size() + 1 == 3);
  CHECK(r.since(5, 10).empty());
  CHECK(r.since(99, 10).empty());
  auto limited = r.since(1, 2);
  REQUIRE(limited.size() == 2);
  CHECK(limited[0].text == "3");
  CHECK(limited[1].text == "4");
  CHECK(r.since(3, 0).empty());
}
