// CommandProbe: queue depth from a command line's output (`command "redis-cli llen q"`),
// for queues drover has no layout for.
//
// read() runs `/bin/sh -c LINE` in its own process group with stdin from /dev/null,
// reads stdout (at most 64 KiB), and takes the first number in it (leading blanks
// skipped; "42\n", " 17 jobs" both work). Past the timeout the group gets SIGKILL and the
// reading is an error; so is a non-zero exit or output with no number. stderr is kept (its
// first line, cut) for the error message.
// Thread: one thread at a time (the ProbeRunner's).
#pragma once

#include <memory>
#include <string>

#include "autoscale/queue_probe.h"
#include "engine/status.h"

namespace drover {

// timeout_s in (0, 3600]. cwd empty: drover's own.
Result<std::unique_ptr<QueueProbe>> make_command_probe(const std::string& command_line, double timeout_s = 5.0,
                                                       const std::string& cwd = "");

}  // namespace drover
