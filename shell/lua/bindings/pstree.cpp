// pstree(): the process tree under the engine, workers with their children from /proc.
#include <dirent.h>

#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "shell/lua/binding.h"
#include "shell/lua/shell_context.h"
#include "shell/lua/view.h"

namespace drover {

namespace {

struct ProcInfo {
  pid_t ppid = 0;
  std::string cmd;
};

// One pass over /proc: parent and command line of every process. Cheap enough for an
// interactive command (a few ms with thousands of processes).
std::map<pid_t, ProcInfo> read_proc_table() {
  std::map<pid_t, ProcInfo> table;
  DIR* dir = opendir("/proc");
  if (!dir) return table;
  while (dirent* e = readdir(dir)) {
    char* end;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end || pid <= 0) continue;
    std::ifstream stat(fmt::format("/proc/{}/stat", pid));
    std::string line;
    if (!std::getline(stat, line)) continue;
    size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state;
    ProcInfo info;
    rest >> state >> info.ppid;
    std::ifstream cmdline(fmt::format("/proc/{}/cmdline", pid));
    std::string args((std::istreambuf_iterator<char>(cmdline)), {});
    for (char& c : args)
      if (c == '\0') c = ' ';
    while (!args.empty() && args.back() == ' ') args.pop_back();
    info.cmd = args.empty() ? line.substr(line.find('(') + 1, close - line.find('(') - 1) : args;
    table[static_cast<pid_t>(pid)] = std::move(info);
  }
  closedir(dir);
  return table;
}

void render_children(const std::map<pid_t, std::vector<pid_t>>& kids, const std::map<pid_t, ProcInfo>& procs,
                     pid_t pid, const std::string& indent, std::string& out, int depth) {
  auto it = kids.find(pid);
  if (it == kids.end() || depth > 8) return;
  for (size_t i = 0; i < it->second.size(); ++i) {
    pid_t child = it->second[i];
    bool last = i + 1 == it->second.size();
    out += fmt::format("{}{} {} {}\n", indent, last ? "└─" : "├─", child, procs.at(child).cmd.substr(0, 60));
    render_children(kids, procs, child, indent + (last ? "   " : "│  "), out, depth + 1);
  }
}

int l_pstree(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    EngineSnapshot snap = ctx.client.snapshot();
    auto procs = read_proc_table();
    std::map<pid_t, std::vector<pid_t>> kids;
    for (const auto& [pid, info] : procs) kids[info.ppid].push_back(pid);

    std::string out = fmt::format("drover[{}] up {}\n", snap.pid, format_age(snap.uptime_s));
    lua_createtable(L, 0, 0);
    lua_Integer row = 0;
    for (size_t pi = 0; pi < snap.pools.size(); ++pi) {
      const auto& p = snap.pools[pi];
      bool last_pool = pi + 1 == snap.pools.size();
      out += fmt::format("{} {} ({}/{})\n", last_pool ? "└─" : "├─", p.spec.name, p.running, p.target);
      std::string pool_indent = last_pool ? "   " : "│  ";
      for (size_t wi = 0; wi < p.workers.size(); ++wi) {
        const auto& w = p.workers[wi];
        bool last = wi + 1 == p.workers.size();
        std::string detail;
        if (w.pid) detail = fmt::format("{:>7}  {:<8} {}", w.pid, slot_state_name(w.state), format_age(w.uptime_s));
        else detail = fmt::format("{:>7}  {:<8} retry in {}", "-", slot_state_name(w.state), format_age(w.retry_in_s));
        if (w.pid && w.heartbeat_age_s >= 0) {
          // What the worker last said: when, busy or idle, how far, doing what.
          detail += fmt::format("  hb {} ago", format_age(w.heartbeat_age_s));
          if (w.busy) detail += *w.busy ? " busy" : " idle";
          if (w.progress) detail += fmt::format(" {:.0f}%", *w.progress * 100);
          if (!w.status.empty()) detail += " \"" + w.status.substr(0, 60) + "\"";
        } else if (w.pid) {
          detail += "  hb -";
        }
        if (!w.last_exit.empty()) detail += "  last: " + w.last_exit;
        out += fmt::format("{}{} {}.{} {}\n", pool_indent, last ? "└─" : "├─", p.spec.name, w.slot, detail);
        if (w.pid) render_children(kids, procs, w.pid, pool_indent + (last ? "   " : "│  "), out, 0);
        lua_createtable(L, 0, 6);
        lua_pushstring(L, p.spec.name.c_str());
        lua_setfield(L, -2, "pool");
        lua_pushinteger(L, w.slot);
        lua_setfield(L, -2, "slot");
        lua_pushinteger(L, w.pid);
        lua_setfield(L, -2, "pid");
        lua_pushstring(L, slot_state_name(w.state));
        lua_setfield(L, -2, "state");
        lua_pushnumber(L, w.uptime_s);
        lua_setfield(L, -2, "age");
        set_heartbeat_fields(L, w);
        lua_createtable(L, 0, 0);
        lua_Integer ci = 0;
        if (auto k = kids.find(w.pid); w.pid && k != kids.end())
          for (pid_t c : k->second) {
            lua_pushinteger(L, c);
            lua_rawseti(L, -2, ++ci);
          }
        lua_setfield(L, -2, "children");
        lua_rawseti(L, -2, ++row);
      }
    }
    if (!out.empty() && out.back() == '\n') out.pop_back();
    attach_view(L, out);
    return 1;
  });
}

const Binding kBindings[] = {
    {"pstree", "pstree()",
     "the process tree under the engine: each worker's pool, slot, pid, age, last heartbeat and children",
     l_pstree},
};

}  // namespace

std::span<const Binding> pstree_bindings() { return kBindings; }

}  // namespace drover
