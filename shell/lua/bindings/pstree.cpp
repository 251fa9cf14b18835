// pstree(): the process tree under the engine, workers with their children from /proc.
#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "engine/containment.h"
#include "engine/proc_stat.h"
#include "shell/lua/binding.h"
#include "shell/lua/shell_context.h"
#include "shell/lua/record_lua.h"
#include "shell/lua/view.h"

namespace drover {

namespace {

struct ProcInfo {
  pid_t ppid = 0;
  std::string cmd;
};

// A /proc file's bytes; what could be read of them when the process goes meanwhile (a
// read of an exiting process's cmdline fails with ESRCH, which std::ifstream throws as
// "basic_filebuf::underflow error": pstree() failed whenever any process on the machine
// exited during the walk).
std::string read_proc_file(const std::string& path) {
  std::string out;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

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
    const auto st = read_proc_stat(static_cast<pid_t>(pid));
    if (!st) continue;
    ProcInfo info;
    info.ppid = st->ppid;
    std::string args = read_proc_file(fmt::format("/proc/{}/cmdline", pid));
    for (char& c : args)
      if (c == '\0') c = ' ';
    while (!args.empty() && args.back() == ' ') args.pop_back();
    info.cmd = args.empty() ? st->comm : args;
    table[static_cast<pid_t>(pid)] = std::move(info);
  }
  closedir(dir);
  return table;
}

// Worker-supplied text (a heartbeat's status, a command line) made safe for a terminal:
// C0 and C1 control characters and DEL become '?', so no escape sequence gets through.
// The engine hands over valid UTF-8 (the JSON parser checks it; /proc bytes may not be,
// and are passed as they are: a terminal shows them as replacement characters).
std::string printable(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      out += '?';
    } else if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(s[i + 1]) <= 0x9f) {
      out += '?';  // U+0080..U+009F, which some terminals take as CSI and friends
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Columns a UTF-8 string takes, counting one per code point (the tree's box-drawing
// characters included). Wide CJK characters count one too: close enough for cutting.
size_t columns_of(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return n;
}

// s cut to at most `max` columns, ending in "…" when cut; never splits a character.
std::string fit(const std::string& s, size_t max) {
  if (columns_of(s) <= max) return s;
  size_t keep = max > 0 ? max - 1 : 0, n = 0, end = 0;
  for (; end < s.size(); ++end) {
    if ((static_cast<unsigned char>(s[end]) & 0xc0) == 0x80) continue;
    if (n++ == keep) break;
  }
  return s.substr(0, end) + "…";
}

// The width lines are fitted to: the terminal's when `out` is one, else $COLUMNS, else
// 0 for "no limit" (a script or a pipe gets whole lines, already capped by the engine).
size_t terminal_columns(FILE* out) {
  winsize ws{};
  if (out && isatty(fileno(out)) && ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* env = std::getenv("COLUMNS")) {
    char* end;
    long c = std::strtol(env, &end, 10);
    if (*end == '\0' && c > 0 && c < 10000) return static_cast<size_t>(c);
  }
  return 0;
}

// Free text at the end of a line already `used` columns wide: whatever fits in `width`,
// but never cut below `min_cols` (a narrow terminal wraps rather than showing nothing).
std::string fit_tail(const std::string& text, size_t used, size_t width, size_t min_cols, size_t no_width_cap) {
  std::string safe = printable(text);
  if (width == 0) return no_width_cap ? fit(safe, no_width_cap) : safe;
  return fit(safe, std::max(min_cols, width > used ? width - used : 0));
}

void render_children(const std::map<pid_t, std::vector<pid_t>>& kids, const std::map<pid_t, ProcInfo>& procs,
                     pid_t pid, const std::string& indent, std::string& out, int depth, size_t width) {
  auto it = kids.find(pid);
  if (it == kids.end() || depth > 8) return;
  for (size_t i = 0; i < it->second.size(); ++i) {
    pid_t child = it->second[i];
    bool last = i + 1 == it->second.size();
    std::string head = fmt::format("{}{} {} ", indent, last ? "└─" : "├─", child);
    out += head + fit_tail(procs.at(child).cmd, columns_of(head), width, 20, 60) + "\n";
    render_children(kids, procs, child, indent + (last ? "   " : "│  "), out, depth + 1, width);
  }
}

// What a worker started that is no longer under it by parent pid (a setsid'd, double-forked
// or re-parented process: rq's work horse after its worker died, a daemon): the roots of
// such subtrees. cgroup containment: members of the worker's cgroup whose parent is not
// in it. subreaper containment: drover's children that carry the worker's pool and slot.
std::vector<pid_t> escaped_roots(const WorkerSnapshot& w, const std::string& pool, pid_t drover,
                                 const std::map<pid_t, ProcInfo>& procs, const std::map<pid_t, std::vector<pid_t>>& kids,
                                 const std::set<pid_t>& workers) {
  std::vector<pid_t> roots;
  if (!w.cgroup.empty()) {
    auto members = Containment::members(w.cgroup);
    std::set<pid_t> in(members.begin(), members.end());
    for (pid_t m : members) {
      auto it = procs.find(m);
      if (m != w.pid && it != procs.end() && !in.count(it->second.ppid)) roots.push_back(m);
    }
    return roots;
  }
  auto it = kids.find(drover);
  if (it == kids.end()) return roots;
  const std::string want_pool = "DROVER_POOL=" + pool, want_slot = fmt::format("DROVER_SLOT={}", w.slot);
  for (pid_t c : it->second) {
    if (workers.count(c)) continue;
    std::istringstream env(read_proc_file(fmt::format("/proc/{}/environ", c)));
    bool has_pool = false, has_slot = false;
    for (std::string entry; std::getline(env, entry, '\0');) {
      has_pool = has_pool || entry == want_pool;
      has_slot = has_slot || entry == want_slot;
    }
    if (has_pool && has_slot) roots.push_back(c);
  }
  return roots;
}

// One worker's line: pool.slot, pid, state, age, then what its last heartbeat said (when,
// busy or idle, progress, status text; busy or idle may come from the job queue's records
// instead, named after it: "idle (rq)") and how its last process ended. The status text is
// the one part of free length: it gets what the terminal has left.
std::string worker_line(const std::string& head, const std::string& pool, const WorkerSnapshot& w, size_t width) {
  std::string line = fmt::format("{}{}.{} ", head, pool, w.slot);
  if (w.pid) line += fmt::format("{:>7}  {:<8} {}", w.pid, slot_state_name(w.state), format_age(w.uptime_s));
  else line += fmt::format("{:>7}  {:<8} retry in {}", "-", slot_state_name(w.state), format_age(w.retry_in_s));
  if (w.pid) {
    line += w.heartbeat_age_s >= 0 ? fmt::format("  hb {} ago", format_age(w.heartbeat_age_s)) : "  hb -";
    if (w.busy) line += *w.busy ? " busy" : " idle";
    // Said by the queue's records, not the worker: name them (heartbeat busy needs no label).
    if (w.busy && w.busy_from != "heartbeat") line += fmt::format(" ({})", printable(w.busy_from));
    if (w.progress) line += fmt::format(" {:.0f}%", *w.progress * 100);
  }
  std::string tail = w.last_exit.empty() ? "" : "  last: " + printable(w.last_exit);
  if (w.pid && !w.status.empty())
    line += " \"" + fit_tail(w.status, columns_of(line) + 3 + columns_of(tail), width, 16, 0) + "\"";
  return line + tail + "\n";
}

int l_pstree(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    EngineSnapshot snap = checked(L, ctx.client.snapshot());
    auto procs = read_proc_table();
    std::map<pid_t, std::vector<pid_t>> kids;
    for (const auto& [pid, info] : procs) kids[info.ppid].push_back(pid);
    std::set<pid_t> workers;
    for (const auto& p : snap.pools)
      for (const auto& w : p.workers)
        if (w.pid) workers.insert(w.pid);

    const size_t width = terminal_columns(ctx.out);
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
        out += worker_line(pool_indent + (last ? "└─ " : "├─ "), p.spec.name, w, width);
        const std::string indent = pool_indent + (last ? "   " : "│  ");
        if (w.pid) render_children(kids, procs, w.pid, indent, out, 0, width);
        std::vector<pid_t> escaped = escaped_roots(w, p.spec.name, snap.pid, procs, kids, workers);
        for (pid_t e : escaped) {
          std::string head = fmt::format("{}╌╌ {} ", indent, e);
          out += head + fit_tail(procs.at(e).cmd + "  (left the tree)", columns_of(head), width, 20, 60) + "\n";
          render_children(kids, procs, e, indent + "   ", out, 1, width);
        }
        lua_createtable(L, 0, 12);
        lua_pushstring(L, p.spec.name.c_str());
        lua_setfield(L, -2, "pool");
        lua_pushnumber(L, w.uptime_s);
        lua_setfield(L, -2, "age");
        set_record_fields(L, w);  // and the rest a worker shows: uptime, restarts, heartbeats, busy ...
        lua_createtable(L, 0, 0);
        lua_Integer ci = 0;
        if (auto k = kids.find(w.pid); w.pid && k != kids.end())
          for (pid_t c : k->second) {
            lua_pushinteger(L, c);
            lua_rawseti(L, -2, ++ci);
          }
        lua_setfield(L, -2, "children");
        lua_createtable(L, static_cast<int>(escaped.size()), 0);
        for (size_t i = 0; i < escaped.size(); ++i) {
          lua_pushinteger(L, escaped[i]);
          lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
        }
        lua_setfield(L, -2, "escaped");
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
