#include "control/autoscale_json.h"

#include "control/record_json.h"

namespace drover {

using nlohmann::json;

// The fields of a policy, the budget and the timers are described in api/records.h.

json autoscale_view_json(const AutoscaleView& view) {
  JsonWriter w;
  records::write_json(w, view);
  return json::parse(w.text());
}

Result<AutoscaleView> autoscale_view_from_json(const json& j) {
  std::string error;
  AutoscaleView view;
  records::read_json(j, "autoscale", view, error);
  if (!error.empty()) return Status::invalid(error);
  return view;
}

}  // namespace drover
