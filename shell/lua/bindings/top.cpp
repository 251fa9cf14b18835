// top(): a live full-screen view of the engine, as pm2 monit and htop users expect: every
// pool with its size, CPU, memory, restarts and jobs per minute, sparklines of its size
// and queue over the last five minutes, and the latest events; arrows select a pool, + and
// - resize it, l shows its log, q or Ctrl-C returns to the prompt.
//
// Everything comes through the EngineClient (snapshot, history, log_tail, subscribe,
// configure), so `drover attach` shows the same view, from any host. CPU and RSS are the
// history's latest sample: the drover's history sampler scans its own /proc each second.
//
// The drawing is top_view.h's pure function; the terminal is RawTerminal's. While the view
// is up the Lua lock is given up (policies keep running), so the loop touches no Lua: its
// failures come back as a Status and become a Lua error once the terminal is restored.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <set>

#include "engine/log_file.h"
#include "shell/lua/binding.h"
#include "shell/lua/raw_terminal.h"
#include "shell/lua/shell_context.h"
#include "shell/lua/top_view.h"
#include "shell/lua/view.h"

namespace drover {

namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr double kSpanS = 300;        // the sparklines' five minutes
constexpr size_t kEventsKept = 200;
constexpr milliseconds kRefresh{1000};
constexpr milliseconds kTick{250};    // how soon a resized terminal or a Ctrl-C signal is noticed

int64_t wall_now_ms() {
  return std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string clock_of(int64_t wall_ms) { return format_timestamp(wall_ms).substr(11, 8); }

// The newest value a series has (NaN: none sampled then).
std::optional<double> last_known(const std::vector<double>& v) {
  for (auto it = v.rbegin(); it != v.rend(); ++it)
    if (!std::isnan(*it)) return *it;
  return std::nullopt;
}

// The sum of the last `n` finite values: a count per second over n seconds.
double sum_last(const std::vector<double>& v, size_t n) {
  double sum = 0;
  for (size_t i = v.size() > n ? v.size() - n : 0; i < v.size(); ++i)
    if (std::isfinite(v[i])) sum += v[i];
  return sum;
}

// A series padded at the front with NaN to `points`: the newest value always at the right
// edge of its sparkline, however long drover has been up.
std::vector<double> padded(const std::vector<double>& v, size_t points) {
  if (v.size() >= points) return std::vector<double>(v.end() - static_cast<long>(points), v.end());
  std::vector<double> out(points - v.size(), std::numeric_limits<double>::quiet_NaN());
  out.insert(out.end(), v.begin(), v.end());
  return out;
}

class Top {
 public:
  Top(ShellContext& ctx, bool unicode) : ctx_(ctx), client_(ctx.client) {
    model_.unicode = unicode;
    model_.span_s = kSpanS;
  }

  // The view until q, Ctrl-C, or the engine finishing. The Lua lock is not held.
  Status run(RawTerminal& term) {
    events_ = client_.subscribe(kEventsKept, {.events = true, .log_lines = false});
    struct Close {
      std::shared_ptr<Subscription>& s;
      ~Close() { s->close(); }
    } close_events{events_};
    backfill_events();
    if (Status s = refresh(); !s) return s;
    draw(term);
    auto next = steady_clock::now() + kRefresh;
    auto size = term.size();
    while (!ctx_.interrupted) {
      if (client_.wait_finished(std::chrono::seconds(0))) return Status::ok();
      const auto now = steady_clock::now();
      const auto wait = std::min(kTick, std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(next - now)));
      const std::string typed = term.read_keys(wait);
      bool redraw = false, reload = false;
      for (TopKey k : parse_top_keys(typed)) {
        if (k == TopKey::kQuit) return Status::ok();
        reload = act(k) || reload;
        redraw = true;
      }
      if (term.size() != size) {
        size = term.size();
        redraw = true;
      }
      if (reload || steady_clock::now() >= next) {
        if (Status s = refresh(); !s) return s;
        next = steady_clock::now() + kRefresh;
        redraw = true;
      }
      if (redraw) draw(term);
    }
    return Status::ok();
  }

 private:
  ShellContext& ctx_;
  EngineClient& client_;
  std::shared_ptr<Subscription> events_;
  std::deque<std::string> event_lines_;
  std::string selected_;  // the selected pool by name, so a pool added or removed keeps it
  TopModel model_;

  void keep_event(std::string line) {
    event_lines_.push_back(std::move(line));
    while (event_lines_.size() > kEventsKept) event_lines_.pop_front();
  }

  // The engine's lines already in the log (every event is one), so the view opens with
  // the recent past rather than empty.
  void backfill_events() {
    auto lines = client_.log_tail(2000, std::nullopt);
    if (!lines) return;
    for (const LogLine& l : *lines)
      if (l.stream == LogStream::kEngine) keep_event(clock_of(l.wall_ms) + " " + l.text);
  }

  void drain_events() {
    while (auto item = events_->pop(std::chrono::seconds(0))) {
      const Event* ev = std::get_if<Event>(&*item);
      if (!ev) continue;
      // As the engine words its log line for the event (Supervisor::emit_event).
      const std::string who =
          ev->pool.empty() ? "engine" : ev->slot >= 0 ? fmt::format("{}.{}", ev->pool, ev->slot) : ev->pool;
      keep_event(fmt::format("{} {} {}{}{}{}", clock_of(ev->wall_ms), who, event_kind_name(ev->kind),
                             ev->pid ? fmt::format(" pid {}", ev->pid) : "", ev->text.empty() ? "" : ": ", ev->text));
    }
  }

  Status refresh() {
    auto snap = client_.snapshot();
    if (!snap) return snap.error();
    const auto hist = client_.history(wall_now_ms() - static_cast<int64_t>(kSpanS * 1000), 1, "");
    drain_events();

    int running = 0, target = 0;
    model_.pools.clear();
    for (const PoolSnapshot& p : snap->pools) {
      TopPoolRow row;
      row.name = p.spec.name;
      row.n = p.spec.n;
      row.target = p.target;
      row.running = p.running;
      row.enabled = p.enabled;
      row.queue = p.queue.depth;
      running += p.running;
      target += p.target;
      if (hist) {
        const size_t points = static_cast<size_t>(kSpanS / std::max(hist->step_s, 1.0));
        for (const PoolHistory& h : hist->pools)
          if (h.pool == row.name) {
            row.size_hist = padded(h.running, points);
            row.queue_hist = padded(h.queue, points);
            row.restarts_per_min = sum_last(h.restarts, 60);
            row.cpu = last_known(h.cpu);
            if (auto rss = last_known(h.rss_bytes)) row.rss_bytes = static_cast<uint64_t>(*rss);
          }
        for (const TopicHistory& t : hist->topics)
          if (t.topic == row.name) row.jobs_per_min = sum_last(t.done, 60);
      }
      model_.pools.push_back(std::move(row));
    }
    model_.events.assign(event_lines_.begin(), event_lines_.end());
    select(selected_);
    model_.title = fmt::format("drover pid {}, up {}, {}/{} workers{}   {}", snap->pid, format_age(snap->uptime_s),
                               running, target, client_.remote() ? ", " + client_.name() : "",
                               clock_of(wall_now_ms()));
    if (!hist && model_.message.empty()) model_.message = hist.error().message();
    if (model_.log_view) load_log();
    return Status::ok();
  }

  // Selects the pool named, or keeps the index in range when it is gone.
  void select(const std::string& name) {
    for (size_t i = 0; i < model_.pools.size(); ++i)
      if (model_.pools[i].name == name) {
        model_.selected = i;
        return;
      }
    model_.selected = model_.pools.empty() ? 0 : std::min(model_.selected, model_.pools.size() - 1);
    selected_ = model_.pools.empty() ? "" : model_.pools[model_.selected].name;
  }

  void load_log() {
    model_.log_lines.clear();
    if (selected_.empty()) return;
    auto lines = client_.log_tail(static_cast<size_t>(std::max(model_.height, 24)), selected_);
    if (!lines) {
      model_.log_lines.push_back(lines.error().message());
      return;
    }
    for (const LogLine& l : *lines)
      model_.log_lines.push_back(clock_of(l.wall_ms) + " " + format_log_prefix(l) + l.text);
  }

  // One key; true when the engine should be read again now.
  bool act(TopKey k) {
    switch (k) {
      case TopKey::kUp:
      case TopKey::kDown: {
        if (model_.pools.empty()) return false;
        size_t& s = model_.selected;
        if (k == TopKey::kUp) s = s > 0 ? s - 1 : 0;
        else s = std::min(s + 1, model_.pools.size() - 1);
        selected_ = model_.pools[s].name;
        if (model_.log_view) load_log();
        return false;
      }
      case TopKey::kGrow:
      case TopKey::kShrink:
        return resize(k == TopKey::kGrow ? 1 : -1);
      case TopKey::kLog:
        model_.log_view = !model_.log_view;
        if (model_.log_view) load_log();
        return false;
      case TopKey::kEscape:
        model_.log_view = false;
        return false;
      default:
        return false;
    }
  }

  bool resize(int by) {
    if (model_.pools.empty()) return false;
    const TopPoolRow& row = model_.pools[model_.selected];
    const int n = row.n + by;
    if (n < 0) {
      model_.message = fmt::format("{} has no workers to take away", row.name);
      return false;
    }
    auto r = client_.configure({{row.name, n}});
    model_.message = r ? fmt::format("{}: {} -> {}", row.name, row.n, n) : r.error().message();
    return true;
  }

  void draw(RawTerminal& term) {
    const auto [cols, rows] = term.size();
    model_.width = cols;
    model_.height = rows;
    const TopScreen screen = render_top(model_);
    term.draw(screen.lines, screen.selected_line, ctx_.color);
  }
};

int l_top(lua_State* L) {
  return guarded(L, [L] {
    ShellContext& ctx = shell_context_of(L);
    if (!isatty(STDIN_FILENO) || !isatty(fileno(ctx.out)))
      return luaL_error(L, "top() draws on a terminal, and this shell's input or output is not one: "
                           "status() and history() print the same figures");
    Status result = Status::ok();
    {
      LuaUnlocked watching(ctx.lua_lock);  // policies run while the operator watches
      try {
        RawTerminal term(STDIN_FILENO, ctx.out);
        Top view(ctx, ctx.color);
        result = view.run(term);
      } catch (const std::exception& e) {
        result = Status::unavailable(e.what());
      }
    }  // the terminal is the shell's again here, whatever happened
    if (ctx.interrupted) consume_interrupt(L);
    check_status(L, result);
    return 0;
  });
}

const Binding kBindings[] = {
    {"top", "top()", "a live full-screen view of the pools, their workers, CPU, memory and the latest events", l_top},
};

}  // namespace

std::span<const Binding> top_bindings() { return kBindings; }

}  // namespace drover
