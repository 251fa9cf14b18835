// The Server-Sent Event streams: the log follow gets a worker's lines as they are
// written, the event stream the engine's events; streams end when the client goes (its
// subscription closed, its thread back) and when the engine shuts down; a cap keeps them
// from starving the other routes.
#include <doctest/doctest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "control/snapshot_json.h"
#include "tests/support/http_client.h"

using namespace drover;
using namespace drover::test;
using nlohmann::json;

namespace {

// Opens a stream over a raw socket and returns the fd once the 200 and headers are in
// (-1 otherwise): a client that can vanish at an exact moment.
int open_raw_stream(int port, const std::string& path) {
  int fd = connect_to(port);
  if (fd < 0) return -1;
  const std::string req = "GET " + path + " HTTP/1.1\r\n" + kHostLine + kAuthLine + "Accept: text/event-stream\r\n\r\n";
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return -1;
  }
  std::string head = read_from(fd, 3000ms, "\r\n\r\n");
  if (raw_status(head) != 200) {
    close(fd);
    return -1;
  }
  return fd;
}

// The log lines in a follow's messages whose text starts with prefix.
std::vector<LogLine> lines_starting(const std::vector<SseMessage>& ms, const std::string& prefix) {
  std::vector<LogLine> out;
  for (const auto& m : ms) {
    auto l = log_line_from_json(json::parse(m.data));
    REQUIRE(l);
    if (l->text.rfind(prefix, 0) == 0) out.push_back(*l);
  }
  return out;
}

}  // namespace

TEST_CASE("http stream: the log follow gets a worker's lines as they are written - only its pool's") {
  Served s({fake_pool("ticker", 1, {"tick", "0.1"}), fake_pool("other", 1, {"tick", "0.05"})});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "ticker", 1); }, 5s));
  const pid_t ticker = running_pids(s.engine.snapshot(), "ticker")[0];
  SseReader follow(s.port(), "/api/v1/log/follow?pool=ticker");
  REQUIRE(wait_until([&] { return lines_starting(follow.messages(), "tick ").size() >= 5; }, 5s));
  CHECK(follow.status() == 200);
  const auto ms = follow.messages();
  std::vector<SseMessage> ticks;
  for (const auto& m : ms) {
    auto l = log_line_from_json(json::parse(m.data));
    REQUIRE(l);
    CHECK(l->pool == "ticker");  // ?pool= filters
    if (l->text.rfind("tick ", 0) != 0) continue;
    CHECK(l->pid == ticker);
    CHECK(l->stream == LogStream::kStdout);
    ticks.push_back(m);
  }
  REQUIRE(ticks.size() >= 5);
  // Consecutive, and each arrived when it was written (0.1 s apart), not in one batch.
  const auto first = lines_starting(ticks, "tick ");
  for (size_t i = 1; i < first.size(); ++i)
    CHECK(std::stoi(first[i].text.substr(5)) == std::stoi(first[i - 1].text.substr(5)) + 1);
  CHECK(ticks[4].received - ticks[0].received >= 250ms);
  CHECK(follow.text().find("Content-Type") == std::string::npos);  // the body only, no framing left
}

TEST_CASE("http stream: the event stream names each event - spawned - exited - resized") {
  Served s({fake_pool("foo", 1)});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 1); }, 5s));
  SseReader events(s.port(), "/api/v1/events");
  REQUIRE(wait_until([&] { return events.status() == 200; }, 5s));
  REQUIRE(s.client->Patch("/api/v1/config", R"({"foo": 2})", "application/json"));
  REQUIRE(wait_until([&] { return pool_running(s.engine, "foo", 2); }, 5s));
  const pid_t victim = running_pids(s.engine.snapshot(), "foo")[0];
  kill(victim, SIGKILL);
  auto saw = [&](const std::string& kind, pid_t pid) {
    for (const auto& m : events.messages()) {
      auto ev = event_from_json(json::parse(m.data));
      REQUIRE(ev);
      if (m.event == kind && event_kind_name(ev->kind) == kind && ev->pool == "foo" && (!pid || ev->pid == pid))
        return true;
    }
    return false;
  };
  REQUIRE(wait_until([&] { return saw("exited", victim) && saw("resized", 0); }, 5s));
  CHECK(saw("spawned", 0));
  for (const auto& m : events.messages()) CHECK(m.event != "message");  // every message is named
}

