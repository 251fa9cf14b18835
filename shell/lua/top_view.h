// TopView: what top() draws, as a pure function from a model to lines of text, and the
// keys it reads, as a pure function from bytes to keys. The terminal (raw mode, the
// alternate screen, polling the keyboard) and the engine calls live in bindings/top.cpp;
// keeping them out of here lets tests/unit/top_view_test.cpp check the screen without one.
//
// Widths are in terminal columns, counted as one per UTF-8 code point: the view's own
// text (block characters, ASCII) is all single-width, and what comes from outside (pool
// names, log lines) has its control characters replaced and is cut to fit. No line is
// ever wider than the model's width, and there are never more lines than its height.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace drover {

struct TopPoolRow {
  std::string name;
  int n = 0;             // the configured size: what + and - change
  int target = 0;        // n, or 0 while the pool is stopped
  int running = 0;
  bool enabled = true;
  std::optional<double> cpu;          // cores busy, workers and descendants; nullopt: unknown here
  std::optional<uint64_t> rss_bytes;  // likewise
  std::optional<double> restarts_per_min;  // over the last minute; nullopt: no history
  std::optional<double> jobs_per_min;      // its jobs topic's done jobs; nullopt: no topic
  std::vector<double> size_hist;   // running workers, a value a second, oldest first (NaN: none)
  std::vector<double> queue_hist;  // queue depth, likewise; empty or all NaN: no queue
  std::optional<double> queue;     // the latest queue depth
};

struct TopModel {
  std::string title;               // "drover pid 4242, up 3m12s, 5/5 workers"
  std::vector<TopPoolRow> pools;   // in the order shown
  size_t selected = 0;             // index into pools
  double span_s = 300;             // what the sparklines cover
  std::vector<std::string> events; // the latest engine events, oldest first
  bool log_view = false;           // the selected pool's log instead of the pool list
  std::vector<std::string> log_lines;  // that log, oldest first
  std::string message;             // what the last key did ("foo: 2 -> 3"), or a note
  int width = 80;
  int height = 24;
  bool unicode = true;             // block characters; else ASCII
};

struct TopScreen {
  std::vector<std::string> lines;  // at most height lines, each at most width columns
  int selected_line = -1;          // the line of the selected pool (for highlighting); -1: none
};

TopScreen render_top(const TopModel& m);

enum class TopKey { kUp, kDown, kGrow, kShrink, kLog, kEscape, kQuit, kOther };

// The keys in what one read() of the terminal returned: arrows as ESC [ A / ESC O A
// (and k/j), + (or =) and -, l, a lone ESC, q and Ctrl-C as kQuit.
std::vector<TopKey> parse_top_keys(std::string_view bytes);

// How many columns `s` takes (one per code point), and `s` cut to at most `width`
// columns, control characters and invalid bytes shown as '?'.
size_t display_width(std::string_view s);
std::string fit_columns(std::string_view s, size_t width);

// "12M", "1.5G", "800K".
std::string format_bytes(uint64_t bytes);

}  // namespace drover
