#include "jobs/cron_expr.h"

#include <date/date.h>
#include <doctest/doctest.h>

#include <string>

using namespace drover;
using namespace drover::jobs;

namespace {

// ms since the epoch of a UTC date and time.
int64_t utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  using namespace date;
  const sys_days date = year(y) / month(mo) / day(d);
  return (date.time_since_epoch().count() * 86400LL + h * 3600 + mi * 60 + s) * 1000;
}

CronExpr cron(const std::string& text) {
  auto e = CronExpr::parse(text);
  REQUIRE_MESSAGE(e, (e ? "" : e.error().message()));
  return *e;
}

const date::time_zone* zone(const std::string& name) {
  auto z = find_time_zone(name);
  REQUIRE_MESSAGE(z, (z ? "" : z.error().message()));
  return *z;
}

std::string error_of(const std::string& text) {
  auto e = CronExpr::parse(text);
  REQUIRE_FALSE(e);
  CHECK(e.error().code() == Status::Code::kInvalidArgument);
  return e.error().message();
}

}  // namespace

TEST_CASE("cron: five fields in UTC - the next tick strictly after") {
  const CronExpr e = cron("0 3 * * *");
  CHECK(e.next_after(utc(2026, 1, 1, 2, 59, 59), nullptr) == utc(2026, 1, 1, 3));
  CHECK(e.next_after(utc(2026, 1, 1, 3), nullptr) == utc(2026, 1, 2, 3));
  CHECK(e.next_after(utc(2026, 1, 1, 3) - 1, nullptr) == utc(2026, 1, 1, 3));
  CHECK(e.next_after(utc(2026, 12, 31, 3, 0, 1), nullptr) == utc(2027, 1, 1, 3));
  CHECK(cron("*/20 9-10 * * *").next_after(utc(2026, 5, 5, 10, 41), nullptr) == utc(2026, 5, 6, 9));
  CHECK(cron("5,10 * * * *").next_after(utc(2026, 5, 5, 10, 5), nullptr) == utc(2026, 5, 5, 10, 10));
}

TEST_CASE("cron: six fields take seconds first (taskmanager's format)") {
  CHECK(cron("*/15 * * * * *").next_after(utc(2026, 1, 1, 0, 0, 7), nullptr) == utc(2026, 1, 1, 0, 0, 15));
  CHECK(cron("30 0 12 * * *").next_after(utc(2026, 1, 1, 12, 0, 30), nullptr) == utc(2026, 1, 2, 12, 0, 30));
  CHECK(cron("0 */5 * * * *").next_after(utc(2026, 1, 1, 0, 4, 59), nullptr) == utc(2026, 1, 1, 0, 5));
  // Five fields never fire off the minute.
  CHECK(cron("* * * * *").next_after(utc(2026, 1, 1, 0, 0, 1), nullptr) == utc(2026, 1, 1, 0, 1));
}

TEST_CASE("cron: names - ranges - lists - steps - Sunday as 0 or 7 - the day fields' question mark") {
  const CronExpr weekdays = cron("0 9 * JAN-mar MON-FRI");
  CHECK(weekdays.next_after(utc(2026, 1, 3, 12), nullptr) == utc(2026, 1, 5, 9));  // Sat -> Mon
  CHECK(weekdays.next_after(utc(2026, 3, 31, 9), nullptr) == utc(2027, 1, 1, 9));  // Apr-Dec skipped; Jan 1 2027 is a Friday
  const int64_t from = utc(2026, 1, 1);
  CHECK(cron("0 0 * * 7").next_after(from, nullptr) == utc(2026, 1, 4));
  CHECK(cron("0 0 * * SUN").next_after(from, nullptr) == utc(2026, 1, 4));
  CHECK(cron("0 0 * * 0").next_after(from, nullptr) == utc(2026, 1, 4));
  CHECK(cron("0 0 ? * 5-7").next_after(utc(2026, 1, 3, 1), nullptr) == utc(2026, 1, 4));  // Fri, Sat, Sun
  CHECK(cron("0 0 10/10 * *").next_after(from, nullptr) == utc(2026, 1, 10));  // 10, 20, 30
  CHECK(cron("0 0 10/10 * *").next_after(utc(2026, 1, 20), nullptr) == utc(2026, 1, 30));
}

