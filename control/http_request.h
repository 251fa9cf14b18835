// drover's own HTTP request and response, as the route handlers see them: plain values,
// independent of the server library underneath (control/mhd_server.cpp fills them).
//
// A handler reads an HttpRequest whose body is complete, and writes an HttpResponse;
// a response that goes on over time (Server-Sent Events) carries a StreamBody instead of
// a body, which the server pulls from as the client can take it.
#pragma once

#include <strings.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace drover::http {

// Header names compare without case, as HTTP says.
struct CaseLess {
  bool operator()(const std::string& a, const std::string& b) const { return strcasecmp(a.c_str(), b.c_str()) < 0; }
};

// Who sent the request, and through which listener.
struct Peer {
  bool unix_socket = false;  // came through start_unix()'s socket
  std::string address;       // numeric IP of a TCP peer; the socket path for a unix one
  bool loopback = false;     // a TCP peer on 127.0.0.0/8 or ::1
  uid_t uid = static_cast<uid_t>(-1);  // a unix peer's uid (SO_PEERCRED)
};

struct HttpRequest {
  std::string method, path;
  // The route's regex groups: [0] the whole path, [1].. the groups (set by the router).
  std::vector<std::string> matches;
  std::map<std::string, std::string, CaseLess> headers;
  std::map<std::string, std::string> params;  // the query string, decoded
  std::string body;
  Peer peer;

  bool has_header(const std::string& name) const { return headers.count(name) != 0; }
  std::string get_header_value(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  bool has_param(const std::string& name) const { return params.count(name) != 0; }
  std::string get_param_value(const std::string& name) const {
    auto it = params.find(name);
    return it == params.end() ? "" : it->second;
  }
};

// A response body produced over time. The server calls next() on its own thread, one
// call at a time; set_waker()'s callback may be called from any thread.
class StreamBody {
 public:
  enum class Next { kData, kWait, kEnd };
  virtual ~StreamBody() = default;
  // Appends what is ready to `out`: kData when it appended, kWait when there is nothing
  // now (the server then parks the connection until wake or deadline()), kEnd when the
  // stream is over (what was appended is still sent).
  virtual Next next(std::string& out) = 0;
  // The callback that says "next() may have something now".
  virtual void set_waker(std::function<void()> wake) = 0;
  // When next() must be asked again even without a wake (a keep-alive due, a check).
  virtual std::chrono::steady_clock::time_point deadline() const = 0;
  // The connection is over, whichever side ended it. Called once.
  virtual void finished() = 0;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  std::shared_ptr<StreamBody> stream;  // when set, sent instead of body, until it ends

  void set_header(const std::string& name, const std::string& value) { headers.emplace_back(name, value); }
  void set_content(std::string text, std::string type) {
    body = std::move(text);
    content_type = std::move(type);
  }
};

}  // namespace drover::http
