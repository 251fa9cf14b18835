#include "engine/log_file.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

using namespace drover;

namespace {
std::string slurp(const std::string& p) {
  std::ifstream f(p);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}
struct Dir {
  std::string path;
  Dir() {
    char t[] = "/tmp/drover-logfile-XXXXXX";
    path = mkdtemp(t);
  }
  ~Dir() { std::filesystem::remove_all(path); }
};
LogLine worker_line(const std::string& text) {
  LogLine l;
  l.wall_ms = 1700000000123;
  l.pool = "foo";
  l.pid = 1234;
  l.text = text;
  return l;
}
}  // namespace

TEST_CASE("log file: timestamps are UTC with milliseconds") {
  CHECK(format_timestamp(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_timestamp(1700000000123) == "2023-11-14T22:13:20.123Z");
}

TEST_CASE("log file: lines are stamped and prefixed; engine lines say drover") {
  Dir d;
  LogFile f(d.path + "/drover.log", 1 << 20, 3);
  REQUIRE(f.open());
  f.append(worker_line("hello"));
  LogLine e = worker_line("foo.0 spawned");
  e.stream = LogStream::kEngine;
  e.pid = 99;
  f.append(e);
  CHECK(slurp(d.path + "/drover.log").empty());  // buffered until flush
  f.flush();
  CHECK(slurp(d.path + "/drover.log") ==
        "2023-11-14T22:13:20.123Z foo[1234]: hello\n2023-11-14T22:13:20.123Z drover[99]: foo.0 spawned\n");
}

TEST_CASE("log file: rotates by size and keeps a bounded number of files") {
  Dir d;
  std::string path = d.path + "/drover.log";
  LogFile f(path, 100, 2);
  REQUIRE(f.open());
  for (int i = 0; i < 5; ++i) {
    f.append(worker_line("batch " + std::to_string(i) + " " + std::string(80, 'x')));
    f.flush();
  }
  CHECK(std::filesystem::exists(path + ".1"));
  CHECK(std::filesystem::exists(path + ".2"));
  CHECK_FALSE(std::filesystem::exists(path + ".3"));
  CHECK(slurp(path + ".1").find("batch 4") != std::string::npos);
  CHECK(slurp(path + ".2").find("batch 3") != std::string::npos);
  CHECK(f.size() == 0);
}

TEST_CASE("log file: reopen after logrotate's move writes a fresh file at the path") {
  Dir d;
  std::string path = d.path + "/drover.log";
  LogFile f(path, 1 << 20, 3);
  REQUIRE(f.open());
  f.append(worker_line("before"));
  f.flush();
  std::rename(path.c_str(), (path + ".moved").c_str());
  f.append(worker_line("still old fd"));
  REQUIRE(f.reopen());  // flushes to the moved file, then opens the path anew
  f.append(worker_line("after"));
  f.flush();
  CHECK(slurp(path + ".moved").find("still old fd") != std::string::npos);
  CHECK(slurp(path).find("after") != std::string::npos);
  CHECK(slurp(path).find("before") == std::string::npos);
}

TEST_CASE("log file: an unwritable path is a clear error") {
  LogFile f("/nonexistent-dir/drover.log", 1 << 20, 1);
  Status s = f.open();
  CHECK_FALSE(s);
  CHECK(s.message().find("/nonexistent-dir/drover.log") != std::string::npos);
}
