// The two watchers of drover's stop that main starts around the engine: StartupSignals
// while the config file runs at start (before the engine reads its signals) and StopWatch
// from then on. Each cuts every Lua run off (stop_all_lua) when drover is told to stop, and
// exits the process when Lua sits in a C function that no hook reaches.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "engine/engine.h"

namespace drover {

// TERM, INT or QUIT while the config runs at start, before the engine exists (it reads
// them from a signalfd; until then they are blocked and would wait): every Lua run stops
// at its next instruction, and a config sitting in a C function no hook reaches (an
// os.execute("sleep 60")) ends with drover half a second later, as nothing has started.
class StartupSignals {
 public:
  StartupSignals() : thread_([this] { run(); }) {}
  ~StartupSignals() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  // The signal that came, or 0.
  int signal() const { return got_; }

 private:
  void run();
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::atomic<int> got_{0};
  std::thread thread_;
};

// TERM always ends drover. The engine stops the workers on its own thread, without the Lua
// lock; this thread makes sure Lua does not keep drover alive after that: when the
// shutdown starts every Lua run is cut off (a looping reload, policy or REPL chunk), and
// once the engine has finished drover exits within half a second even if Lua sits in a C
// function (os.execute) holding the Lua lock that main or the autoscaler waits for.
class StopWatch {
 public:
  StopWatch(Engine& engine, std::function<void()> before_exit)
      : engine_(engine), before_exit_(std::move(before_exit)), thread_([this] { run(); }) {}
  ~StopWatch() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  bool done() {
    std::lock_guard lock(mu_);
    return done_;
  }
  void run();
  Engine& engine_;
  std::function<void()> before_exit_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace drover
