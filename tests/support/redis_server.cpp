#include "tests/support/redis_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include <memory>
#include <stdexcept>

extern char** environ;

namespace drover::test {

namespace {

constexpr const char* kRedisServer = "/usr/bin/redis-server";

int listening_socket(int backlog, int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(fd, backlog) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    throw std::runtime_error("bind/listen on 127.0.0.1 failed");
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};

}  // namespace

RedisServer::RedisServer(std::vector<std::string> extra) : port_(free_port()), extra_(std::move(extra)) {
  unix_path_ = dir_.file("redis.sock");
  for (size_t i = 0; i + 1 < extra_.size(); ++i)
    if (extra_[i] == "--requirepass") password_ = extra_[i + 1];
  start();
}

RedisServer::~RedisServer() { stop(); }

void RedisServer::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void RedisServer::start() {
  stop();
  std::vector<std::string> args = {kRedisServer, "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no", "--dir", dir_.path(),
                                   "--logfile", dir_.file("redis.log"), "--unixsocket", unix_path_,
                                   "--daemonize", "no"};
  args.insert(args.end(), extra_.begin(), extra_.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (posix_spawn(&pid_, kRedisServer, nullptr, nullptr, argv.data(), environ) != 0)
    throw std::runtime_error("cannot start redis-server");
  if (!wait_until([&] { return answers(); }, std::chrono::milliseconds(5000)))
    throw std::runtime_error("redis-server on port " + std::to_string(port_) + " does not answer; see " +
                             dir_.file("redis.log") + ": " + read_file(dir_.file("redis.log")));
}

std::string RedisServer::url(int db, const std::string& password) const {
  std::string auth = password.empty() ? "" : ":" + password + "@";
  return "redis://" + auth + "127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
}

bool RedisServer::answers() const {
  try {
    std::string pong = run({"PING"});
    return pong == "PONG";
  } catch (const std::exception&) {
    return false;
  }
}

std::string RedisServer::run(const std::vector<std::string>& argv, int db) const {
  std::unique_ptr<redisContext, ContextFree> c(redisConnect("127.0.0.1", port_));
  if (!c || c->err) throw std::runtime_error("cannot connect to redis-server on port " + std::to_string(port_));
  auto command = [&](const std::vector<std::string>& words) {
    std::vector<const char*> ptrs;
    std::vector<size_t> lens;
    for (const auto& w : words) ptrs.push_back(w.data()), lens.push_back(w.size());
    std::unique_ptr<redisReply, ReplyFree> r(static_cast<redisReply*>(
        redisCommandArgv(c.get(), static_cast<int>(ptrs.size()), ptrs.data(), lens.data())));
    if (!r) throw std::runtime_error("redis-server on port " + std::to_string(port_) + " went away");
    switch (r->type) {
      case REDIS_REPLY_INTEGER: return std::to_string(r->integer);
      case REDIS_REPLY_NIL: return std::string("(nil)");
      case REDIS_REPLY_ARRAY: return std::to_string(r->elements) + " elements";
      default: return std::string(r->str, r->len);  // string, status, error
    }
  };
  if (!password_.empty()) command({"AUTH", password_});
  if (db != 0) command({"SELECT", std::to_string(db)});
  return command(argv);
}

BlackHole::BlackHole() { fd_ = listening_socket(16, &port_); }

BlackHole::~BlackHole() {
  for (int fd : taken_) close(fd);
  close(fd_);
}

bool BlackHole::take_connection() {
  // Never blocks: a test asks whether a connection came, and may expect none.
  pollfd pending{fd_, POLLIN, 0};
  if (poll(&pending, 1, 0) != 1) return !taken_.empty();
  int fd = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0) taken_.push_back(fd);
  return !taken_.empty();
}

}  // namespace drover::test
