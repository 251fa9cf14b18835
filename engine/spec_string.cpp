// The --workers spec string and its command template.
//
// Columns in errors are 1-based positions in the whole spec, so a user can count along
// the line they typed. The template is split into argv *before* the queue names go in:
// a queue name is data, and "*" (resque's "all queues") must reach the worker as "*",
// not be globbed by /bin/sh in the worker's directory.
//
// Two ways to pass a pool's queue list "baz,quux", because workers read it two ways:
// {queue} is the text as one word (resque's QUEUE=baz,quux, Celery's -Q baz,quux), and
// {queues} is one word per queue (rq: `rq worker baz quux`; rq would take "baz,quux" for
// a single queue of that name). {queues} must be a word of its own, so that "one word
// per queue" has only one meaning.
#include "engine/spec_string.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <map>
#include <string_view>

#include <fmt/format.h>

namespace drover {

namespace {

// Narrower than pool names (no ':', it separates entries): what queue names use.
bool queue_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == ',' || c == '*';
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

std::string printable(char c) {
  auto u = static_cast<unsigned char>(c);
  return std::isprint(u) ? std::string(1, c) : fmt::format("\\x{:02x}", u);
}

constexpr std::string_view kPlaceholders[] = {"{queue}", "{pool}"};
constexpr std::string_view kListPlaceholder = "{queues}";
// Stand in for the placeholders while the template is split: kHole for the entry's text,
// kListHole for its queues as separate words. Control characters, so they cannot collide
// with anything a user types on a command line (checked below).
constexpr char kHole = '\x1f';
constexpr char kListHole = '\x1e';

bool shell_safe(const std::string& value) {
  return !value.empty() && std::all_of(value.begin(), value.end(), [](char v) {
    return std::isalnum(static_cast<unsigned char>(v)) || std::strchr("_-.,/:@%+", v);
  });
}

// value as one shell word: bare when it is made only of harmless characters (so the line
// stays readable), else single-quoted.
std::string shell_word(const std::string& value) {
  if (shell_safe(value)) return value;
  std::string out = "'";
  for (char v : value) out += v == '\'' ? std::string("'\\''") : std::string(1, v);
  return out + "'";
}

std::vector<std::string> split_list(const std::string& queues) {
  std::vector<std::string> out;
  for (size_t pos = 0; pos <= queues.size();) {
    size_t end = std::min(queues.find(',', pos), queues.size());
    if (end > pos) out.push_back(queues.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

// Where a word may begin or end in a command line: what sh splits words at.
bool word_edge(char c, bool before) {
  return c == ' ' || c == '\t' || c == '\n' || (c != 0 && std::strchr(before ? ";|&(" : ";|&)<>", c));
}

// Every {queues} stands alone: unquoted, with a word boundary on each side. Inside a word
// or quotes, "one word per queue" would mean something different in argv and in sh.
Status check_list_holes(const std::string& holed) {
  char quote = 0;
  bool escaped = false;
  for (size_t i = 0; i < holed.size(); ++i) {
    const char c = holed[i];
    if (c == kListHole) {
      const bool alone = quote == 0 && !escaped && (i == 0 || word_edge(holed[i - 1], true)) &&
                         (i + 1 == holed.size() || word_edge(holed[i + 1], false));
      if (!alone)
        return Status::invalid(
            "--cmd: {queues} must be a word of its own, outside quotes (it becomes one argument per queue); "
            "use {queue} for the list as one word");
      continue;
    }
    if (escaped) escaped = false;
    else if (c == '\\' && quote != '\'') escaped = true;
    else if (quote == 0 && (c == '\'' || c == '"')) quote = c;
    else if (c == quote) quote = 0;
  }
  return Status::ok();
}

std::string fill_holes(const std::string& s, const std::string& value) {
  std::string out;
  for (char c : s) {
    if (c == kHole) out += value;
    else out += c;
  }
  return out;
}

// Quotes value for where it lands in a shell line: inside '...', inside "...", or bare.
// Bare values made only of harmless characters stay as they are, so the line stays readable.
std::string fill_shell_holes(const std::string& line, const std::string& value) {
  std::string out;
  char quote = 0;
  bool escaped = false;
  for (char c : line) {
    if (c == kListHole) {  // unquoted, a word of its own (check_list_holes)
      std::string words;
      for (const auto& q : split_list(value)) words += (words.empty() ? "" : " ") + shell_word(q);
      out += words;
      continue;
    }
    if (c == kHole) {
      if (quote == '\'') {
        for (char v : value) out += v == '\'' ? std::string("'\\''") : std::string(1, v);
      } else if (quote == '"') {
        for (char v : value) {
          if (std::strchr("$`\"\\", v)) out += '\\';
          out += v;
        }
      } else {
        out += shell_word(value);
      }
      escaped = false;
      continue;
    }
    out += c;
    if (escaped) escaped = false;
    else if (c == '\\' && quote != '\'') escaped = true;
    else if (quote == 0 && (c == '\'' || c == '"')) quote = c;
    else if (c == quote) quote = 0;
  }
  return out;
}

}  // namespace

Result<std::vector<SpecEntry>> parse_spec_string(const std::string& spec, const EngineLimits& limits) {
  if (spec.find_first_not_of(" \t") == std::string::npos) return Status::invalid("--workers: the spec is empty");
  std::vector<SpecEntry> out;
  std::map<std::string, int> seen;  // pool name -> its entry number
  size_t pos = 0;
  for (int index = 1;; ++index) {
    size_t end = std::min(spec.find(':', pos), spec.size());
    const std::string entry = spec.substr(pos, end - pos);
    auto err = [&](size_t col_in_entry, const std::string& what) {
      return Status::invalid(
          fmt::format("--workers: entry {} '{}' at column {}: {}", index, entry, pos + col_in_entry + 1, what));
    };
    if (entry.empty()) return err(0, "empty entry (two ':' in a row, or a ':' at an end)");

    const size_t eq = entry.find('=');
    const std::string queues = entry.substr(0, eq);
    if (queues.empty()) return err(0, "no queue name before '='");
    for (size_t i = 0; i < queues.size(); ++i) {
      char c = queues[i];
      // Point at the ',' that closes the empty name ("a,,b": the second one).
      if (c == ',' && (i == 0 || i + 1 == queues.size())) return err(i, "empty queue name in the list");
      if (c == ',' && queues[i + 1] == ',') return err(i + 1, "empty queue name in the list");
      if (!queue_char(c)) return err(i, fmt::format("'{}' is not allowed in a queue name", printable(c)));
    }

    SpecEntry e{queues, 1};
    if (eq != std::string::npos) {
      const std::string count = entry.substr(eq + 1);
      const size_t col = eq + 1;
      if (count.size() > 1 && count[0] == '-' && all_digits(std::string_view(count).substr(1)))
        return err(col, fmt::format("count {} is out of range 0..{}", count, limits.max_workers_per_pool));
      if (!all_digits(count)) return err(col, fmt::format("count '{}' is not a whole number", count));
      auto [ptr, ec] = std::from_chars(count.data(), count.data() + count.size(), e.n);
      if (ec == std::errc::result_out_of_range || e.n > limits.max_workers_per_pool)
        return err(col, fmt::format("count {} is out of range 0..{}", count, limits.max_workers_per_pool));
    }
    if (auto [it, fresh] = seen.emplace(queues, index); !fresh)
      return err(0, fmt::format("pool '{}' is already given by entry {}", queues, it->second));
    out.push_back(std::move(e));
    if (end == spec.size()) break;
    pos = end + 1;
  }
  return out;
}

Result<std::vector<PoolSpec>> pools_from_spec(const std::vector<SpecEntry>& entries, const std::string& cmd_template,
                                              const PoolSpec& defaults) {
  if (cmd_template.find_first_not_of(" \t") == std::string::npos)
    return Status::invalid("--cmd is required with --workers (for example --cmd 'rq worker {queues}')");
  for (char c : {kHole, kListHole})
    if (cmd_template.find(c) != std::string::npos)
      return Status::invalid(fmt::format("--cmd holds a control character (\\x{:02x})", c));

  std::string holed = cmd_template;
  auto punch = [&holed](std::string_view key, char hole) {
    for (size_t at; (at = holed.find(key)) != std::string::npos;) holed.replace(at, key.size(), 1, hole);
  };
  for (std::string_view key : kPlaceholders) punch(key, kHole);
  punch(kListPlaceholder, kListHole);
  const bool lists = holed.find(kListHole) != std::string::npos;
  if (lists)
    if (Status s = check_list_holes(holed); !s) return s;
  // The split depends only on the template, so every pool of one --cmd has the same shape.
  const std::vector<std::string> shape = command_from_string(holed);
  const bool via_shell = shape.size() == 3 && shape[0] == "/bin/sh" && shape[1] == "-c" && shape[2] == holed;

  std::vector<PoolSpec> pools;
  for (const auto& e : entries) {
    const std::vector<std::string> queues = split_list(e.queues);
    // resque reads QUEUE=* as every queue; rq and Celery have no such name (rq would
    // listen on a queue called "*"), so there is nothing right to put in its place.
    if (lists && std::find(queues.begin(), queues.end(), "*") != queues.end())
      return Status::invalid(fmt::format(
          "--cmd: pool '{}': {{queues}} cannot pass on '*' (rq and Celery have no name for every queue); "
          "list the queues instead (--workers 'foo,bar=1'), or use {{queue}} where '*' means every queue "
          "(resque's QUEUE)",
          e.queues));
    if (lists && queues.empty())
      return Status::invalid(fmt::format("--cmd: pool '{}': {{queues}} needs at least one queue name", e.queues));
    PoolSpec p = defaults;
    p.name = e.queues;
    p.queue = e.queues;
    p.n = e.n;
    if (via_shell) {
      p.argv = {"/bin/sh", "-c", fill_shell_holes(holed, e.queues)};
    } else {
      p.argv.clear();
      for (const auto& word : shape) {
        if (word == std::string(1, kListHole)) p.argv.insert(p.argv.end(), queues.begin(), queues.end());
        else p.argv.push_back(fill_holes(word, e.queues));
      }
    }
    pools.push_back(std::move(p));
  }
  return pools;
}

}  // namespace drover
