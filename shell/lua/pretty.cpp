#include "shell/lua/pretty.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include <fmt/format.h>

namespace drover {

namespace {

// A table this wide or deep is summarised rather than dumped in full.
constexpr int kMaxDepth = 6;
constexpr size_t kMaxInlineWidth = 72;

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\{}", static_cast<int>(c));
        else out += c;
    }
  }
  return out + "\"";
}

bool is_identifier(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

class Printer {
 public:
  Printer(lua_State* L, bool color) : L_(L), color_(color) {}

  std::string value(int idx, int depth) {
    idx = lua_absindex(L_, idx);
    switch (lua_type(L_, idx)) {
      case LUA_TNIL: return paint("nil", "2");
      case LUA_TBOOLEAN: return paint(lua_toboolean(L_, idx) ? "true" : "false", "35");
      case LUA_TNUMBER: return paint(number(idx), "36");
      case LUA_TSTRING: {
        size_t len;
        const char* s = lua_tolstring(L_, idx, &len);
        return paint(quote({s, len}), "32");
      }
      case LUA_TTABLE: return table(idx, depth);
      default: {
        if (luaL_callmeta(L_, idx, "__tostring")) {
          std::string s = lua_tostring(L_, -1) ? lua_tostring(L_, -1) : "?";
          lua_pop(L_, 1);
          return s;
        }
        return fmt::format("{}: {}", luaL_typename(L_, idx), lua_topointer(L_, idx));
      }
    }
  }

 private:
  std::string paint(const std::string& s, const char* code) const {
    return color_ ? fmt::format("\x1b[{}m{}\x1b[0m", code, s) : s;
  }

  std::string number(int idx) {
    if (lua_isinteger(L_, idx)) return std::to_string(lua_tointeger(L_, idx));
    double d = lua_tonumber(L_, idx);
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    return fmt::format("{:.14g}", d);
  }

  std::string table(int idx, int depth) {
    if (luaL_getmetafield(L_, idx, "__tostring") != LUA_TNIL) {
      lua_pop(L_, 1);
      luaL_callmeta(L_, idx, "__tostring");
      std::string s = lua_tostring(L_, -1) ? lua_tostring(L_, -1) : "?";
      lua_pop(L_, 1);
      return s;
    }
    const void* ptr = lua_topointer(L_, idx);
    if (seen_.count(ptr)) return paint("<cycle>", "2");
    if (depth >= kMaxDepth) return "{...}";
    seen_.insert(ptr);
    // Keys: array part first (1..n in order), then the rest sorted.
    lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L_, idx));
    std::vector<std::string> items;
    for (lua_Integer i = 1; i <= n; ++i) {
      lua_rawgeti(L_, idx, i);
      items.push_back(value(-1, depth + 1));
      lua_pop(L_, 1);
    }
    struct Entry {
      int kind;  // 0 number, 1 string, 2 other
      double num;
      std::string key_text, value_text;
    };
    std::vector<Entry> rest;
    lua_pushnil(L_);
    while (lua_next(L_, idx)) {
      bool in_array = lua_isinteger(L_, -2) && lua_tointeger(L_, -2) >= 1 && lua_tointeger(L_, -2) <= n;
      if (!in_array) {
        Entry e{2, 0, "", ""};
        if (lua_type(L_, -2) == LUA_TNUMBER) {
          e.kind = 0;
          e.num = lua_tonumber(L_, -2);
          e.key_text = "[" + number(lua_absindex(L_, -2)) + "]";
        } else if (lua_type(L_, -2) == LUA_TSTRING) {
          e.kind = 1;
          std::string k = lua_tostring(L_, -2);  // safe: the key is a string, no conversion
          e.key_text = is_identifier(k) ? k : "[" + quote(k) + "]";
        } else {
          e.key_text = "[" + std::string(luaL_typename(L_, -2)) + "]";
        }
        e.value_text = value(-1, depth + 1);
        rest.push_back(std::move(e));
      }
      lua_pop(L_, 1);
    }
    std::sort(rest.begin(), rest.end(), [](const Entry& a, const Entry& b) {
      if (a.kind != b.kind) return a.kind < b.kind;
      if (a.kind == 0) return a.num < b.num;
      return a.key_text < b.key_text;
    });
    for (auto& e : rest) items.push_back(e.key_text + " = " + e.value_text);
    seen_.erase(ptr);
    if (items.empty()) return "{}";
    size_t width = 4;
    bool multiline = false;
    for (const auto& it : items) {
      width += it.size() + 2;
      multiline |= it.find('\n') != std::string::npos;
    }
    if (!multiline && width <= kMaxInlineWidth) return "{ " + join(items, ", ") + " }";
    std::string pad(static_cast<size_t>(depth + 1) * 2, ' ');
    std::string out = "{\n";
    // Nested tables were rendered with their own depth's indentation already.
    for (const auto& it : items) out += pad + it + ",\n";
    return out + std::string(static_cast<size_t>(depth) * 2, ' ') + "}";
  }

  static std::string join(const std::vector<std::string>& v, const char* sep) {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
    return out;
  }

  lua_State* L_;
  bool color_;
  std::set<const void*> seen_;
};

}  // namespace

std::string pretty_value(lua_State* L, int index, bool color) { return Printer(L, color).value(index, 0); }

}  // namespace drover
