// A thin layer over libpq for the PostgreSQL job store, the counterpart of sqlite_db.h: a
// connection opened from a URL, statements with text parameters (PQexecParams: no SQL is
// ever built from a value), results read as strings, and transactions that nest by
// joining (a savepoint inside an open transaction), so the store thread can group many
// calls into one commit while each call stays all or nothing.
//
// Errors are Status values quoting the server's message. A connection that broke (the
// server restarted, a network cut) is reset before the next statement outside a
// transaction; inside one the transaction is lost anyway, and its statements fail until
// it ends. A failure to reach the server is Status::unavailable, what callers map to 503.
//
// Thread: one thread uses a PgDb (the store thread); it is not locked.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/status.h"

namespace drover::jobs {

// One parameter as text, or SQL NULL.
struct PgParam {
  std::optional<std::string> text;
  PgParam(std::nullopt_t) {}  // NOLINT: implicit, as every constructor here
  PgParam(const std::string& s) : text(s) {}  // NOLINT
  PgParam(const char* s) : text(std::string(s)) {}  // NOLINT
  PgParam(int64_t v) : text(std::to_string(v)) {}  // NOLINT
  PgParam(int v) : text(std::to_string(v)) {}  // NOLINT
  PgParam(size_t v) : text(std::to_string(v)) {}  // NOLINT
  PgParam(double v);  // NOLINT: the shortest text that reads back the same
  template <typename T>
  PgParam(const std::optional<T>& v) {  // NOLINT
    if (v) *this = PgParam(*v);
  }
};

class PgResult {
 public:
  explicit PgResult(PGresult* r) : r_(r) {}
  PgResult(PgResult&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  PgResult(const PgResult&) = delete;
  ~PgResult() { PQclear(r_); }

  int rows() const { return PQntuples(r_); }
  int64_t affected() const;  // rows an INSERT, UPDATE or DELETE changed
  std::string text(int row, int col) const;
  int64_t int64(int row, int col) const;
  double real(int row, int col) const;
  bool is_null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }

 private:
  PGresult* r_;
};

class PgDb {
 public:
  // Connects (URL or key=value conninfo). An unreachable server is Status::unavailable,
  // naming the URL without its password.
  static Result<std::unique_ptr<PgDb>> connect(const std::string& url);
  ~PgDb();
  PgDb(const PgDb&) = delete;

  // One or more statements, no parameters (migrations, BEGIN, ...).
  Status exec(const std::string& sql);
  // One statement with $1..$n parameters; its rows, if any.
  Result<PgResult> query(const std::string& sql, const std::vector<PgParam>& params = {});

  // BEGIN. A connection found broken by it (the server restarted since the last call:
  // libpq learns so only by trying) is reset and BEGIN tried once more: nothing ran yet,
  // so the retry cannot do anything twice.
  Status begin();
  bool in_transaction() const;
  // In a transaction a failed statement aborted: only a rollback helps.
  bool aborted() const { return PQtransactionStatus(conn_) == PQTRANS_INERROR; }
  // The connection as it stands now (a poll of the socket, no round trip).
  bool connected() const { return PQstatus(conn_) == CONNECTION_OK; }
  // The URL with any password masked: for messages.
  const std::string& where() const { return where_; }

  // LISTEN/NOTIFY: the socket to wait on, and the channel payloads that arrived (reads
  // what the socket holds without blocking). An error means the connection broke.
  int socket() const { return PQsocket(conn_); }
  Result<std::vector<std::string>> notifications();

 private:
  PgDb(PGconn* conn, std::string where) : conn_(conn), where_(std::move(where)) {}
  // Resets a broken connection when no transaction is open; false if still broken.
  bool ensure_connected();
  Status error_of(const PGresult* r, const std::string& what) const;

  PGconn* conn_;
  std::string where_;
};

// BEGIN; inside an open transaction a savepoint instead, so each call stays all or
// nothing within the group. Rolls back in its destructor unless commit() succeeded.
class PgTransaction {
 public:
  explicit PgTransaction(PgDb& db);
  ~PgTransaction();
  const Status& begun() const { return begun_; }
  Status commit();

 private:
  PgDb& db_;
  bool nested_ = false;
  bool open_ = false;
  Status begun_;
};

}  // namespace drover::jobs
