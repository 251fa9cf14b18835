// JsonWriter: structure, escapes, bytes that are not UTF-8, numbers that are not finite.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "control/json_writer.h"

using namespace drover;
using nlohmann::json;

TEST_CASE("json_writer: commas and colons at every depth") {
  JsonWriter w;
  w.begin_object().field("a", 1).key("b").begin_array().value(1).begin_object().end_object().begin_array().end_array();
  w.value("x").end_array().key("c").begin_object().field("d", true).field("e", false).key("f").null().end_object();
  w.end_object();
  CHECK(w.text() == R"({"a":1,"b":[1,{},[],"x"],"c":{"d":true,"e":false,"f":null}})");
}

TEST_CASE("json_writer: numbers - extremes - doubles read back exactly - non-finite is null") {
  JsonWriter w;
  w.begin_array().value(std::numeric_limits<long long>::min()).value(std::numeric_limits<unsigned long long>::max());
  w.value(0.1).value(1.0 / 3).value(1e300).value(-0.0).value(std::nan("")).value(INFINITY);
  w.value(std::optional<double>()).value(std::optional<double>(2.5)).end_array();
  json j = json::parse(w.text());
  CHECK(j[0] == std::numeric_limits<long long>::min());
  CHECK(j[1] == std::numeric_limits<unsigned long long>::max());
  CHECK(j[2].get<double>() == 0.1);
  CHECK(j[3].get<double>() == 1.0 / 3);
  CHECK(j[4].get<double>() == 1e300);
  CHECK(j[6].is_null());
  CHECK(j[7].is_null());
  CHECK(j[8].is_null());
  CHECK(j[9] == 2.5);
}

TEST_CASE("json_writer: strings - escapes - control bytes - UTF-8 kept - bad bytes replaced") {
  const std::string tricky = std::string("q\"b\\n\nt\tr\r\x01\x1f\x7f", 13) + "é€😀";
  JsonWriter w;
  w.begin_object().field(tricky, tricky).end_object();
  json j = json::parse(w.text());
  CHECK(j[tricky] == tricky);
  // Lone continuation, truncated sequences, overlong, surrogate, past U+10FFFF.
  for (const std::string bad : {"\x80", "\xc3", "\xe2\x82", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff"}) {
    JsonWriter b;
    b.value("a" + bad + "z");
    json s = json::parse(b.text());  // valid JSON whatever the input
    CHECK(s.get<std::string>().front() == 'a');
    CHECK(s.get<std::string>().back() == 'z');
    CHECK(s.get<std::string>().find("\xEF\xBF\xBD") != std::string::npos);
  }
}
