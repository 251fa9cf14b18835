// The command-line parsers of drover and its subcommands (app/options.h), without a process.
#include <doctest/doctest.h>

#include "app/options.h"

using namespace drover;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("options: --opt=value and --opt value read the same") {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--workers", "a=2", "--cmd", "sleep 9", "--log", "x.log", "--pid-file", "p", "-c", "r.yml"},
           {"--workers=a=2", "--cmd=sleep 9", "--log=x.log", "--pid-file=p", "--resque-pool=r.yml"}}) {
    auto p = parse_options(args);
    INFO(p.err);
    REQUIRE(p.options);
    CHECK(p.options->workers == "a=2");
    CHECK(p.options->cmd == "sleep 9");
    CHECK(p.options->log_path == "x.log");
    CHECK(p.options->pid_file == "p");
    CHECK(p.options->resque_pool == "r.yml");
    CHECK(p.err.empty());
  }
  auto limits = parse_options({"pools.lua", "--lua-memory=32", "--lua-time", "0.5", "--contain=group"});
  REQUIRE(limits.options);
  CHECK(limits.options->config == "pools.lua");
  CHECK(limits.options->lua.memory_bytes == size_t{32} << 20);
  CHECK(limits.options->lua.config_time_s == 0.5);
  CHECK(limits.options->contain == ContainMode::kGroup);
}

TEST_CASE("options: repeatable options accumulate in order - others keep the last") {
  auto p = parse_options({"-e", "a()", "pools.lua", "--heartbeat", "ipc:///x", "-e", "b()", "--heartbeat=tcp://*:1",
                          "--http-host", "h1", "--http-host=h2", "-ec()", "--log", "1", "--log", "2"});
  INFO(p.err);
  REQUIRE(p.options);
  CHECK(p.options->exprs == std::vector<std::string>{"a()", "b()", "c()"});
  CHECK(p.options->heartbeat_endpoints == std::vector<std::string>{"ipc:///x", "tcp://*:1"});
  CHECK(p.options->http_hosts == std::vector<std::string>{"h1", "h2"});
  CHECK(p.options->config == "pools.lua");  // -e takes one word: the next is the config
  CHECK(p.options->log_path == "2");
  // A value that starts with a dash is still the value.
  auto dash = parse_options({"pools.lua", "-e", "-1"});
  REQUIRE(dash.options);
  CHECK(dash.options->exprs == std::vector<std::string>{"-1"});
}

TEST_CASE("options: flags - short ones - --wait[=SECONDS] - --http [HOST:PORT]") {
  auto p = parse_options({"pools.lua", "-i", "-q", "--no-shell", "--wpm-compat", "--wait"});
  REQUIRE(p.options);
  CHECK(p.options->stay);
  CHECK(p.options->quiet);
  CHECK(p.options->no_shell);
  CHECK(p.options->wpm_compat);
  CHECK(p.options->wait_s == 30);
  CHECK(parse_options({"pools.lua", "--wait=2.5"}).options->wait_s == 2.5);
  CHECK_FALSE(parse_options({"pools.lua"}).options->wait_s);
  // --wait takes its value after '=' only: the next word is the config.
  auto spaced = parse_options({"--wait", "pools.lua"});
  REQUIRE(spaced.options);
  CHECK(spaced.options->config == "pools.lua");
  CHECK(spaced.options->wait_s == 30);

  auto http = parse_options({"--http", "pools.lua"});  // not an address: the default, and the config
  REQUIRE(http.options);
  CHECK(http.options->http == "127.0.0.1:8010");
  CHECK(http.options->config == "pools.lua");
  CHECK(parse_options({"pools.lua", "--http", "127.0.0.1:0"}).options->http == "127.0.0.1:0");
  CHECK(parse_options({"pools.lua", "--http=:9000"}).options->http == ":9000");
  CHECK(parse_options({"pools.lua", "--http"}).options->http == "127.0.0.1:8010");
  CHECK(parse_options({"pools.lua"}).options->http.empty());
  auto bad = parse_options({"pools.lua", "--http=pools.lua"});
  CHECK(bad.exit_code == 2);
  CHECK(contains(bad.err, "--http=pools.lua: not HOST:PORT"));
}

