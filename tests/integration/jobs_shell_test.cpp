// The job queue from the real binary's shell (-e, as scripts use it): a jobs pool in the
// config, jobs.* commands, the state directory and its owner lock, and a restart that finds
// the jobs left queued.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include "tests/support/drover_process.h"
#include "tests/support/test_util.h"

using namespace drover::test;

namespace {

// drover CONFIG -e ... with its job store under dir/state; stdout, then the exit status.
std::pair<int, std::string> run(const TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), {dir.file("pools.lua"), "-q", "--state", dir.file("state")});
  DroverProcess p(args, dir.file("run.err"));
  const int rc = p.wait_exit(60s);
  return {rc, read_file(dir.file("run.err.out")) + read_file(dir.file("run.err"))};
}

}  // namespace

TEST_CASE("jobs shell: enqueue from -e - the pool runs them - list, get, stats, dead, retry - bad options refused") {
  TempDir dir;
  write_file(dir.file("pools.lua"),
             "pool 'resize' { cmd = 'echo resized $(cat); test \"$DROVER_JOB_ARGS\" != \\'{\"fail\":true}\\'', "
             "n = 2, jobs = true }\n");
  auto [rc, out] = run(dir, {"-e", "a = jobs.enqueue('resize', {file = 'a.png'})",
                             "-e", "b = jobs.enqueue('resize', {fail = true}, {attempts = 1})",
                             "-e", "while jobs.get(a.id).state ~= 'done' or jobs.get(b.id).state ~= 'dead' do end",
                             "-e", "io.write('result=', jobs.get(a.id).result)",
                             "-e", "io.write('error=', jobs.get(b.id).error)",
                             "-e", "print('dead=' .. #jobs.dead() .. ' done=' .. jobs.stats().resize.done)",
                             "-e", "print('retried=' .. jobs.retry('all'))"});
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find("result=resized {\"file\":\"a.png\"}\n") != std::string::npos);
  CHECK(out.find("error=exit 1\nresized {\"fail\":true}\n") != std::string::npos);
  CHECK(out.find("dead=1 done=1\n") != std::string::npos);
  CHECK(out.find("retried=1\n") != std::string::npos);
  // Refused with what is wrong, and nothing queued by the refusals.
  std::tie(rc, out) = run(dir, {"-e", "jobs.enqueue('resize', {}, {colour = 1})"});
  CHECK(rc == 1);
  CHECK(out.find("jobs.enqueue: \"colour\" is not an option (priority, delay, attempts, timeout, key)") !=
        std::string::npos);
  std::tie(rc, out) = run(dir, {"-e", "jobs.enqueue('resize', {f = print})"});
  CHECK(out.find("args.f: a function cannot be sent as JSON") != std::string::npos);
  std::tie(rc, out) = run(dir, {"-e", "jobs.enqueue('re size')"});
  CHECK(out.find("jobs[0].topic: \"re size\" has a space or control character") != std::string::npos);
  std::tie(rc, out) = run(dir, {"-e", "jobs.list{state = 'sleeping'}"});
  CHECK(out.find("state \"sleeping\" is not one of queued, running") != std::string::npos);
  // The refusals queued nothing: the two jobs, the retried one dead again in this run.
  std::tie(rc, out) = run(dir, {"-e", "while jobs.stats().resize.queued + jobs.stats().resize.running > 0 do end",
                                "-e", "print('jobs=' .. #jobs.list() .. ' dead=' .. jobs.stats().resize.dead)"});
  CHECK(rc == 0);
  CHECK(out.find("jobs=2 dead=1\n") != std::string::npos);
}

TEST_CASE("jobs shell: a list of topics is a fan-out - its parent answered - its children listed by parent") {
  TempDir dir;
  write_file(dir.file("pools.lua"),
             "pool 'lb1' { cmd = 'echo lb1', n = 1, jobs = true }\npool 'lb2' { cmd = 'echo lb2', n = 1, jobs = true }\n");
  auto [rc, out] = run(dir, {"-e", "d = jobs.enqueue({'lb1', 'lb2'}, {v = 1}, {topic = 'deploy', key = 'rel-1'})",
                             "-e", "while jobs.get(d.id).state ~= 'done' do end",
                             "-e", "print('parent=' .. d.topic .. ' children=' .. d.children)",
                             "-e", "for _, k in ipairs(jobs.list{parent = d.id}) do io.write(k.topic, '=', k.result) end",
                             "-e", "print('by key=' .. #jobs.list{key = 'rel-1'})",
                             "-e", "print(jobs.get(d.id))"});
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find("parent=deploy children=2\nlb1=lb1\nlb2=lb2\nby key=1\n") != std::string::npos);
  CHECK(out.find("#1 deploy done fan-out of 2") != std::string::npos);  // its line in the shell
  std::tie(rc, out) = run(dir, {"-e", "jobs.enqueue({'lb1', 3})"});
  CHECK(rc == 1);
  CHECK(out.find("a list of topics (strings)") != std::string::npos);
  std::tie(rc, out) = run(dir, {"-e", "jobs.enqueue('lb1', {}, {topic = 'x'})"});
  CHECK(rc == 1);
  CHECK(out.find("\"topic\" is not an option") != std::string::npos);
}

TEST_CASE("jobs shell: a second drover on the same state directory is told who owns the queue") {
  TempDir dir;
  write_file(dir.file("pools.lua"), "pool 'slow' { cmd = 'sleep 30', n = 1, jobs = true }\n");
  DroverProcess owner({dir.file("pools.lua"), "--no-shell", "-q", "--state", dir.file("state")}, dir.file("owner.err"));
  // The owner writes its pid into the lock file once it holds the lock.
  REQUIRE(wait_until([&] { return read_file(dir.file("state/jobs.db.lock")) == std::to_string(owner.pid()); }, 10s));
  auto [rc, out] = run(dir, {"-e", "1"});
  CHECK(rc == 1);
  CHECK(out.find(fmt::format("the job queue: the job store {} is in use by another drover (pid {})",
                             dir.file("state/jobs.db"), owner.pid())) != std::string::npos);
}

