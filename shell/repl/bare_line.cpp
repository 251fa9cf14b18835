#include "shell/repl/bare_line.h"

#include <lua.hpp>

#include <regex>
#include <string_view>

#include <fmt/format.h>

#include "shell/lua/help_pages.h"

namespace drover {

namespace {

const std::regex kName(R"(\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*;?\s*)");
const std::regex kHelpName(R"(\s*help\s+([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*;?\s*)");

// The page's first line: `every(seconds, fn) -- call fn on a timer ...`.
std::string_view first_line(const HelpPage& page) {
  std::string_view t = page.text;
  return t.substr(0, t.find('\n'));
}

// The signature takes no required argument: `status()`, `config([sizes])`, `stop([pool])`.
// `every(seconds, fn)`, `load "file.lua"` and `redis{ ... }` need something.
bool callable_bare(std::string_view signature, std::string_view name) {
  if (signature.substr(0, name.size()) != name) return false;
  const std::string_view rest = signature.substr(name.size());
  return rest.starts_with("()") || rest.starts_with("([");
}

// Pushes the value at a dotted path of globals (nil when a part is missing or not a table).
void push_path(lua_State* L, const std::string& path) {
  lua_pushglobaltable(L);
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    if (dot == std::string::npos) dot = path.size();
    if (!lua_istable(L, -1)) {
      lua_pop(L, 1);
      lua_pushnil(L);
      return;
    }
    lua_getfield(L, -1, path.substr(start, dot - start).c_str());
    lua_remove(L, -2);
    start = dot + 1;
  }
}

}  // namespace

BareLine interpret_bare_line(lua_State* L, const std::string& line) {
  std::smatch m;
  if (std::regex_match(line, m, kHelpName)) return {BareLine::Kind::kCall, fmt::format("help \"{}\"", m[1].str())};
  if (!std::regex_match(line, m, kName)) return {};
  const std::string path = m[1].str();
  if (path == "quit") return {BareLine::Kind::kCall, "exit()"};  // resque-pool-dynamic's word for it
  const std::string top = path.substr(0, path.find('.'));
  const HelpPage* page = find_help_page(top);
  if (!page) return {};  // not a shell command: the user's own name
  push_path(L, path);
  const int type = lua_type(L, -1);
  lua_pop(L, 1);
  const std::string_view signature = first_line(*page);
  if (type == LUA_TFUNCTION) {
    // log.tail, log.grep ...: a command table's members are called when the page's
    // signature is the table's; those that need arguments say so when called.
    if (path != top || callable_bare(signature, top)) return {BareLine::Kind::kCall, path + "()"};
    return {BareLine::Kind::kHint, fmt::format("{} needs arguments: {}\n(help {} for more)\n", path, signature, path)};
  }
  if (type == LUA_TTABLE && path == top)
    return {BareLine::Kind::kHint, fmt::format("{}\n(help {} for more)\n", signature, path)};
  return {};
}

}  // namespace drover
