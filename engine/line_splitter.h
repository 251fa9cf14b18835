// LineSplitter: cuts a byte stream into lines with a length cap (circus's redirector,
// without the reading). Pure: fed bytes, emits lines through a callback.
//
// - A line longer than max_bytes is emitted in max_bytes pieces, each but the last marked
//   as cut (the consumer decides how to show that); memory stays O(max_bytes).
// - "\r\n" endings lose the '\r'.
// - finish() emits a trailing partial line, so a worker's last bytes are never lost.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace drover {

class LineSplitter {
 public:
  using Emit = std::function<void(std::string_view line, bool cut)>;

  explicit LineSplitter(size_t max_bytes) : max_bytes_(max_bytes) {}

  void feed(std::string_view bytes, const Emit& emit);
  void finish(const Emit& emit);
  size_t pending() const { return partial_.size(); }

 private:
  size_t max_bytes_;
  std::string partial_;
};

}  // namespace drover
