// A thin RAII layer over the SQLite C API for the job store: a connection, prepared
// statements with typed binds and reads, and transactions that nest by joining (so the
// store thread can group many calls into one commit). Errors are Status values that quote
// SQLite's message.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "engine/status.h"

namespace drover::jobs {

class SqliteStatement {
 public:
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  SqliteStatement(SqliteStatement&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  SqliteStatement(const SqliteStatement&) = delete;
  ~SqliteStatement() { sqlite3_finalize(stmt_); }

  // Binds by 1-based position; returns *this to chain.
  SqliteStatement& bind(int i, int64_t v);
  SqliteStatement& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  SqliteStatement& bind(int i, double v);
  SqliteStatement& bind(int i, std::string_view v);
  SqliteStatement& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  SqliteStatement& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  // One step: true with a row to read, false when done; an error sets *error.
  bool step(Status* error);
  // Runs to the end, ignoring rows.
  Status run();
  void reset();  // for reuse: clears the binds too

  int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string text(int col) const;
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class SqliteDb {
 public:
  // Opens (creating) the file; ":memory:" for a private in-memory database.
  static Result<std::unique_ptr<SqliteDb>> open(const std::string& path);
  ~SqliteDb();

  Status exec(const char* sql);  // one or more statements, no binds
  Result<SqliteStatement> prepare(std::string_view sql);
  // The statement for sql, prepared once per connection and reset for this use: the hot
  // calls (enqueue, claim, finish) pay no parsing. Valid until the connection closes.
  Result<SqliteStatement*> cached(const std::string& sql);
  int64_t changes() const { return sqlite3_changes64(db_); }
  int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
  bool in_transaction() const { return !sqlite3_get_autocommit(db_); }
  Status error(const char* what) const;

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<std::string, std::unique_ptr<SqliteStatement>> cache_;  // before db_ closes
};

// BEGIN IMMEDIATE; inside an open transaction (the store thread grouping many calls into
// one commit) a savepoint instead, so each call stays all or nothing within the group.
// Rolls back in its destructor unless commit() succeeded.
class SqliteTransaction {
 public:
  explicit SqliteTransaction(SqliteDb& db);
  ~SqliteTransaction();
  const Status& begun() const { return begun_; }
  Status commit();

 private:
  SqliteDb& db_;
  bool nested_ = false;
  bool open_ = false;
  Status begun_;
};

}  // namespace drover::jobs
