// The fleet of a shared PostgreSQL store: each host's row in drover_hosts, its lease, and
// the recovery of a host that went silent. Every host does the recovery as part of its
// renewal; no host is in charge, so none is missed when one dies.
//
// Why it cannot double-count: a host whose lease ran out is taken with FOR UPDATE SKIP
// LOCKED, so of two hosts renewing at one moment one takes it and the other passes it
// by; its jobs go back and its row is deleted in the same transaction, and after that
// commit the row is gone, so nobody takes it again. A host that comes back under its old
// name (a restart) upserts its row before it claims anything, so a peer never mistakes
// the new run's jobs for the old run's; the old run's are put back by its own
// requeue_running() at start, or by a peer if the lease ran out first (never both: each
// is a single UPDATE of rows still 'running' on that host).
#include <fmt/format.h>

#include "jobs/pg_job_store.h"

namespace drover::jobs {

Result<LeaseRenewal> PgJobStore::renew_lease(const HostRecord& me, int64_t now_ms) {
  PgTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  // A new pid under the name: a restart, so its start time is the new one's.
  auto up = db_->query(
      "INSERT INTO drover_hosts (name, pid, http, started_ms, lease_until_ms, pools) VALUES ($1, $2, $3, $4, $5, $6) "
      "ON CONFLICT (name) DO UPDATE SET pid = EXCLUDED.pid, http = EXCLUDED.http, "
      "started_ms = CASE WHEN drover_hosts.pid = EXCLUDED.pid THEN drover_hosts.started_ms ELSE EXCLUDED.started_ms "
      "END, lease_until_ms = EXCLUDED.lease_until_ms, pools = EXCLUDED.pools",
      {me.name, me.pid, me.http, me.started_ms, me.lease_until_ms, me.pools});
  if (!up) return up.error();
  auto gone = db_->query(
      "SELECT name FROM drover_hosts WHERE lease_until_ms < $1 AND name <> $2 ORDER BY name FOR UPDATE SKIP LOCKED",
      {now_ms, me.name});
  if (!gone) return gone.error();
  LeaseRenewal out;
  for (int i = 0; i < gone->rows(); ++i) {
    const std::string name = gone->text(i, 0);
    auto jobs = requeue_running_of(name, now_ms, fmt::format("host {} went silent while its last attempt ran", name));
    if (!jobs) return jobs.error();
    if (auto d = db_->query("DELETE FROM drover_hosts WHERE name = $1", {name}); !d) return d.error();
    out.expired.push_back(name);
    out.requeued.insert(out.requeued.end(), jobs->begin(), jobs->end());
  }
  if (Status s = tx.commit(); !s) return s;
  return out;
}

Status PgJobStore::leave(const std::string& host, int64_t now_ms) {
  // What still runs here when drover stops has no one to finish it: back to the queue
  // now, where a peer starts it at once, rather than at the lease's end.
  PgTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto jobs = requeue_running_of(host, now_ms, fmt::format("host {} stopped while its last attempt ran", host));
  if (!jobs) return jobs.error();
  if (auto r = db_->query("DELETE FROM drover_hosts WHERE name = $1", {host}); !r) return r.error();
  return tx.commit();
}

Result<Fleet> PgJobStore::fleet(int64_t now_ms) {
  PgTransaction tx(*db_);
  if (!tx.begun()) return tx.begun();
  auto hosts = db_->query(
      "SELECT h.name, h.pid, h.http, h.started_ms, h.lease_until_ms, h.pools, "
      "(SELECT count(*) FROM drover_jobs j WHERE j.state = 'running' AND j.host = h.name AND j.children = 0) "
      "FROM drover_hosts h ORDER BY h.name");
  if (!hosts) return hosts.error();
  Fleet f;
  for (int i = 0; i < hosts->rows(); ++i) {
    HostRecord& h = f.hosts.emplace_back();
    h.name = hosts->text(i, 0);
    h.pid = hosts->int64(i, 1);
    h.http = hosts->text(i, 2);
    h.started_ms = hosts->int64(i, 3);
    h.lease_until_ms = hosts->int64(i, 4);
    h.pools = hosts->text(i, 5);
    h.running_jobs = hosts->int64(i, 6);
  }
  if (Status s = tx.commit(); !s) return s;
  auto topics = live_stats(now_ms);
  if (!topics) return topics.error();
  f.topics = std::move(*topics);
  return f;
}

}  // namespace drover::jobs
