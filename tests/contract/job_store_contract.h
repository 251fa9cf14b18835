// The job store's contract (jobs/job_store.h) as one suite of test cases that every store
// passes: tests/contract/job_store_contract.cpp holds the cases, and each test binary that
// links it says which store they run on by defining make_store_harness(): the unit tests
// the SQLite store, pg_tests the PostgreSQL store on a throwaway server.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "jobs/job_store.h"

namespace drover::test {

class StoreHarness {
 public:
  virtual ~StoreHarness() = default;
  // A store on this harness's database, empty at the harness's start. Opened again, it
  // reaches the same jobs: a drover restarted (the first one closed before). Its host
  // name, where the store keeps one, is "h".
  virtual std::unique_ptr<jobs::JobStore> open() = 0;
  // The schema version a store writes, stamped on the (empty) database as `version`;
  // then open() is expected to refuse it.
  virtual void set_schema_version(int64_t version) = 0;
  virtual int64_t schema_version() const = 0;
  // How the store names its database in messages (the file, the URL).
  virtual std::string where() const = 0;
};

// Defined by each binary that runs the contract.
std::unique_ptr<StoreHarness> make_store_harness();

}  // namespace drover::test
