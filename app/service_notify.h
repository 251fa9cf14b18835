// ServiceNotify: systemd's readiness protocol (sd_notify), for `drover ... --no-shell`
// under a Type=notify unit: READY=1 once the pools are applied, RELOADING=1 / READY=1
// around a config reload, STOPPING=1 when a graceful stop begins.
//
// The protocol is one datagram of "KEY=VALUE\n" lines to the AF_UNIX socket named in
// NOTIFY_SOCKET ('@' for the abstract namespace). Twenty lines of code, not worth
// libsystemd as a dependency. from_environment() also removes NOTIFY_SOCKET from the
// environment, so workers (which inherit drover's) cannot speak for drover.
// Without NOTIFY_SOCKET every call does nothing.
#pragma once

#include <string>

namespace drover {

class ServiceNotify {
 public:
  static ServiceNotify from_environment();
  ~ServiceNotify();
  ServiceNotify(ServiceNotify&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }
  ServiceNotify(const ServiceNotify&) = delete;
  ServiceNotify& operator=(const ServiceNotify&) = delete;

  bool active() const { return fd_ >= 0; }
  // Sends the lines (e.g. "READY=1\nMAINPID=42"); false if not active or the send failed.
  bool send(const std::string& state) const;

 private:
  ServiceNotify() = default;
  int fd_ = -1;
  std::string path_;
};

}  // namespace drover
