// Sequence numbers are not stored per line: lines leave only from the front and arrive
// only at the back, so lines_[i] always has seq next_seq_ - lines_.size() + i. That keeps
// LogLine free of ring bookkeeping and makes since() an index computation, not a search.
#include "engine/log_ring.h"

#include <algorithm>

namespace drover {

namespace {
size_t cost(const LogLine& l) { return l.text.size() + l.pool.size() + LogRing::kLineOverhead; }
}  // namespace

uint64_t LogRing::append(LogLine line) {
  bytes_ += cost(line);
  lines_.push_back(std::move(line));
  const uint64_t seq = next_seq_++;
  evict_to_fit();
  return seq;
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
    const size_t start = lines_.size() - std::min(n, lines_.size());
    out.assign(lines_.begin() + static_cast<std::ptrdiff_t>(start), lines_.end());
    return out;
  }
  // Walk back from the newest so a small n over a large ring stops early; then restore
  // oldest-first order.
  for (auto it = lines_.rbegin(); it != lines_.rend() && out.size() < n; ++it) {
    if (it->pool == *pool) out.push_back(*it);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<LogLine> LogRing::since(uint64_t after, size_t max) const {
  std::vector<LogLine> out;
  const uint64_t first_seq = next_seq_ - lines_.size();  // seq of lines_.front()
  if (after >= last_seq()) return out;
  const size_t start = after < first_seq ? 0 : static_cast<size_t>(after + 1 - first_seq);
  const size_t end = start + std::min(max, lines_.size() - start);
  out.assign(lines_.begin() + static_cast<std::ptrdiff_t>(start),
             lines_.begin() + static_cast<std::ptrdiff_t>(end));
  return out;
}

}  // namespace drover
