// config(), reload(), write_config(): the pools' sizes and definitions.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "engine/spec_string.h"
#include "shell/autoscale/autoscaler.h"
#include "shell/lua/binding.h"
#include "shell/lua/config_sizes_rewrite.h"
#include "shell/lua/reload_summary.h"
#include "shell/lua/shell_context.h"
#include "shell/lua/view.h"

namespace drover {

namespace {

void push_sizes(lua_State* L, const std::map<std::string, int>& sizes) {
  lua_createtable(L, 0, static_cast<int>(sizes.size()));
  for (const auto& [name, n] : sizes) {
    lua_pushinteger(L, n);
    lua_setfield(L, -2, name.c_str());
  }
}

std::map<std::string, int> current_sizes(lua_State* L, EngineClient& client) {
  std::map<std::string, int> sizes;
  for (const auto& p : checked(L, client.snapshot()).pools) sizes[p.spec.name] = p.spec.n;
  return sizes;
}

// Reads config{...}'s table into sizes; false or 0 means "remove". Raises on bad input,
// before anything has been applied.
std::map<std::string, int> read_size_table(lua_State* L, int idx) {
  std::map<std::string, int> sizes;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING) {
      luaL_error(L, "config: pool names must be strings, got %s key", luaL_typename(L, -2));
    }
    std::string name = lua_tostring(L, -2);
    int n = 0;
    if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
      n = 0;
    } else if (lua_isinteger(L, -1) ||
               (lua_type(L, -1) == LUA_TNUMBER && std::floor(lua_tonumber(L, -1)) == lua_tonumber(L, -1))) {
      lua_Number v = lua_tonumber(L, -1);
      if (v < 0 || v > kDefaultMaxWorkers * 100.0)
        luaL_error(L, "config: %s = %s is out of range (0 or more workers, or false to remove)", name.c_str(),
                   lua_tostring(L, -1));
      n = static_cast<int>(v);
    } else {
      luaL_error(L, "config: %s must be a whole number of workers or false, got %s%s%s", name.c_str(),
                 luaL_typename(L, -1), lua_type(L, -1) == LUA_TSTRING ? " " : "",
                 lua_type(L, -1) == LUA_TSTRING ? fmt::format("\"{}\"", lua_tostring(L, -1)).c_str() : "");
    }
    sizes[name] = n;
    lua_pop(L, 1);
  }
  return sizes;
}

int l_config(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    if (lua_isnoneornil(L, 1)) {
      push_sizes(L, current_sizes(L, ctx.client));
      return 1;
    }
    std::map<std::string, int> wanted;
    if (lua_type(L, 1) == LUA_TSTRING) {
      auto entries = parse_spec_string(lua_tostring(L, 1));
      if (!entries) luaL_error(L, "config: %s", entries.error().message().c_str());
      for (const auto& e : *entries) wanted[e.queues] = e.n;
    } else if (lua_type(L, 1) == LUA_TTABLE) {
      wanted = read_size_table(L, 1);
    } else {
      luaL_typeerror(L, 1, "table of pool sizes or spec string");
    }
    // One engine call: it checks the whole batch before applying any of it, and answers
    // with the sizes it produced (no snapshot after).
    auto sizes = ctx.client.merge_sizes(wanted);
    if (!sizes) {
      if (sizes.error().code() == Status::Code::kNotFound)
        luaL_error(L, "config: %s; define it (with a command) in the config file and reload()",
                   sizes.error().message().c_str());
      luaL_error(L, "config: %s", sizes.error().message().c_str());
    }
    push_sizes(L, *sizes);
    return 1;
  });
}

int l_reload(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    // Attached: the config file is the host's, and so is its reload.
    if (!ctx.load_config && ctx.client.remote())
      luaL_error(L, "reload: the config file is on the drover host: reload it there (kill -HUP %d)",
                 static_cast<int>(checked(L, ctx.client.snapshot()).pid));
    if (!ctx.load_config) luaL_error(L, "reload: this shell has no config file to re-read");
    const std::vector<PoolSnapshot> before = checked(L, ctx.client.snapshot()).pools;
    if (Status s = reload_config(ctx); !s) luaL_error(L, "reload: %s (nothing changed)", s.message().c_str());
    fmt::print(ctx.out, "{}", reload_summary(before, checked(L, ctx.client.snapshot()).pools));
    push_sizes(L, current_sizes(L, ctx.client));
    return 1;
  });
}

