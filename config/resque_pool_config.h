// resque-pool's YAML config (`drover -c resque-pool.yml`), as resque-pool reads it:
//
//   foo: 1
//   "foo,bar": 2          # one pool serving both queues: QUEUE=foo,bar
//   production:
//     "foo,bar": 4        # an environment section, merged over the top-level entries
//
// The section is chosen by the first of RACK_ENV, RAILS_ENV, RESQUE_ENV that is set; a
// key whose value is a mapping is a section, any other key a queue list with a count
// (0 allowed). Sections other than the chosen one are not read. The workers' command
// comes from a template, as for --workers (pools_from_spec): `{queue}`, `{queues}`;
// without --cmd it is resque's own `rake resque:work`, which reads QUEUES or QUEUE: each
// pool sets both to its queue list ("foo,bar"), and is named by it.
// Errors name the file and the line ("resque-pool.yml:3: \"foo\": count 'x' must be ...").
#pragma once

#include <string>
#include <vector>

#include "engine/pool_spec.h"
#include "engine/status.h"

namespace drover {

inline constexpr const char* kResqueDefaultCmd = "rake resque:work";

// env: the environment name (empty: top-level entries only). cmd_template empty: the
// default. defaults: the other fields of every pool (a Lua config's defaults{}). Reads the
// file and nothing else; any thread.
Result<std::vector<PoolSpec>> load_resque_pool_config(const std::string& path, const std::string& env,
                                                      const std::string& cmd_template, const PoolSpec& defaults = {});
// The first of RACK_ENV, RAILS_ENV, RESQUE_ENV set in this process's environment.
std::string resque_environment();

}  // namespace drover
