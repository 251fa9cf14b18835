// reload_summary: what reload() tells the operator it changed.
#include <doctest/doctest.h>

#include "shell/lua/reload_summary.h"

using namespace drover;

namespace {

PoolSnapshot pool(const std::string& name, int n, std::vector<std::string> argv = {"/bin/sleep", "60"}) {
  PoolSnapshot p;
  p.spec.name = name;
  p.spec.n = n;
  p.spec.argv = std::move(argv);
  return p;
}

}  // namespace

TEST_CASE("reload summary: added - removed - resized - command changed - settings changed - nothing") {
  std::vector<PoolSnapshot> before{pool("jobs", 2), pool("mail", 1), pool("old", 1), pool("web", 3)};
  std::vector<PoolSnapshot> after{pool("jobs", 5), pool("mail", 1), pool("new", 2),
                                  pool("web", 3, {"/usr/bin/gunicorn", "app"})};
  after[1].spec.grace_s = 99;
  CHECK(reload_summary(before, after) ==
        "resized jobs 2 -> 5\n"
        "mail: settings changed\n"
        "added new (n = 2)\n"
        "web: command, env, cwd or queue changed (workers replaced one at a time)\n"
        "removed old\n");
  CHECK(reload_summary(before, before) == "no changes\n");
}

TEST_CASE("reload summary: a pool still draining after its removal is removed, not kept - and not removed twice") {
  std::vector<PoolSnapshot> before{pool("a", 1), pool("b", 1), pool("gone", 1)};
  before[2].removing = true;  // dropped by an earlier reload, its worker not yet reaped
  std::vector<PoolSnapshot> after{pool("a", 1), pool("b", 1), pool("gone", 1)};
  after[1].removing = true;
  after[2].removing = true;
  CHECK(reload_summary(before, after) == "removed b\n");
}