TEST_CASE("options: bad usage exits 2 and names the option") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"pools.lua", "--bogus"}, "drover: unknown option '--bogus'"},
      {{"pools.lua", "-x"}, "drover: unknown option '-x'"},
      {{"pools.lua", "--workers"}, "drover: --workers needs a value"},
      {{"pools.lua", "-e"}, "drover: -e needs a value"},
      {{"a.lua", "b.lua"}, "drover: one config file only (got 'a.lua' and 'b.lua')"},
      {{"pools.lua", "--wait=soon"}, "drover: --wait=soon: seconds from 0 to 86400"},
      {{"pools.lua", "--contain", "box"}, "--contain takes auto, cgroup, subreaper or group, not 'box'"},
      {{"pools.lua", "--lua-memory", "1.5"}, "--lua-memory takes whole megabytes"},
      {{"pools.lua", "--lua-time=0"}, "--lua-time takes seconds (0.1 to 86400), got '0'"},
      {{"--cmd", "x", "pools.lua"}, "--cmd is the command of --workers and -c pools"},
      {{}, "give a config file, --workers, -c, --wpm-config or --schedule"},
  };
  for (const auto& [args, message] : cases) {
    auto p = parse_options(args);
    INFO(message, "\n", p.err);
    CHECK_FALSE(p.options);
    CHECK(p.exit_code == 2);
    CHECK(contains(p.err, message));
    CHECK(p.out.empty());
  }
}

