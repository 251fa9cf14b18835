#include "control/autoscale_json.h"

#include <fmt/format.h>

namespace drover {

using nlohmann::json;

namespace {

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

// Reads j[key] into out when present and not null; an error names path.key.
template <typename T>
Status read(const json& j, const char* key, T& out, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::ok();
  bool fits;
  if constexpr (std::is_same_v<T, bool>) fits = it->is_boolean();
  else if constexpr (std::is_same_v<T, std::string>) fits = it->is_string();
  else if constexpr (std::is_integral_v<T>) fits = it->is_number_integer();
  else fits = it->is_number();
  if (!fits) return Status::invalid(fmt::format("{}.{}: {} is not of the expected type", path, key, it->dump()));
  out = it->get<T>();
  return Status::ok();
}

Result<AutoscaleInfo> info_from_json(const json& j, const std::string& path) {
  if (!j.is_object()) return Status::invalid(path + ": expected an object");
  AutoscaleInfo i;
  double queue = 0;
  bool has_queue = j.contains("queue") && !j["queue"].is_null();
  for (Status s : {read(j, "pool", i.pool, path), read(j, "every", i.every_s, path),
                   read(j, "min", i.limits.min, path), read(j, "max", i.limits.max, path),
                   read(j, "cooldown", i.limits.cooldown_s, path), read(j, "enabled", i.enabled, path),
                   read(j, "suspended", i.suspended, path), read(j, "errors", i.errors_in_row, path),
                   read(j, "runs", i.runs, path), read(j, "changes", i.changes, path),
                   read(j, "overruns", i.overruns, path), read(j, "queue", queue, path),
                   read(j, "recommended", i.last_recommended, path), read(j, "last_error", i.last_error, path),
                   read(j, "last_reason", i.last_reason, path), read(j, "probe", i.probe, path),
                   read(j, "script", i.owner, path)})
    if (!s) return s;
  if (has_queue) i.queue = queue;
  return i;
}

}  // namespace

json autoscale_view_json(const AutoscaleView& view) {
  json policies = json::array();
  for (const auto& i : view.policies) policies.push_back(info_json(i));
  json out = {{"policies", policies}, {"timers", view.timers}};
  out["budget"] = view.budget > 0 ? json(view.budget) : json(nullptr);
  return out;
}

Result<AutoscaleView> autoscale_view_from_json(const json& j) {
  if (!j.is_object()) return Status::invalid("autoscale: expected an object");
  AutoscaleView view;
  if (Status s = read(j, "budget", view.budget, "autoscale"); !s) return s;
  if (Status s = read(j, "timers", view.timers, "autoscale"); !s) return s;
  auto it = j.find("policies");
  if (it == j.end()) return view;
  if (!it->is_array()) return Status::invalid("autoscale.policies: expected an array");
  for (size_t k = 0; k < it->size(); ++k) {
    auto info = info_from_json((*it)[k], fmt::format("autoscale.policies[{}]", k));
    if (!info) return info.error();
    view.policies.push_back(std::move(*info));
  }
  return view;
}

}  // namespace drover
