#include "engine/snapshot.h"

namespace drover {

const char* slot_state_name(SlotState s) {
  switch (s) {
    case SlotState::kStarting: return "starting";
    case SlotState::kRunning: return "running";
    case SlotState::kBackoff: return "backoff";
    case SlotState::kFlapping: return "flapping";
    case SlotState::kGaveUp: return "gave-up";
    case SlotState::kStopping: return "stopping";
    case SlotState::kStalled: return "stalled";
  }
  return "?";
}

}  // namespace drover
