// heartbeat(): the engine's heartbeat socket, where workers send keep-alives, and what
// it did with the messages it received (help/heartbeat.md). Per-worker heartbeat state
// is shown by status() and pstree(); this is the socket's side.
#include "shell/lua/binding.h"
#include "shell/lua/record_lua.h"
#include "shell/lua/shell_context.h"
#include "shell/lua/view.h"

namespace drover {

namespace {

int l_heartbeat(lua_State* L) {
  return guarded(L, [L] {
    const HeartbeatStats hb = checked(L, shell_context_of(L).client.snapshot()).heartbeat;
    // endpoint: what workers get in DROVER_HEARTBEAT; endpoints: every bound socket
    // (the first is that one; --heartbeat and --wpm-compat add more). received =
    // accepted + malformed + oversized + unknown_pid: each message counted once.
    push_record(L, hb);
    return 1;
  });
}

const Binding kBindings[] = {
    {"heartbeat", "heartbeat()", "the heartbeat socket workers send to, and counts of messages taken and ignored",
     l_heartbeat},
};

}  // namespace

std::span<const Binding> heartbeat_bindings() { return kBindings; }

}  // namespace drover
