// Reader: copies what one JSON object holds into a struct, field by field, strict about
// types and lenient about absence. The first wrong type stops it and keeps the path for
// the error ("pools[0].workers[1].pid: expected an integer in range, got 1.5"); later
// reads are no-ops, so a from_json is a flat list of fields rather than a pyramid of
// checks. Used by control/snapshot_json.cpp and control/record_json.h.
#pragma once

#include <limits>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace drover {

namespace json_read {

using nlohmann::json;

inline bool convert(const json& v, bool& out) {
  if (!v.is_boolean()) return false;
  out = v.get<bool>();
  return true;
}
inline bool convert(const json& v, double& out) {
  if (!v.is_number()) return false;
  out = v.get<double>();
  return true;
}
inline bool convert(const json& v, std::string& out) {
  if (!v.is_string()) return false;
  out = v.get<std::string>();
  return true;
}
template <typename T>
  requires std::is_integral_v<T> && (!std::is_same_v<T, bool>)
inline bool convert(const json& v, T& out) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<T>::max())) return false;
    out = static_cast<T>(u);
    return true;
  }
  if (!v.is_number_integer()) return false;
  const int64_t i = v.get<int64_t>();
  if (i < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
      (i > 0 && static_cast<uint64_t>(i) > static_cast<uint64_t>(std::numeric_limits<T>::max())))
    return false;
  out = static_cast<T>(i);
  return true;
}
template <typename T>
inline bool convert(const json& v, std::optional<T>& out) {
  if (v.is_null()) {
    out.reset();
    return true;
  }
  T inner{};
  if (!convert(v, inner)) return false;
  out = inner;
  return true;
}
inline bool convert(const json& v, std::vector<std::string>& out) {
  if (!v.is_array()) return false;
  std::vector<std::string> items;
  for (const auto& e : v) {
    if (!e.is_string()) return false;
    items.push_back(e.get<std::string>());
  }
  out = std::move(items);
  return true;
}
template <typename T>
  requires std::is_arithmetic_v<T> && (!std::is_same_v<T, bool>)
inline bool convert(const json& v, std::vector<T>& out) {
  if (!v.is_array()) return false;
  std::vector<T> items(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    if (!convert(v[i], items[i])) return false;
  out = std::move(items);
  return true;
}
inline bool convert(const json& v, std::map<std::string, std::string>& out) {
  if (!v.is_object()) return false;
  std::map<std::string, std::string> items;
  for (const auto& [k, e] : v.items()) {
    if (!e.is_string()) return false;
    items[k] = e.get<std::string>();
  }
  out = std::move(items);
  return true;
}

template <typename T>
const char* expected() {
  if constexpr (std::is_same_v<T, bool>) return "true or false";
  else if constexpr (std::is_same_v<T, double>) return "a number";
  else if constexpr (std::is_same_v<T, std::string>) return "a string";
  else if constexpr (std::is_integral_v<T>) return "an integer in range";
  else if constexpr (std::is_same_v<T, std::vector<std::string>>) return "an array of strings";
  else if constexpr (std::is_same_v<T, std::map<std::string, std::string>>) return "an object of strings";
  else if constexpr (std::is_same_v<T, std::vector<typename T::value_type>>) return "an array of numbers";
  else return expected<typename T::value_type>();  // optional<T>: T or null
}

class Reader {
 public:
  Reader(const json& j, std::string path, std::string& error) : j_(j), path_(std::move(path)), error_(error) {
    if (error_.empty() && !j_.is_object()) error_ = fmt::format("{}: expected an object", where());
  }
  bool ok() const { return error_.empty(); }
  std::string where(const char* key = nullptr) const {
    if (!key) return path_.empty() ? "(top)" : path_;
    return path_.empty() ? key : path_ + "." + key;
  }
  // The member at key, when the object has one and nothing failed so far.
  const json* member(const char* key) const {
    if (!ok()) return nullptr;
    auto it = j_.find(key);
    return it == j_.end() ? nullptr : &*it;
  }
  template <typename T>
  Reader& operator()(const char* key, T& out) {
    if (const json* v = member(key); v && !convert(*v, out))
      error_ = fmt::format("{}: expected {}, got {}", where(key), expected<T>(), v->dump());
    return *this;
  }
  void fail(const char* key, const std::string& what) {
    if (ok()) error_ = fmt::format("{}: {}", where(key), what);
  }
  // Where the first error goes, for the readers of nested objects.
  std::string& error() const { return error_; }

 private:
  const json& j_;
  std::string path_;
  std::string& error_;
};

// Reads an array of objects under key with fn(element, element_path, out_item, error).
template <typename T, typename Fn>
void read_array(Reader& r, const char* key, std::vector<T>& out, std::string& error, Fn fn) {
  const json* a = r.member(key);
  if (!a) return;
  if (!a->is_array()) return r.fail(key, "expected an array");
  out.clear();
  for (size_t i = 0; i < a->size() && error.empty(); ++i) {
    T item{};
    fn((*a)[i], fmt::format("{}[{}]", r.where(key), i), item, error);
    out.push_back(std::move(item));
  }
}

}  // namespace json_read

}  // namespace drover
