// The throwaway PostgreSQL the store's tests stand on: it starts as an unprivileged user,
// answers on its URL, gives each test a database of its own, and stops and starts again
// on the same port (what the store's reconnect is tested against).
#include <doctest/doctest.h>
#include <unistd.h>

#include <stdexcept>

#include "tests/support/postgres_server.h"

using namespace drover::test;

TEST_CASE("postgres server: answers on its URL - a database per test - not run as root - stop and start again") {
  PostgresServer pg;
  CHECK(pg.query("SELECT 1 + 1") == "2");
  const std::string a = pg.create_database(), b = pg.create_database();
  CHECK(a != b);
  const std::string name = a.substr(a.rfind('/') + 1);
  pg.query("CREATE TABLE only_in_a (x int)", name);
  CHECK(pg.query("SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'", name) == "1");
  CHECK(pg.query("SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'", b.substr(b.rfind('/') + 1)) == "0");
  // The server process is not root's (PostgreSQL refuses that; so do we).
  const std::string pid = pg.query("SELECT pg_backend_pid()");
  const std::string status = read_file("/proc/" + pid + "/status");
  if (geteuid() == 0) CHECK(status.find("Uid:\t0\t") == std::string::npos);

  pg.stop();
  CHECK_FALSE(pg.running());
  CHECK_THROWS_AS(pg.query("SELECT 1"), std::runtime_error);
  pg.start();
  CHECK(pg.query("SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'", name) == "1");  // kept across
}
