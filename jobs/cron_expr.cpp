#include "jobs/cron_expr.h"

#include <date/date.h>
#include <date/tz.h>

#include <cctype>
#include <exception>
#include <vector>

#include <fmt/format.h>

namespace drover::jobs {

namespace {

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// How far next_local looks before it calls an expression one that never fires (Feb 30).
// Ten years covers Feb 29 across 2100, which is not a leap year.
constexpr int kHorizonDays = 3660 + 366;

struct Field {
  const char* what;
  int lo, hi;                 // hi is 7 for weekdays: 7 is Sunday as well as 0
  const char* const* names;   // three-letter names for lo.., or null
  bool question_ok;           // '?' (robfig's "no value") allowed: the day fields
};

constexpr const char* kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr const char* kDayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

constexpr Field kSecond{"seconds", 0, 59, nullptr, false};
constexpr Field kMinute{"minute", 0, 59, nullptr, false};
constexpr Field kHour{"hour", 0, 23, nullptr, false};
constexpr Field kDay{"day of month", 1, 31, nullptr, true};
constexpr Field kMonth{"month", 1, 12, kMonthNames, false};
constexpr Field kWeekday{"day of week", 0, 7, kDayNames, true};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == sep) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return parts;
}

std::vector<std::string_view> split_spaces(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t start = i;
    while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i > start) parts.push_back(s.substr(start, i - start));
  }
  return parts;
}

// Parses one field into bits lo..hi; `star` reports a field starting with * or ? (Vixie's
// DOM_STAR / DOW_STAR, which decide the day rule).
class FieldParser {
 public:
  FieldParser(const Field& f, int position) : f_(f), position_(position) {}

  Status parse(std::string_view text, uint64_t* bits, bool* star) {
    *bits = 0;
    *star = !text.empty() && (text[0] == '*' || text[0] == '?');
    if (text.empty()) return fail("is empty");
    for (std::string_view item : split(text, ',')) {
      if (item.empty()) return fail(fmt::format("\"{}\" has an empty list item", text));
      auto slash = item.find('/');
      std::string_view range = item.substr(0, slash);
      int lo = 0, hi = 0, step = 1;
      if (range == "*" || range == "?") {
        if (range == "?" && !f_.question_ok) return fail("'?' is only for the day fields");
        lo = f_.lo;
        hi = f_.names == kDayNames ? 6 : f_.hi;
      } else if (auto dash = range.find('-'); dash != std::string_view::npos) {
        if (Status s = value(range.substr(0, dash), &lo); !s) return s;
        if (Status s = value(range.substr(dash + 1), &hi); !s) return s;
        if (lo > hi) return fail(fmt::format("range \"{}\" runs backwards", range));
      } else {
        if (Status s = value(range, &lo); !s) return s;
        // "N/STEP" runs from N to the field's end (robfig's reading; Vixie refuses it).
        hi = slash == std::string_view::npos ? lo : f_.hi;
      }
      if (slash != std::string_view::npos) {
        std::string_view st = item.substr(slash + 1);
        if (!number(st, &step) || step <= 0)
          return fail(fmt::format("step \"{}\" is not a positive number", st));
      }
      for (int v = lo; v <= hi; v += step) *bits |= uint64_t{1} << (v == 7 && f_.names == kDayNames ? 0 : v);
    }
    return Status::ok();
  }

 private:
  static bool number(std::string_view s, int* out) {
    if (s.empty() || s.size() > 9) return false;
    int v = 0;
    for (char c : s) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
      v = v * 10 + (c - '0');
    }
    *out = v;
    return true;
  }
  Status value(std::string_view s, int* out) {
    if (number(s, out)) {
      if (*out < f_.lo || *out > f_.hi) return fail(fmt::format("{} is out of range {}-{}", s, f_.lo, f_.hi));
      return Status::ok();
    }
    if (f_.names) {
      const std::string l = lower(s);
      const int n = f_.names == kMonthNames ? 12 : 7;
      for (int i = 0; i < n; ++i)
        if (l == f_.names[i]) {
          *out = f_.lo + i;
          return Status::ok();
        }
    }
    return fail(fmt::format("\"{}\" is not a {}", s, f_.names ? "number or a name" : "number"));
  }
  Status fail(const std::string& why) const {
    return Status::invalid(fmt::format("cron field {} ({}): {}", position_, f_.what, why));
  }

  const Field& f_;
  int position_;
};

