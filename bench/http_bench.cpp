// http_bench: request latency of the HTTP control plane with N workers running (issue 6:
// status p99 under 5 ms with 1000 workers). Figures, not pass/fail.
//
// An in-process engine with N /bin/sleep workers, HttpControl on a free loopback port, and
// C client threads each making R requests over a kept-alive connection. Reported per
// route: p50, p99, max, and errors.
//
//   build/bench/http_bench [N=1000] [CLIENTS=4] [REQUESTS=500]
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "control/http_control.h"
#include "engine/engine.h"

using namespace drover;
using Wall = std::chrono::steady_clock;

namespace {

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 1000;
  int clients = argc > 2 ? std::atoi(argv[2]) : 4;
  int requests = argc > 3 ? std::atoi(argv[3]) : 500;
  if (n < 1 || clients < 1 || requests < 1) {
    std::fprintf(stderr, "usage: http_bench [N=1000] [CLIENTS=4] [REQUESTS=500]\n");
    return 2;
  }
  Engine engine;
  PoolSpec p;
  p.name = "w";
  p.argv = {"/bin/sleep", "3600"};
  p.n = n;
  if (!engine.apply({p})) return 1;
  while (engine.snapshot().pools.at(0).running < n) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // TCP always takes a token; the bench's clients send this one.
  HttpOptions options;
  options.token = "http-bench-token-0123456789";
  HttpControl http(engine, options);
  if (!http.start("127.0.0.1", 0)) return 1;

  fmt::print("http_bench: {} workers, {} clients x {} requests per route, keep-alive\n\n", n, clients, requests);
  fmt::print("| route | p50 | p99 | max | errors |\n|---|---|---|---|---|\n");
  for (const char* route : {"/healthz", "/tasks/w", "/tasks", "/api/v1/pools", "/api/v1/pools/w", "/api/v1/pools/w/workers",
                            "/api/v1/snapshot", "/metrics"}) {
    std::vector<double> all;
    std::mutex mu;
    int errors = 0;
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c)
      threads.emplace_back([&] {
        httplib::Client cl("127.0.0.1", http.port());
        cl.set_bearer_token_auth(options.token.c_str());
        cl.set_keep_alive(true);
        std::vector<double> mine;
        int bad = 0;
        for (int i = 0; i < requests; ++i) {
          auto t0 = Wall::now();
          auto r = cl.Get(route);
          mine.push_back(std::chrono::duration<double, std::milli>(Wall::now() - t0).count());
          if (!r || r->status != 200) ++bad;
        }
        std::lock_guard lock(mu);
        all.insert(all.end(), mine.begin(), mine.end());
        errors += bad;
      });
    for (auto& t : threads) t.join();
    fmt::print("| GET {} | {:.3f} ms | {:.3f} ms | {:.3f} ms | {} |\n", route, percentile(all, 0.5),
               percentile(all, 0.99), percentile(all, 1.0), errors);
  }
  return 0;
}
