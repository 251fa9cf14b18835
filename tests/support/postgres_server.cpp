#include "tests/support/postgres_server.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include <cerrno>
#include <memory>
#include <stdexcept>
#include <vector>

namespace drover::test {

namespace {

constexpr const char* kBin = "/usr/lib/postgresql/15/bin";
constexpr const char* kRole = "postgres";  // the superuser initdb makes, whoever runs it


// fork, drop root (when asked) for good, then exec argv with stdout and stderr to log.
// pdeath: the child gets SIGQUIT if we die (the postmaster's immediate shutdown).
pid_t spawn_as(const std::vector<std::string>& args, const std::string& log, bool drop, uid_t uid, gid_t gid,
               bool pdeath) {
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + log);
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fd);
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    if (drop && (setgroups(0, nullptr) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0))
      _exit(126);
    // After the uid change, which clears it; kept across exec.
    if (pdeath) prctl(PR_SET_PDEATHSIG, SIGQUIT);
    dup2(fd, 1);
    dup2(fd, 2);
    int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fd);
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct ConnClose {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultClear {
  void operator()(PGresult* r) const { PQclear(r); }
};

}  // namespace

PostgresServer::PostgresServer() : port_(free_port()) {
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    if (!pw) pw = getpwnam("nobody");
    if (!pw) throw std::runtime_error("running as root, and neither user postgres nor nobody exists");
    drop_root_ = true;
    uid_ = pw->pw_uid;
    gid_ = pw->pw_gid;
    if (chown(dir_.path().c_str(), uid_, gid_) != 0) throw std::runtime_error("cannot chown " + dir_.path());
  }
  const std::string log = dir_.file("initdb.log");
  const pid_t pid = spawn_as({std::string(kBin) + "/initdb", "-D", dir_.file("data"), "-U", kRole, "-A", "trust",
                              "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"},
                             log, drop_root_, uid_, gid_, false);
  if (int code = wait_exit(pid); code != 0)
    throw std::runtime_error("initdb failed (" + std::to_string(code) + "): " + read_file(log));
  start();
}

PostgresServer::~PostgresServer() { stop(); }

void PostgresServer::start() {
  stop();
  const std::string log = dir_.file("postgres.log");
  // fsync off: a test's data need not survive a power cut, and the disk is shared with
  // other suites. synchronous_commit stays on: stop() is a crash, and what a test saw
  // committed before it must be there after start() (the WAL reached the OS at commit).
  pid_ = spawn_as({std::string(kBin) + "/postgres", "-D", dir_.file("data"), "-p", std::to_string(port_), "-k",
                   dir_.path(), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                   "-c", "full_page_writes=off", "-c", "max_connections=200"},
                  log, drop_root_, uid_, gid_, true);
  const std::string conninfo =
      "host=127.0.0.1 port=" + std::to_string(port_) + " user=" + kRole + " dbname=postgres connect_timeout=2";
  bool exited = false;
  const bool up = wait_until(
      [&] {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
          exited = true;
          return true;
        }
        return PQping(conninfo.c_str()) == PQPING_OK;
      },
      std::chrono::milliseconds(30000));
  if (exited || !up) {
    if (!exited) stop();
    pid_ = -1;
    throw std::runtime_error(std::string("postgres ") + (exited ? "exited" : "does not answer") + " on port " +
                             std::to_string(port_) + ": " + read_file(log));
  }
}

void PostgresServer::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGQUIT);
  wait_exit(pid_);
  pid_ = -1;
}

std::string PostgresServer::url(const std::string& db) const {
  return std::string("postgresql://") + kRole + "@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

std::string PostgresServer::create_database(const std::string& prefix) {
  const std::string name = prefix + "_" + std::to_string(++databases_);
  query("CREATE DATABASE " + name + " TEMPLATE template0");
  return url(name);
}

std::string PostgresServer::query(const std::string& sql, const std::string& db) const {
  std::unique_ptr<PGconn, ConnClose> c(PQconnectdb(url(db).c_str()));
  if (PQstatus(c.get()) != CONNECTION_OK)
    throw std::runtime_error("cannot connect to " + url(db) + ": " + PQerrorMessage(c.get()));
  std::unique_ptr<PGresult, ResultClear> r(PQexec(c.get(), sql.c_str()));
  const auto st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    throw std::runtime_error(sql + ": " + PQresultErrorMessage(r.get()));
  if (st == PGRES_TUPLES_OK && PQntuples(r.get()) > 0 && PQnfields(r.get()) > 0) return PQgetvalue(r.get(), 0, 0);
  return "";
}

PostgresServer& PostgresServer::shared() {
  static PostgresServer server;
  return server;
}

}  // namespace drover::test
