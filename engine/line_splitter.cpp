#include "engine/line_splitter.h"

#include <cstring>

namespace drover {

namespace {
std::string_view chomp_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}
}  // namespace

void LineSplitter::feed(std::string_view bytes, const Emit& emit) {
  while (!bytes.empty()) {
    const char* nl = static_cast<const char*>(std::memchr(bytes.data(), '\n', bytes.size()));
    size_t upto = nl ? static_cast<size_t>(nl - bytes.data()) : bytes.size();  // this line's bytes here
    if (partial_.size() + upto > max_bytes_) {
      // Over-long: emit a max_bytes_ piece now, marked cut, so memory stays bounded.
      size_t take = max_bytes_ - partial_.size();
      if (partial_.empty()) {
        emit(bytes.substr(0, take), true);
      } else {
        partial_.append(bytes.data(), take);
        emit(partial_, true);
        partial_.clear();
      }
      bytes.remove_prefix(take);
      continue;
    }
    if (!nl) {
      partial_.append(bytes.data(), bytes.size());
      return;
    }
    if (partial_.empty()) {
      emit(chomp_cr(bytes.substr(0, upto)), false);  // the common case: no copy at all
    } else {
      partial_.append(bytes.data(), upto);
      emit(chomp_cr(partial_), false);
      partial_.clear();
    }
    bytes.remove_prefix(upto + 1);
  }
}

void LineSplitter::finish(const Emit& emit) {
  if (partial_.empty()) return;
  emit(chomp_cr(partial_), false);
  partial_.clear();
}

}  // namespace drover
