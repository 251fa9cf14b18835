// make_man_page: writes drover.1 (roff, man macros) from the two texts users already read,
// so the man page never drifts from them: `drover --help` (run here, for SYNOPSIS and
// OPTIONS) and help/*.md (one SHELL COMMANDS subsection per page). Built and run by
// cmake/install.cmake; no dependency beyond the standard library (no pandoc, no ronn).
//
//   make_man_page VERSION DATE DROVER_BINARY OUT.1 help/a.md help/b.md ...
//
// The Markdown is the subset help/ uses: a first line "signature -- summary",
// paragraphs, 4-space indented and ``` fenced code, "- " lists, | tables |, `code`,
// **bold** and [text](link).
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

// Text as roff reads it: a backslash is \e, and a line must not start with a control
// character ('.' or '\''); \& in front makes it text.
std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\')
      out += "\\e";
    else
      out += c;
  }
  return out;
}

std::string line_safe(const std::string& s) {
  if (!s.empty() && (s[0] == '.' || s[0] == '\'')) return "\\&" + s;
  return s;
}

// Inline Markdown: `code` and **bold** in bold, [text](link) as text. Hyphens in code are
// \- (a minus sign, so options can be searched for and copied).
std::string inline_markup(const std::string& md) {
  std::string out;
  for (size_t i = 0; i < md.size(); ++i) {
    const char c = md[i];
    if (c == '`') {
      const size_t end = md.find('`', i + 1);
      if (end != std::string::npos) {
        std::string code;
        for (char k : escape(md.substr(i + 1, end - i - 1))) code += k == '-' ? std::string("\\-") : std::string(1, k);
        out += "\\fB" + code + "\\fR";
        i = end;
        continue;
      }
    }
    if (c == '*' && i + 1 < md.size() && md[i + 1] == '*') {
      const size_t end = md.find("**", i + 2);
      if (end != std::string::npos) {
        out += "\\fB" + escape(md.substr(i + 2, end - i - 2)) + "\\fR";
        i = end + 1;
        continue;
      }
    }
    if (c == '[') {
      const size_t close = md.find("](", i);
      const size_t paren = close == std::string::npos ? close : md.find(')', close);
      if (paren != std::string::npos && md.find('\n', i) > paren) {
        out += escape(md.substr(i + 1, close - i - 1));
        i = paren;
        continue;
      }
    }
    out += c == '\\' ? std::string("\\e") : std::string(1, c);
  }
  return out;
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// A Markdown table as preformatted columns (tbl would be one more preprocessor for a
// handful of two-column tables).
void write_table(std::ostream& out, const std::vector<std::string>& rows) {
  std::vector<std::vector<std::string>> cells;
  for (const auto& row : rows) {
    std::string r = trim(row);
    if (r.find_first_not_of("|-: ") == std::string::npos) continue;  // the |---| separator
    if (starts_with(r, "|")) r.erase(0, 1);
    if (!r.empty() && r.back() == '|') r.pop_back();
    std::vector<std::string> cols;
    std::stringstream ss(r);
    for (std::string col; std::getline(ss, col, '|');) {
      col = trim(col);
      col.erase(std::remove(col.begin(), col.end(), '`'), col.end());
      cols.push_back(col);
    }
    cells.push_back(cols);
  }
  std::vector<size_t> width;
  for (const auto& r : cells)
    for (size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  out << ".PP\n.RS 4\n.nf\n";
  for (const auto& r : cells) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out << line_safe(escape(trim(line))) << "\n";
  }
  out << ".fi\n.RE\n";
}

// Marked-up text, each line made safe to start a roff line.
void write_lines(std::ostream& out, const std::string& text) {
  std::stringstream ss(text);
  for (std::string l; std::getline(ss, l);) out << line_safe(l) << "\n";
}

// One help page's body (everything after its first line).
void write_markdown(std::ostream& out, const std::vector<std::string>& lines) {
  size_t i = 0;
  const auto blank = [](const std::string& l) { return trim(l).empty(); };
  while (i < lines.size()) {
    const std::string& l = lines[i];
    if (blank(l)) {
      ++i;
      continue;
    }
    if (starts_with(l, "```")) {
      out << ".PP\n.RS 4\n.nf\n";
      for (++i; i < lines.size() && !starts_with(lines[i], "```"); ++i) out << line_safe(escape(lines[i])) << "\n";
      out << ".fi\n.RE\n";
      ++i;
    } else if (starts_with(l, "    ")) {
      // Indented code, blank lines inside it included (not trailing ones).
      size_t end = i;
      for (size_t j = i; j < lines.size() && (starts_with(lines[j], "    ") || blank(lines[j])); ++j)
        if (!blank(lines[j])) end = j + 1;
      out << ".PP\n.RS 4\n.nf\n";
      for (; i < end; ++i) out << line_safe(escape(lines[i].size() >= 4 ? lines[i].substr(4) : "")) << "\n";
      out << ".fi\n.RE\n";
    } else if (starts_with(trim(l), "|")) {
      std::vector<std::string> rows;
      for (; i < lines.size() && starts_with(trim(lines[i]), "|"); ++i) rows.push_back(lines[i]);
      write_table(out, rows);
    } else if (starts_with(l, "- ") || starts_with(l, "* ")) {
      for (; i < lines.size() && !blank(lines[i]) && !starts_with(lines[i], "    "); ++i) {
        const std::string& item = lines[i];
        if (starts_with(item, "- ") || starts_with(item, "* "))
          out << ".IP \\(bu 2\n" << line_safe(inline_markup(trim(item.substr(2)))) << "\n";
        else
          out << line_safe(inline_markup(trim(item))) << "\n";
      }
    } else {
      // Marked up as a whole: a `code span` may run across a line break.
      std::string paragraph;
      for (; i < lines.size() && !blank(lines[i]) && !starts_with(lines[i], "    ") &&
             !starts_with(trim(lines[i]), "|") && !starts_with(lines[i], "```");
           ++i)
        paragraph += trim(lines[i]) + "\n";
      out << ".PP\n";
      write_lines(out, inline_markup(paragraph));
    }
  }
}

// drover --help (generated by CLI11, app/options.cpp): "usage:" lines, a blank line, option
// rows ("  --opt ARG   text", wrapped rows indented deeper; a term too long for its row has
// its text on the rows below), then paragraphs at column 0.
struct Usage {
  std::vector<std::string> synopsis;
  std::vector<std::pair<std::string, std::string>> options;
  std::vector<std::string> notes;
};

Usage parse_usage(const std::string& text) {
  Usage u;
  // The indentation most wrapped option rows share.
  size_t description_column = 0;
  {
    std::stringstream rows(text);
    std::vector<size_t> seen(80, 0);
    for (std::string l; std::getline(rows, l);) {
      const size_t b = l.find_first_not_of(' ');
      if (b != std::string::npos && b >= 8 && b < seen.size()) ++seen[b];
    }
    const auto most = std::max_element(seen.begin(), seen.end());
    if (*most > 0) description_column = static_cast<size_t>(most - seen.begin());
  }
  std::stringstream ss(text);
  enum { kSynopsis, kOptions, kNotes } part = kSynopsis;
  for (std::string l; std::getline(ss, l);) {
    if (part == kSynopsis) {
      if (trim(l).empty()) {
        part = kOptions;
        continue;
      }
      std::string s = trim(starts_with(l, "usage:") ? l.substr(6) : l);
      u.synopsis.push_back(s);
    } else if (part == kOptions && starts_with(l, " ")) {
      const size_t b = l.find_first_not_of(' ');
      if (b >= 8 && !u.options.empty()) {  // a wrapped description
        std::string& description = u.options.back().second;  // empty after a term too long for its row
        description += (description.empty() ? "" : " ") + trim(l);
        continue;
      }
      // The description starts at the column wrapped rows are indented to, or, after a
      // term longer than that, at the first double space.
      if (description_column > 0 && l.size() > description_column && l[description_column - 1] == ' ' &&
          l.find_first_not_of(' ', b) < description_column)
        u.options.emplace_back(trim(l.substr(0, description_column)), trim(l.substr(description_column)));
      else if (const size_t gap = l.find("  ", b); gap != std::string::npos)
        u.options.emplace_back(l.substr(b, gap - b), trim(l.substr(gap)));
      else
        u.options.emplace_back(trim(l), "");
    } else if (!trim(l).empty()) {
      // A sentence that starts after a full stop starts a paragraph.
      if (part == kNotes && !u.notes.back().empty() && u.notes.back().back() == '.') u.notes.emplace_back();
      if (u.notes.empty()) u.notes.emplace_back();
      part = kNotes;
      u.notes.back() += (u.notes.back().empty() ? "" : "\n") + trim(l);
    }
  }
  return u;
}

std::string run(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  if (pclose(p) != 0) out.clear();
  return out;
}

// An option row's left side in bold, its arguments in italics: "-c, --resque-pool YML".
std::string option_term(const std::string& term) {
  std::string out;
  std::stringstream ss(term);
  bool first = true;
  for (std::string w; ss >> w;) {
    if (!first) out += " ";
    first = false;
    std::string e;
    for (char c : escape(w)) e += c == '-' ? std::string("\\-") : std::string(1, c);
    out += (w[0] == '-' ? "\\fB" : "\\fI") + e + "\\fR";
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: make_man_page VERSION DATE DROVER_BINARY OUT.1 PAGE.md...\n";
    return 2;
  }
  const std::string version = argv[1], date = argv[2], drover = argv[3], out_path = argv[4];
  const std::string help_text = run("'" + drover + "' --help");
  if (help_text.empty()) {
    std::cerr << "make_man_page: `" << drover << " --help` printed nothing\n";
    return 1;
  }
  const Usage usage = parse_usage(help_text);
  std::ostringstream out;

  out << ".\\\" Generated by tools/make_man_page.cpp from `drover --help` and help/*.md. Do not edit.\n";
  out << ".TH DROVER 1 \"" << date << "\" \"drover " << version << "\" \"User Commands\"\n";
  out << ".SH NAME\ndrover \\- a process-pool master with a Lua shell\n";
  out << ".SH SYNOPSIS\n.nf\n";
  for (const auto& s : usage.synopsis) out << line_safe(escape(s)) << "\n";
  out << ".fi\n";
  out << ".SH DESCRIPTION\n"
         ".B drover\n"
         "starts and supervises pools of worker processes: it keeps each pool at its size, restarts\n"
         "workers that exit, stops stalled ones that miss their heartbeats, and sizes pools by the\n"
         "depth of their job queues with autoscale policies written in Lua. Pools come from a Lua\n"
         "configuration file, a spec string, a resque-pool YAML file or a workerpoolmanager JSON file.\n"
         ".PP\n"
         "Unless told otherwise it opens an interactive Lua shell whose commands (below, and\n"
         ".B help()\n"
         "in the shell) inspect and resize the pools while they run.\n";
  for (const auto& n : usage.notes) {
    out << ".PP\n";
    write_lines(out, inline_markup(n));
  }
  out << ".SH OPTIONS\n";
  for (const auto& [term, text] : usage.options) {
    out << ".TP\n" << option_term(term) << "\n";
    if (!text.empty()) write_lines(out, inline_markup(text));
  }

  out << ".SH SHELL COMMANDS\n"
         "Typed at the\n.B drover>\nprompt, given to\n.BR \\-e ,\n"
         "or written in a configuration file. Each is also a page of\n.BR help() .\n";
  for (int i = 5; i < argc; ++i) {
    std::ifstream in(argv[i]);
    if (!in) {
      std::cerr << "make_man_page: cannot read " << argv[i] << "\n";
      return 1;
    }
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    if (lines.empty()) continue;
    const std::string first = lines.front();
    const size_t sep = first.find(" -- ");
    const std::string signature = sep == std::string::npos ? first : first.substr(0, sep);
    // The heading on the line after .SS: a signature's quotes need no macro-argument quoting.
    out << ".SS\n" << line_safe(escape(signature)) << "\n";
    if (sep != std::string::npos) write_lines(out, inline_markup(first.substr(sep + 4)));
    write_markdown(out, std::vector<std::string>(lines.begin() + 1, lines.end()));
  }

  out << ".SH ENVIRONMENT\n"
         ".TP\n.B DROVER_PATH\n"
         "Colon-separated directories searched for policies before the shipped ones, as\n"
         ".B load \"name\"\nlooks them up (empty and missing entries are skipped).\n"
         ".TP\n.B DROVER_HTTP_TOKEN\n"
         "The token HTTP clients must send with\n.BR \\-\\-http ,\n"
         "instead of\n.BR \\-\\-http\\-token\\-file ;\ndrover removes it from its environment.\n"
         ".TP\n.B XDG_RUNTIME_DIR\n"
         "Where the default ipc:// heartbeat socket's private directory is made (else /tmp).\n"
         ".TP\n.B NO_COLOR\n"
         "When set, the shell prints no colours.\n"
         ".TP\n.B DROVER_HEARTBEAT\n"
         "Set by drover in each worker's environment: the endpoint its heartbeats go to.\n";
  out << ".SH FILES\n"
         ".TP\n.I <prefix>/share/drover/policies/*.lua\n"
         "The shipped autoscale policies, found relative to the binary\n"
         "(\\fI<prefix>/bin/drover\\fR reads \\fI<prefix>/share/drover\\fR).\n"
         ".TP\n.I <prefix>/share/drover/examples/\n"
         "Example configurations and workers, runnable as installed.\n"
         ".TP\n.I <prefix>/share/doc/drover/\n"
         "The README, the licence and the help pages as Markdown.\n";
  out << ".SH SEE ALSO\n"
         ".BR lua (1),\n.BR redis\\-server (1),\n.BR systemd.service (5)\n";

  std::ofstream file(out_path);
  file << out.str();
  if (!file) {
    std::cerr << "make_man_page: cannot write " << out_path << "\n";
    return 1;
  }
  return 0;
}
