// A real, throwaway PostgreSQL for the tests of the PostgreSQL job store: initdb and the
// postmaster from Debian's postgresql (/usr/lib/postgresql/15/bin) on a fresh TempDir, a
// free port on 127.0.0.1 and its unix socket in the same directory, trust
// authentication, fsync off (a test's data need not survive a power cut).
//
// PostgreSQL refuses to run as root, and the suite runs as root in CI: then initdb and
// the postmaster run as the `postgres` user (or `nobody` when there is none) in a forked
// child that drops root for good before exec (as tests/support/as_user.h does), the
// directory chowned to it. Not root, they run as ourselves.
//
// Each test gets its own database (create_database(): CREATE DATABASE from template0 takes
// milliseconds), so tests in one process share a server and still start from nothing.
// The destructor stops the server at once (SIGQUIT: immediate shutdown) and removes the
// directory; should the test process die first, the postmaster gets SIGQUIT too
// (PR_SET_PDEATHSIG), so no server outlives its test.
#pragma once

#include <sys/types.h>

#include <string>

#include "tests/support/test_util.h"

namespace drover::test {

class PostgresServer {
 public:
  // initdb, then start(). Throws std::runtime_error with the server's log when it cannot.
  PostgresServer();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // The postmaster started on the same port and directory; returns once it accepts
  // connections (polled with PQping, no fixed sleep).
  void start();
  // Immediate shutdown, as on a crash: clients see their connections drop.
  void stop();
  bool running() const { return pid_ > 0; }

  int port() const { return port_; }
  // postgresql://USER@127.0.0.1:PORT/DB
  std::string url(const std::string& db = "postgres") const;
  // A new empty database, named prefix_N; its URL.
  std::string create_database(const std::string& prefix = "t");
  // Runs sql on db; returns the first row's first value ("" when no rows). Throws on error.
  std::string query(const std::string& sql, const std::string& db = "postgres") const;

  // One server for the whole test process, started on first use.
  static PostgresServer& shared();

 private:
  TempDir dir_;
  std::string user_;  // the role initdb made: the OS user it ran as
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  bool drop_root_ = false;
  int port_ = 0;
  pid_t pid_ = -1;
  int databases_ = 0;
};

}  // namespace drover::test