TEST_CASE("options: --help is the generated usage - --version is CMake's") {
  auto help = parse_options({"--help"});
  CHECK_FALSE(help.options);
  CHECK(help.exit_code == 0);
  CHECK(help.out == drover_usage());
  CHECK(help.out.rfind("usage: drover [CONFIG.lua] [options]\n", 0) == 0);
  for (const char* row : {"\n  CONFIG.lua            pools defined in Lua", "\n  --workers SPEC        pools as a spec string",
                          "\n  -c, --resque-pool YML resque-pool's config", "\n  --http [HOST:PORT]    serve HTTP",
                          "\n  --wait[=SECONDS]      before -e", "\n  -q, --quiet           with --no-shell",
                          "\n       drover heartbeat [options]", "\n       drover attach [PID|SOCKET|HOST:PORT] [-e CODE]... [-i] [--wait[=SECONDS]] [--token-file PATH]",
                          "\nPool sources add up"}) {
    INFO(row);
    CHECK(contains(help.out, row));
  }
  CHECK(parse_options({"-h"}).out == help.out);
  auto version = parse_options({"--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.out == std::string("drover ") + drover_version() + "\n");
  CHECK(std::string(drover_version()).find('.') != std::string::npos);
}

TEST_CASE("options: drover attach") {
  auto p = parse_attach_options({"12345", "-e", "status()", "-e", "config()", "-i", "--token-file=t"});
  INFO(p.err);
  REQUIRE(p.options);
  CHECK(p.options->address == "12345");
  CHECK(p.options->exprs == std::vector<std::string>{"status()", "config()"});
  CHECK(p.options->stay);
  CHECK(p.options->token_file == "t");
  CHECK_FALSE(p.options->wait_s);
  auto waits = parse_attach_options({"--wait", "-e", "status()"});
  REQUIRE(waits.options);
  CHECK(waits.options->wait_s == 30.0);
  CHECK(waits.options->exprs == std::vector<std::string>{"status()"});
  CHECK(parse_attach_options({"--wait=2.5"}).options->wait_s == 2.5);
  CHECK(parse_attach_options({"--wait=-1"}).exit_code == 2);
  auto unknown = parse_attach_options({"--nope"});
  CHECK(unknown.exit_code == 2);
  CHECK(contains(unknown.err, "drover attach: unknown option '--nope'\nusage: drover attach [PID|SOCKET|HOST:PORT]"));
  auto help = parse_attach_options({"-h"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.rfind("usage: drover attach [PID|SOCKET|HOST:PORT] [-e CODE]... [-i] [--wait[=SECONDS]] [--token-file PATH]\n", 0) == 0);
}

TEST_CASE("options: drover heartbeat") {
  auto p = parse_heartbeat_options({"--status=job 42", "--busy", "--progress", "0.5", "--pid=77", "--endpoint", "ipc://x",
                                    "--pool=p", "--timeout", "3"});
  INFO(p.err);
  REQUIRE(p.options);
  CHECK(p.options->status == "job 42");
  CHECK(p.options->busy == true);
  CHECK(p.options->progress == 0.5);
  CHECK(p.options->pid == 77);
  CHECK(p.options->endpoint == "ipc://x");
  CHECK(p.options->pool == "p");
  CHECK(p.options->timeout_s == 3);
  auto idle = parse_heartbeat_options({"--idle"});
  REQUIRE(idle.options);
  CHECK(idle.options->busy == false);
  CHECK_FALSE(parse_heartbeat_options({}).options->busy);
  for (const auto& [args, message] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--bogus"}, "unknown option '--bogus'"},
           {{"stray"}, "unexpected argument 'stray'"},
           {{"--status"}, "--status needs a value"},
           {{"--endpoint", ""}, "--endpoint is empty"},
           {{"--busy", "--idle"}, "--busy and --idle contradict"}}) {
    auto bad = parse_heartbeat_options(args);
    INFO(message, "\n", bad.err);
    CHECK(bad.exit_code == 2);
    CHECK(contains(bad.err, "drover heartbeat: " + message));
    CHECK(contains(bad.err, "drover heartbeat --help"));
  }
  auto help = parse_heartbeat_options({"--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.rfind("usage: drover heartbeat [options]\n", 0) == 0);
  CHECK(contains(help.out, "$DROVER_HEARTBEAT"));
}

TEST_CASE("options: the job queue's retention - --jobs-keep and --jobs-keep-for - bad values refused") {
  auto p = parse_options({"pools.lua", "--jobs-keep", "500", "--jobs-keep-for=3600"});
  REQUIRE(p.options);
  CHECK(p.options->jobs_keep == 500);
  CHECK(p.options->jobs_keep_for_s == 3600);
  auto d = parse_options({"pools.lua"});
  REQUIRE(d.options);
  CHECK(d.options->jobs_keep == 100000);
  CHECK(d.options->jobs_keep_for_s == 7 * 86400);
  CHECK_FALSE(parse_options({"pools.lua", "--jobs-keep", "-1"}).options);
  CHECK_FALSE(parse_options({"pools.lua", "--jobs-keep-for", "soon"}).options);
  CHECK(parse_options({"pools.lua", "--jobs-keep-for", "soon"}).err.find("--jobs-keep-for") != std::string::npos);
}

TEST_CASE("options: a shared job store - --jobs-store URL, --host-name, --host-lease - bad values refused") {
  auto p = parse_options({"pools.lua", "--jobs-store", "postgresql://drover@db/jobs", "--host-name", "web-1",
                          "--host-lease", "2.5"});
  REQUIRE(p.options);
  CHECK(p.options->jobs_store == "postgresql://drover@db/jobs");
  CHECK(p.options->host_name == "web-1");
  CHECK(p.options->host_lease_s == 2.5);
  auto d = parse_options({"pools.lua"});
  REQUIRE(d.options);
  CHECK(d.options->jobs_store.empty());  // jobs.db in --state
  CHECK(d.options->host_name.empty());   // the hostname
  CHECK(d.options->host_lease_s == 10);
  CHECK(parse_options({"pools.lua", "--jobs-store", "postgres://h/db"}).options);
  auto mysql = parse_options({"pools.lua", "--jobs-store", "mysql://h/db"});
  CHECK_FALSE(mysql.options);
  CHECK(mysql.err.find("\"mysql://h/db\" is not a postgresql:// or postgres:// URL") != std::string::npos);
  CHECK_FALSE(parse_options({"pools.lua", "--host-name", "two words"}).options);
  CHECK_FALSE(parse_options({"pools.lua", "--host-lease", "0"}).options);
}

TEST_CASE("options: the config's jobs{} fills what the command line left unsaid - a flag given wins") {
  auto p = drover::parse_options({"pools.lua", "--host-name", "cli", "--jobs-keep", "100000"});
  REQUIRE(p.options);
  drover::jobs::JobSettings s;
  s.host = "cfg";
  s.keep = 5;
  s.store = "postgresql://db/jobs";
  s.lease_s = 3;
  drover::merge_job_settings(*p.options, s);
  CHECK(p.options->host_name == "cli");
  CHECK(p.options->jobs_keep == 100000);  // given, even at its default value
  CHECK(p.options->jobs_store == "postgresql://db/jobs");
  CHECK(p.options->host_lease_s == 3);
  CHECK(p.options->jobs_durability == "normal");  // neither said
}
