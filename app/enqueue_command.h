// `drover enqueue`: jobs for a running drover's queue from the command line or a script,
// as `jobs.enqueue` queues them from its shell (help/jobs.md):
//
//   drover enqueue resize '{"file": "a.png"}' --attempts 5
//   find . -name '*.png' | jq -Rc '{file: .}' | drover enqueue resize
//
// One job per call with ARGS, else one per line of stdin (blank lines skipped), sent in
// batches of up to 1,000 (each batch all or nothing); the ids are printed one per line as
// each batch is taken. Which drover: `--to`, as `drover attach` takes its address.
//
// Exit status: 0 every job queued; 1 a batch refused (the detail names the job and the
// field: the jobs of earlier batches stay queued, their ids printed) or no drover
// reached; 2 bad usage or a line that is not JSON (nothing of its batch sent).
#pragma once

namespace drover {

// argv[0] is "enqueue"; the options and TOPIC [ARGS] follow.
int run_enqueue_command(int argc, char** argv);

}  // namespace drover
