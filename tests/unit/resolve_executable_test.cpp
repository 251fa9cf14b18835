// resolve_executable: the PATH lookup every worker's argv[0] goes through.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "engine/spawner.h"

using namespace drover;

TEST_CASE("resolve_executable: finds a program in a later PATH entry") {
  char tmpl[] = "/tmp/drover-path-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  const std::string root = tmpl;
  const std::string first = root + "/" + std::string(40, 'a'), second = root + "/b";
  std::filesystem::create_directory(second);
  // The lookup once walked a freed copy of PATH: the first candidate's name, as long as
  // PATH here, took its memory and hid every later entry. This shape made that happen.
  const std::string name = std::string(second.size(), 'x');
  std::ofstream(second + "/" + name) << "#!/bin/sh\n";
  REQUIRE(chmod((second + "/" + name).c_str(), 0755) == 0);
  auto r = resolve_executable(name, first + ":" + second, "");
  CHECK(r);
  if (r) CHECK(*r == second + "/" + name);
  auto none = resolve_executable("no-such-program", first + ":" + second, "");
  REQUIRE_FALSE(none);
  CHECK(none.error().message() == "spawn no-such-program: command not found");
  std::filesystem::remove_all(root);
}
