// `drover job next|done|fail`: worker mode's client for shell scripts (job_command.cpp).
#pragma once

namespace drover {

// argv[0] is "job"; the subcommand follows.
int run_job_command(int argc, char** argv);

}  // namespace drover