TEST_CASE("cron: day of month and day of week - the Vixie OR rule") {
  // Both restricted: the 10th or any Monday.
  const CronExpr either = cron("0 0 10 * 1");
  CHECK(either.next_after(utc(2026, 2, 1), nullptr) == utc(2026, 2, 2));    // Monday
  CHECK(either.next_after(utc(2026, 2, 2), nullptr) == utc(2026, 2, 9));    // Monday
  CHECK(either.next_after(utc(2026, 2, 9), nullptr) == utc(2026, 2, 10));   // the 10th, a Tuesday
  // A star (even with a step) in one of them: both must match.
  CHECK(cron("0 0 */2 * 1").next_after(utc(2026, 2, 1), nullptr) == utc(2026, 2, 9));  // odd day and Monday
  CHECK(cron("0 0 * * 1").next_after(utc(2026, 2, 2), nullptr) == utc(2026, 2, 9));
}

TEST_CASE("cron: Feb 29 only in leap years - 2100 included - an impossible date never fires") {
  const CronExpr leap = cron("0 0 29 2 *");
  CHECK(leap.next_after(utc(2025, 3, 1), nullptr) == utc(2028, 2, 29));
  CHECK(leap.next_after(utc(2028, 2, 29), nullptr) == utc(2032, 2, 29));
  CHECK(leap.next_after(utc(2096, 3, 1), nullptr) == utc(2104, 2, 29));
  CHECK_FALSE(cron("0 0 30 2 *").next_after(utc(2026, 1, 1), nullptr).has_value());
  CHECK_FALSE(cron("0 0 31 4,6,9,11 *").next_after(utc(2026, 1, 1), nullptr).has_value());
}

TEST_CASE("cron: macros") {
  const int64_t t = utc(2026, 5, 5, 10, 30);
  CHECK(cron("@hourly").next_after(t, nullptr) == utc(2026, 5, 5, 11));
  CHECK(cron("@daily").next_after(t, nullptr) == utc(2026, 5, 6));
  CHECK(cron("@midnight").next_after(t, nullptr) == utc(2026, 5, 6));
  CHECK(cron("@weekly").next_after(t, nullptr) == utc(2026, 5, 10));  // a Sunday
  CHECK(cron("@monthly").next_after(t, nullptr) == utc(2026, 6, 1));
  CHECK(cron("@yearly").next_after(t, nullptr) == utc(2027, 1, 1));
  CHECK(cron("@annually").next_after(t, nullptr) == utc(2027, 1, 1));
}

TEST_CASE("cron: @every and every = intervals - aligned to the epoch so every host agrees") {
  const CronExpr e = cron("@every 1h30m");
  CHECK(e.is_interval());
  CHECK(e.interval_ms() == 5400 * 1000);
  const int64_t t = utc(2026, 5, 5, 10, 31);
  const int64_t next = *e.next_after(t, nullptr);
  CHECK(next > t);
  CHECK(next - t <= 5400 * 1000);
  CHECK(next % (5400 * 1000) == 0);
  CHECK(*e.next_after(next, nullptr) == next + 5400 * 1000);
  // The zone does not move an interval.
  CHECK(*e.next_after(t, zone("Europe/Berlin")) == next);

  CHECK(*interval_from_text("30s") == 30000);
  CHECK(*interval_from_text("2d") == 2 * 86400 * 1000);
  CHECK(*interval_from_text("1h 30m") == 5400 * 1000);
  CHECK(*interval_from_text("1m30s") == 90 * 1000);
  auto every = CronExpr::every("30s");
  REQUIRE(every);
  CHECK(*every->next_after(utc(2026, 1, 1, 0, 0, 29), nullptr) == utc(2026, 1, 1, 0, 0, 30));
  CHECK(*every->next_after(utc(2026, 1, 1, 0, 0, 30), nullptr) == utc(2026, 1, 1, 0, 1, 0));
}

TEST_CASE("cron: a time zone reads the fields in local time") {
  const auto* berlin = zone("Europe/Berlin");
  const CronExpr e = cron("0 3 * * *");
  CHECK(e.next_after(utc(2026, 1, 10), berlin) == utc(2026, 1, 10, 2));  // CET, UTC+1
  CHECK(e.next_after(utc(2026, 7, 10), berlin) == utc(2026, 7, 10, 1));  // CEST, UTC+2
  CHECK(zone("UTC") == nullptr);
  CHECK(zone("") == nullptr);
}

