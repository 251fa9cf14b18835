#include "app/enqueue_command.h"

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/options.h"
#include "app/remote_target.h"

namespace drover {

namespace {

constexpr size_t kBatch = 1000;

jobs::JobRequest request_of(const EnqueueOptions& o, std::string args) {
  jobs::JobRequest r;
  r.topic = o.topic;
  r.args = std::move(args);
  r.priority = o.priority;
  r.delay_s = o.delay_s;
  r.max_attempts = o.attempts;
  r.timeout_s = o.timeout_s;
  r.key = o.key;
  return r;
}

// Sends one batch; prints the ids. False (and why, on stderr) when it was refused.
bool send(RemoteClient& client, std::vector<jobs::JobRequest>& batch) {
  if (batch.empty()) return true;
  auto made = client.enqueue_jobs(std::move(batch));
  batch.clear();
  if (!made) {
    fmt::print(stderr, "drover enqueue: {}\n", made.error().message());
    return false;
  }
  for (const auto& j : *made) fmt::print("{}\n", j.id);
  std::fflush(stdout);
  return true;
}

}  // namespace

int run_enqueue_command(int argc, char** argv) {
  auto parsed = parse_enqueue_options(args_of(argc, argv, 1));
  std::fputs(parsed.out.c_str(), stdout);
  std::fputs(parsed.err.c_str(), stderr);
  if (!parsed.options) return parsed.exit_code;
  const EnqueueOptions& o = *parsed.options;
  Target target = find_target(o.to, "drover enqueue", "drover enqueue --to PID");
  if (!target.address) return target.rc;
  if (Status s = add_token(*target.address, o.token_file); !s) {
    fmt::print(stderr, "drover enqueue: {}\n", s.message());
    return 1;
  }
  RemoteClient client(*target.address);
  std::vector<jobs::JobRequest> batch;
  if (o.args) {
    if (!nlohmann::json::accept(*o.args)) {
      fmt::print(stderr, "drover enqueue: ARGS is not JSON: {}\n", *o.args);
      return 2;
    }
    batch.push_back(request_of(o, *o.args));
    return send(client, batch) ? 0 : 1;
  }
  std::string line;
  size_t line_no = 0;
  while (std::getline(std::cin, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (!nlohmann::json::accept(line)) {
      fmt::print(stderr, "drover enqueue: stdin line {} is not JSON: {}\n", line_no, line);
      return 2;
    }
    batch.push_back(request_of(o, line));
    if (batch.size() == kBatch && !send(client, batch)) return 1;
  }
  return send(client, batch) ? 0 : 1;
}

}  // namespace drover
