// LogRing: the bounded in-memory tail of captured output and engine events.
//
// Bounded twice: by line count and by bytes, whichever is hit first evicts the oldest
// lines, so a flooding worker costs at most about ring_bytes of memory. A line's cost is
// text.size() + pool.size() + kLineOverhead (64): an estimate of the struct, deque slot
// and allocation headers, fixed so the bound is predictable. A line whose cost alone
// exceeds max_bytes is evicted at once (it is still numbered).
// Each line gets a sequence number, increasing by one per append() with no gaps, so a
// follower can ask "what came after seq S" and learn how many lines it missed: the
// oldest line held is last_seq() - size() + 1, and anything between S and that is gone.
// Thread: loop thread only (readers get copies through the engine's inbox).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "engine/events.h"

namespace drover {

class LogRing {
 public:
  // Bytes charged per line on top of its text and pool name (see above).
  static constexpr size_t kLineOverhead = 64;

  LogRing(size_t max_lines, size_t max_bytes) : max_lines_(max_lines), max_bytes_(max_bytes) {}

  // Returns the line's sequence number (first line is 1).
  uint64_t append(LogLine line);
  // The last n lines, oldest first; only those of `pool` when given.
  std::vector<LogLine> tail(size_t n, const std::optional<std::string>& pool = std::nullopt) const;
  // Lines with seq > after, oldest first, at most max. The first returned has seq
  // max(after + 1, last_seq() - size() + 1).
  std::vector<LogLine> since(uint64_t after, size_t max) const;

  size_t size() const { return lines_.size(); }
  size_t bytes() const { return bytes_; }
  uint64_t last_seq() const { return next_seq_ - 1; }
  uint64_t evicted() const { return evicted_; }

 private:
  void evict_to_fit();
  size_t max_lines_, max_bytes_;
  std::deque<LogLine> lines_;
  size_t bytes_ = 0;
  uint64_t next_seq_ = 1;
  uint64_t evicted_ = 0;
};

}  // namespace drover
