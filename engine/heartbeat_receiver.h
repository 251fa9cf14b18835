// HeartbeatReceiver: the engine's ZeroMQ SUB socket for worker keep-alives.
//
// One SUB socket, subscribed to everything, bound on every endpoint (an ipc:// path in
// the runtime directory by default; tcp for remote or workerpoolmanager workers). The
// loop watches fd(); on a wake-up drain() reads whole messages without blocking and
// hands each one's frames to a callback (parsing is heartbeat_message's job).
//
// ZMQ_FD is edge-like: it signals "something changed", so a reader must drain until
// ZMQ_EVENTS has no POLLIN, or the fd may never wake the loop again. drain() stops early
// only at its budget and then says so: the caller must come back without waiting on fd().
//
// Limits: messages over kMaxMessageBytes make libzmq drop the sender's connection (memory
// is never spent on them); at most kMaxFrames frames of a message are kept, the rest read
// and discarded; the receive queue holds kReceiveQueue messages before ZeroMQ drops new
// ones, so a flood costs bounded memory.
// Thread: loop thread only (a ZeroMQ socket is not thread-safe).
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace drover {

class HeartbeatReceiver {
 public:
  static constexpr int kMaxMessageBytes = 1 << 20;
  static constexpr size_t kMaxFrames = 4;
  static constexpr int kReceiveQueue = 100000;

  // frames: what was kept of one message; more_frames: it had more than kMaxFrames.
  using OnMessage = std::function<void(std::span<const std::string_view> frames, bool more_frames)>;

  // Binds every endpoint; an error names the endpoint and libzmq's reason.
  static Result<std::unique_ptr<HeartbeatReceiver>> open(const std::vector<std::string>& endpoints);
  ~HeartbeatReceiver();
  HeartbeatReceiver(const HeartbeatReceiver&) = delete;
  HeartbeatReceiver& operator=(const HeartbeatReceiver&) = delete;

  int fd() const { return fd_; }
  // As bound: "tcp://127.0.0.1:*" comes back with its port.
  const std::vector<std::string>& endpoints() const { return endpoints_; }

  // Reads up to max messages. Returns true when it stopped at the budget (more may wait).
  bool drain(size_t max, const OnMessage& on_message);

 private:
  HeartbeatReceiver() = default;
  void* context_ = nullptr;
  void* socket_ = nullptr;
  int fd_ = -1;
  std::vector<std::string> endpoints_;
};

}  // namespace drover
