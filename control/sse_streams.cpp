// Server-Sent Events: GET /api/v1/log/follow (one `data: {line}` per log line) and
// GET /api/v1/events (`event: KIND` and `data: {event}`), both with ?pool=.
//
// A stream is a StreamBody (control/http_request.h) over the stream's own engine
// Subscription. The server pulls from it when the client can take more; when the
// subscription is empty it says kWait and the server parks the connection, holding no
// thread, until the subscription's push wakes it or a keep-alive is due
// (control/mhd_server.cpp). The ways a stream ends:
//   - The client went away: the server sees the hang-up, even while parked.
//   - The engine finished shutting down: what is queued is sent, then the stream ends.
//   - The server stops (HttpControl's destructor): the server ends every stream.
// However it ends, finished() closes the subscription (the engine lets go of it at its
// next published line) and frees the stream's place under max_streams.
#include <fmt/format.h>

#include "control/http_control.h"
#include "control/http_reply.h"
#include "control/snapshot_json.h"

namespace drover {

using namespace http;

namespace {

using SteadyClock_ = std::chrono::steady_clock;

// Items a slow client may fall behind by before the oldest are dropped (and said so):
// with 32 streams of 4096 lines of ~200 bytes, at most ~26 MB held for slow clients.
constexpr size_t kQueue = 4096;
// One pull's worth: a burst is sent in pieces of about this size.
constexpr size_t kBatchBytes = 64 * 1024;

class SseStream final : public StreamBody {
 public:
  SseStream(Engine& engine, std::shared_ptr<Subscription> sub, std::optional<std::string> pool,
            std::chrono::milliseconds keepalive, std::atomic<int>& open)
      : engine_(engine), sub_(std::move(sub)), pool_(std::move(pool)), keepalive_(keepalive), open_(open) {}

  Next next(std::string& out) override {
    bool had_items = false;
    while (auto item = sub_->pop(Duration::zero())) {
      had_items = true;
      out += frame(*item);
      if (out.size() >= kBatchBytes) break;
    }
    if (uint64_t dropped = sub_->dropped(); dropped > dropped_told_) {
      out += fmt::format(": {} items dropped: this client fell behind\n\n", dropped - dropped_told_);
      dropped_told_ = dropped;
    }
    const auto now = SteadyClock_::now();
    if (out.empty() && now - last_write_.load() >= keepalive_) out = ": keepalive\n\n";
    if (!out.empty()) {
      last_write_ = now;
      return Next::kData;
    }
    if (!had_items && engine_.finished()) return Next::kEnd;
    return Next::kWait;
  }
  void set_waker(std::function<void()> wake) override { sub_->set_on_push(std::move(wake)); }
  SteadyClock_::time_point deadline() const override { return last_write_.load() + keepalive_; }
  void finished() override {
    sub_->set_on_push(nullptr);
    sub_->close();
    open_.fetch_sub(1);
  }

 private:
  // One SSE message for an item, or "" when ?pool= filters it out. JSON has no raw
  // newline, so each message is a single data line.
  std::string frame(const EngineItem& item) const {
    if (const LogLine* l = std::get_if<LogLine>(&item))
      return pool_ && l->pool != *pool_ ? "" : "data: " + log_line_json_text(*l) + "\n\n";
    const Event& ev = std::get<Event>(item);
    if (pool_ && ev.pool != *pool_) return "";
    return fmt::format("event: {}\ndata: {}\n\n", event_kind_name(ev.kind), event_json_text(ev));
  }

  Engine& engine_;
  const std::shared_ptr<Subscription> sub_;
  const std::optional<std::string> pool_;
  const std::chrono::milliseconds keepalive_;
  std::atomic<int>& open_;
  std::atomic<SteadyClock_::time_point> last_write_{SteadyClock_::now()};  // read by the server's pump
  uint64_t dropped_told_ = 0;
};

}  // namespace

void HttpControl::stream_routes() {
  on("GET", "/api/v1/log/follow",
     [this](const HttpRequest& req, HttpResponse& res) { serve_stream(req, res, true); });
  on("GET", "/api/v1/events",
     [this](const HttpRequest& req, HttpResponse& res) { serve_stream(req, res, false); });
}

void HttpControl::serve_stream(const HttpRequest& req, HttpResponse& res, bool log_lines) {
  std::optional<std::string> pool;
  if (req.has_param("pool")) pool = req.get_param_value("pool");
  {
    EngineSnapshot snap = engine_.snapshot();
    if (snap.shutting_down) return fail(req, res, 503, "unavailable", "the engine is shutting down");
    if (pool && !snap.find(*pool)) return fail(req, res, 404, "not_found", fmt::format("no pool named \"{}\"", *pool));
  }
  if (streams_.fetch_add(1) >= options_.max_streams) {
    streams_.fetch_sub(1);
    return fail(req, res, 503, "too_many_streams",
                fmt::format("{} streams are open, the most this server serves at once", options_.max_streams));
  }
  try {
    res.stream = std::make_shared<SseStream>(
        engine_, engine_.subscribe(kQueue, {.events = !log_lines, .log_lines = log_lines}), pool, options_.keepalive,
        streams_);
  } catch (...) {
    streams_.fetch_sub(1);
    throw;
  }
  res.content_type = "text/event-stream";
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");  // a proxy in front must not hold the stream back
}

}  // namespace drover
