#include "engine/reconciler.h"

#include <algorithm>
#include <unordered_set>

namespace drover {

namespace {

// Lower rank retires first.
int retire_rank(const SlotView& s) {
  switch (s.phase) {
    case SlotView::Phase::kGaveUp: return 0;
    case SlotView::Phase::kFlapping: return 1;
    case SlotView::Phase::kBackoff: return 2;
    case SlotView::Phase::kStarting: return 3;  // costs a spawn, but no work is lost
    case SlotView::Phase::kStalled: return 3;   // already being stopped
    default: return !s.busy ? 5 : *s.busy ? 6 : 4;
  }
}

bool wanted(const SlotView& s) { return s.phase != SlotView::Phase::kRetiring; }

}  // namespace

ReconcilePlan reconcile(int target, const std::vector<SlotView>& slots, uint64_t generation) {
  ReconcilePlan plan;
  std::vector<const SlotView*> live;
  std::unordered_set<int> used;
  bool stopping_any = false;
  for (const auto& s : slots) {
    used.insert(s.slot);
    if (wanted(s)) live.push_back(&s);
    if (s.phase == SlotView::Phase::kRetiring || s.phase == SlotView::Phase::kRolling ||
        s.phase == SlotView::Phase::kStalled)
      stopping_any = true;
  }
  const int have = static_cast<int>(live.size());
  if (have < target) {
    for (int idx = 0; static_cast<int>(plan.create.size()) < target - have; ++idx)
      if (!used.count(idx)) plan.create.push_back(idx);
    // Growing while a roll is pending: new workers already get the new generation.
  } else if (have > target) {
    std::vector<const SlotView*> order(live);
    std::sort(order.begin(), order.end(), [](const SlotView* a, const SlotView* b) {
      int ra = retire_rank(*a), rb = retire_rank(*b);
      if (ra != rb) return ra < rb;
      if (a->started_seq != b->started_seq) return a->started_seq > b->started_seq;  // newest first
      return a->slot > b->slot;
    });
    for (int i = 0; i < have - target; ++i) plan.retire.push_back(order[i]->slot);
    return plan;  // no rolling while shrinking: the retired may be the old ones anyway
  }
  if (!stopping_any) {
    const SlotView* oldest = nullptr;
    for (const SlotView* s : live)
      if (s->phase == SlotView::Phase::kRunning && s->generation < generation &&
          (!oldest || s->started_seq < oldest->started_seq))
        oldest = s;
    if (oldest) plan.roll = oldest->slot;
  }
  return plan;
}

}  // namespace drover
