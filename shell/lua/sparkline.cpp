#include "shell/lua/sparkline.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace drover {

std::string spark_blocks(const std::vector<double>& v, size_t width, bool unicode) {
  static const char* kBlocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  static const char kAscii[] = "_.-:=+*#";
  const size_t from = v.size() > width ? v.size() - width : 0;
  double top = 0;
  for (size_t i = from; i < v.size(); ++i)
    if (std::isfinite(v[i])) top = std::max(top, v[i]);
  std::string out;
  for (size_t i = from; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) {
      out += ' ';
      continue;
    }
    const int level = top > 0 ? std::clamp(static_cast<int>(v[i] / top * 7.999), 0, 7) : 0;
    if (unicode) out += kBlocks[level];
    else out += kAscii[level];
  }
  return out;
}

std::string sparkline(const std::vector<double>& v, size_t width, bool unicode) {
  const size_t from = v.size() > width ? v.size() - width : 0;
  double last = std::numeric_limits<double>::quiet_NaN();
  for (size_t i = v.size(); i-- > from;)
    if (std::isfinite(v[i])) {
      last = v[i];
      break;
    }
  return spark_blocks(v, width, unicode) + (std::isfinite(last) ? fmt::format(" {:g}", last) : " -");
}

std::vector<double> squeeze_max(const std::vector<double>& v, size_t buckets) {
  if (buckets == 0) return {};
  if (v.size() <= buckets) return v;
  std::vector<double> out(buckets, std::numeric_limits<double>::quiet_NaN());
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) continue;
    double& b = out[i * buckets / v.size()];  // group i of v.size() values spread over buckets
    b = std::isfinite(b) ? std::max(b, v[i]) : v[i];
  }
  return out;
}

}  // namespace drover
