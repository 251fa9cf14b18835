// A real redis-server for probe tests, and the other end of the wire for the failures a
// probe must survive: a server stopped and started again on the same port, and a
// listener that takes connections and never answers.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "tests/support/test_util.h"

namespace drover::test {

// redis-server on 127.0.0.1:port in a TempDir: no persistence, a unix socket beside it.
// The destructor kills it (SIGKILL) and reaps it.
class RedisServer {
 public:
  // extra: more redis-server arguments ("--requirepass", "pw").
  explicit RedisServer(std::vector<std::string> extra = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // SIGKILL and reap: the server vanishes as on a crash (no goodbye to clients).
  void stop();
  // Starts it again on the same port; returns once it answers PING. Throws if it does not.
  void start();

  int port() const { return port_; }
  const std::string& unix_path() const { return unix_path_; }
  // "redis://127.0.0.1:PORT/DB", with ":PASSWORD@" when given.
  std::string url(int db = 0, const std::string& password = "") const;

  // Runs one command as a client would (AUTH with the server's password first, if any);
  // returns the reply as text: an integer's digits, a string, "OK", "(nil)", "ERR ..."
  // for an error. Throws when the server cannot be reached.
  std::string run(const std::vector<std::string>& argv, int db = 0) const;

 private:
  bool answers() const;
  TempDir dir_;
  int port_;
  std::string unix_path_;
  std::vector<std::string> extra_;
  std::string password_;  // from --requirepass in extra
  pid_t pid_ = -1;
};

// A TCP listener on 127.0.0.1 that never accepts and never reads. The kernel completes
// the handshake of every connection anyway (up to the backlog), so a client connects at
// once and then waits forever for its first reply: the "hung server" case.
class BlackHole {
 public:
  BlackHole();
  ~BlackHole();
  BlackHole(const BlackHole&) = delete;
  BlackHole& operator=(const BlackHole&) = delete;
  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }
  // Accepts (without blocking) a connection waiting in the backlog, and keeps it open
  // without ever reading it: true once some client has connected.
  bool take_connection();
  // Connections accepted so far.
  size_t taken() const { return taken_.size(); }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::vector<int> taken_;
};

}  // namespace drover::test
