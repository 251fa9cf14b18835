// workerpoolmanager's records, as its routes show them (/tasks, /tasks/NAME, /tasks/NAME/list):
// a task (a pool, running or not) and a worker line. Each is described once (wpm_view.cpp),
// and that description writes both the text its console prints and the JSON a client asks
// for with Accept: application/json. Pure; any thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/snapshot.h"

namespace drover {

struct WpmTask {
  std::string name;
  bool running = false;  // enabled with a target above 0
  std::string started_at, last_alive_at;  // RFC 3339; "" when none
  int active = 0, cardinality = 0;
  uint64_t dead = 0;  // bad exits and kills

  static WpmTask of(const PoolSnapshot& p);
};

struct WpmWorker {
  std::string task;
  int slot = 0;
  pid_t pid = 0;
  std::string started_at, last_alive_at;

  // The pool's workers with a process (a slot waiting out its backoff has none to list).
  static std::vector<WpmWorker> of(const PoolSnapshot& p);
};

// "Task name:\tfoo\nRunning:\ttrue\n..." (each line ends with '\n'); the rest only while running.
std::string wpm_text(const WpmTask& t);
nlohmann::json wpm_json(const WpmTask& t);
// "Task: foo,\tPid: 123,\tStarted: ...,\tLast alive at: ..." (no '\n').
std::string wpm_text(const WpmWorker& w);
nlohmann::json wpm_json(const WpmWorker& w);

}  // namespace drover
