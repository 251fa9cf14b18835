// history{minutes, every, pool}: the history ring (api/history.h) through the EngineClient,
// as the table GET /api/v1/history answers (columns, NaN where a series had no value),
// printed as one sparkline a series: what the dashboard's charts draw, in a terminal.
#include <fmt/format.h>

#include <chrono>
#include <cmath>

#include "shell/lua/binding.h"
#include "shell/lua/option_table.h"
#include "shell/lua/record_lua.h"
#include "shell/lua/shell_context.h"
#include "shell/lua/sparkline.h"
#include "shell/lua/view.h"

namespace drover {

namespace {

constexpr size_t kSparkWidth = 60;

std::string history_view(const History& h, bool unicode) {
  if (h.t_ms.empty()) return "(no samples yet: one is taken each second)";
  std::string view = fmt::format("the last {} point{}, {:g} s apart", h.t_ms.size(), h.t_ms.size() == 1 ? "" : "s",
                                 h.step_s);
  for (const PoolHistory& p : h.pools) {
    view += fmt::format("\n{}\n  running  {}\n  target   {}", p.pool, sparkline(p.running, kSparkWidth, unicode),
                        sparkline(p.target, kSparkWidth, unicode));
    bool queue = false;
    for (double q : p.queue) queue = queue || std::isfinite(q);
    if (queue) view += fmt::format("\n  queue    {}", sparkline(p.queue, kSparkWidth, unicode));
  }
  for (const TopicHistory& t : h.topics)
    view += fmt::format("\njobs {}\n  done/s   {}\n  age      {}", t.topic, sparkline(t.done, kSparkWidth, unicode),
                        sparkline(t.oldest_age_s, kSparkWidth, unicode));
  if (h.dropped) view += fmt::format("\n({} pools or topics past the limit are not kept)", h.dropped);
  return view;
}

int l_history(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    double minutes = 10;
    int every = 1;
    std::string pool;
    if (lua_type(L, 1) == LUA_TSTRING) {
      pool = lua_tostring(L, 1);
    } else if (!lua_isnoneornil(L, 1)) {
      luaL_checktype(L, 1, LUA_TTABLE);
      read_options(L, 1, "history", nullptr,
                   {{"minutes", [&] { minutes = read_number_in(L, "history", "minutes", 0.1, 60); }},
                    {"every", [&] { every = read_count_in(L, "history", "every", 1, 3600); }},
                    {"pool", [&] { pool = read_string(L, "history", "pool"); }}});
    }
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    const History h = checked(L, ctx.client.history(now_ms - static_cast<int64_t>(minutes * 60000),
                                                    static_cast<size_t>(every), pool));
    push_record(L, h);
    attach_view(L, history_view(h, ctx.color));
    return 1;
  });
}

const Binding kBindings[] = {
    {"history", "history{minutes, every, pool}",
     "workers, queue and jobs per second over the last minutes, a sample a second", l_history},
};

}  // namespace

std::span<const Binding> history_bindings() { return kBindings; }

}  // namespace drover
