#include "shell/repl/completer.h"

#include <algorithm>
#include <set>

#include "shell/lua/help_pages.h"

namespace drover {

namespace {

constexpr const char* kKeywords[] = {"and",  "break", "do",  "else", "elseif", "end",    "false", "for",
                                     "function", "goto", "if", "in", "local", "nil", "not", "or", "repeat",
                                     "return", "then", "true", "until", "while"};

bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Inside an unterminated string literal? Returns the quote character, or 0.
char open_quote(const std::string& s) {
  char q = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (q && s[i] == '\\') {
      ++i;
      continue;
    }
    if (!q && (s[i] == '"' || s[i] == '\'')) q = s[i];
    else if (q && s[i] == q) q = 0;
  }
  return q;
}

std::vector<std::string> with_prefix(const std::vector<std::string>& all, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& s : all)
    if (s.compare(0, prefix.size(), prefix) == 0) out.push_back(s);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

std::vector<std::string> Completer::table_keys(const std::string& path, bool methods_only) const {
  // Walk path ("log" or "a.b") through globals by raw field lookups: completion must never
  // run user code (no __index, no calls).
  std::vector<std::string> keys;
  lua_pushglobaltable(L_);
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find_first_of(".:", start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!part.empty()) {
      if (!lua_istable(L_, -1)) {
        lua_pop(L_, 1);
        return keys;
      }
      lua_pushlstring(L_, part.data(), part.size());
      lua_rawget(L_, -2);
      lua_remove(L_, -2);
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (lua_istable(L_, -1)) {
    lua_pushnil(L_);
    while (lua_next(L_, -2)) {
      if (lua_type(L_, -2) == LUA_TSTRING && (!methods_only || lua_isfunction(L_, -1)))
        keys.emplace_back(lua_tostring(L_, -2));
      lua_pop(L_, 1);
    }
  }
  lua_pop(L_, 1);
  return keys;
}

std::vector<std::string> Completer::complete(const std::string& before) const {
  if (char q = open_quote(before)) {
    // The word is what follows the opening quote: pool names, or page names for help.
    size_t open = before.rfind(q);
    std::string word = before.substr(open + 1);
    std::string callee = before.substr(0, open);
    while (!callee.empty() && (callee.back() == ' ' || callee.back() == '(')) callee.pop_back();
    std::vector<std::string> names;
    if (callee.size() >= 4 && callee.compare(callee.size() - 4, 4, "help") == 0) {
      for (const auto& p : help_pages()) names.emplace_back(p.name);
    } else if (pool_names_) {
      names = pool_names_();
    }
    return with_prefix(names, word);
  }
  // The expression being typed: name characters, dots and colons.
  size_t begin = before.size();
  while (begin > 0 && (is_name_char(before[begin - 1]) || before[begin - 1] == '.' || before[begin - 1] == ':'))
    --begin;
  std::string expr = before.substr(begin);
  size_t sep = expr.find_last_of(".:");
  if (sep == std::string::npos) {
    std::vector<std::string> names = table_keys("", false);
    names.insert(names.end(), std::begin(kKeywords), std::end(kKeywords));
    return with_prefix(names, expr);
  }
  std::string base = expr.substr(0, sep + 1);  // "log." or "obj:"
  std::vector<std::string> out;
  for (const auto& k : with_prefix(table_keys(expr.substr(0, sep), expr[sep] == ':'), expr.substr(sep + 1)))
    out.push_back(base + k);
  return out;
}

}  // namespace drover
