#include "shell/lua/pager.h"

#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace drover {

void print_paged(FILE* out, const std::string& text) {
  winsize ws{};
  const bool tty = isatty(fileno(out)) && ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0;
  const auto lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  const char* pager = std::getenv("PAGER");
  const std::string command = pager ? pager : "less -FRX";
  if (!tty || lines < ws.ws_row || command.empty()) {
    std::fwrite(text.data(), 1, text.size(), out);
    std::fflush(out);
    return;
  }
  std::fflush(out);
  FILE* p = popen(command.c_str(), "w");
  if (p) {
    std::fwrite(text.data(), 1, text.size(), p);
    const int status = pclose(p);
    // 127: the shell found no such program; print it ourselves rather than show nothing.
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 127)) return;
  }
  std::fwrite(text.data(), 1, text.size(), out);
  std::fflush(out);
}

}  // namespace drover
