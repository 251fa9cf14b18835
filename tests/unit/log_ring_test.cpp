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
  for (int i = 1; i <= 5; ++i) CHECK(r.append(line("p", std::to_string(i))) == static_cast<uint64_t>(i));
  CHECK(r.size() == 3);
  CHECK(r.evicted() == 2);
  auto t = r.tail(10);
  REQUIRE(t.size() == 3);
  CHECK(t[0].text == "3");
  CHECK(t[2].text == "5");
  CHECK(r.last_seq() == 5);
}

TEST_CASE("log ring: bounded by bytes") {
  LogRing r(1000, 1000);
  for (int i = 0; i < 100; ++i) r.append(line("p", std::string(100, 'x')));
  CHECK(r.bytes() <= 1000);
  CHECK(r.size() < 10);
  CHECK(r.size() >= 1);
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
  CHECK(r.tail(10, std::string("none")).empty());
}

TEST_CASE("log ring: since() returns what came after a sequence number") {
  LogRing r(3, 1 << 20);
  for (int i = 1; i <= 5; ++i) r.append(line("p", std::to_string(i)));
  auto s = r.since(3, 10);
  REQUIRE(s.size() == 2);
  CHECK(s[0].text == "4");
  CHECK(r.since(0, 10).size() == 3);  // older lines were evicted; what is left comes back
  CHECK(r.since(5, 10).empty());
  CHECK(r.since(1, 1).size() == 1);
}
