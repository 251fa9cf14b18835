#include "jobs/sqlite_db.h"

#include <fmt/format.h>

namespace drover::jobs {

SqliteStatement& SqliteStatement::bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}
SqliteStatement& SqliteStatement::bind(int i, double v) {
  sqlite3_bind_double(stmt_, i, v);
  return *this;
}
SqliteStatement& SqliteStatement::bind(int i, std::string_view v) {
  sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}

bool SqliteStatement::step(Status* error) {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE && error) *error = Status::io_error(fmt::format("sqlite: {}", sqlite3_errmsg(db_)));
  return false;
}

Status SqliteStatement::run() {
  Status error;
  while (step(&error)) {
  }
  return error;
}

void SqliteStatement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string SqliteStatement::text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
}

Result<std::unique_ptr<SqliteDb>> SqliteDb::open(const std::string& path) {
  sqlite3* db = nullptr;
  // NOMUTEX: one thread uses a connection (the store's contract), so SQLite's own mutex is waste.
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status s = Status::io_error(fmt::format("{}: {}", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close(db);
    return s;
  }
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<SqliteDb>(new SqliteDb(db));
}

SqliteDb::~SqliteDb() {
  cache_.clear();  // finalized before the close, which refuses while statements live
  sqlite3_close(db_);
}

Result<SqliteStatement*> SqliteDb::cached(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    auto st = prepare(sql);
    if (!st) return st.error();
    it = cache_.emplace(sql, std::make_unique<SqliteStatement>(std::move(*st))).first;
  } else {
    it->second->reset();
  }
  return it->second.get();
}

Status SqliteDb::error(const char* what) const {
  return Status::io_error(fmt::format("sqlite: {}: {}", what, sqlite3_errmsg(db_)));
}

Status SqliteDb::exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    Status s = Status::io_error(fmt::format("sqlite: {}", msg ? msg : "error"));
    sqlite3_free(msg);
    return s;
  }
  return Status::ok();
}

Result<SqliteStatement> SqliteDb::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) != SQLITE_OK)
    return error("prepare");
  return SqliteStatement(db_, stmt);
}

SqliteTransaction::SqliteTransaction(SqliteDb& db) : db_(db) {
  nested_ = db_.in_transaction();
  begun_ = db_.exec(nested_ ? "SAVEPOINT drover_call" : "BEGIN IMMEDIATE");
  open_ = begun_.is_ok();
}

SqliteTransaction::~SqliteTransaction() {
  if (!open_) return;
  if (nested_) db_.exec("ROLLBACK TO drover_call; RELEASE drover_call");
  else db_.exec("ROLLBACK");
}

Status SqliteTransaction::commit() {
  if (!open_) return begun_;
  Status s = db_.exec(nested_ ? "RELEASE drover_call" : "COMMIT");
  open_ = !s.is_ok();
  return s;
}

}  // namespace drover::jobs
