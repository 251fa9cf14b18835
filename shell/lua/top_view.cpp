#include "shell/lua/top_view.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "shell/lua/sparkline.h"

namespace drover {

namespace {

// The length of the UTF-8 sequence `lead` starts, or 0 when it cannot start one.
size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 0;
}

// Pads s (already fitted) with spaces to exactly `width` columns, on the left or right.
std::string pad(std::string_view s, size_t width, bool right_align = false) {
  std::string out = fit_columns(s, width);
  const std::string fill(width - display_width(out), ' ');
  return right_align ? fill + out : out + fill;
}

// A count per minute in at most 5 columns: "0", "42", "1.2k", "35k".
std::string per_minute(const std::optional<double>& v) {
  if (!v) return "-";
  if (*v < 999.5) return fmt::format("{:.0f}", *v);
  if (*v < 9950) return fmt::format("{:.1f}k", *v / 1000);
  if (*v < 999500) return fmt::format("{:.0f}k", *v / 1000);
  return fmt::format("{:.0f}M", *v / 1e6);
}

std::string quantity(const std::optional<double>& v) {
  if (!v || !std::isfinite(*v)) return "-";
  return per_minute(*v);
}

bool any_finite(const std::vector<double>& v) {
  return std::any_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
}

std::string span_label(double span_s) {
  return span_s >= 60 ? fmt::format("{:g}m", std::round(span_s / 60)) : fmt::format("{:g}s", span_s);
}

std::string keys_line(const TopModel& m) {
  const char* arrows = m.unicode ? "↑↓" : "up/down";
  if (m.log_view) return fmt::format("l or Esc: back   {} pool   q: quit", arrows);
  return fmt::format("{} select   +/- resize   l log   q quit", arrows);
}

// The pool list with its columns fitted to m.width.
struct Columns {
  size_t name = 4, spark = 0;
};

Columns columns_for(const TopModel& m) {
  Columns c;
  for (const TopPoolRow& p : m.pools) c.name = std::max(c.name, display_width(p.name));
  c.name = std::min<size_t>(c.name, 16);
  // marker 2, name, then " SIZE(9) CPU(5) RSS(6) RST/m(5) JOB/m(5) QUEUE(5)", then two sparks.
  const size_t fixed = 2 + c.name + 10 + 6 + 7 + 6 + 6 + 6;
  const size_t room = static_cast<size_t>(std::max(m.width, 0));
  if (room > fixed + 2) c.spark = (room - fixed - 2) / 2;
  if (c.spark < 4) c.spark = 0;  // too narrow for a useful picture: leave the sparklines out
  c.spark = std::min<size_t>(c.spark, 60);
  if (c.name + 2 > room) c.name = room > 2 ? room - 2 : 0;
  return c;
}

std::string pool_header(const TopModel& m, const Columns& c) {
  std::string h = "  " + pad("POOL", c.name) + " " + pad("SIZE", 9, true) + " " + pad("CPU", 5, true) + " " +
                  pad("RSS", 6, true) + " " + pad("RST/m", 5, true) + " " + pad("JOB/m", 5, true) + " " +
                  pad("QUEUE", 5, true);
  if (c.spark) {
    const std::string span = span_label(m.span_s);
    h += " " + pad("size " + span, c.spark) + " " + pad("queue " + span, c.spark);
  }
  return h;
}

std::string pool_row(const TopModel& m, const Columns& c, const TopPoolRow& p, bool selected) {
  const std::string size =
      p.enabled ? fmt::format("{}/{}", p.running, p.n) : fmt::format("{}/{} off", p.running, p.n);
  const std::string cpu = p.cpu ? fmt::format("{:.0f}%", *p.cpu * 100) : "-";
  const std::string rss = p.rss_bytes ? format_bytes(*p.rss_bytes) : "-";
  std::string row = std::string(selected ? "> " : "  ") + pad(p.name, c.name) + " " + pad(size, 9, true) + " " +
                    pad(cpu, 5, true) + " " + pad(rss, 6, true) + " " + pad(per_minute(p.restarts_per_min), 5, true) +
                    " " + pad(per_minute(p.jobs_per_min), 5, true) + " " + pad(quantity(p.queue), 5, true);
  if (c.spark) {
    row += " " + pad(spark_blocks(squeeze_max(p.size_hist, c.spark), c.spark, m.unicode), c.spark);
    row += " " + pad(any_finite(p.queue_hist) ? spark_blocks(squeeze_max(p.queue_hist, c.spark), c.spark, m.unicode)
                                              : "-",
                     c.spark);
  }
  return row;
}

}  // namespace

size_t display_width(std::string_view s) {
  size_t cols = 0;
  for (size_t i = 0; i < s.size();) {
    const size_t len = utf8_length(static_cast<unsigned char>(s[i]));
    i += len ? std::min(len, s.size() - i) : 1;
    ++cols;
  }
  return cols;
}

