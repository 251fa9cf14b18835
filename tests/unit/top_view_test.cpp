// top()'s screen without a terminal: the pure drawing (shell/lua/top_view.h) and the keys.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "shell/lua/sparkline.h"
#include "shell/lua/top_view.h"

using namespace drover;

namespace {

TopPoolRow row(std::string name, int running, int n) {
  TopPoolRow r;
  r.name = std::move(name);
  r.running = running;
  r.n = r.target = n;
  r.cpu = 0.25;
  r.rss_bytes = 48ull << 20;
  r.restarts_per_min = 2;
  for (int i = 0; i < 300; ++i) {
    r.size_hist.push_back(i % 7);
    r.queue_hist.push_back(i * 10.0);
  }
  r.queue = 2990;
  return r;
}

TopModel model() {
  TopModel m;
  m.title = "drover pid 4242, up 3m12s, 5/6 workers   12:00:00";
  m.pools = {row("web", 3, 4), row("a-rather-long-pool-name-that-must-be-cut", 2, 2)};
  m.selected = 1;
  for (int i = 0; i < 50; ++i) m.events.push_back("12:00:0" + std::to_string(i % 10) + " web.0 exited pid 1: exit 1");
  return m;
}

std::string line_with(const TopScreen& s, const std::string& text) {
  for (const std::string& l : s.lines)
    if (l.find(text) != std::string::npos) return l;
  return "";
}

}  // namespace

TEST_CASE("top view: fits 80 columns and 24 rows - in unicode and ASCII") {
  for (bool unicode : {true, false}) {
    TopModel m = model();
    m.unicode = unicode;
    const TopScreen s = render_top(m);
    CHECK(s.lines.size() == 24);
    for (const std::string& l : s.lines) {
      INFO(l);
      CHECK(display_width(l) <= 80);
    }
    // Each column that fits at 80: the sparklines too.
    const std::string web = line_with(s, "web ");
    CHECK(web.find("3/4") != std::string::npos);
    CHECK(web.find("25%") != std::string::npos);
    CHECK(web.find("48M") != std::string::npos);
    CHECK(web.find(unicode ? "█" : "#") != std::string::npos);
    CHECK(line_with(s, "POOL").find("size 5m") != std::string::npos);
    CHECK(s.lines.back().find("q quit") != std::string::npos);
  }
}

TEST_CASE("top view: the selected pool has the marker and the highlighted line") {
  TopModel m = model();
  TopScreen s = render_top(m);
  REQUIRE(s.selected_line >= 0);
  CHECK(s.lines[static_cast<size_t>(s.selected_line)].rfind("> a-rather-long", 0) == 0);
  CHECK(line_with(s, "web").rfind("  web", 0) == 0);
  m.selected = 0;
  s = render_top(m);
  CHECK(s.lines[static_cast<size_t>(s.selected_line)].rfind("> web", 0) == 0);
}

TEST_CASE("top view: narrow and short terminals - never wider nor taller") {
  for (int width : {20, 40, 60, 79, 120, 200})
    for (int height : {3, 8, 12, 40}) {
      TopModel m = model();
      m.width = width;
      m.height = height;
      const TopScreen s = render_top(m);
      INFO(width, "x", height);
      CHECK(s.lines.size() == static_cast<size_t>(height));
      for (const std::string& l : s.lines) CHECK(display_width(l) <= static_cast<size_t>(width));
    }
}

TEST_CASE("top view: many pools scroll to keep the selected one") {
  TopModel m = model();
  m.pools.clear();
  for (int i = 0; i < 40; ++i) m.pools.push_back(row("pool" + std::to_string(i), 1, 1));
  m.selected = 35;
  const TopScreen s = render_top(m);
  CHECK(s.lines.size() == 24);
  REQUIRE(s.selected_line >= 0);
  CHECK(s.lines[static_cast<size_t>(s.selected_line)].rfind("> pool35", 0) == 0);
  CHECK(line_with(s, "latest events") != "");
}

TEST_CASE("top view: unknowns show as - and a stopped pool says off") {
  TopModel m = model();
  m.pools = {TopPoolRow{}};
  m.pools[0].name = "idle";
  m.pools[0].n = 2;
  m.pools[0].enabled = false;
  const std::string l = line_with(render_top(m), "idle");
  CHECK(l.find("0/2 off") != std::string::npos);
  CHECK(l.find(" - ") != std::string::npos);
}

TEST_CASE("top view: the log view shows the selected pool's lines") {
  TopModel m = model();
  m.log_view = true;
  for (int i = 0; i < 100; ++i) m.log_lines.push_back("line " + std::to_string(i) + "\tend\x1b[2J");
  const TopScreen s = render_top(m);
  CHECK(s.lines.size() == 24);
  CHECK(line_with(s, "log of a-rather-long") != "");
  CHECK(line_with(s, "line 99 end?[2J") != "");  // the newest, control characters defused
  CHECK(line_with(s, "line 0 ") == "");
  CHECK(s.selected_line == -1);
}

TEST_CASE("top view: keys - arrows resize log quit") {
  using K = TopKey;
  CHECK(parse_top_keys("\x1b[A\x1b[B\x1bOA") == std::vector<K>{K::kUp, K::kDown, K::kUp});
  CHECK(parse_top_keys("+-=l") == std::vector<K>{K::kGrow, K::kShrink, K::kGrow, K::kLog});
  CHECK(parse_top_keys("\x1b") == std::vector<K>{K::kEscape});
  CHECK(parse_top_keys("q") == std::vector<K>{K::kQuit});
  CHECK(parse_top_keys("\x03") == std::vector<K>{K::kQuit});
  CHECK(parse_top_keys("\x1b[1;5A") == std::vector<K>{K::kUp});
}

TEST_CASE("top view: columns count code points - cut to fit") {
  CHECK(display_width("▁▂█") == 3);
  CHECK(fit_columns("▁▂█abc", 4) == "▁▂█a");
  CHECK(fit_columns("a\x01" "b", 5) == "a?b");
  CHECK(fit_columns("\xff\xfe", 5) == "??");
  CHECK(format_bytes(48ull << 20) == "48M");
  CHECK(format_bytes(3ull << 30) == "3.0G");
}

TEST_CASE("top view: sparkline squeeze keeps the peaks") {
  std::vector<double> v(300, 1.0);
  v[150] = 9;
  const auto s = squeeze_max(v, 10);
  REQUIRE(s.size() == 10);
  CHECK(s[5] == 9);
  CHECK(s[0] == 1);
  CHECK(std::isnan(squeeze_max({NAN, NAN, NAN, 1, 2, 3}, 2)[0]));
  CHECK(spark_blocks({0, 1, 2, 4}, 4, false) == "_.:#");
}
