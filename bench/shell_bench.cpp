// shell_bench: what an operator waits for at the prompt with 1000 workers running:
// status() (snapshot through the inbox, Lua table, rendered view) and config{...}
// (validate, resize live, read back). Runs the real bindings in a real Lua state.
//
//   build/bench/shell_bench [N=1000] [ROUNDS=200]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "api/local_client.h"
#include "engine/engine.h"
#include "shell/lua/lua_state.h"
#include "shell/lua/pretty.h"

using namespace drover;
using Wall = std::chrono::steady_clock;

namespace {

struct Figures {
  double p50, p99, max;
};

Figures measure(LuaState& lua, const std::string& code, int rounds) {
  std::vector<double> ms;
  lua_State* L = lua.get();
  for (int i = 0; i < rounds; ++i) {
    auto t0 = Wall::now();
    if (luaL_loadstring(L, code.c_str()) != LUA_OK || lua.call(0, 1) != LUA_OK) {
      std::fprintf(stderr, "shell_bench: %s\n", lua_tostring(L, -1));
      std::exit(1);
    }
    std::string shown = pretty_value(L, -1);  // what the REPL does with the result
    lua_pop(L, 1);
    ms.push_back(std::chrono::duration<double, std::milli>(Wall::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 99 / 100)], ms.back()};
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 200;
  EngineOptions opts;
  opts.log_path = "/dev/null";
  Engine engine(opts);
  PoolSpec a;
  a.name = "a";
  a.argv = {"/bin/sleep", "3600"};
  a.n = n;
  engine.apply({a});
  while (engine.snapshot().pools.at(0).running < n) std::this_thread::sleep_for(std::chrono::milliseconds(5));

  LocalClient client(engine);
  ShellContext ctx(client);
  std::FILE* devnull = std::fopen("/dev/null", "w");
  ctx.out = devnull;
  LuaState lua(ctx);

  Figures status = measure(lua, "return status()", rounds);
  Figures cfg_same = measure(lua, "return config{a = " + std::to_string(n) + "}", rounds);
  // Alternate n and n+1: one worker started, then stopped again, every call.
  Figures cfg_flip = measure(lua, "local c = config() return config{a = c.a == " + std::to_string(n) + " and " +
                                      std::to_string(n + 1) + " or " + std::to_string(n) + "}",
                             rounds);
  std::printf("shell_bench: %d workers, %d rounds each (ms)\n", n, rounds);
  std::printf("  %-34s p50 %6.3f  p99 %6.3f  max %6.3f\n", "status() + render", status.p50, status.p99, status.max);
  std::printf("  %-34s p50 %6.3f  p99 %6.3f  max %6.3f\n", "config{a=n} (no change)", cfg_same.p50, cfg_same.p99,
              cfg_same.max);
  std::printf("  %-34s p50 %6.3f  p99 %6.3f  max %6.3f\n", "config{a=n+1 / n} (live resize)", cfg_flip.p50,
              cfg_flip.p99, cfg_flip.max);
  engine.shutdown();
  engine.wait_finished(Duration::max());
  std::fclose(devnull);
  return 0;
}
