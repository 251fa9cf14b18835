#include "engine/log_ring.h"

namespace drover {

namespace {
// What a line costs beyond its text: the struct, the deque slot, string headers. An
// estimate, but a fixed one, so the byte bound is predictable.
constexpr size_t kLineOverhead = 96;
size_t cost(const LogLine& l) { return l.text.size() + l.pool.size() + kLineOverhead; }
}  // namespace

uint64_t LogRing::append(LogLine line) {
  bytes_ += cost(line);
  lines_.push_back(std::move(line));
  evict_to_fit();
  return next_seq_++;
}

void LogRing::evict_to_fit() {
  while (!lines_.empty() && (lines_.size() > max_lines_ || bytes_ > max_bytes_)) {
    bytes_ -= cost(lines_.front());
    lines_.pop_front();
    ++evicted_;
  }
}

std::vector<LogLine> LogRing::tail(size_t n, const std::optional<std::string>& pool) const {
  std::vector<LogLine> out;
  if (!pool) {
    size_t start = lines_.size() > n ? lines_.size() - n : 0;
    out.assign(lines_.begin() + static_cast<std::ptrdiff_t>(start), lines_.end());
    return out;
  }
  for (auto it = lines_.rbegin(); it != lines_.rend() && out.size() < n; ++it)
    if (it->pool == *pool) out.push_back(*it);
  return {out.rbegin(), out.rend()};
}

std::vector<LogLine> LogRing::since(uint64_t after, size_t max) const {
  std::vector<LogLine> out;
  uint64_t first_seq = next_seq_ - lines_.size();  // seq of lines_.front()
  size_t start = after + 1 > first_seq ? static_cast<size_t>(after + 1 - first_seq) : 0;
  for (size_t i = start; i < lines_.size() && out.size() < max; ++i) out.push_back(lines_[i]);
  return out;
}

}  // namespace drover
