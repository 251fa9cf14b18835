#include "shell/repl/line_editor.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>

// readline's headers need stdio first.
#include <readline/history.h>
#include <readline/readline.h>

namespace drover {

namespace {

constexpr int kTickMs = 100;
constexpr int kHistoryMax = 2000;

// readline's callbacks are plain C functions: the one active editor and its state.
LineEditor::CompleteFn g_complete;
std::vector<std::string> g_matches;
std::optional<std::string> g_line;  // set by on_line
bool g_done = false;
bool g_active = false;  // a prompt is on screen and readline owns the line

void on_line(char* line) {
  g_done = true;
  if (line) {
    g_line = line;
    std::free(line);
  } else {
    g_line.reset();  // EOF
  }
  // Remove now, or readline would print the next prompt itself.
  rl_callback_handler_remove();
}

char* match_generator(const char*, int state) {
  static size_t next;
  if (state == 0) next = 0;
  if (next >= g_matches.size()) return nullptr;
  return strdup(g_matches[next++].c_str());
}

char** attempt_completion(const char*, int, int end) {
  rl_attempted_completion_over = 1;  // never fall back to file names
  if (!g_complete) return nullptr;
  g_matches = g_complete(std::string(rl_line_buffer, static_cast<size_t>(end)));
  if (g_matches.empty()) return nullptr;
  return rl_completion_matches("", match_generator);
}

}  // namespace

LineEditor::LineEditor(std::string history_path, CompleteFn complete)
    : history_path_(std::move(history_path)), interactive_(isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
  if (!interactive_) return;
  g_complete = std::move(complete);
  rl_readline_name = "drover";
  rl_catch_signals = 0;  // the shell owns SIGINT; readline must not install handlers
  rl_catch_sigwinch = 1;
  rl_attempted_completion_function = attempt_completion;
  // '.' and ':' are not breaks, so "log.ta" completes as one word; '"' is, so
  // `stop "ba` completes "ba".
  rl_completer_word_break_characters = const_cast<char*>(" \t\n\"'`@$><=;|&{(,)[]+-*/%^~#");
  rl_completion_append_character = '\0';
  // One Tab lists the candidates when there are several (bash needs two, or three).
  rl_variable_bind("show-all-if-ambiguous", "on");
  using_history();
  stifle_history(kHistoryMax);
  if (!history_path_.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(history_path_).parent_path(), ec);
    read_history(history_path_.c_str());
  }
}

LineEditor::~LineEditor() {
  if (!interactive_) return;
  if (!history_path_.empty()) write_history(history_path_.c_str());
  g_complete = nullptr;
}

void LineEditor::add_history(const std::string& line) {
  if (!interactive_ || line.find_first_not_of(" \t\n") == std::string::npos) return;
  HIST_ENTRY* last = history_length > 0 ? history_get(history_base + history_length - 1) : nullptr;
  if (last && line == last->line) return;
  ::add_history(line.c_str());
  // Append as we go, so history survives a crash or a kill.
  if (!history_path_.empty()) write_history(history_path_.c_str());
}

void LineEditor::print_above(const std::string& text) {
  if (!interactive_ || !g_active) {
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
    return;
  }
  // Save what is being typed, clear the line, print, then redraw prompt and input.
  int saved_point = rl_point;
  char* saved = rl_copy_text(0, rl_end);
  rl_save_prompt();
  rl_replace_line("", 0);
  rl_redisplay();
  std::fputs("\r\x1b[K", stdout);
  std::fputs(text.c_str(), stdout);
  std::fflush(stdout);
  rl_restore_prompt();
  rl_replace_line(saved, 0);
  rl_point = saved_point;
  rl_forced_update_display();
  std::free(saved);
}

LineEditor::Read LineEditor::read_line(const std::string& prompt, const std::function<bool()>& interrupted,
                                       const std::function<void()>& idle) {
  if (!interactive_) {
    // Plain lines from a pipe or file; idle() still runs between lines.
    std::string line;
    int c;
    while ((c = std::getchar()) != EOF && c != '\n') line += static_cast<char>(c);
    if (c == EOF && line.empty()) return {Outcome::kEof, ""};
    if (idle) idle();
    return {Outcome::kLine, line};
  }
  g_done = false;
  g_line.reset();
  rl_callback_handler_install(prompt.c_str(), on_line);
  g_active = true;
  struct Inactive {
    ~Inactive() { g_active = false; }
  } inactive_on_return;
  while (!g_done) {
    pollfd p{STDIN_FILENO, POLLIN, 0};
    int r = poll(&p, 1, kTickMs);
    if (interrupted && interrupted()) {
      // Ctrl-C: abandon the line, as a shell does, and start a fresh prompt.
      rl_replace_line("", 0);
      rl_point = rl_end = 0;
      std::fputs("^C\n", stdout);
      rl_callback_handler_remove();
      return {Outcome::kInterrupted, ""};
    }
    if (r < 0) {
      if (errno == EINTR) continue;
      rl_callback_handler_remove();
      return {Outcome::kEof, ""};
    }
    if (r == 0 || !(p.revents & (POLLIN | POLLHUP))) {
      if (idle) idle();
      continue;
    }
    rl_callback_read_char();
  }
  if (!g_line) {
    std::fputs("\n", stdout);
    return {Outcome::kEof, ""};
  }
  return {Outcome::kLine, *g_line};
}

}  // namespace drover
