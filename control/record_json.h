// The described records (api/records.h) as JSON, both ways: write_json appends a record
// to a JsonWriter, read_json reads one back with json_read::Reader's rules (absent keys
// keep the default, a wrong type is an error naming its path). Only the fields the
// description puts on the wire (records::kWire) take part; read_json(write_json(x)) == x
// for every one of them.
#pragma once

#include <csignal>
#include <limits>
#include <map>

#include "api/records.h"
#include "control/json_reader.h"
#include "control/json_writer.h"

namespace drover {

// A Redis URL as snapshots show it: a password (redis://user:PASS@host,
// unix://...&password=PASS) becomes "***" (control/snapshot_json.cpp).
std::string without_password(std::string url);

namespace records {

template <Described T>
void write_json(JsonWriter& w, const T& rec);
template <Described T>
void read_json(const nlohmann::json& j, const std::string& path, T& rec, std::string& error);

class JsonWriteVisitor {
 public:
  explicit JsonWriteVisitor(JsonWriter& w) : w_(w) {}

  template <typename T>
  void operator()(const char* key, const T& v, const Meta& m = {}) {
    if (!(m.in & kWire)) return;
    if (m.wire_none != WireNone::kValue && is_none(v, m)) {
      if (m.wire_none == WireNone::kNull) w_.key(key).null();
      return;
    }
    w_.key(key);
    if constexpr (std::is_same_v<T, int>)
      if (m.signal) return void(w_.value(signal_name(v)));
    if constexpr (std::is_same_v<T, std::string>) {
      if (m.redact) return void(w_.value(without_password(v)));
      if (m.json_text) return void(w_.raw(v.empty() ? std::string_view("null") : std::string_view(v)));
    }
    value(v);
  }

 private:
  template <typename T>
  void value(const T& v) {
    if constexpr (Described<T>) write_json(w_, v);
    else if constexpr (NamedEnum<T>) w_.value(EnumNames<T>::name(v));
    else if constexpr (IsVector<T>::value) {
      w_.begin_array();
      for (const auto& e : v) value(e);
      w_.end_array();
    } else if constexpr (std::is_same_v<T, std::map<std::string, std::string>>) {
      w_.begin_object();
      for (const auto& [k, e] : v) w_.field(k, e);
      w_.end_object();
    } else w_.value(v);  // numbers, strings, booleans, optionals of them
  }

  JsonWriter& w_;
};

class JsonReadVisitor {
 public:
  explicit JsonReadVisitor(json_read::Reader& r) : r_(r) {}

  template <typename T>
  void operator()(const char* key, T& v, const Meta& m = {}) {
    if (!(m.in & kWire)) return;
    const nlohmann::json* j = r_.member(key);
    if (!j) {
      if (m.required) r_.fail(key, "missing");
      return;
    }
    if (j->is_null() && m.wire_none != WireNone::kValue && m.none != None::kNever) return;  // none: the default
    if constexpr (Described<T>) read_json(*j, r_.where(key), v, r_.error());
    else if constexpr (NamedEnum<T>) {
      std::optional<T> e;
      if (j->is_string()) e = EnumNames<T>::from_name(j->get<std::string>());
      if (e) v = *e;
      else r_.fail(key, fmt::format("{} is not {}", j->dump(), EnumNames<T>::kWhat));
    } else if constexpr (DescribedVector<T>) {
      using Item = typename IsVector<T>::Item;
      json_read::read_array(r_, key, v, r_.error(),
                            [](const nlohmann::json& e, const std::string& path, Item& item, std::string& error) {
                              read_json(e, path, item, error);
                            });
    } else if constexpr (std::is_same_v<T, std::vector<double>>) {
      // Series (the history's columns): null is a point with no value, written from NaN.
      if (!j->is_array()) return r_.fail(key, "must be an array of numbers");
      v.clear();
      for (const auto& e : *j) {
        if (e.is_null()) v.push_back(std::numeric_limits<double>::quiet_NaN());
        else if (e.is_number()) v.push_back(e.get<double>());
        else return r_.fail(key, fmt::format("{} is not a number", e.dump()));
      }
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (m.json_text) v = j->dump();
      else r_(key, v);
    } else if constexpr (std::is_same_v<T, int>) {
      if (!m.signal) return void(r_(key, v));
      int n = 0;  // "TERM", "SIGTERM" or 15
      if (j->is_string()) n = signal_from_name(j->get<std::string>());
      else json_read::convert(*j, n);
      if (n < 1 || n >= NSIG) r_.fail(key, fmt::format("{} is not a signal", j->dump()));
      else v = n;
    } else r_(key, v);
  }

 private:
  json_read::Reader& r_;
};

template <Described T>
void write_json(JsonWriter& w, const T& rec) {
  w.begin_object();
  JsonWriteVisitor v(w);
  describe(v, rec);
  w.end_object();
}

template <Described T>
void read_json(const nlohmann::json& j, const std::string& path, T& rec, std::string& error) {
  json_read::Reader r(j, path, error);
  JsonReadVisitor v(r);
  describe(v, rec);
}

}  // namespace records

}  // namespace drover