std::string fit_columns(std::string_view s, size_t width) {
  std::string out;
  size_t cols = 0;
  for (size_t i = 0; i < s.size() && cols < width; ++cols) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = utf8_length(c);
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (!ok || c < 0x20 || c == 0x7f) {
      out += c == '\t' ? ' ' : '?';  // a control character would move the cursor off the grid
      i += 1;
      continue;
    }
    out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

std::string format_bytes(uint64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (b < 1024) return fmt::format("{}B", bytes);
  if (b < 1024.0 * 1024) return fmt::format("{:.0f}K", b / 1024);
  if (b < 10.0 * 1024 * 1024 * 1024) {
    const double mb = b / (1024.0 * 1024);
    return mb < 1000 ? fmt::format("{:.0f}M", mb) : fmt::format("{:.1f}G", mb / 1024);
  }
  return fmt::format("{:.0f}G", b / (1024.0 * 1024 * 1024));
}

TopScreen render_top(const TopModel& m) {
  TopScreen screen;
  const size_t width = static_cast<size_t>(std::max(m.width, 0));
  const size_t height = static_cast<size_t>(std::max(m.height, 1));
  std::vector<std::string> lines;
  lines.push_back(m.title);
  size_t selected_line = 0;
  bool has_selected = false;

  if (m.log_view) {
    const std::string pool = m.selected < m.pools.size() ? m.pools[m.selected].name : "";
    lines.push_back(fmt::format("log of {}, the latest lines:", pool));
    const size_t room = height > 4 ? height - 4 : 0;
    const size_t from = m.log_lines.size() > room ? m.log_lines.size() - room : 0;
    for (size_t i = from; i < m.log_lines.size(); ++i) lines.push_back(m.log_lines[i]);
    if (m.log_lines.empty()) lines.push_back("(no lines yet)");
  } else {
    const Columns c = columns_for(m);
    lines.push_back(pool_header(m, c));
    // Pools get what is left after the frame (title, header, blank, events heading,
    // message, keys: 6 lines) and three event lines, at least one line; the list scrolls
    // to keep the selected pool in view.
    const size_t frame = 6;
    const size_t avail = height > frame ? height - frame : 0;
    const size_t rows = std::max<size_t>(1, std::min(m.pools.size(), avail > 3 ? avail - 3 : 1));
    const size_t sel = std::min(m.selected, m.pools.empty() ? 0 : m.pools.size() - 1);
    const size_t first = sel >= rows ? sel - rows + 1 : 0;
    if (m.pools.empty()) lines.push_back("  (no pools)");
    for (size_t i = first; i < m.pools.size() && i < first + rows; ++i) {
      if (i == sel) {
        selected_line = lines.size();
        has_selected = true;
      }
      lines.push_back(pool_row(m, c, m.pools[i], i == sel));
    }
    lines.emplace_back();
    lines.push_back("latest events");
    const size_t used = lines.size() + 2;  // and message, keys
    const size_t room = height > used ? height - used : 0;
    const size_t from = m.events.size() > room ? m.events.size() - room : 0;
    for (size_t i = from; i < m.events.size(); ++i) lines.push_back(m.events[i]);
  }
  // Message and keys at the bottom; blank lines between fill the screen.
  const size_t tail = 2;
  if (lines.size() + tail > height) lines.resize(height > tail ? height - tail : 0);
  if (selected_line >= lines.size()) has_selected = false;  // cut off a screen this short
  while (lines.size() + tail < height) lines.emplace_back();
  lines.push_back(m.message);
  lines.push_back(keys_line(m));
  if (lines.size() > height) {
    lines.erase(lines.begin(), lines.begin() + static_cast<long>(lines.size() - height));
    has_selected = false;
  }
  for (std::string& l : lines) l = fit_columns(l, width);
  // Trailing blanks are left out: the terminal clears to the end of each line itself.
  for (std::string& l : lines)
    while (!l.empty() && l.back() == ' ') l.pop_back();
  screen.lines = std::move(lines);
  if (has_selected) screen.selected_line = static_cast<int>(selected_line);
  return screen;
}

std::vector<TopKey> parse_top_keys(std::string_view bytes) {
  std::vector<TopKey> keys;
  for (size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (c == '\x1b') {
      // ESC [ A or ESC O A (application cursor mode); a lone ESC is the Esc key.
      if (i + 2 < bytes.size() && (bytes[i + 1] == '[' || bytes[i + 1] == 'O')) {
        size_t j = i + 2;
        while (j < bytes.size() && !(bytes[j] >= '@' && bytes[j] <= '~')) ++j;  // parameters
        const char final = j < bytes.size() ? bytes[j] : '\0';
        keys.push_back(final == 'A' ? TopKey::kUp : final == 'B' ? TopKey::kDown : TopKey::kOther);
        i = j;
        continue;
      }
      keys.push_back(TopKey::kEscape);
      continue;
    }
    switch (c) {
      case 'k': keys.push_back(TopKey::kUp); break;
      case 'j': keys.push_back(TopKey::kDown); break;
      case '+':
      case '=': keys.push_back(TopKey::kGrow); break;
      case '-':
      case '_': keys.push_back(TopKey::kShrink); break;
      case 'l':
      case 'L': keys.push_back(TopKey::kLog); break;
      case 'q':
      case 'Q':
      case '\x03': keys.push_back(TopKey::kQuit); break;
      default: keys.push_back(TopKey::kOther); break;
    }
  }
  return keys;
}

}  // namespace drover
