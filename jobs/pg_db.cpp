#include "jobs/pg_db.h"

#include <cstdlib>

#include <fmt/format.h>

namespace drover::jobs {

namespace {

// postgresql://user:secret@host/db -> postgresql://user:***@host/db: messages and logs
// name the database, never the password.
std::string masked(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const auto at = url.find('@', scheme + 3);
  if (at == std::string::npos) return url;
  const auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

std::string trimmed(const char* s) {
  std::string t = s ? s : "";
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return t;
}

}  // namespace

PgParam::PgParam(double v) : text(fmt::format("{}", v)) {}

int64_t PgResult::affected() const { return std::strtoll(PQcmdTuples(r_), nullptr, 10); }

std::string PgResult::text(int row, int col) const {
  return std::string(PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col)));
}

int64_t PgResult::int64(int row, int col) const { return std::strtoll(PQgetvalue(r_, row, col), nullptr, 10); }

double PgResult::real(int row, int col) const { return std::strtod(PQgetvalue(r_, row, col), nullptr); }

Result<std::unique_ptr<PgDb>> PgDb::connect(const std::string& url) {
  // The URL as the dbname expands to all it says; what follows only fills in what it left
  // out. A server that does not answer is given up on after 5 s; keepalives notice a peer
  // gone without a goodbye (a host cut off) within 25 s of silence, and tcp_user_timeout
  // a request the peer never acknowledged within 10 s: the store thread is never stuck
  // for long on a dead socket, and the calls waiting on it get an error, not a hang.
  const char* keys[] = {"dbname", "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
                        "keepalives_count", "tcp_user_timeout", "application_name", nullptr};
  const char* values[] = {url.c_str(), "5", "1", "10", "5", "3", "10000", "drover", nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, 1);
  if (!conn) return Status::unavailable(fmt::format("{}: out of memory", masked(url)));
  if (PQstatus(conn) != CONNECTION_OK) {
    Status s = Status::unavailable(fmt::format("{}: {}", masked(url), trimmed(PQerrorMessage(conn))));
    PQfinish(conn);
    return s;
  }
  std::unique_ptr<PgDb> db(new PgDb(conn, masked(url)));
  // Warnings and notices (a savepoint released, an index that exists) are not ours to print.
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  return db;
}

PgDb::~PgDb() { PQfinish(conn_); }

bool PgDb::in_transaction() const {
  const auto t = PQtransactionStatus(conn_);
  return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

bool PgDb::ensure_connected() {
  if (PQstatus(conn_) == CONNECTION_OK) return true;
  PQreset(conn_);
  return PQstatus(conn_) == CONNECTION_OK;
}

Status PgDb::error_of(const PGresult* r, const std::string& what) const {
  if (PQstatus(conn_) != CONNECTION_OK)
    return Status::unavailable(fmt::format("{}: the connection broke: {}", where_, trimmed(PQerrorMessage(conn_))));
  const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  const std::string msg = primary ? primary : trimmed(r ? PQresultErrorMessage(r) : PQerrorMessage(conn_));
  return Status::io_error(fmt::format("postgresql: {}{}", what.empty() ? "" : what + ": ", msg));
}

Status PgDb::exec(const std::string& sql) {
  if (!in_transaction() && !ensure_connected())
    return Status::unavailable(fmt::format("{}: {}", where_, trimmed(PQerrorMessage(conn_))));
  PGresult* r = PQexec(conn_, sql.c_str());
  const auto st = PQresultStatus(r);
  Status s = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? Status::ok() : error_of(r, "");
  PQclear(r);
  return s;
}

Result<PgResult> PgDb::query(const std::string& sql, const std::vector<PgParam>& params) {
  if (!in_transaction() && !ensure_connected())
    return Status::unavailable(fmt::format("{}: {}", where_, trimmed(PQerrorMessage(conn_))));
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const PgParam& p : params) values.push_back(p.text ? p.text->c_str() : nullptr);
  PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(), nullptr,
                             nullptr, 0);
  const auto st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    Status s = error_of(r, "");
    PQclear(r);
    return s;
  }
  return PgResult(r);
}

Result<std::vector<std::string>> PgDb::notifications() {
  if (!PQconsumeInput(conn_))
    return Status::unavailable(fmt::format("{}: the connection broke: {}", where_, trimmed(PQerrorMessage(conn_))));
  std::vector<std::string> out;
  while (PGnotify* n = PQnotifies(conn_)) {
    out.emplace_back(n->extra ? n->extra : "");
    PQfreemem(n);
  }
  return out;
}

Status PgDb::begin() {
  Status s = exec("BEGIN");
  if (s || PQstatus(conn_) == CONNECTION_OK) return s;
  return exec("BEGIN");  // exec resets the broken connection first
}

PgTransaction::PgTransaction(PgDb& db) : db_(db) {
  nested_ = db_.in_transaction();
  begun_ = nested_ ? db_.exec("SAVEPOINT drover_call") : db_.begin();
  open_ = begun_.is_ok();
}

PgTransaction::~PgTransaction() {
  if (!open_) return;
  if (nested_) db_.exec("ROLLBACK TO SAVEPOINT drover_call; RELEASE SAVEPOINT drover_call");
  else db_.exec("ROLLBACK");
}

Status PgTransaction::commit() {
  if (!open_) return begun_;
  // PostgreSQL answers COMMIT of a transaction a failed statement aborted with ROLLBACK
  // and no error: a caller would believe undone work committed. Refuse it here.
  if (!nested_ && db_.aborted()) {
    db_.exec("ROLLBACK");
    open_ = false;
    return Status::io_error("postgresql: a statement of this transaction failed: rolled back");
  }
  Status s = db_.exec(nested_ ? "RELEASE SAVEPOINT drover_call" : "COMMIT");
  open_ = !s.is_ok() && db_.in_transaction();
  return s;
}

}  // namespace drover::jobs
