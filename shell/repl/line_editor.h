// LineEditor: reads lines from the terminal with editing, history and completion, while
// letting the shell print engine events above the line being typed.
//
// This is the only file that sees <readline/readline.h>. It uses readline's callback
// interface over poll(2), so the main thread never blocks inside readline: every
// `tick` it calls the idle hook, which may print above the prompt through
// print_above() without mangling what the user is typing. Ctrl-C (SIGINT, handled by
// the shell, which must not use SA_RESTART) abandons the current line.
//
// When stdin is not a terminal it reads plain lines and prints no prompts, so scripts
// can pipe commands into drover.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace drover {

class LineEditor {
 public:
  enum class Outcome { kLine, kEof, kInterrupted };
  struct Read {
    Outcome outcome;
    std::string line;
  };
  // Given the text before the cursor, the candidates for the word that ends there.
  using CompleteFn = std::function<std::vector<std::string>(const std::string& before_cursor)>;

  LineEditor(std::string history_path, CompleteFn complete);
  ~LineEditor();  // writes the history file

  bool interactive() const { return interactive_; }

  // Blocks until a line, end of input, or `interrupted()` turns true. Calls idle() about
  // every 100 ms while waiting.
  Read read_line(const std::string& prompt, const std::function<bool()>& interrupted,
                 const std::function<void()>& idle);
  // Only from idle(): prints text (ending in '\n') above the prompt and redraws it.
  void print_above(const std::string& text);
  void add_history(const std::string& line);

 private:
  std::string history_path_;
  bool interactive_;
};

}  // namespace drover
