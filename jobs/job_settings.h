// Where the job queue is kept and how: what `--jobs-store`, `--jobs-durability`, `--jobs-keep`,
// `--jobs-keep-for`, `--host-name` and `--host-lease` say on the command line, and `jobs{store
// = ..., ...}` in the config (help/jobs.md). The command line wins for what it names; the
// config gives the rest. The checks here are the ones both apply, in the same words.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "engine/status.h"

namespace drover::jobs {

struct JobSettings {
  std::optional<std::string> store;       // postgresql://...; "": jobs.db in the state directory
  std::optional<std::string> durability;  // full, normal, off
  std::optional<size_t> keep;             // finished jobs kept
  std::optional<double> keep_for_s;       // ... and for this long
  std::optional<std::string> host;        // this drover's name in a shared store's fleet
  std::optional<double> lease_s;          // a silent host's lease

  bool operator==(const JobSettings&) const = default;
};

// "" (the SQLite file), or a postgresql:// or postgres:// URL.
Status check_store_url(const std::string& url);
// 1 to 200 bytes, no space or control character.
Status check_host_name(const std::string& name);
Status check_durability(const std::string& name);

}  // namespace drover::jobs
