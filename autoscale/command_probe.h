// CommandProbe: queue depth from a command line's output (`command "redis-cli llen q"`),
// for queues drover has no layout for.
//
// read() runs `/bin/sh -c LINE` in its own process group with stdin from /dev/null,
// reads stdout (at most 64 KiB; past that the pipe is closed on the writer), and takes the
// number it starts with (leading blanks skipped; "42\n", " 17 jobs" both work, "jobs: 17"
// does not; a negative number is an error). Past the timeout the group gets SIGKILL and
// the reading is an error ("no answer within 5 s, killed"); so is a non-zero exit ("exit 2:
// <first stderr line>") or output with no number. The shell's exit ends the read even if
// a background job still holds stdout; what is left of the group is then killed, so a
// probe never leaves processes behind.
// Thread: one thread at a time (the ProbeRunner's).
#pragma once

#include <memory>
#include <string>

#include "autoscale/queue_probe.h"
#include "engine/status.h"

namespace drover {

// timeout_s in (0, 3600]. cwd empty: drover's own; else an existing directory, checked here.
// describe() is "command 'LINE'", the line as written: keep secrets in the environment.
Result<std::unique_ptr<QueueProbe>> make_command_probe(const std::string& command_line, double timeout_s = 5.0,
                                                       const std::string& cwd = "");

}  // namespace drover
