#include "control/prometheus_text.h"

#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "api/records.h"

namespace drover {

namespace {

// Label values escape backslash, double quote and newline.
std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void family(std::string& out, const char* name, const char* type, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

// The families of the described records (api/records.h): every field with a metric, a
// family per name in the order the descriptions first name them, its samples together
// (the format wants a family's lines in one block). A pool's fields get pool="name";
// the families of pools are declared even when there are none, as the others are.
class MetricsVisitor {
 public:
  // A pool's sampled usage: its families, declared even when no pool has totals (unknown,
  // not 0), then a sample for each pool that has them.
  void usage(const EngineSnapshot& snap, const std::map<std::string, ProcessTotals>& usage) {
    declare(ProcessTotals{});
    for (const auto& p : snap.pools)
      if (auto u = usage.find(p.spec.name); u != usage.end()) {
        pool_label_ = "pool=\"" + label(p.spec.name) + "\"";
        records::describe(*this, u->second);
      }
    pool_label_.clear();
  }

  template <typename T>
  void operator()(const char*, const T& v, const records::Meta& m = {}) {
    using namespace records;
    if constexpr (std::is_same_v<T, std::vector<PoolSnapshot>>) {
      declare(PoolSnapshot{});
      for (const auto& p : v) {
        pool_label_ = "pool=\"" + label(p.spec.name) + "\"";
        describe(*this, p);
      }
      pool_label_.clear();
    } else if constexpr (std::is_same_v<T, std::vector<TopicGauge>>) {
      declare(TopicGauge{});
      for (const auto& t : v) {
        pool_label_ = "topic=\"" + label(t.topic) + "\"";
        describe(*this, t);
      }
      pool_label_.clear();
    } else if constexpr (std::is_same_v<T, RunHistogram>) {
      if (!m.metric.name) return;
      std::string& out = family_of(m.metric);
      if (declaring_ || v.counts.size() != v.bounds.size() + 1) return;  // no run yet: no buckets
      // Cumulative, as the format wants: le="1" counts every run of at most a second.
      const std::string labels = pool_label_.empty() ? "" : pool_label_ + ",";
      uint64_t below = 0;
      for (size_t i = 0; i <= v.bounds.size(); ++i) {
        below += v.counts[i];
        const std::string le = i < v.bounds.size() ? fmt::format("{:g}", v.bounds[i]) : "+Inf";
        out += fmt::format("{}_bucket{{{}le=\"{}\"}} {}\n", m.metric.name, labels, le, below);
      }
      const std::string braced = pool_label_.empty() ? "" : "{" + pool_label_ + "}";
      out += fmt::format("{}_sum{} {:g}\n", m.metric.name, braced, v.sum);
      out += fmt::format("{}_count{} {}\n", m.metric.name, braced, v.count);
    } else if constexpr (Described<T>) describe(*this, v);
    else if constexpr (std::is_arithmetic_v<T> || requires { v.has_value(); }) {
      if (!m.metric.name) return;
      std::string& out = family_of(m.metric);
      if (declaring_ || is_none(v, m)) return;
      out += m.metric.name;
      std::string labels = pool_label_;
      if (m.metric.label) labels += (labels.empty() ? "" : ",") + std::string(m.metric.label);
      if (!labels.empty()) out += "{" + labels + "}";
      out += ' ';
      append_value(out, v, m.metric.digits);
      out += '\n';
    }
  }

  // Every family's declaration and samples, in order.
  std::string text() const {
    std::string out;
    for (const auto& f : families_) {
      const records::MetricKind k = f.metric.kind;
      family(out, f.metric.name,
             k == records::MetricKind::kCounter     ? "counter"
             : k == records::MetricKind::kHistogram ? "histogram"
                                                    : "gauge",
             f.metric.help);
      out += f.samples;
    }
    return out;
  }

 private:
  struct Family {
    records::Metric metric;
    std::string samples;
  };

  template <typename T>
  void declare(const T& none) {
    declaring_ = true;
    records::describe(*this, none);
    declaring_ = false;
  }
  std::string& family_of(const records::Metric& m) {
    for (auto& f : families_)
      if (std::string_view(f.metric.name) == m.name) return f.samples;
    families_.push_back({m, {}});
    return families_.back().samples;
  }
  template <typename T>
  static void append_value(std::string& out, const T& v, int digits) {
    if constexpr (requires { v.has_value(); }) append_value(out, *v, digits);
    else if constexpr (std::is_same_v<T, bool>) out += v ? '1' : '0';
    else if constexpr (std::is_floating_point_v<T>) {
      // Fixed-point, not 1e-05, where digits are given: the format allows exponents but
      // not every hand-written reader does.
      if (digits < 0) out += fmt::format("{:g}", v);
      else out += fmt::format("{:.{}f}", v, digits);
    } else out += fmt::format("{}", v);
  }

  std::vector<Family> families_;
  std::string pool_label_;
  bool declaring_ = false;
};

}  // namespace

std::string prometheus_text(const EngineSnapshot& snap, const std::map<std::string, ProcessTotals>& usage) {
  std::string out;
  family(out, "drover_up", "gauge", "1 while the engine runs; 0 once it is shutting down");
  out += fmt::format("drover_up {}\n", snap.shutting_down ? 0 : 1);
  // Then every field the records' descriptions export (api/records.h): the pools' sampled
  // usage, the engine's and the pools' own.
  MetricsVisitor described;
  described.usage(snap, usage);
  records::describe(described, snap);
  return out + described.text();
}

}  // namespace drover
