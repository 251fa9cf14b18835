#include "engine/log_file.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

using namespace drover;

namespace {

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

struct TempDir {
  std::string path;
  TempDir() {
    char t[] = "/tmp/drover-logfile-XXXXXX";
    REQUIRE(mkdtemp(t) != nullptr);
    path = t;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

LogLine worker_line(const std::string& text) {
  LogLine l;
  l.wall_ms = 1700000000123;
  l.pool = "foo";
  l.pid = 1234;
  l.text = text;
  return l;
}

// What worker_line(text) becomes in the file.
std::string written(const std::string& text) { return "2023-11-14T22:13:20.123Z foo[1234]: " + text + "\n"; }

}  // namespace

TEST_CASE("log file: timestamps are UTC ISO-8601 with milliseconds") {
  CHECK(format_timestamp(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_timestamp(1700000000123) == "2023-11-14T22:13:20.123Z");
  CHECK(format_timestamp(951782400000) == "2000-02-29T00:00:00.000Z");  // a 400-year leap day
  CHECK(format_timestamp(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(format_timestamp(253402300799999) == "9999-12-31T23:59:59.999Z");
}

TEST_CASE("log file: timestamps agree with gmtime_r across the years") {
  for (int64_t secs = -2'000'000'000; secs < 4'000'000'000; secs += 7'654'321) {
    const int64_t ms = secs * 1000 + (secs & 0x3ff) % 1000;
    time_t t = static_cast<time_t>(secs);
    struct tm tm;
    REQUIRE(gmtime_r(&t, &tm) != nullptr);
    const std::string want = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms - secs * 1000);
    REQUIRE(format_timestamp(ms) == want);
  }
}

TEST_CASE("log file: lines are stamped and prefixed; engine lines say drover") {
  TempDir d;
  const std::string path = d.path + "/drover.log";
  LogFile f(path, 1 << 20, 3);
  REQUIRE(f.open());
  f.append(worker_line("hello"));
  LogLine err = worker_line("oops");
  err.stream = LogStream::kStderr;
  err.wall_ms += 1;
  f.append(err);
  LogLine e = worker_line("foo.0 spawned");
  e.stream = LogStream::kEngine;
  e.pid = 99;
  f.append(e);
  CHECK(slurp(path).empty());  // buffered until flush
  f.flush();
  CHECK(slurp(path) ==
        "2023-11-14T22:13:20.123Z foo[1234]: hello\n"
        "2023-11-14T22:13:20.124Z foo[1234]: oops\n"
        "2023-11-14T22:13:20.123Z drover[99]: foo.0 spawned\n");
  CHECK(f.size() == slurp(path).size());
  CHECK(f.write_errors() == 0);
}

TEST_CASE("log file: open appends to an existing file and counts its size") {
  TempDir d;
  const std::string path = d.path + "/drover.log";
  std::ofstream(path) << "earlier\n";
  LogFile f(path, 1 << 20, 3);
  REQUIRE(f.open());
  CHECK(f.size() == 8);
  f.append(worker_line("now"));
  f.flush();
  CHECK(slurp(path) == "earlier\n" + written("now"));
  CHECK(f.size() == slurp(path).size());
}

TEST_CASE("log file: rotates by size and keeps a bounded number of files") {
  TempDir d;
  const std::string path = d.path + "/drover.log";
  const std::string text0 = "batch 0 " + std::string(80, 'x');
  const size_t batch = written(text0).size();
  LogFile f(path, 2 * batch - 1, 2);  // one batch fits, two do not
  REQUIRE(f.open());
  for (int i = 0; i < 5; ++i) {
    f.append(worker_line("batch " + std::to_string(i) + " " + std::string(80, 'x')));
    f.flush();
    CHECK(f.size() == batch);  // every batch went into a fresh file
  }
  CHECK(slurp(path) == written("batch 4 " + std::string(80, 'x')));
  CHECK(slurp(path + ".1") == written("batch 3 " + std::string(80, 'x')));
  CHECK(slurp(path + ".2") == written("batch 2 " + std::string(80, 'x')));
  CHECK_FALSE(std::filesystem::exists(path + ".3"));  // batches 0 and 1 fell off the end
}

TEST_CASE("log file: a batch bigger than max_bytes is written whole into a fresh file") {
  TempDir d;
  const std::string path = d.path + "/drover.log";
  LogFile f(path, 50, 1);
  REQUIRE(f.open());
  f.append(worker_line(std::string(100, 'a')));
  f.flush();
  CHECK(slurp(path) == written(std::string(100, 'a')));
  CHECK_FALSE(std::filesystem::exists(path + ".1"));
  f.append(worker_line("b"));
  f.flush();
  CHECK(slurp(path) == written("b"));
  CHECK(slurp(path + ".1") == written(std::string(100, 'a')));
}

TEST_CASE("log file: keep 0 truncates in place") {
  TempDir d;
  const std::string path = d.path + "/drover.log";
  LogFile f(path, 150, 0);
  REQUIRE(f.open());
  for (int i = 0; i < 3; ++i) {
    f.append(worker_line("line " + std::to_string(i) + " " + std::string(80, 'x')));
    f.flush();
  }
  CHECK(slurp(path) == written("line 2 " + std::string(80, 'x')));
  CHECK_FALSE(std::filesystem::exists(path + ".1"));
  CHECK(f.size() == slurp(path).size());
}

TEST_CASE("log file: reopen after logrotate's move writes a fresh file at the path") {
  TempDir d;
  const std::string path = d.path + "/drover.log";
  LogFile f(path, 1 << 20, 3);
  REQUIRE(f.open());
  f.append(worker_line("before"));
  f.flush();
  REQUIRE(std::rename(path.c_str(), (path + ".moved").c_str()) == 0);
  f.append(worker_line("still old fd"));
  REQUIRE(f.reopen());  // flushes to the moved file, then opens the path anew
  CHECK(f.size() == 0);
  f.append(worker_line("after"));
  f.flush();
  CHECK(slurp(path + ".moved") == written("before") + written("still old fd"));
  CHECK(slurp(path) == written("after"));
}

TEST_CASE("log file: a big burst flushes itself before the buffer grows without bound") {
  TempDir d;
  const std::string path = d.path + "/drover.log";
  LogFile f(path, 0, 0);  // 0: never rotate
  REQUIRE(f.open());
  const std::string text(1000, 'z');
  for (size_t written_bytes = 0; written_bytes <= LogFile::kFlushBytes; written_bytes += text.size()) {
    f.append(worker_line(text));
  }
  CHECK(f.size() >= LogFile::kFlushBytes);
  CHECK(slurp(path).size() == f.size());
}

TEST_CASE("log file: write errors are counted and the batch is dropped") {
  LogFile f("/dev/full", 1 << 20, 1);
  REQUIRE(f.open());
  CHECK_FALSE(f.failing());
  f.append(worker_line("nowhere to go"));
  f.append(worker_line("nor this"));
  f.flush();
  CHECK(f.write_errors() == 1);
  CHECK(f.lines_lost() == 2);
  CHECK(f.failing());
  CHECK(f.last_error() == "No space left on device");
  f.flush();  // the batch was dropped: nothing left to fail on
  CHECK(f.write_errors() == 1);
  CHECK(f.lines_lost() == 2);

  LogFile never_opened("/nonexistent-dir/drover.log", 1 << 20, 1);
  never_opened.append(worker_line("lost"));
  never_opened.flush();
  CHECK(never_opened.write_errors() == 1);
  CHECK(never_opened.lines_lost() == 1);
}

TEST_CASE("log file: a file that takes lines again is no longer failing, and the count stays") {
  TempDir dir;
  // The path leads to a full device first, then (as after logrotate and a HUP) to a file.
  const std::string path = dir.path + "/drover.log", real = dir.path + "/real.log";
  std::filesystem::create_symlink("/dev/full", path);
  LogFile f(path, 0, 1);
  REQUIRE(f.open());
  f.append(worker_line("lost"));
  f.flush();
  CHECK(f.failing());
  std::filesystem::remove(path);
  std::filesystem::create_symlink(real, path);
  REQUIRE(f.reopen());
  f.append(worker_line("kept"));
  f.flush();
  CHECK_FALSE(f.failing());
  CHECK(f.lines_lost() == 1);
  CHECK(f.last_error() == "No space left on device");  // why, for whoever asks later
  CHECK(slurp(real).find("kept") != std::string::npos);
}

TEST_CASE("log file: an unwritable path is a clear error") {
  LogFile f("/nonexistent-dir/drover.log", 1 << 20, 1);
  Status s = f.open();
  CHECK_FALSE(s);
  CHECK(s.code() == Status::Code::kIoError);
  CHECK(s.message().find("/nonexistent-dir/drover.log") != std::string::npos);
}
