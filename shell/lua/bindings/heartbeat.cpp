// heartbeat(): the engine's heartbeat socket, where workers send keep-alives, and what
// it did with the messages it received (help/heartbeat.md). Per-worker heartbeat state
// is shown by status() and pstree(); this is the socket's side.
#include "shell/lua/binding.h"
#include "shell/lua/shell_context.h"
#include "shell/lua/view.h"

namespace drover {

namespace {

void set_count(lua_State* L, const char* key, uint64_t v) {
  lua_pushinteger(L, static_cast<lua_Integer>(v));
  lua_setfield(L, -2, key);
}

int l_heartbeat(lua_State* L) {
  return guarded(L, [L] {
    const HeartbeatStats hb = checked(L, shell_context_of(L).client.snapshot()).heartbeat;
    lua_createtable(L, 0, 7);
    // endpoint: what workers get in DROVER_HEARTBEAT; endpoints: every bound socket
    // (the first is that one; --heartbeat and --wpm-compat add more).
    lua_pushstring(L, hb.worker_endpoint.c_str());
    lua_setfield(L, -2, "endpoint");
    lua_createtable(L, static_cast<int>(hb.endpoints.size()), 0);
    for (size_t i = 0; i < hb.endpoints.size(); ++i) {
      lua_pushstring(L, hb.endpoints[i].c_str());
      lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
    }
    lua_setfield(L, -2, "endpoints");
    // received = accepted + malformed + oversized + unknown_pid: each message counted once.
    set_count(L, "received", hb.received);
    set_count(L, "accepted", hb.accepted);
    set_count(L, "malformed", hb.malformed);
    set_count(L, "oversized", hb.oversized);
    set_count(L, "unknown_pid", hb.unknown_pid);
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
