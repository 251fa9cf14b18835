// log.tail, log.tail_until, log.grep, log.rew, log.ff, log.path: captured output.
#include <fmt/format.h>

#include "engine/log_file.h"
#include "shell/lua/binding.h"
#include "shell/lua/shell_context.h"
#include "shell/lua/view.h"

namespace drover {

namespace {

constexpr size_t kPage = 20;
// Every line in memory: more than any ring holds. A remote client asks its server for
// as many as it serves (RemoteClient::log_tail).
constexpr size_t kWholeRing = 1'000'000;

std::string render_line(const LogLine& line, bool color) {
  std::string stamp = format_timestamp(line.wall_ms).substr(11, 12);  // HH:MM:SS.mmm
  std::string prefix = format_log_prefix(line);
  if (color) {
    const char* c = line.stream == LogStream::kEngine ? "2" : line.stream == LogStream::kStderr ? "31" : "36";
    return fmt::format("\x1b[2m{}\x1b[0m \x1b[{}m{}\x1b[0m{}", stamp, c, prefix, line.text);
  }
  return fmt::format("{} {}{}", stamp, prefix, line.text);
}

void print_lines(ShellContext& ctx, const std::vector<LogLine>& lines) {
  for (const auto& l : lines) fmt::print(ctx.out, "{}\n", render_line(l, ctx.color));
  std::fflush(ctx.out);
}

// string.find(text, pattern) through Lua itself, so patterns mean what they mean in Lua.
bool matches(lua_State* L, const std::string& text, const std::string& pattern) {
  lua_getglobal(L, "string");
  lua_getfield(L, -1, "find");
  lua_pushlstring(L, text.data(), text.size());
  lua_pushlstring(L, pattern.data(), pattern.size());
  lua_call(L, 2, 1);
  bool found = !lua_isnil(L, -1);
  lua_pop(L, 2);
  return found;
}

struct TailArgs {
  std::optional<size_t> n;
  std::optional<std::string> pool;
};

TailArgs read_tail_args(lua_State* L, int arg) {
  TailArgs a;
  if (lua_isinteger(L, arg)) {
    lua_Integer n = lua_tointeger(L, arg);
    if (n < 0) luaL_argerror(L, arg, "line count must be >= 0");
    a.n = static_cast<size_t>(n);
  } else if (lua_istable(L, arg)) {
    if (lua_getfield(L, arg, "pool") == LUA_TSTRING) a.pool = lua_tostring(L, -1);
    lua_pop(L, 1);
    if (lua_getfield(L, arg, "n") != LUA_TNIL) {
      // lua_tointeger reads math.huge, NaN and 2.5 as 0: a count that is not a whole
      // number >= 0 is an error, not "no lines".
      int whole = 0;
      const lua_Integer n = lua_tointegerx(L, -1, &whole);
      if (!whole || n < 0 || lua_type(L, -1) != LUA_TNUMBER)
        luaL_error(L, "n must be a whole number of lines >= 0, got %s", luaL_tolstring(L, -1, nullptr));
      a.n = static_cast<size_t>(n);
    }
    lua_pop(L, 1);
  } else if (!lua_isnoneornil(L, arg)) {
    luaL_typeerror(L, arg, "line count or {pool=, n=}");
  }
  return a;
}

// Follows new lines until Ctrl-C or until `until` matches a line. Returns the matching
// line, if any.
std::optional<std::string> follow(lua_State* L, ShellContext& ctx, const std::optional<std::string>& pool,
                                  const std::optional<std::string>& until) {
  auto sub = ctx.client.subscribe(10000, {.events = false, .log_lines = true});
  while (!ctx.interrupted) {
    std::optional<EngineItem> item;
    {
      LuaUnlocked waiting(ctx.lua_lock);  // policies run while the operator watches
      item = sub->pop(std::chrono::milliseconds(100));
    }
    if (!item) {
      if (sub->closed()) break;
      continue;
    }
    const auto& line = std::get<LogLine>(*item);
    if (pool && line.pool != *pool) continue;
    fmt::print(ctx.out, "{}\n", render_line(line, ctx.color));
    std::fflush(ctx.out);
    if (until && matches(L, line.text, *until)) {
      sub->close();
      return line.text;
    }
  }
  sub->close();
  consume_interrupt(L);
  return std::nullopt;
}

int l_tail(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    TailArgs a = read_tail_args(L, 1);
    if (a.n) {
      print_lines(ctx, checked(L, ctx.client.log_tail(*a.n, a.pool)));
      return 0;
    }
    print_lines(ctx, checked(L, ctx.client.log_tail(10, a.pool)));
    follow(L, ctx, a.pool, std::nullopt);
    return 0;
  });
}

int l_tail_until(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    std::string pattern = luaL_checkstring(L, 1);
    TailArgs a = read_tail_args(L, 2);
    auto hit = follow(L, ctx, a.pool, pattern);
    if (!hit) return 0;  // interrupted
    lua_pushstring(L, hit->c_str());
    return 1;
  });
}

int l_grep(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    std::string pattern = luaL_checkstring(L, 1);
    TailArgs a = read_tail_args(L, 2);
    lua_Integer count = 0;
    for (const auto& line : checked(L, ctx.client.log_tail(kWholeRing, a.pool)))
      if (matches(L, line.text, pattern)) {
        fmt::print(ctx.out, "{}\n", render_line(line, ctx.color));
        ++count;
      }
    std::fflush(ctx.out);
    lua_pushinteger(L, count);
    return 1;
  });
}

// A pager over the in-memory tail: rew steps back a page, ff forward.
int page(lua_State* L, bool back) {
  ShellContext& ctx = shell_context_of(L);
  size_t n = static_cast<size_t>(luaL_optinteger(L, 1, kPage));
  auto lines = checked(L, ctx.client.log_tail(kWholeRing, std::nullopt));
  if (back) ctx.log_offset = std::min(lines.size(), ctx.log_offset + n);
  else ctx.log_offset = ctx.log_offset > n ? ctx.log_offset - n : 0;
  size_t end = lines.size() - ctx.log_offset;
  size_t begin = end > n ? end - n : 0;
  print_lines(ctx, std::vector<LogLine>(lines.begin() + static_cast<long>(begin), lines.begin() + static_cast<long>(end)));
  lua_pushinteger(L, static_cast<lua_Integer>(ctx.log_offset));
  return 1;
}
int l_rew(lua_State* L) {
  return guarded(L, [L] { return page(L, true); });
}
int l_ff(lua_State* L) {
  return guarded(L, [L] { return page(L, false); });
}

int l_path(lua_State* L) {
  return guarded(L, [L] {
    std::string path = checked(L, shell_context_of(L).client.snapshot()).log_path;
    if (path.empty()) lua_pushnil(L);
    else lua_pushstring(L, path.c_str());
    return 1;
  });
}

const Binding kBindings[] = {
    {"log.tail", "log.tail([n | {pool=, n=}])", "print the last n lines, or follow new lines until Ctrl-C", l_tail},
    {"log.tail_until", "log.tail_until(pattern, [{pool=}])", "follow new lines until one matches a Lua pattern",
     l_tail_until},
    {"log.grep", "log.grep(pattern, [{pool=}])", "print the lines in memory that match a Lua pattern", l_grep},
    {"log.rew", "log.rew([n])", "page back through the in-memory tail", l_rew},
    {"log.ff", "log.ff([n])", "page forward through the in-memory tail", l_ff},
    {"log.path", "log.path()", "the log file's path, or nil", l_path},
};

}  // namespace

std::span<const Binding> log_bindings() { return kBindings; }

}  // namespace drover