template <size_t N>
std::bitset<N> to_bits(uint64_t v) {
  return std::bitset<N>(v);
}

}  // namespace

Result<const date::time_zone*> find_time_zone(const std::string& name) {
  if (name.empty() || name == "UTC") return static_cast<const date::time_zone*>(nullptr);
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return Status::invalid(fmt::format("tz: unknown time zone \"{}\" (an IANA name such as Europe/Berlin)", name));
  }
}

Result<int64_t> interval_from_text(std::string_view text) {
  const auto bad = [&](const std::string& why) {
    return Status::invalid(fmt::format("every \"{}\": {}", text, why));
  };
  int64_t total_s = 0;
  size_t i = 0;
  bool any = false;
  while (i < text.size()) {
    if (std::isspace(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    int64_t n = 0;
    size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) && i - start < 12)
      n = n * 10 + (text[i++] - '0');
    if (i == start) return bad(fmt::format("expected a number at \"{}\"", text.substr(start)));
    if (i == text.size()) return bad("a number needs a unit (s, m, h or d)");
    const char unit = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i++])));
    const int64_t mult = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : 0;
    if (!mult) return bad(fmt::format("unknown unit '{}' (s, m, h or d)", unit));
    total_s += n * mult;
    if (total_s > int64_t{3660} * 86400) return bad("longer than ten years");
    any = true;
  }
  if (!any) return bad("empty");
  if (total_s <= 0) return bad("must be at least 1s");
  return total_s * 1000;
}

Result<CronExpr> CronExpr::every(std::string_view duration) {
  auto ms = interval_from_text(duration);
  if (!ms) return ms.error();
  CronExpr e;
  e.interval_ms_ = *ms;
  return e;
}

Result<CronExpr> CronExpr::parse(std::string_view text) {
  std::vector<std::string_view> parts = split_spaces(text);
  if (parts.empty()) return Status::invalid("cron: empty expression");
  std::string_view expanded;
  if (parts[0][0] == '@') {
    const std::string macro = lower(parts[0]);
    if (macro == "@every") {
      if (parts.size() < 2) return Status::invalid("cron \"@every\": needs a duration (\"@every 1h30m\")");
      return every(text.substr(text.find(parts[1])));
    }
    if (parts.size() != 1) return Status::invalid(fmt::format("cron \"{}\": {} takes nothing after it", text, macro));
    if (macro == "@yearly" || macro == "@annually") expanded = "0 0 1 1 *";
    else if (macro == "@monthly") expanded = "0 0 1 * *";
    else if (macro == "@weekly") expanded = "0 0 * * 0";
    else if (macro == "@daily" || macro == "@midnight") expanded = "0 0 * * *";
    else if (macro == "@hourly") expanded = "0 * * * *";
    else
      return Status::invalid(fmt::format("cron \"{}\": unknown macro (@yearly, @monthly, @weekly, @daily, @hourly, "
                                         "@every DURATION)", parts[0]));
    parts = split_spaces(expanded);
  }
  if (parts.size() != 5 && parts.size() != 6)
    return Status::invalid(fmt::format("cron \"{}\": {} fields; expected 5 (minute hour day-of-month month "
                                       "day-of-week) or 6 (seconds first)", text, parts.size()));
  CronExpr e;
  e.has_seconds_ = parts.size() == 6;
  const size_t off = e.has_seconds_ ? 1 : 0;
  uint64_t bits = 0;
  bool star = false;
  if (e.has_seconds_) {
    if (Status s = FieldParser(kSecond, 1).parse(parts[0], &bits, &star); !s) return s;
    e.seconds_ = to_bits<60>(bits);
  } else {
    e.seconds_.set(0);
  }
  const int pos = static_cast<int>(off) + 1;
  if (Status s = FieldParser(kMinute, pos).parse(parts[off], &bits, &star); !s) return s;
  e.minutes_ = to_bits<60>(bits);
  if (Status s = FieldParser(kHour, pos + 1).parse(parts[off + 1], &bits, &star); !s) return s;
  e.hours_ = to_bits<24>(bits);
  if (Status s = FieldParser(kDay, pos + 2).parse(parts[off + 2], &bits, &e.days_star_); !s) return s;
  e.days_ = to_bits<32>(bits);
  if (Status s = FieldParser(kMonth, pos + 3).parse(parts[off + 3], &bits, &star); !s) return s;
  e.months_ = to_bits<13>(bits);
  if (Status s = FieldParser(kWeekday, pos + 4).parse(parts[off + 4], &bits, &e.weekdays_star_); !s) return s;
  e.weekdays_ = to_bits<7>(bits);
  return e;
}

