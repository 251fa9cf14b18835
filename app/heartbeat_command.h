// `drover heartbeat`: one keep-alive for the engine's heartbeat socket, for workers that
// are shell scripts and cannot hold a ZeroMQ socket open themselves.
//
//   drover heartbeat [--status TEXT] [--busy|--idle] [--progress X] [--pid PID]
//                    [--endpoint EP] [--pool NAME] [--timeout SECONDS]
//
// Defaults come from the environment drover gives every worker: the endpoint from
// DROVER_HEARTBEAT, the pool from DROVER_POOL, and the pid is the caller's parent (the
// worker script that runs this command; see heartbeat_command.cpp for why).
//
// Exit status: 0 the message was handed to the engine's socket; 1 it could not be
// (DROVER_HEARTBEAT or DROVER_POOL unset, a bad endpoint, or no engine subscribed within
// --timeout, 2 s by default), with one line on stderr saying which; 2 bad usage.
// Runs before the engine's signal setup in main() and blocks no signal, so the worker's
// stop signal (sent to its whole process group) ends it like any other child of the script.
#pragma once

namespace drover {

// argv[0] is "heartbeat"; the options follow.
int run_heartbeat_command(int argc, char** argv);

}  // namespace drover
