#include "engine/exit_reason.h"

#include <fmt/format.h>

#include "engine/pool_spec.h"

namespace drover {

ExitReason ExitReason::from_siginfo(const siginfo_t& info) {
  ExitReason r;
  r.code = info.si_status;
  r.signaled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
  r.core_dumped = info.si_code == CLD_DUMPED;
  return r;
}

std::string ExitReason::text() const {
  if (!signaled) return fmt::format("exit {}", code);
  return fmt::format("signal {} ({}{})", code, signal_name(code), core_dumped ? ", core dumped" : "");
}

}  // namespace drover