bool CronExpr::day_matches(int, unsigned, unsigned day, unsigned weekday) const {
  const bool d = days_[day], w = weekdays_[weekday];
  // Vixie cron: restricting both fields means either; a star in one leaves the other.
  return (days_star_ || weekdays_star_) ? (d && w) : (d || w);
}

std::optional<int64_t> CronExpr::next_local(int64_t local_s) const {
  using namespace date;
  int64_t day = floor_div(local_s, 86400);
  int64_t tod = local_s - day * 86400;
  const int64_t end = day + kHorizonDays;
  while (day < end) {
    const local_days ld{days(day)};
    const year_month_day ymd(ld);
    const unsigned m = static_cast<unsigned>(ymd.month());
    if (!months_[m]) {
      // The whole month is out: jump to the first of the next one.
      const year_month next = year_month(ymd.year(), ymd.month()) + months(1);
      day = local_days(next / 1).time_since_epoch().count();
      tod = 0;
      continue;
    }
    if (day_matches(static_cast<int>(ymd.year()), m, static_cast<unsigned>(ymd.day()),
                    weekday(ld).c_encoding())) {
      const int h0 = static_cast<int>(tod / 3600), m0 = static_cast<int>(tod / 60 % 60), s0 = static_cast<int>(tod % 60);
      for (int h = h0; h < 24; ++h) {
        if (!hours_[h]) continue;
        for (int mi = h == h0 ? m0 : 0; mi < 60; ++mi) {
          if (!minutes_[mi]) continue;
          for (int s = (h == h0 && mi == m0) ? s0 : 0; s < 60; ++s)
            if (seconds_[s]) return day * 86400 + h * 3600 + mi * 60 + s;
        }
      }
    }
    ++day;
    tod = 0;
  }
  return std::nullopt;
}

std::optional<int64_t> CronExpr::next_after(int64_t after_ms, const date::time_zone* tz) const {
  using namespace std::chrono;
  const int64_t min_sys = floor_div(after_ms, 1000) + 1;  // ticks are whole seconds, strictly after
  if (interval_ms_ > 0) {
    const int64_t next = (floor_div(after_ms, interval_ms_) + 1) * interval_ms_;
    return next;
  }
  if (!tz) {
    auto c = next_local(min_sys);
    if (!c) return std::nullopt;
    return *c * 1000;
  }
  // The local second after the one before min_sys: a tick in a spring-forward gap that
  // resolves to exactly min_sys is still found.
  const date::sys_seconds before{seconds(min_sys - 1)};
  int64_t start = tz->to_local(before).time_since_epoch().count() + 1;
  // Each pass skips one candidate that resolves before min_sys (the second occurrence of
  // an ambiguous hour); a handful suffices, the bound only guards against a bad zone.
  for (int guard = 0; guard < 100000; ++guard) {
    auto c = next_local(start);
    if (!c) return std::nullopt;
    const date::local_seconds lc{seconds(*c)};
    const date::local_info info = tz->get_info(lc);
    int64_t sys = 0;
    switch (info.result) {
      case date::local_info::unique:
      case date::local_info::ambiguous:  // the first occurrence only: it fires once
        sys = *c - info.first.offset.count();
        break;
      case date::local_info::nonexistent:  // the clocks skipped it: fire as the gap ends
        sys = info.first.end.time_since_epoch().count();
        break;
    }
    if (sys >= min_sys) return sys * 1000;
    start = *c + 1;
  }
  return std::nullopt;
}

}  // namespace drover::jobs
