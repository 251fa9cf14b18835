#include "shell/lua/help_render.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

namespace drover {

namespace {

constexpr size_t kSignatureColumn = 28;

// `code` -> code (bold with colour).
std::string inline_markup(std::string_view text, bool color) {
  std::string out;
  bool in_code = false;
  for (char c : text) {
    if (c == '`') {
      if (color) out += in_code ? "\x1b[0m" : "\x1b[1m";
      in_code = !in_code;
      continue;
    }
    out += c;
  }
  if (in_code && color) out += "\x1b[0m";
  return out;
}

// Visible length: escape sequences take no room.
size_t visible(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\x1b') {
      while (i < s.size() && s[i] != 'm') ++i;
      continue;
    }
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) ++n;  // count UTF-8 lead bytes only
  }
  return n;
}

// Words filled into lines of at most width columns, the first after `first`, the rest
// after `rest` (a hanging indent).
std::string fill(const std::string& text, size_t width, const std::string& first, const std::string& rest) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    size_t j = text.find(' ', i);
    if (j == std::string::npos) j = text.size();
    if (j > i) words.push_back(text.substr(i, j - i));
    i = j;
  }
  std::string out, line = first;
  size_t len = visible(first);
  bool empty = true;
  for (const auto& w : words) {
    const size_t wl = visible(w);
    if (!empty && len + 1 + wl > width) {
      out += line + "\n";
      line = rest;
      len = visible(rest);
      empty = true;
    }
    if (!empty) {
      line += ' ';
      ++len;
    }
    line += w;
    len += wl;
    empty = false;
  }
  return out + line + "\n";
}

bool is_list_item(std::string_view l) { return l.starts_with("- ") || l.starts_with("* "); }

std::string trim(std::string_view s) {
  const size_t b = s.find_first_not_of(' ');
  if (b == std::string_view::npos) return "";
  return std::string(s.substr(b, s.find_last_not_of(' ') - b + 1));
}

// A Markdown table's rows as aligned columns, its |---| row dropped and its header
// underlined.
std::string render_table(const std::vector<std::string_view>& rows, size_t width, bool color) {
  std::vector<std::vector<std::string>> cells;
  for (std::string_view row : rows) {
    row.remove_prefix(1);
    if (row.ends_with("|")) row.remove_suffix(1);
    std::vector<std::string> r;
    for (size_t at = 0; at <= row.size();) {
      size_t bar = row.find('|', at);
      if (bar == std::string_view::npos) bar = row.size();
      r.push_back(inline_markup(trim(row.substr(at, bar - at)), false));
      at = bar + 1;
    }
    if (std::all_of(r.begin(), r.end(), [](const std::string& c) { return c.find_first_not_of("-: ") == std::string::npos; }))
      continue;  // the |---|---| line
    cells.push_back(std::move(r));
  }
  std::vector<size_t> w;
  for (const auto& r : cells)
    for (size_t c = 0; c < r.size(); ++c) {
      if (w.size() <= c) w.push_back(0);
      w[c] = std::max(w[c], visible(r[c]));
    }
  // Too wide: the widest column gives up a column at a time (none below 12), and cells
  // wider than their column are wrapped.
  size_t total = 2;
  for (size_t c = 0; c < w.size(); ++c) total += w[c] + (c + 1 < w.size() ? 2 : 0);
  while (!w.empty() && total > width) {
    const size_t widest = static_cast<size_t>(std::max_element(w.begin(), w.end()) - w.begin());
    if (w[widest] <= 12) break;
    --w[widest];
    --total;
  }
  std::string out;
  for (size_t i = 0; i < cells.size(); ++i) {
    // Each cell as its lines: the wrapped column may take several.
    std::vector<std::vector<std::string>> parts(cells[i].size());
    size_t height = 1;
    for (size_t c = 0; c < cells[i].size(); ++c) {
      if (visible(cells[i][c]) > w[c]) {
        std::string filled = fill(cells[i][c], w[c], "", "");
        for (size_t at = 0; at < filled.size();) {
          const size_t nl = filled.find('\n', at);
          parts[c].push_back(filled.substr(at, nl - at));
          at = nl + 1;
        }
      } else {
        parts[c].push_back(cells[i][c]);
      }
      height = std::max(height, parts[c].size());
    }
    for (size_t k = 0; k < height; ++k) {
      std::string line = "  ";
      for (size_t c = 0; c < parts.size(); ++c) {
        const std::string cell = k < parts[c].size() ? parts[c][k] : "";
        line += cell;
        if (c + 1 < parts.size()) line += std::string(w[c] > visible(cell) ? w[c] - visible(cell) + 2 : 2, ' ');
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += (i == 0 && color ? "\x1b[1m" + line + "\x1b[0m" : line) + "\n";
    }
  }
  return out;
}

}  // namespace

