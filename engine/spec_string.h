// The resque-pool-dynamic worker spec string: "foo=2:bar=2:baz,quux=5:*=1".
//
// Each ':'-separated entry is QUEUES[=N]; QUEUES is one queue or a ','-joined list
// served by one pool (QUEUE=baz,quux); N defaults to 1. In the command template,
// {queue} and {pool} become the entry's QUEUES text as one word ("QUEUE={queue} rake
// resque:work", "celery worker -Q {queue}"), and {queues} one word per queue ("rq worker
// {queues}" runs `rq worker baz quux`). {queues} must be a word of its own, and refuses a
// list holding "*" (resque's "every queue", which rq and Celery have no name for).
#pragma once

#include <string>
#include <vector>

#include "engine/pool_spec.h"
#include "engine/status.h"

namespace drover {

struct SpecEntry {
  std::string queues;  // "baz,quux"; also the pool's name
  int n = 1;
};

// Errors name the entry and the 1-based column in the whole string; for "foo=1:bar=x":
// "--workers: entry 2 'bar=x' at column 11: count 'x' is not a whole number".
Result<std::vector<SpecEntry>> parse_spec_string(const std::string& spec, const EngineLimits& limits = {});

// Builds pool specs from entries and a command template: argv, or /bin/sh -c with every
// value quoted for where it lands when the template uses shell syntax. Errors (nothing
// built): an empty template, a misplaced {queues}, {queues} for a pool serving "*".
Result<std::vector<PoolSpec>> pools_from_spec(const std::vector<SpecEntry>& entries,
                                              const std::string& cmd_template,
                                              const PoolSpec& defaults = {});

}  // namespace drover
