#include "engine/reconciler.h"

#include <doctest/doctest.h>

#include <algorithm>

using namespace drover;
using Phase = SlotView::Phase;

namespace {
std::vector<SlotView> running(int n, uint64_t gen = 1) {
  std::vector<SlotView> v;
  for (int i = 0; i < n; ++i) v.push_back({i, Phase::kRunning, i + 1, gen, std::nullopt});  // never said busy
  return v;
}
}  // namespace

TEST_CASE("reconcile: grows at the lowest free slot indices") {
  auto slots = running(2);
  slots[1].slot = 3;  // slots 0 and 3 exist
  auto plan = reconcile(5, slots, 1);
  CHECK(plan.create == std::vector<int>{1, 2, 4});
  CHECK(plan.retire.empty());
  CHECK(plan.roll == -1);
}

TEST_CASE("reconcile: at target - nothing happens to anyone") {
  auto plan = reconcile(3, running(3), 1);
  CHECK(plan.create.empty());
  CHECK(plan.retire.empty());
  CHECK(plan.roll == -1);
}

TEST_CASE("reconcile: shrinking stops the newest first") {
  auto slots = running(5);
  slots[0].started_seq = 50;  // slot 0 was respawned last: the newest
  auto plan = reconcile(2, slots, 1);
  std::sort(plan.retire.begin(), plan.retire.end());
  CHECK(plan.retire == std::vector<int>{0, 3, 4});
}

TEST_CASE("reconcile: shrinking drops slots without a process before running workers") {
  auto slots = running(4);
  slots[1].phase = Phase::kBackoff;
  slots[2].phase = Phase::kFlapping;
  auto plan = reconcile(2, slots, 1);
  std::sort(plan.retire.begin(), plan.retire.end());
  CHECK(plan.retire == std::vector<int>{1, 2});
}

TEST_CASE("reconcile: shrinking stops idle workers before busy ones") {
  auto slots = running(3);
  slots[2].busy = true;  // newest but busy
  auto plan = reconcile(2, slots, 1);
  CHECK(plan.retire == std::vector<int>{1});
}

TEST_CASE("reconcile: shrinking order is idle - then never said - then busy - newest first in each") {
  auto slots = running(6);
  slots[0].busy = false;  // oldest, idle
  slots[1].busy = true;
  slots[5].busy = true;   // newest, busy
  // 2, 3, 4 never said.
  auto plan = reconcile(5, slots, 1);
  CHECK(plan.retire == std::vector<int>{0});
  plan = reconcile(2, slots, 1);
  CHECK(plan.retire == std::vector<int>{0, 4, 3, 2});
  plan = reconcile(0, slots, 1);
  CHECK(plan.retire == std::vector<int>{0, 4, 3, 2, 5, 1});
}

TEST_CASE("reconcile: a stalled worker is wanted - retired before running ones - and blocks a roll") {
  auto slots = running(3);
  slots[0].phase = Phase::kStalled;  // being stopped, to be replaced
  auto plan = reconcile(3, slots, 1);
  CHECK(plan.create.empty());  // it counts: its replacement comes when it has exited
  plan = reconcile(2, slots, 1);
  CHECK(plan.retire == std::vector<int>{0});
  plan = reconcile(3, slots, 2);
  CHECK(plan.roll == -1);  // capacity already dips by one
}

TEST_CASE("reconcile: retiring workers do not count toward the target") {
  auto slots = running(3);
  slots[2].phase = Phase::kRetiring;
  auto plan = reconcile(3, slots, 1);
  CHECK(plan.create == std::vector<int>{3});  // slot 2 is still taken by the dying worker
}

TEST_CASE("reconcile: rolling replaces one old worker at a time - oldest first") {
  auto slots = running(3, /*gen=*/1);
  auto plan = reconcile(3, slots, 2);
  CHECK(plan.roll == 0);
  slots[0].phase = Phase::kRolling;
  plan = reconcile(3, slots, 2);
  CHECK(plan.roll == -1);  // one at a time
  slots[0] = {0, Phase::kRunning, 10, 2, false};
  plan = reconcile(3, slots, 2);
  CHECK(plan.roll == 1);
}

TEST_CASE("reconcile: target zero retires everything") {
  auto plan = reconcile(0, running(3), 1);
  CHECK(plan.retire.size() == 3);
}
