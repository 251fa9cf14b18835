#include "shell/lua/reload_summary.h"

#include <map>

#include <fmt/format.h>

namespace drover {

std::string reload_summary(const std::vector<PoolSnapshot>& before, const std::vector<PoolSnapshot>& after) {
  std::map<std::string, const PoolSpec*> old_specs, new_specs;
  // A dropped pool stays in the snapshot until its last worker is reaped.
  for (const auto& p : before)
    if (!p.removing) old_specs[p.spec.name] = &p.spec;
  for (const auto& p : after)
    if (!p.removing) new_specs[p.spec.name] = &p.spec;
  std::string out;
  for (const auto& [name, spec] : new_specs) {
    auto it = old_specs.find(name);
    if (it == old_specs.end()) {
      out += fmt::format("added {} (n = {})\n", name, spec->n);
      continue;
    }
    const PoolSpec& was = *it->second;
    if (was.n != spec->n) out += fmt::format("resized {} {} -> {}\n", name, was.n, spec->n);
    if (!was.same_launch(*spec)) {
      out += fmt::format("{}: command, env, cwd or queue changed (workers replaced one at a time)\n", name);
      continue;
    }
    PoolSpec same_n = was;
    same_n.n = spec->n;
    if (!(same_n == *spec)) out += fmt::format("{}: settings changed\n", name);
  }
  for (const auto& [name, spec] : old_specs)
    if (!new_specs.count(name)) out += fmt::format("removed {}\n", name);
  return out.empty() ? "no changes\n" : out;
}

}  // namespace drover
