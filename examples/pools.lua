-- Example pools: run with `drover examples/pools.lua`, stop with Ctrl-C.
-- Relative paths (cmd, cwd) are taken from this file's directory.
defaults { grace = 5, backoff = { initial = 0.1, max = 30 } }

pool "ticker" { cmd = { "workers/ticker.sh" }, n = 2 }
pool "jobs"   { cmd = "python3 workers/worker.py", n = 3, env = { PYTHONUNBUFFERED = "1" } }
