// The engine's values on the wire, both ways: what GET /api/v1/snapshot, the log follow
// and the event stream send, and what a remote client (drover attach) parses back into
// the same structs, so its shell runs the bindings it runs locally.
//
// Lossless: from_json(to_json(x)) == x for every field of engine/snapshot.h, events.h
// and the PoolSpec inside a snapshot. Readers are lenient about absence and strict about
// type: a missing key keeps the struct's default (an older or newer server), a key of the
// wrong type is an error naming its path ("pools[0].workers[1].pid: expected an integer").
// Unknown keys are ignored; only an event's kind is required. Pure functions, any thread.
#pragma once

#include <nlohmann/json.hpp>

#include "engine/events.h"
#include "engine/snapshot.h"
#include "engine/status.h"

namespace drover {

// The text is what GET /api/v1/snapshot sends, written directly (control/json_writer.h);
// snapshot_to_json parses it, for callers that want a json value.
std::string snapshot_json_text(const EngineSnapshot& snap);
nlohmann::json snapshot_to_json(const EngineSnapshot& snap);
Result<EngineSnapshot> snapshot_from_json(const nlohmann::json& j);

// A pool's spec: stop_signal by name ("TERM"), durations in seconds as numbers.
nlohmann::json pool_spec_to_json(const PoolSpec& spec);
Result<PoolSpec> pool_spec_from_json(const nlohmann::json& j);

// {"time_ms", "pool", "slot", "pid", "stream": "stdout"|"stderr"|"engine", "text"}; the
// text form is what the log follow sends, written directly.
std::string log_line_json_text(const LogLine& line);
nlohmann::json log_line_json(const LogLine& line);
Result<LogLine> log_line_from_json(const nlohmann::json& j);

// {"kind": event_kind_name(), "time_ms", "pool", "slot", "pid", "text"}
std::string event_json_text(const Event& ev);
nlohmann::json event_json(const Event& ev);
Result<Event> event_from_json(const nlohmann::json& j);

// Inverses of slot_state_name() and event_kind_name(); nullopt for an unknown name.
std::optional<SlotState> slot_state_from_name(const std::string& name);
std::optional<EventKind> event_kind_from_name(const std::string& name);

}  // namespace drover
