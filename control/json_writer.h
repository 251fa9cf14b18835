// JsonWriter: JSON text appended straight to a string, for the one large reply: a snapshot
// of 1000 workers is ~300 KB, and building it as nlohmann objects to dump them cost 8 ms
// (bench/RESULTS.md), most of it allocating a map node per field.
//
// The caller says the structure (begin/end, key, value); the writer adds the commas and
// colons. Strings are escaped, and bytes that are not UTF-8 (a worker's status text may
// be anything) become U+FFFD, so the output is always valid JSON. Non-finite numbers are
// written as null. Not thread-safe; one writer per reply.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace drover {

class JsonWriter {
 public:
  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }
  JsonWriter& key(std::string_view k);

  JsonWriter& value(std::string_view s);
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
  JsonWriter& value(bool b);
  JsonWriter& value(int v) { return value(static_cast<long long>(v)); }
  JsonWriter& value(long v) { return value(static_cast<long long>(v)); }
  JsonWriter& value(long long v);
  JsonWriter& value(unsigned v) { return value(static_cast<unsigned long long>(v)); }
  JsonWriter& value(unsigned long v) { return value(static_cast<unsigned long long>(v)); }
  JsonWriter& value(unsigned long long v);
  JsonWriter& value(double d);
  JsonWriter& null();
  // Text that is JSON already (a job's args, checked when they were taken), as it is.
  JsonWriter& raw(std::string_view json_text) {
    separate();
    out_ += json_text;
    need_comma_ = true;
    return *this;
  }
  template <typename T>
  JsonWriter& value(const std::optional<T>& v) {
    return v ? value(*v) : null();
  }
  // key(k).value(v), the common case.
  template <typename T>
  JsonWriter& field(std::string_view k, const T& v) {
    return key(k).value(v);
  }

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }
  void reserve(size_t n) { out_.reserve(n); }

 private:
  JsonWriter& open(char c);
  JsonWriter& close(char c);
  void separate() {
    if (need_comma_) out_ += ',';
  }
  void string(std::string_view s);

  std::string out_;
  bool need_comma_ = false;
};

}  // namespace drover