std::string lua_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string render_pool(const PoolSpec& p) {
  std::string argv;
  for (size_t i = 0; i < p.argv.size(); ++i) argv += (i ? ", " : "") + lua_quote(p.argv[i]);
  std::string out = fmt::format("pool {} {{\n  cmd = {{ {} }},\n  n = {},\n", lua_quote(p.name), argv, p.n);
  if (!p.cwd.empty()) out += fmt::format("  cwd = {},\n", lua_quote(p.cwd));
  if (!p.queue.empty() && p.queue != p.name) out += fmt::format("  queue = {},\n", lua_quote(p.queue));
  if (!p.env.empty()) {
    out += "  env = {";
    for (const auto& [k, v] : p.env) out += fmt::format(" [{}] = {},", lua_quote(k), lua_quote(v));
    out += " },\n";
  }
  out += fmt::format("  stop_signal = \"{}\",\n  stop_to = \"{}\",\n  grace = {},\n", signal_name(p.stop_signal),
                     stop_to_name(p.stop_to), p.grace_s);
  out += fmt::format("  backoff = {{ initial = {}, max = {}, factor = {}, reset_after = {} }},\n", p.backoff.initial_s,
                     p.backoff.max_s, p.backoff.factor, p.backoff.reset_after_s);
  out += fmt::format("  flap = {{ max_exits = {}, window = {}, cooldown = {}, give_up_after = {} }},\n",
                     p.flap.max_exits, p.flap.window_s, p.flap.cooldown_s, p.flap.give_up_after);
  if (p.heartbeat.timeout_s > 0)
    out += fmt::format("  heartbeat = {{ timeout = {}, require = {} }},\n", p.heartbeat.timeout_s, p.heartbeat.require);
  if (const BusyRegistry& r = p.busy_registry; r.enabled()) {
    // The queue's name does not matter to the registry (it lists every queue's workers).
    out += fmt::format("  busy = redis{{ {} = {}, url = {}, timeout = {}{} }},\n", r.layout, lua_quote(p.queue.empty() ? p.name : p.queue),
                       lua_quote(r.url), r.timeout_s, r.layout == "resque" ? ", namespace = " + lua_quote(r.ns) : "");
  }
  return out + "}\n";
}

// Writes text to path through a temporary file and a rename, so a crash never leaves
// half a config in place.
void write_whole(lua_State* L, const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) luaL_error(L, "write_config: cannot write %s: %s", tmp.c_str(), std::strerror(errno));
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    luaL_error(L, "write_config: cannot write %s: %s", path.c_str(), std::strerror(errno));
  }
}

std::optional<std::string> read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// write_config([path], [{force = true}]): a new file, or one write_config() wrote, gets
// every live pool; a config written by hand gets its sizes updated in place and keeps
// everything else (config_sizes_rewrite.h), or is refused; force overwrites it whole.
int l_write_config(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    std::string path = luaL_optstring(L, 1, ctx.config_path.c_str());
    if (path.empty() && ctx.client.remote())
      luaL_error(L, "write_config: give a path: the config file drover was started from is on the drover host "
                    "(write_config \"pools.lua\" writes the live pools to a file here)");
    if (path.empty()) luaL_error(L, "write_config: give a path (drover was not started from a config file)");
    bool force = false;
    if (!lua_isnoneornil(L, 2)) {
      luaL_checktype(L, 2, LUA_TTABLE);
      lua_getfield(L, 2, "force");
      force = lua_toboolean(L, -1);
      lua_pop(L, 1);
    }
    const EngineSnapshot snap = checked(L, ctx.client.snapshot());
    const auto existing = read_whole(path);
    if (existing && !force && existing->rfind(kWrittenByDrover, 0) != 0) {
      if (path.size() < 4 || path.substr(path.size() - 4) != ".lua")
        luaL_error(L, "write_config: %s exists and was not written by write_config(): give another path, or "
                      "write_config(\"%s\", {force = true}) to replace it", path.c_str(), path.c_str());
      std::map<std::string, int> sizes;
      for (const auto& p : snap.pools) sizes[p.spec.name] = p.spec.n;
      auto rewritten = rewrite_pool_sizes(*existing, sizes);
      if (!rewritten)
        luaL_error(L, "write_config: %s was written by hand and only its sizes may be updated, but %s; nothing "
                      "written (write_config \"other.lua\" writes every live pool)", path.c_str(),
                   rewritten.error().message().c_str());
      write_whole(L, path, rewritten->text);
      std::string changed;
      for (const auto& c : rewritten->changed) changed += (changed.empty() ? "" : ", ") + c;
      fmt::print(ctx.out, "write_config: {}: {}; the rest of the file is as you wrote it\n", path,
                 changed.empty() ? "sizes unchanged" : "sizes " + changed);
      lua_pushstring(L, path.c_str());
      return 1;
    }
    std::string text = std::string(kWrittenByDrover) + ": the live pools and their sizes\n";
    for (const auto& p : snap.pools) text += "\n" + render_pool(p.spec);
    write_whole(L, path, text);
    lua_pushstring(L, path.c_str());
    return 1;
  });
}

const Binding kBindings[] = {
    {"config", "config([sizes])", "show pool sizes, or resize pools live: workers that stay are never touched",
     l_config},
    {"reload", "reload()", "re-read the config file and apply it live", l_reload},
    {"write_config", "write_config([path], [opts])", "write the live pools, with their current sizes, as a config file",
     l_write_config},
};

}  // namespace

namespace {

Status try_reload(ShellContext& ctx) {
  auto specs = ctx.load_config();  // the config file's one run
  if (!specs) return specs.error();
  Status s = ctx.client.apply(std::move(*specs), /*remove_missing=*/true);
  if (s && ctx.autoscaler) ctx.autoscaler->sync_pool_registries();  // pools' `busy` fields
  // The file's policies replace the earlier run's once its pools exist, else they are dropped.
  if (ctx.finish_config) ctx.finish_config(s.is_ok());
  return s;
}

}  // namespace

Status reload_config(ShellContext& ctx) {
  if (!ctx.load_config) return Status::invalid("no config file to re-read");
  Status s = try_reload(ctx);
  // In the log too: a SIGHUP under --no-shell -q has no one watching stderr.
  if (!s) ctx.client.report(EventKind::kReloadFailed, "", "keeping the running config: " + s.message());
  return s;
}

std::span<const Binding> config_bindings() { return kBindings; }

}  // namespace drover
