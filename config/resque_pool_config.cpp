#include "config/resque_pool_config.h"

#include <cstdlib>
#include <map>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "engine/spec_string.h"

namespace drover {

namespace {

Status at(const std::string& path, const YAML::Mark& mark, const std::string& what) {
  return Status::invalid(fmt::format("{}:{}: {}", path, mark.line + 1, what));
}

// A mapping key as text. A key that is not a plain scalar (a list, a mapping, `~`)
// names no queue and no environment.
Result<std::string> key_of(const std::string& path, const YAML::Node& key) {
  if (!key.IsScalar()) return at(path, key.Mark(), "expected a queue list (\"foo,bar\") or an environment name as the key");
  return key.Scalar();
}

// A key seen twice in one mapping: yaml-cpp keeps both, and one would win silently.
// `seen` maps each key to its line.
Status check_unique(const std::string& path, const YAML::Node& key, const std::string& name,
                    std::map<std::string, int>& seen) {
  auto [it, fresh] = seen.emplace(name, key.Mark().line + 1);
  if (fresh) return Status::ok();
  return at(path, key.Mark(), fmt::format("duplicate key \"{}\" (first at line {}); keep one", name, it->second));
}

// Reads "queues: count" entries of one mapping into out (a section's override the top
// level's; within one mapping a key may appear once).
Status read_entries(const std::string& path, const YAML::Node& map, std::map<std::string, int>& out) {
  std::map<std::string, int> seen;
  for (const auto& kv : map) {
    auto key = key_of(path, kv.first);
    if (!key) return key.error();
    if (Status s = check_unique(path, kv.first, *key, seen); !s) return s;
    const std::string& queues = *key;
    const YAML::Node& value = kv.second;
    if (!value.IsScalar()) return at(path, value.Mark(), fmt::format("\"{}\": expected a worker count", queues));
    int n = 0;
    if (!YAML::convert<int>::decode(value, n) || n < 0)
      return at(path, value.Mark(),
                fmt::format("\"{}\": count '{}' must be a whole number >= 0", queues, value.Scalar()));
    out[queues] = n;
  }
  return Status::ok();
}

}  // namespace

std::string resque_environment() {
  for (const char* var : {"RACK_ENV", "RAILS_ENV", "RESQUE_ENV"})
    if (const char* v = std::getenv(var); v && *v) return v;
  return "";
}

Result<std::vector<PoolSpec>> load_resque_pool_config(const std::string& path, const std::string& env,
                                                      const std::string& cmd_template, const PoolSpec& defaults) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return Status::not_found(fmt::format("{}: cannot read", path));
  } catch (const YAML::Exception& e) {
    return Status::invalid(fmt::format("{}:{}: {}", path, e.mark.line + 1, e.msg));
  }
  if (root.IsNull()) return Status::invalid(fmt::format("{}: empty: no queues to run", path));
  if (!root.IsMap()) return at(path, root.Mark(), "expected a mapping of \"queues\": count");

  // resque-pool's rule: a key whose value is a mapping is an environment section, any
  // other key a queue list. Only the chosen section is read: another one may hold
  // anything. Its entries override or add to the top level's.
  std::map<std::string, int> counts;
  YAML::Node top = YAML::Node(YAML::NodeType::Map);
  std::vector<YAML::Node> sections;
  std::map<std::string, int> seen;
  for (const auto& kv : root) {
    auto key = key_of(path, kv.first);
    if (!key) return key.error();
    if (Status s = check_unique(path, kv.first, *key, seen); !s) return s;
    if (!kv.second.IsMap()) top[kv.first] = kv.second;
    else if (!env.empty() && *key == env) sections.push_back(kv.second);
  }
  if (Status s = read_entries(path, top, counts); !s) return s;
  for (const auto& section : sections)
    if (Status s = read_entries(path, section, counts); !s) return s;
  if (counts.empty())
    return Status::invalid(fmt::format("{}: no queues for environment \"{}\"", path, env.empty() ? "(none)" : env));

  // The same rules as a --workers spec string: names, counts, the command template.
  std::string spec;
  for (const auto& [queues, n] : counts) spec += (spec.empty() ? "" : ":") + fmt::format("{}={}", queues, n);
  auto entries = parse_spec_string(spec);
  if (!entries) return Status::invalid(fmt::format("{}: {}", path, entries.error().message()));
  auto pools = pools_from_spec(*entries, cmd_template.empty() ? kResqueDefaultCmd : cmd_template, defaults);
  if (!pools) return pools;
  // resque reads QUEUES before QUEUE: one inherited from drover's own environment would
  // win over the pool's QUEUE, so both are set.
  for (auto& p : *pools) p.env["QUEUES"] = p.queue;
  return pools;
}

}  // namespace drover
