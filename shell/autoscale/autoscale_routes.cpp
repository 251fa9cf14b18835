#include "shell/autoscale/autoscale_routes.h"

#include "shell/autoscale/autoscaler.h"

namespace drover {

namespace {

using nlohmann::json;

json info_json(const AutoscaleInfo& i) {
  json j = {{"pool", i.pool},
            {"every", i.every_s},
            {"min", i.limits.min},
            {"max", i.limits.max},
            {"cooldown", i.limits.cooldown_s},
            {"enabled", i.enabled},
            {"suspended", i.suspended},
            {"errors", i.errors_in_row},
            {"runs", i.runs},
            {"changes", i.changes},
            {"overruns", i.overruns}};
  j["queue"] = i.queue ? json(*i.queue) : json(nullptr);
  j["recommended"] = i.last_recommended >= 0 ? json(i.last_recommended) : json(nullptr);
  if (!i.last_error.empty()) j["last_error"] = i.last_error;
  if (!i.last_reason.empty()) j["last_reason"] = i.last_reason;
  if (!i.probe.empty()) j["probe"] = i.probe;
  if (!i.owner.empty()) j["script"] = i.owner;
  return j;
}

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
    const AutoscaleView view = target->ctx->autoscaler->published();
    json policies = json::array();
    for (const auto& i : view.policies) policies.push_back(info_json(i));
    json out = {{"policies", policies}};
    out["budget"] = view.budget > 0 ? json(view.budget) : json(nullptr);
    return out;
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