std::string render_help_page(std::string_view markdown, size_t width, bool color) {
  std::vector<std::string_view> lines;
  for (size_t at = 0; at <= markdown.size();) {
    size_t nl = markdown.find('\n', at);
    if (nl == std::string_view::npos) nl = markdown.size();
    lines.push_back(markdown.substr(at, nl - at));
    at = nl + 1;
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  std::string out;
  size_t i = 0;
  auto flush_paragraph = [&](std::string text, const std::string& first, const std::string& rest) {
    out += fill(inline_markup(text, color), width, first, rest);
  };
  while (i < lines.size()) {
    std::string_view l = lines[i];
    if (l.empty()) {
      out += "\n";
      ++i;
    } else if (l.starts_with("    ") || l.starts_with("\t")) {
      out += std::string(l) + "\n";  // an example: as written
      ++i;
    } else if (l.starts_with("|")) {
      std::vector<std::string_view> rows;
      for (; i < lines.size() && lines[i].starts_with("|"); ++i) rows.push_back(lines[i]);
      out += render_table(rows, width, color);
    } else if (l.starts_with("#")) {
      std::string_view title = l.substr(l.find_first_not_of('#'));
      title.remove_prefix(std::min(title.find_first_not_of(' '), title.size()));
      const std::string t = inline_markup(title, false);
      out += color ? "\x1b[1m" + t + "\x1b[0m\n" : t + "\n" + std::string(visible(t), '-') + "\n";
      ++i;
    } else if (is_list_item(l)) {
      // One item: its first line and the indented lines that continue it.
      std::string text(l.substr(2));
      for (++i; i < lines.size() && lines[i].starts_with("  ") && !lines[i].starts_with("    "); ++i)
        text += " " + std::string(lines[i].substr(lines[i].find_first_not_of(' ')));
      flush_paragraph(text, "- ", "  ");
    } else if (i == 0) {
      // The signature line, "name(args) -- summary": the signature as a title, the
      // summary after it or, when both do not fit, under it.
      const size_t dash = l.find(" -- ");
      const std::string sig(l.substr(0, dash));
      out += color ? "\x1b[1m" + sig + "\x1b[0m" : sig;
      if (dash == std::string_view::npos) out += "\n";
      else if (l.size() <= width) out += std::string(l.substr(dash)) + "\n";
      else out += "\n" + fill(std::string(l.substr(dash + 4)), width, "  ", "  ");
      ++i;
    } else {
      std::string text(l);
      for (++i; i < lines.size() && !lines[i].empty() && !lines[i].starts_with("    ") && !lines[i].starts_with("#") &&
                !lines[i].starts_with("|") && !is_list_item(lines[i]);
           ++i)
        text += " " + std::string(lines[i]);
      flush_paragraph(text, "", "");
    }
  }
  return out;
}

std::string render_help_index(std::span<const Binding> bindings, size_t width) {
  std::string out = "Commands (help name for a page):\n";
  const std::string indent(2 + kSignatureColumn + 2, ' ');
  for (const Binding& b : bindings) {
    const std::string_view sig = b.signature;
    if (sig.size() <= kSignatureColumn) {
      out += fill(b.summary, width, fmt::format("  {:<{}}  ", sig, kSignatureColumn), indent);
    } else {
      out += fmt::format("  {}\n", sig);
      out += fill(b.summary, width, indent, indent);
    }
  }
  return out;
}

}  // namespace drover
