#include "engine/size_batch.h"

namespace drover {

SizeBatch size_batch_from_config(const std::map<std::string, int>& sizes) {
  SizeBatch batch;
  for (const auto& [name, n] : sizes) {
    if (n == 0) batch.remove.insert(name);
    else batch.sizes[name] = n;
  }
  return batch;
}

}  // namespace drover
