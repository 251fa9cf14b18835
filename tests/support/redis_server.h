// RedisServer: a real redis-server for a test, on a free loopback port, in a directory of
// its own, with no persistence. Started by the constructor (which waits until it answers
// PING) and SIGKILLed and reaped by stop() or the destructor. restart() brings one back on
// the same port: what a probe sees when Redis comes back.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace drover::test {

class RedisServer {
 public:
  // extra: more redis-server arguments ("--requirepass", "secret").
  explicit RedisServer(std::vector<std::string> extra = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  std::string url(int db = 0) const;  // redis://127.0.0.1:PORT/DB
  // Runs redis-cli against it (with the server's password, if any) and returns stdout
  // without the trailing newline: cli({"RPUSH", "rq:queue:default", "a"}) -> "1".
  std::string cli(const std::vector<std::string>& args, int db = 0) const;
  void stop();
  void restart();
  bool running() const { return pid_ > 0; }

 private:
  void start();
  std::vector<std::string> extra_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_loopback_port();

}  // namespace drover::test
