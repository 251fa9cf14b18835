#include "engine/heartbeat_receiver.h"

#include <zmq.h>

#include <array>
#include <cerrno>

#include <fmt/format.h>

namespace drover {

namespace {

Status zmq_failure(const std::string& what) {
  return Status::io_error(fmt::format("{}: {}", what, zmq_strerror(zmq_errno())));
}

}  // namespace

Result<std::unique_ptr<HeartbeatReceiver>> HeartbeatReceiver::open(const std::vector<std::string>& endpoints) {
  if (endpoints.empty()) return Status::invalid("heartbeat: no endpoint to bind");
  std::unique_ptr<HeartbeatReceiver> r(new HeartbeatReceiver());
  // One I/O thread is plenty: the work per message is in the loop thread anyway.
  r->context_ = zmq_ctx_new();
  if (!r->context_) return zmq_failure("heartbeat: zmq_ctx_new");
  zmq_ctx_set(r->context_, ZMQ_IO_THREADS, 1);
  zmq_ctx_set(r->context_, ZMQ_BLOCKY, 0);  // closing never waits on peers
  r->socket_ = zmq_socket(r->context_, ZMQ_SUB);
  if (!r->socket_) return zmq_failure("heartbeat: zmq_socket");
  int64_t max_msg = kMaxMessageBytes;
  int hwm = kReceiveQueue, linger = 0;
  zmq_setsockopt(r->socket_, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg);
  zmq_setsockopt(r->socket_, ZMQ_RCVHWM, &hwm, sizeof hwm);
  zmq_setsockopt(r->socket_, ZMQ_LINGER, &linger, sizeof linger);
  if (zmq_setsockopt(r->socket_, ZMQ_SUBSCRIBE, "", 0) != 0) return zmq_failure("heartbeat: subscribe");
  for (const auto& ep : endpoints) {
    if (zmq_bind(r->socket_, ep.c_str()) != 0) return zmq_failure(fmt::format("heartbeat: cannot bind {}", ep));
    std::array<char, 1024> last{};
    size_t len = last.size();
    if (zmq_getsockopt(r->socket_, ZMQ_LAST_ENDPOINT, last.data(), &len) == 0 && len > 1)
      r->endpoints_.emplace_back(last.data());
    else
      r->endpoints_.push_back(ep);
  }
  size_t fd_len = sizeof r->fd_;
  if (zmq_getsockopt(r->socket_, ZMQ_FD, &r->fd_, &fd_len) != 0) return zmq_failure("heartbeat: ZMQ_FD");
  return r;
}

HeartbeatReceiver::~HeartbeatReceiver() {
  if (socket_) zmq_close(socket_);  // also removes ipc:// socket files
  if (context_) zmq_ctx_term(context_);
}

bool HeartbeatReceiver::drain(size_t max, const OnMessage& on_message) {
  std::array<zmq_msg_t, kMaxFrames> parts;
  for (auto& p : parts) zmq_msg_init(&p);
  std::array<std::string_view, kMaxFrames> views;
  bool budget_hit = false;
  for (size_t n = 0;; ++n) {
    if (n == max) {
      budget_hit = true;
      break;
    }
    size_t kept = 0;
    bool more_frames = false;
    bool got = false;
    while (true) {
      zmq_msg_t& into = kept < kMaxFrames ? parts[kept] : parts[kMaxFrames - 1];
      if (kept >= kMaxFrames) more_frames = true;
      if (zmq_msg_recv(&into, socket_, ZMQ_DONTWAIT) < 0) break;  // EAGAIN (or EINTR): queue empty
      got = true;
      if (kept < kMaxFrames) ++kept;
      if (!zmq_msg_more(&into)) break;
    }
    if (!got) break;
    for (size_t i = 0; i < kept; ++i)
      views[i] = std::string_view(static_cast<const char*>(zmq_msg_data(&parts[i])), zmq_msg_size(&parts[i]));
    on_message(std::span<const std::string_view>(views.data(), kept), more_frames);
  }
  for (auto& p : parts) zmq_msg_close(&p);
  // Reading ZMQ_EVENTS re-arms the edge of ZMQ_FD; the loop's epoll is level-triggered,
  // so a signal still pending keeps the fd readable and we come back.
  int events = 0;
  size_t len = sizeof events;
  zmq_getsockopt(socket_, ZMQ_EVENTS, &events, &len);
  return budget_hit || (events & ZMQ_POLLIN);
}

}  // namespace drover