TEST_CASE("jobs shell: status() has the queue's columns - jobs.stats() has taskqueue's names") {
  TempDir dir;
  write_file(dir.file("pools.lua"),
             "pool 'resize' { cmd = 'test \"$DROVER_JOB_ARGS\" != \\'{\"fail\":true}\\'', n = 2, jobs = true }\n");
  auto [rc, out] = run(dir, {"-e", "a = jobs.enqueue('resize', {})",
                             "-e", "b = jobs.enqueue('resize', {fail = true}, {attempts = 2})",
                             "-e", "jobs.enqueue('resize', {}, {delay = 3600})",
                             "-e", "while jobs.get(a.id).state ~= 'done' or jobs.get(b.id).state ~= 'dead' do end",
                             // The counts by state are refreshed each second: wait for this one.
                             "-e", "while status().jobs.resize.dead ~= 1 do end",
                             "-e", "print(status())",
                             "-e", "s = jobs.stats().resize",
                             "-e", "print(string.format('enqueued=%d started=%d retried=%d completed=%d', "
                                   "s.enqueued, s.started, s.retried, s.completed))",
                             "-e", "print(string.format('input=%d work=%d dead=%d', s.input_queue_size, "
                                   "s.work_queue_size, s.dead_queue_size))"});
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find("jobs   queued sched   run retry  dead  oldest    done failed\n") != std::string::npos);
  CHECK(out.find("resize      0     1     0     0     1       -       1      2\n") != std::string::npos);
  CHECK(out.find("enqueued=3 started=3 retried=1 completed=1\n") != std::string::npos);
  CHECK(out.find("input=1 work=0 dead=1\n") != std::string::npos);
}

TEST_CASE("jobs shell: a jobs pool's policy sees drover's own queue - m.queue, m.inflight, m.age - no probe") {
  TempDir dir;
  // Jobs wait for the file `go`: the queue stays until the test lets it run.
  write_file(dir.file("pools.lua"),
             fmt::format("pool 'work' {{ cmd = 'while [ ! -e {} ]; do sleep 0.05; done', n = 1, jobs = true }}\n"
                         "autoscale 'work' {{ every = 0.2, min = 1, max = 3, cooldown = 0,\n"
                         "  policy = function(m)\n"
                         "    if m.queue and m.queue >= 4 and m.inflight == 1 and m.age and m.age > 0 then\n"
                         "      return 3, string.format('queue %d inflight %d aged', m.queue, m.inflight)\n"
                         "    end\n"
                         "  end }}\n",
                         dir.file("go")));
  // One chunk: the policy needs the Lua lock, which only the follow lets go of, after it
  // subscribed; so the change cannot come before the follow sees it.
  auto [rc, out] = run(dir, {"-e", "for i = 1, 5 do jobs.enqueue('work', {}) end print(log.tail_until('autoscaled'))",
                             "-e", "print('probe=' .. autoscale.list()[1].probe)",
                             "-e", "io.open('" + dir.file("go") + "', 'w'):close()"});
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find("1 -> 3 (queue 4 inflight 1 aged)") != std::string::npos);
  CHECK(out.find("probe=drover's job queue\n") != std::string::npos);
}

TEST_CASE("jobs shell: jobs{} in the config says where the queue is kept - the command line wins - bad fields refused") {
  TempDir dir;
  write_file(dir.file("pools.lua"), "pool 'resize' { cmd = 'true', n = 1, jobs = true }\n"
                                    "jobs { host = 'cfg-host', keep = 50, durability = 'off' }\n");
  const std::vector<std::string> run_one = {"-e", "j = jobs.enqueue('resize')", "-e",
                                            "while jobs.get(j.id).state ~= 'done' do end", "-e",
                                            "print('host=' .. jobs.get(j.id).host)"};
  auto [rc, out] = run(dir, run_one);
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find("host=cfg-host\n") != std::string::npos);
  std::vector<std::string> with_flag = run_one;
  with_flag.insert(with_flag.begin(), {"--host-name", "cli-host"});
  std::tie(rc, out) = run(dir, with_flag);
  CHECK(rc == 0);
  CHECK(out.find("host=cli-host\n") != std::string::npos);
  write_file(dir.file("pools.lua"), "jobs { store = 'mysql://db/jobs' }\n");
  std::tie(rc, out) = run(dir, {"-e", "print(1)"});
  CHECK(rc != 0);
  CHECK(out.find("jobs{}: store: \"mysql://db/jobs\" is not a postgresql:// or postgres:// URL") != std::string::npos);
  write_file(dir.file("pools.lua"), "jobs { colour = 'red' }\n");
  std::tie(rc, out) = run(dir, {"-e", "print(1)"});
  CHECK(rc != 0);
  CHECK(out.find("jobs: unknown field 'colour' (fields: store, durability, keep, keep_for, host, lease)") != std::string::npos);
  // Read once: at the prompt afterwards, only the same again.
  write_file(dir.file("pools.lua"), "pool 'resize' { cmd = 'true', n = 1, jobs = true }\njobs { keep = 50 }\n");
  std::tie(rc, out) = run(dir, {"-e", "jobs { keep = 50 }", "-e", "print(pcall(jobs, {keep = 60}))"});
  CHECK(rc == 0);
  CHECK(out.find("read once, when drover starts: restart it to change them") != std::string::npos);
}
