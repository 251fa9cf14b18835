// LineSplitter: cuts a byte stream into lines with a length cap (circus's redirector,
// without the reading). Pure: fed bytes, emits lines through a callback.
//
// - A line longer than max_bytes is emitted in max_bytes pieces, each but the last marked
//   as cut (the consumer decides how to show that); memory stays O(max_bytes).
// - "\r\n" endings lose the '\r', and the '\r' does not count against max_bytes, so a
//   CRLF line of exactly max_bytes is emitted whole. A lone '\r' is ordinary text.
// - finish() emits a trailing partial line (dropping a final '\r'), so a worker's last
//   bytes are never lost.
// - The views passed to emit are valid only during the call: they point into the fed
//   chunk (the common case, no copy) or into the splitter's own partial buffer.
// - max_bytes 0 is taken as 1, so the splitter always makes progress.
// Thread: one owner (the loop thread); no locking.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace drover {

class LineSplitter {
 public:
  using Emit = std::function<void(std::string_view line, bool cut)>;

  explicit LineSplitter(size_t max_bytes) : max_bytes_(max_bytes > 0 ? max_bytes : 1) {}

  void feed(std::string_view bytes, const Emit& emit);
  void finish(const Emit& emit);
  // Bytes held back waiting for a newline: at most max_bytes, or max_bytes + 1 while the
  // last byte held is a '\r' that may yet turn out to be half of a CRLF.
  size_t pending() const { return partial_.size(); }

 private:
  void end_line(std::string_view seg, const Emit& emit);
  void cut_piece(std::string_view& seg, const Emit& emit);
  size_t max_bytes_;
  std::string partial_;
};

}  // namespace drover