TEST_CASE("cron: DST in Europe/Berlin: a skipped local time fires as the gap ends") {
  // 2026-03-29: at 01:00 UTC, 02:00 CET becomes 03:00 CEST; 02:30 does not exist.
  const auto* berlin = zone("Europe/Berlin");
  const CronExpr e = cron("30 2 * * *");
  CHECK(e.next_after(utc(2026, 3, 28, 12), berlin) == utc(2026, 3, 29, 1));
  CHECK(e.next_after(utc(2026, 3, 29, 1), berlin) == utc(2026, 3, 30, 0, 30));
  // Several ticks in the gap collapse into one at its end; the next is after it.
  const CronExpr quarter = cron("*/15 * * * *");
  CHECK(quarter.next_after(utc(2026, 3, 29, 0, 45), berlin) == utc(2026, 3, 29, 1));
  CHECK(quarter.next_after(utc(2026, 3, 29, 1), berlin) == utc(2026, 3, 29, 1, 15));
  // A 03:00 job on that day runs at 03:00 CEST.
  CHECK(cron("0 3 * * *").next_after(utc(2026, 3, 28, 12), berlin) == utc(2026, 3, 29, 1));
}

TEST_CASE("cron: DST in Europe/Berlin: a repeated local time fires once") {
  // 2026-10-25: at 01:00 UTC, 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
  const auto* berlin = zone("Europe/Berlin");
  const CronExpr e = cron("30 2 * * *");
  CHECK(e.next_after(utc(2026, 10, 24, 12), berlin) == utc(2026, 10, 25, 0, 30));  // 02:30 CEST
  CHECK(e.next_after(utc(2026, 10, 25, 0, 30), berlin) == utc(2026, 10, 26, 1, 30));  // not 02:30 CET
  // From inside the repeated hour, the next 02:30 is the next day's.
  CHECK(e.next_after(utc(2026, 10, 25, 1, 10), berlin) == utc(2026, 10, 26, 1, 30));
  // Hourly at :00 through the change: 02:00 CEST, then 03:00 CET (02:00 CET is the repeat).
  const CronExpr hourly = cron("0 * * * *");
  CHECK(hourly.next_after(utc(2026, 10, 24, 23, 30), berlin) == utc(2026, 10, 25, 0));
  CHECK(hourly.next_after(utc(2026, 10, 25, 0), berlin) == utc(2026, 10, 25, 2));
}

TEST_CASE("cron: bad expressions name the field position") {
  CHECK(error_of("61 * * * *").find("cron field 1 (minute): 61 is out of range 0-59") != std::string::npos);
  CHECK(error_of("* 24 * * *").find("cron field 2 (hour)") != std::string::npos);
  CHECK(error_of("* * 32 * *").find("cron field 3 (day of month)") != std::string::npos);
  CHECK(error_of("* * * 13 *").find("cron field 4 (month)") != std::string::npos);
  CHECK(error_of("0 0 * * MOO").find("cron field 5 (day of week): \"MOO\"") != std::string::npos);
  CHECK(error_of("60 * * * * *").find("cron field 1 (seconds)") != std::string::npos);
  CHECK(error_of("0 60 * * * *").find("cron field 2 (minute)") != std::string::npos);
  CHECK(error_of("0 0 5-1 * *").find("cron field 3 (day of month): range \"5-1\" runs backwards") !=
        std::string::npos);
  CHECK(error_of("*/0 * * * *").find("cron field 1 (minute): step \"0\"") != std::string::npos);
  CHECK(error_of("? * * * *").find("cron field 1 (minute)") != std::string::npos);
  CHECK(error_of("1,,2 * * * *").find("cron field 1") != std::string::npos);
  CHECK(error_of("* * * *").find("4 fields") != std::string::npos);
  CHECK(error_of("* * * * * * *").find("7 fields") != std::string::npos);
  CHECK(error_of("").find("empty") != std::string::npos);
  CHECK(error_of("@sometimes").find("unknown macro") != std::string::npos);
  CHECK(error_of("@every").find("needs a duration") != std::string::npos);
  CHECK(error_of("@every 30").find("needs a unit") != std::string::npos);
  CHECK(error_of("@every 5x").find("unknown unit 'x'") != std::string::npos);
  CHECK(error_of("@every 0s").find("at least 1s") != std::string::npos);
  auto tz = find_time_zone("Europe/Nowhere");
  REQUIRE_FALSE(tz);
  CHECK(tz.error().message().find("tz: unknown time zone \"Europe/Nowhere\"") != std::string::npos);
}
