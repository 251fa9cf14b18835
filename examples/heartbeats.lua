-- Heartbeating workers in three languages. From the repository root after scripts/build.sh:
--     build/drover examples/heartbeats.lua          (stop with Ctrl-C)
-- Each worker reports what it does ("job 7", busy or idle) every second; one silent for
-- 5 s is stopped, replaced and counted under "stalls" in status() (try `kill -STOP <pid>`).
-- Relative paths (cmd, cwd) are taken from this file's directory.
defaults { grace = 5, heartbeat = { timeout = 5 } }

-- C++ with cppzmq: built by CMake into build/examples/.
pool "cpp" { cmd = "../build/examples/heartbeat_worker", n = 2 }
-- Python with pyzmq: Debian's python3-zmq is for /usr/bin/python3 (a pyenv or venv python
-- on PATH may not have it; write "python3 workers/heartbeat_worker.py" if yours does).
pool "py"  { cmd = "/usr/bin/python3 workers/heartbeat_worker.py", n = 2 }
-- POSIX sh with `drover heartbeat`, one call per beat; DROVER_BIN is relative to the cwd.
pool "sh"  { cmd = "workers/heartbeat_worker.sh", n = 1, env = { DROVER_BIN = "../build/drover" } }
