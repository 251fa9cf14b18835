#include "shell/lua/config_sizes_rewrite.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include <fmt/format.h>

namespace drover {

namespace {

// A cursor over Lua source that steps over strings and comments whole.
class LuaScanner {
 public:
  explicit LuaScanner(const std::string& s) : s_(s) {}
  size_t pos() const { return i_; }
  bool done() const { return i_ >= s_.size(); }
  char peek() const { return done() ? '\0' : s_[i_]; }

  // Steps over blanks and comments.
  void skip_space() {
    while (!done()) {
      if (std::isspace(static_cast<unsigned char>(s_[i_]))) {
        ++i_;
      } else if (s_.compare(i_, 2, "--") == 0) {
        i_ += 2;
        if (!skip_long_bracket()) {
          while (!done() && s_[i_] != '\n') ++i_;
        }
      } else {
        return;
      }
    }
  }

  // A string literal at the cursor: its value (escapes kept as written; pool names are
  // plain), the cursor after it. nullopt (cursor unmoved) when none starts here.
  std::optional<std::string> string_literal() {
    const size_t start = i_;
    if (peek() == '"' || peek() == '\'') {
      const char q = s_[i_++];
      std::string v;
      while (!done() && s_[i_] != q) {
        if (s_[i_] == '\\' && i_ + 1 < s_.size()) v += s_[i_++];
        v += s_[i_++];
      }
      if (done()) {
        i_ = start;
        return std::nullopt;
      }
      ++i_;
      return v;
    }
    if (peek() == '[') {
      const size_t body = long_bracket_level(i_);
      if (body != std::string::npos && skip_long_bracket()) return s_.substr(body, i_ - body - (body - start));
    }
    i_ = start;
    return std::nullopt;
  }

  std::string identifier() {
    const size_t start = i_;
    while (!done() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_')) ++i_;
    return s_.substr(start, i_ - start);
  }

  // One token's worth: a string, a comment or blank run, or one other character.
  void step() {
    if (done()) return;
    const char c = peek();
    if (c == '"' || c == '\'' || c == '[') {
      if (string_literal()) return;
    }
    if (std::isspace(static_cast<unsigned char>(c)) || s_.compare(i_, 2, "--") == 0) {
      skip_space();
      return;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      identifier();
      return;
    }
    ++i_;
  }

 private:
  // At "[[", "[=[" ...: the offset of the body, or npos.
  size_t long_bracket_level(size_t at) const {
    if (at >= s_.size() || s_[at] != '[') return std::string::npos;
    size_t j = at + 1;
    while (j < s_.size() && s_[j] == '=') ++j;
    return j < s_.size() && s_[j] == '[' ? j + 1 : std::string::npos;
  }
  // Steps over a long bracket ([[...]], [==[...]==]) at the cursor; false if none.
  bool skip_long_bracket() {
    const size_t body = long_bracket_level(i_);
    if (body == std::string::npos) return false;
    const std::string close = "]" + std::string(body - i_ - 2, '=') + "]";
    const size_t end = s_.find(close, body);
    i_ = end == std::string::npos ? s_.size() : end + close.size();
    return true;
  }

  const std::string& s_;
  size_t i_ = 0;
};

struct SizeSite {
  size_t begin = 0, end = 0;  // the number's bytes
  int value = 0;
};

// Inside a pool's table (cursor just after '{'): the top-level `n = NUMBER`, and the
// cursor after the closing '}'. A nested table's n (heartbeat = { n = 1 }) is not the pool's.
std::optional<SizeSite> find_size(LuaScanner& sc, const std::string& s) {
  int depth = 1;
  std::optional<SizeSite> site;
  while (!sc.done() && depth > 0) {
    const char c = sc.peek();
    if (c == '{') {
      ++depth;
      sc.step();
    } else if (c == '}') {
      --depth;
      sc.step();
    } else if (depth == 1 && (std::isalpha(static_cast<unsigned char>(c)) || c == '_')) {
      const std::string word = sc.identifier();
      if (word != "n") continue;
      sc.skip_space();
      if (sc.peek() != '=') continue;
      sc.step();
      sc.skip_space();
      const size_t begin = sc.pos();
      size_t end = begin;
      while (end < s.size() && std::isdigit(static_cast<unsigned char>(s[end]))) ++end;
      // A literal whole number only: `n = count`, `n = 2 * k` are the user's logic.
      const size_t after = s.find_first_not_of(" \t", end);
      if (end > begin && end - begin < 9 && (after == std::string::npos || s[after] == ',' || s[after] == ';' ||
                                             s[after] == '}' || s[after] == '\n' || s.compare(after, 2, "--") == 0))
        site = SizeSite{begin, end, std::stoi(s.substr(begin, end - begin))};
      else
        site = SizeSite{std::string::npos, std::string::npos, -1};
    } else {
      sc.step();
    }
  }
  return site;
}

}  // namespace

Result<SizesRewrite> rewrite_pool_sizes(const std::string& text, const std::map<std::string, int>& sizes) {
  std::map<std::string, SizeSite> sites;
  std::vector<std::string> order;
  LuaScanner sc(text);
  while (!sc.done()) {
    const char c = sc.peek();
    if (!(std::isalpha(static_cast<unsigned char>(c)) || c == '_')) {
      sc.step();
      continue;
    }
    if (sc.identifier() != "pool") continue;
    sc.skip_space();
    if (sc.peek() == '(') {  // pool("name", { ... }) as well as pool "name" { ... }
      sc.step();
      sc.skip_space();
    }
    auto name = sc.string_literal();
    if (!name) continue;
    sc.skip_space();
    if (sc.peek() == ',') {
      sc.step();
      sc.skip_space();
    }
    if (sc.peek() != '{') continue;
    sc.step();
    auto site = find_size(sc, text);
    if (!sizes.count(*name)) continue;
    if (sites.count(*name))
      return Status::invalid(fmt::format("pool \"{}\" is defined twice in the file: not rewriting it", *name));
    if (!site) return Status::invalid(fmt::format("pool \"{}\" has no `n = ...` in the file to update", *name));
    if (site->begin == std::string::npos)
      return Status::invalid(fmt::format("pool \"{}\": its n is not a plain number in the file (a variable or an "
                                         "expression is yours to change)", *name));
    sites[*name] = *site;
    order.push_back(*name);
  }
  for (const auto& [name, n] : sizes)
    if (!sites.count(name))
      return Status::invalid(fmt::format("pool \"{}\" is not defined as `pool \"{}\" {{ ... }}` in the file (from "
                                         "--workers, a loop or another file?)", name, name));
  SizesRewrite out;
  size_t copied = 0;
  // Sites in file order, so the text is copied front to back.
  std::vector<std::pair<size_t, std::string>> by_pos;
  for (const auto& name : order) by_pos.emplace_back(sites[name].begin, name);
  std::sort(by_pos.begin(), by_pos.end());
  for (const auto& [pos, name] : by_pos) {
    const SizeSite& site = sites[name];
    const int n = sizes.at(name);
    out.text += text.substr(copied, site.begin - copied) + std::to_string(n);
    copied = site.end;
    if (n != site.value) out.changed.push_back(fmt::format("{} {} -> {}", name, site.value, n));
  }
  out.text += text.substr(copied);
  return out;
}

}  // namespace drover
