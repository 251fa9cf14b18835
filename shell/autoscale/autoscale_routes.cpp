#include "shell/autoscale/autoscale_routes.h"

#include "control/autoscale_json.h"
#include "shell/autoscale/autoscaler.h"

namespace drover {

namespace {

using nlohmann::json;

// Runs fn with the Lua lock, or says why not.
template <typename Fn>
auto with_shell(AutoscaleRoutesTarget& t, Fn fn) -> decltype(fn(std::declval<ShellContext&>())) {
  std::lock_guard hold_target(t.mu);
  if (!t.ctx || !t.ctx->autoscaler) return Status::unavailable("no shell is running policies");
  if (!t.ctx->lua_lock.try_lock_for(kLuaWait))
    return Status::unavailable("the shell is busy running Lua; try again");
  std::lock_guard hold(t.ctx->lua_lock, std::adopt_lock);
  return fn(*t.ctx);
}

}  // namespace

AutoscaleHooks make_autoscale_hooks(std::shared_ptr<AutoscaleRoutesTarget> target) {
  AutoscaleHooks hooks;
  // A read: the Autoscaler's published copy, so a chunk running at the prompt (which
  // holds the Lua lock) does not hold up a dashboard or a monitoring poll.
  hooks.list = [target]() -> Result<json> {
    std::lock_guard hold_target(target->mu);
    if (!target->ctx || !target->ctx->autoscaler) return Status::unavailable("no shell is running policies");
    return autoscale_view_json(target->ctx->autoscaler->published());
  };
  hooks.set_enabled = [target](const std::string& pool, bool on) -> Status {
    return with_shell(*target, [&](ShellContext& ctx) -> Status {
      if (!ctx.autoscaler->set_enabled(pool, on)) return Status::not_found("no autoscale policy for \"" + pool + "\"");
      return Status::ok();
    });
  };
  return hooks;
}

}  // namespace drover
