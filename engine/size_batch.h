// SizeBatch: one resize of many pools, with removals, applied by Engine::resize whole.
//
// config{} and PATCH /api/v1/config spell a batch as name -> n where 0 (or false)
// removes the pool; size_batch_from_config is the one place that spelling is read, so
// the shell, the HTTP route and the remote client cannot disagree about it.
#pragma once

#include <map>
#include <set>
#include <string>

namespace drover {

struct SizeBatch {
  std::map<std::string, int> sizes;  // existing pools to resize (0: keep the pool, no workers)
  std::set<std::string> remove;      // pools to stop and remove; one not there is already removed
};

// config{}'s spelling: n > 0 resizes, 0 removes (a negative n stays in sizes, to be
// rejected with the rest of the batch).
SizeBatch size_batch_from_config(const std::map<std::string, int>& sizes);

}  // namespace drover
