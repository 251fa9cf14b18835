// jobs_http_bench: enqueue over HTTP, one job per request (the jobs issue's goal:
// >= 5,000 jobs/s with 8 clients). The real binary serves --http with a pool that takes
// jobs and has n = 0 (so nothing runs them: the figure is the enqueue path alone: HTTP,
// JSON, the store's group commit); 8 client threads, each with its own keep-alive
// connection, POST {"topic", "args"} for a fixed time.
//
//   build/bench/jobs_http_bench [SECONDS=5] [CLIENTS=8]
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>

extern char** environ;

namespace {

const char* kToken = "jobs-http-bench-token-0123456789abcdef";

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  const double seconds = argc > 1 ? std::atof(argv[1]) : 5;
  const int clients = argc > 2 ? std::atoi(argv[2]) : 8;
  std::string tmpl = (std::filesystem::temp_directory_path() / "drover-http-bench-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) return 1;
  const std::filesystem::path dir = tmpl;
  {
    std::ofstream(dir / "pools.lua") << "pool 'sink' { cmd = '/bin/true', n = 0, jobs = true }\n";
  }
  const std::string err = (dir / "drover.err").string();
  const std::string bin = DROVER_BIN;
  std::vector<std::string> args = {bin, (dir / "pools.lua").string(), "--no-shell", "-q", "--http", "127.0.0.1:0",
                                   "--state", (dir / "state").string()};
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) env_s.emplace_back(*e);
  env_s.push_back(std::string("DROVER_HTTP_TOKEN=") + kToken);
  env_s.push_back("XDG_STATE_HOME=" + dir.string());
  std::vector<char*> cenv;
  for (auto& e : env_s) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid;
  if (posix_spawn(&pid, bin.c_str(), &fa, nullptr, cargv.data(), cenv.data()) != 0) return 1;
  int port = 0;
  for (int i = 0; i < 500 && !port; ++i) {
    std::ifstream in(err);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    std::smatch m;
    if (std::regex_search(text, m, std::regex("serving http://127\\.0\\.0\\.1:(\\d+)/"))) port = std::stoi(m[1]);
    else std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!port) {
    fmt::print(stderr, "drover did not serve http\n");
    kill(pid, SIGKILL);
    return 1;
  }
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ok{0}, failed{0};
  std::vector<std::thread> threads;
  const auto t0 = std::chrono::steady_clock::now();
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      httplib::Client http("127.0.0.1", port);
      http.set_keep_alive(true);
      http.set_tcp_nodelay(true);  // as curl and most clients do: else Nagle holds the body 40 ms
      http.set_bearer_token_auth(kToken);
      for (uint64_t i = 0; !stop; ++i) {
        auto r = http.Post("/api/v1/jobs", fmt::format(R"({{"topic": "sink", "args": {{"c": {}, "i": {}}}}})", c, i),
                           "application/json");
        (r && r->status == 201 ? ok : failed)++;
      }
    });
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("enqueue over HTTP, one job per request, {} clients (keep-alive): {:.0f} jobs/s ({} in {:.1f} s, {} refused)\n",
             clients, ok / s, ok.load(), s, failed.load());
  kill(pid, SIGTERM);
  int st;
  waitpid(pid, &st, 0);
  std::filesystem::remove_all(dir);
  return 0;
}
