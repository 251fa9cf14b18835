// The splitter sits on the hot path of a flooding worker, so it works on whole runs of
// bytes, never byte by byte: memchr finds each newline, and a line that arrives complete
// in one chunk (nearly all of them) is handed to emit as a view into that chunk without
// being copied. Only a line that straddles chunks is assembled in partial_, and partial_
// never holds more than max_bytes_ (+1 for a pending '\r'), because anything beyond that
// is emitted as a cut piece as soon as it is seen.
//
// Each feed() scans every byte once: the newline is located once per line, and cut
// pieces are sliced off the segment before it without searching again.
#include "engine/line_splitter.h"

#include <cstring>

namespace drover {

void LineSplitter::feed(std::string_view bytes, const Emit& emit) {
  while (!bytes.empty()) {
    const void* nl = std::memchr(bytes.data(), '\n', bytes.size());
    if (nl) {
      size_t len = static_cast<size_t>(static_cast<const char*>(nl) - bytes.data());
      end_line(bytes.substr(0, len), emit);
      bytes.remove_prefix(len + 1);
      continue;
    }
    // No newline in the rest of the chunk: keep it for the next feed, minus whatever is
    // already beyond the cap. A trailing '\r' is not counted yet: if the next chunk starts
    // with '\n' it is a line ending, not text.
    std::string_view seg = bytes;
    auto counted = [&] { return partial_.size() + seg.size() - (seg.back() == '\r' ? 1 : 0); };
    while (counted() > max_bytes_) cut_piece(seg, emit);
    partial_.append(seg);
    return;
  }
}

// seg is the rest of a line whose '\n' has been seen (the '\n' not included).
void LineSplitter::end_line(std::string_view seg, const Emit& emit) {
  if (!seg.empty() && seg.back() == '\r') {
    seg.remove_suffix(1);
  } else if (seg.empty() && !partial_.empty() && partial_.back() == '\r') {
    partial_.pop_back();  // the CR ended the previous chunk, the LF starts this one
  }
  while (partial_.size() + seg.size() > max_bytes_) cut_piece(seg, emit);
  if (partial_.empty()) {
    emit(seg, false);  // the common case: straight from the caller's chunk
    return;
  }
  partial_.append(seg);
  emit(partial_, false);
  partial_.clear();  // keeps its capacity: the next straddling line does not allocate
}

// Emits one max_bytes_ piece of partial_ + seg, marked cut, consuming partial_ first.
// Requires partial_.size() + seg.size() > max_bytes_, so seg is never emptied here
// unless partial_ alone covers the piece.
void LineSplitter::cut_piece(std::string_view& seg, const Emit& emit) {
  if (partial_.size() >= max_bytes_) {
    // Only when partial_ is max_bytes_ + a pending '\r' that turned out to be text.
    emit(std::string_view(partial_).substr(0, max_bytes_), true);
    partial_.erase(0, max_bytes_);
    return;
  }
  size_t take = max_bytes_ - partial_.size();
  if (partial_.empty()) {
    emit(seg.substr(0, take), true);
  } else {
    partial_.append(seg.data(), take);
    emit(partial_, true);
    partial_.clear();
  }
  seg.remove_prefix(take);
}

void LineSplitter::finish(const Emit& emit) {
  if (partial_.empty()) return;
  // A last line ending in a bare '\r' (a progress bar, or a CRLF cut off by exit) shows
  // without it, as it would have with its '\n'.
  if (partial_.back() == '\r') partial_.pop_back();
  emit(partial_, false);
  partial_.clear();
}

}  // namespace drover
