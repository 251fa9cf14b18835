// proc_stat: the one /proc/PID/stat parser.
#include <doctest/doctest.h>
#include <unistd.h>

#include "engine/proc_stat.h"

using namespace drover;

TEST_CASE("proc stat: fields counted from the last ')' - a name with spaces, parentheses and digits") {
  // Fields 1-24 of a real line, with a hostile name: "a) 1 2 (b".
  const std::string line =
      "4242 (a) 1 2 (b) S 17 4242 4242 0 -1 4194560 100 0 0 0 7 3 11 5 20 0 1 0 123456 10000000 321 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  auto st = parse_proc_stat(line);
  REQUIRE(st);
  CHECK(st->comm == "a) 1 2 (b");
  CHECK(st->state == 'S');
  CHECK(st->ppid == 17);
  CHECK(st->pgrp == 4242);
  CHECK(st->utime == 7);
  CHECK(st->stime == 3);
  CHECK(st->cutime == 11);
  CHECK(st->cstime == 5);
  CHECK(st->start_ticks == 123456);
  CHECK(st->rss_pages == 321);
  CHECK_FALSE(st->zombie());
  CHECK(parse_proc_stat("4242 (z) Z 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9 0 0")->zombie());
}

TEST_CASE("proc stat: what does not parse is nullopt - and our own process reads") {
  CHECK_FALSE(parse_proc_stat(""));
  CHECK_FALSE(parse_proc_stat("4242 (cut short"));
  CHECK_FALSE(parse_proc_stat("4242 (x) S 1 2"));  // fewer fields than the ones kept
  auto self = read_proc_stat(getpid());
  REQUIRE(self);
  CHECK(self->ppid == getppid());
  CHECK(self->start_ticks > 0);
  CHECK_FALSE(read_proc_stat(0x7ffffff0));  // no such process
}
