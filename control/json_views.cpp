#include "control/json_views.h"

#include "api/records.h"

namespace drover {

using nlohmann::json;

namespace {

// A described record (api/records.h) as a view: the fields it shows (records::kView)
// under their JSON keys, none values left out, nested records as objects.
class ViewVisitor {
 public:
  explicit ViewVisitor(json& out) : out_(out) {}

  template <typename T>
  void operator()(const char* key, const T& v, const records::Meta& m = {}) {
    if (!(m.in & records::kView) || records::is_none(v, m)) return;
    out_[key] = value(v);
  }

  template <typename T>
  static json value(const T& v) {
    using namespace records;
    if constexpr (Described<T>) {
      json j = json::object();
      ViewVisitor inner(j);
      describe(inner, v);
      return j;
    } else if constexpr (std::is_same_v<T, PoolSpec>) return json();  // on the wire only (snapshot_json.h)
    else if constexpr (NamedEnum<T>) return EnumNames<T>::name(v);
    else if constexpr (IsVector<T>::value) {
      json a = json::array();
      for (const auto& e : v) a.push_back(value(e));
      return a;
    } else if constexpr (requires { v.has_value(); }) return json(*v);
    else return json(v);
  }

 private:
  json& out_;
};

}  // namespace

json worker_json(const WorkerSnapshot& w) { return ViewVisitor::value(w); }

json pool_json(const PoolSnapshot& p, bool with_workers) {
  json j = ViewVisitor::value(p);
  if (!with_workers) j.erase("workers");
  return j;
}

}  // namespace drover
