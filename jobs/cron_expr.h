// When a schedule fires: a cron expression or an interval, and the next tick after a given
// instant in a time zone. Plain values, no clock read inside: callers pass the instant.
//
// Accepted forms (the schedules issue; taskmanager's files use the 6-field one):
//   "m h dom mon dow"            5 fields, Vixie cron
//   "s m h dom mon dow"          6 fields, seconds first (robfig/cron, taskmanager)
//   @yearly @annually @monthly @weekly @daily @midnight @hourly
//   "@every 1h30m", and every = "30s" (interval_from_text): s, m, h, d units, combined
// A field is a list of items: *, ?, N, A-B, each with an optional /STEP (N/STEP runs from N
// to the field's end); months and weekdays also by name (JAN, mon); weekday 7 is Sunday.
// Day of month and day of week follow Vixie cron: when both are restricted (neither starts
// with * or ?), a day matching either one matches.
//
// Time zones come from the OS tzdb (/usr/share/zoneinfo) through Howard Hinnant's date
// library. DST: a local time the clocks skip fires at the instant the gap ends (so a daily
// 02:30 job still runs on the spring-forward day, as Vixie cron does); a local time that
// occurs twice fires once, at its first occurrence.
//
// Intervals are aligned to the Unix epoch, not to when drover started: every host computes
// the same ticks, which is what lets the store fire each tick once in the fleet.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/status.h"

namespace date {
class time_zone;
}

namespace drover::jobs {

// A zone of the OS tzdb by IANA name ("Europe/Berlin"); "" and "UTC" give UTC (nullptr).
// Unknown names are Status::invalid naming the zone.
Result<const date::time_zone*> find_time_zone(const std::string& name);

// "30s", "1h30m", "2d", "1h 30m": a positive whole number of seconds, in ms. An error
// names the offending part.
Result<int64_t> interval_from_text(std::string_view text);

class CronExpr {
 public:
  // A cron expression or macro (above). Errors are Status::invalid naming the field
  // ("cron field 3 (day of month): 32 is out of range 1-31").
  static Result<CronExpr> parse(std::string_view text);
  // An interval schedule (every = "30s").
  static Result<CronExpr> every(std::string_view duration);

  // The first tick strictly after `after_ms` (ms since the epoch, wall clock), reading the
  // fields in zone tz (nullptr: UTC). nullopt when none comes within ten years (Feb 30).
  std::optional<int64_t> next_after(int64_t after_ms, const date::time_zone* tz) const;

  bool is_interval() const { return interval_ms_ > 0; }
  int64_t interval_ms() const { return interval_ms_; }

 private:
  CronExpr() = default;
  // The first local time (seconds since the local epoch) at or after `local_s` that
  // matches the fields; nullopt past the search horizon.
  std::optional<int64_t> next_local(int64_t local_s) const;
  bool day_matches(int year, unsigned month, unsigned day, unsigned weekday) const;

  int64_t interval_ms_ = 0;
  bool has_seconds_ = false;
  std::bitset<60> seconds_, minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;    // 1..31
  std::bitset<13> months_;  // 1..12
  std::bitset<7> weekdays_; // 0 = Sunday
  bool days_star_ = false, weekdays_star_ = false;
};

}  // namespace drover::jobs