TEST_CASE("http stream: clients that vanish leave no subscriber - no stream - quiet or busy pools") {
  Served s({fake_pool("busy", 1, {"tick", "0.02"}), fake_pool("quiet", 1)});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "busy", 1) && pool_running(s.engine, "quiet", 1); }, 5s));
  const size_t base = s.engine.snapshot().subscribers;
  for (int round = 0; round < 3; ++round) {
    std::vector<int> fds;
    for (int i = 0; i < 20; ++i) {
      // A quiet pool's stream never writes: only the hang-up check can tell it is gone.
      int fd = open_raw_stream(s.port(), i % 2 ? "/api/v1/log/follow?pool=quiet" : (i % 4 ? "/api/v1/events"
                                                                                          : "/api/v1/log/follow"));
      REQUIRE(fd >= 0);
      fds.push_back(fd);
    }
    CHECK(s.http.open_streams() == 20);
    CHECK(s.engine.snapshot().subscribers == base + 20);
    for (int fd : fds) close(fd);
    REQUIRE(wait_until([&] { return s.http.open_streams() == 0 && s.engine.snapshot().subscribers == base; }, 3s));
  }
  // And through a real client's stop().
  {
    SseReader r(s.port(), "/api/v1/log/follow?pool=quiet");
    REQUIRE(wait_until([&] { return s.http.open_streams() == 1; }, 3s));
  }
  REQUIRE(wait_until([&] { return s.http.open_streams() == 0 && s.engine.snapshot().subscribers == base; }, 3s));
  auto r = s.client->Get("/healthz");
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE("http stream: at most max_streams - then 503 - the other routes still answer - keep-alive comments") {
  HttpOptions options;
  options.max_streams = 2;
  options.keepalive = 200ms;
  Served s({fake_pool("quiet", 1)}, options);
  int a = open_raw_stream(s.port(), "/api/v1/log/follow?pool=quiet");
  int b = open_raw_stream(s.port(), "/api/v1/events");
  REQUIRE(a >= 0);
  REQUIRE(b >= 0);
  auto r = s.client->Get("/api/v1/events");
  REQUIRE(r);
  CHECK(r->status == 503);
  CHECK(json::parse(r->body)["error"] == "too_many_streams");
  r = s.client->Get("/api/v1/pools");
  REQUIRE(r);
  CHECK(r->status == 200);
  // A silent stream says it is alive every `keepalive`.
  std::string text = read_from(a, 1000ms);
  size_t n = 0;
  for (size_t pos = 0; (pos = text.find(": keepalive\n\n", pos)) != std::string::npos; ++pos) ++n;
  CHECK(n >= 3);
  close(a);
  REQUIRE(wait_until([&] { return s.http.open_streams() == 1; }, 3s));
  int c = open_raw_stream(s.port(), "/api/v1/log/follow");
  CHECK(c >= 0);
  close(b);
  close(c);
  r = s.client->Get("/api/v1/log/follow?pool=nope");
  REQUIRE(r);
  CHECK(r->status == 404);
}

TEST_CASE("http stream: an engine shutdown ends the streams cleanly - after the last lines - new ones get 503") {
  PoolSpec ticker = fake_pool("ticker", 1, {"tick", "0.05"});
  ticker.grace_s = 2;
  Served s({ticker});
  REQUIRE(wait_until([&] { return pool_running(s.engine, "ticker", 1); }, 5s));
  const pid_t pid = running_pids(s.engine.snapshot(), "ticker")[0];
  REQUIRE(wait_until([&] { return catches_signal(pid, SIGTERM); }, 5s));
  SseReader follow(s.port(), "/api/v1/log/follow");
  SseReader events(s.port(), "/api/v1/events");
  REQUIRE(wait_until([&] { return !lines_starting(follow.messages(), "tick ").empty(); }, 5s));
  REQUIRE(wait_until([&] { return events.status() == 200; }, 5s));
  s.engine.shutdown();
  REQUIRE(s.engine.wait_finished(5s));
  REQUIRE(wait_until([&] { return follow.ended() && events.ended(); }, 3s));
  CHECK(lines_starting(follow.messages(), "fake_worker: TERM").size() == 1);  // the worker's last words
  CHECK(events.messages().back().event == "shutdown-finished");
  CHECK(s.http.open_streams() == 0);
  auto r = s.client->Get("/api/v1/events");
  REQUIRE(r);
  CHECK(r->status == 503);
}
