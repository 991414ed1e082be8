-- test_sweep_mpi.lua - the sweep under `mpirun -np 2` gives the same rows as
-- in one process; a worker killed in the middle of a task ends the run, and
-- the resumed run redoes that task (nothing lost, nothing twice); a task that
-- raises on a rank is recorded and retried there; ranks that build different
-- sweeps stop with an error; each rank's thread default.  Skips when llfc was
-- built without MPI or mpirun is missing.
local T = require "check"
local C = package.loaded["llfc.sweep.c"]
local sh_quote = T.sh_quote
local LLFC = os.getenv("LLFC") or (T.builddir .. "/llfc")
local FIXTURE = T.srcdir .. "/tests/lua/sweep_fixture.lua"

if not sweep.info().built then
  T.skip("sweeps under mpirun", "llfc was built without MPI (configure --with-mpi)")
  T.done()
  return
end
if os.execute("command -v mpirun > /dev/null 2>&1") ~= true then
  T.skip("sweeps under mpirun", "mpirun is not installed (Debian package openmpi-bin)")
  T.done()
  return
end

local tmp = T.tmpname("-sweepmpi")
os.execute("mkdir -p " .. sh_quote(tmp))

local function lines_of(path)
  local out = {}
  local f = io.open(path)
  if not f then return out end
  for l in f:lines() do out[#out + 1] = l end
  f:close()
  return out
end

local function rows_of(path)
  local rows = {}
  for _, l in ipairs(lines_of(path)) do rows[#rows + 1] = C.json_decode(l) end
  return rows
end

local function count(rows, id, status)
  local n = 0
  for _, r in ipairs(rows) do if r.id == id and (not status or r.status == status) then n = n + 1 end end
  return n
end

-- as root in CI; containers often forbid the cross-memory attach of Open MPI's
-- shared-memory transport, which these small messages do not need
local MPIRUN = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 " ..
               "OMPI_MCA_btl_vader_single_copy_mechanism=none mpirun -np 2 --oversubscribe "
-- in a sanitizer build: Open MPI's plugins have no frame pointers, so
-- LeakSanitizer needs its slow unwinder to see that what they keep at exit is
-- theirs (tests/lsan.supp names their libraries)
if os.getenv("LSAN_OPTIONS") then
  MPIRUN = "LSAN_OPTIONS=" .. sh_quote(os.getenv("LSAN_OPTIONS") .. ":fast_unwind_on_malloc=0") .. " " .. MPIRUN
end

-- the fixture's command: env, then mpirun when asked, then llfc
local function command(env, mpi, prefix)
  local parts = {}
  for k, v in pairs(env) do parts[#parts + 1] = k .. "=" .. sh_quote(v) end
  table.sort(parts)
  return "env " .. table.concat(parts, " ") .. " " .. (mpi and MPIRUN or "") .. (prefix or "") .. sh_quote(LLFC) ..
         " " .. sh_quote(FIXTURE)
end

local function run(cmd)
  local p = io.popen(cmd .. " < /dev/null 2>&1")
  local out = p:read("a")
  local ok, _, code = p:close()
  return ok, code, out
end

-- done rows by id, with the fields that must agree between two runs
local KEYS = { "status", "params", "out", "models", "digest", "inputs", "deps" }
local function comparable(rows)
  local t = {}
  for _, r in ipairs(rows) do
    if r.status == "done" then
      local c = {}
      for _, k in ipairs(KEYS) do c[k] = r[k] end
      t[r.id] = C.json_encode(c)
    end
  end
  return t
end

local IDS = { "train/s1", "train/s2", "train/s3", "eval/s1", "eval/s2", "eval/s3", "all" }
local function same_rows(a, b)
  local bad = {}
  for _, id in ipairs(IDS) do
    if not a[id] or a[id] ~= b[id] then bad[#bad + 1] = id end
  end
  return #bad == 0, table.concat(bad, " ")
end

local ref
T.section("mpirun -np 2 and one process agree", function()
  local env = { FIX_DIR = tmp .. "/one", OPENBLAS_NUM_THREADS = "1" }
  local ok, _, out = run(command(env, false))
  T.ok(ok and out:find("rows 7", 1, true), "in one process: 7 rows", out)
  ref = comparable(rows_of(tmp .. "/one/results.jsonl"))
  env.FIX_DIR = tmp .. "/mpi"
  env.FIX_LOG = tmp .. "/mpi.log"
  local ok2, code2, out2 = run(command(env, true))
  T.ok(ok2 and out2:find("rows 7", 1, true), "under mpirun -np 2: 7 rows", out2)
  T.ok(select(2, out2:gsub("rows 7", "")) == 1, "only rank 0 runs the code after Sweep:run")
  local rows = rows_of(tmp .. "/mpi/results.jsonl")
  T.eq(#rows, 7, "one row per task in the results file")
  local same, which = same_rows(ref, comparable(rows))
  T.ok(same, "the same done rows (params, outputs, model hashes, digests) as in one process", which)
  local ranks = {}
  for _, l in ipairs(lines_of(tmp .. "/mpi.log")) do ranks[l:match("^%S+ %d+ (%d+)")] = true end
  T.ok(ranks["0"] and ranks["1"], "both ranks ran tasks (rank 0 works besides scheduling)")
end)

T.section("a worker killed in the middle of a task", function()
  local dir = tmp .. "/kill"
  local env = { FIX_DIR = dir, FIX_LOG = tmp .. "/kill.log", FIX_BLOCK = "*", FIX_BLOCK_RANK = "1",
                OPENBLAS_NUM_THREADS = "1" }
  os.execute(command(env, true) .. " > " .. sh_quote(tmp .. "/kill.out") .. " 2>&1 < /dev/null & echo $! > " ..
             sh_quote(tmp .. "/kill.pid"))
  local b
  for _ = 1, 400 do
    local f = io.open(dir .. ".block")
    if f then b = f:read("a"); f:close(); break end
    os.execute("sleep 0.05")
  end
  local id, pid = (b or ""):match("^(%S+) (%d+)")
  T.ok(pid ~= nil, "rank 1 reached a task and waits in it", b)
  if not pid then return end
  os.execute("kill -9 " .. pid)
  local mpid = (io.open(tmp .. "/kill.pid"):read("a")):match("%d+")
  local gone = false
  for _ = 1, 400 do
    if os.execute("kill -0 " .. mpid .. " 2>/dev/null") ~= true then gone = true; break end
    os.execute("sleep 0.05")
  end
  T.ok(gone, "the job ends when a rank dies")
  os.remove(dir .. ".block")
  local before = rows_of(dir .. "/results.jsonl")
  T.ok(count(before, id) == 0, "no row for the task that was running on the dead rank (" .. id .. ")")
  local done_before = {}
  for _, r in ipairs(before) do if r.status == "done" then done_before[r.id] = true end end
  os.remove(tmp .. "/kill.log")
  env.FIX_BLOCK, env.FIX_BLOCK_RANK = nil, nil
  local ok, _, out = run(command(env, true))
  T.ok(ok and out:find("rows 7", 1, true), "the resumed run (mpirun again) ends with 7 rows", out)
  local reran, again = false, {}
  for _, l in ipairs(lines_of(tmp .. "/kill.log")) do
    local t = l:match("^(%S+)")
    if t == id then reran = true end
    if done_before[t] then again[#again + 1] = t end
  end
  T.ok(reran, "the task that was running on the dead rank ran again")
  T.ok(#again == 0, "no task that was done before ran again", table.concat(again, " "))
  local after = rows_of(dir .. "/results.jsonl")
  local once = true
  for _, i in ipairs(IDS) do once = once and count(after, i, "done") == 1 end
  T.ok(once and #after == 7, "every task has exactly one done row", #after .. " rows")
  local same, which = same_rows(ref or {}, comparable(after))
  T.ok(same, "and they are the rows of the uninterrupted run", which)
end)

T.section("a task that raises on a rank; thread defaults", function()
  local env = { FIX_DIR = tmp .. "/fail", FIX_FAIL = "eval/s1=1,eval/s2=1,eval/s3=1" }
  local ok, _, out = run(command(env, true))
  T.ok(ok and out:find("rows 7", 1, true), "the run goes on past failed attempts", out)
  local rows = rows_of(tmp .. "/fail/results.jsonl")
  T.ok(#rows == 10 and count(rows, "eval/s2", "failed") == 1 and count(rows, "eval/s2", "done") == 1,
       "each failing task: a failed row with its error, then a done row", #rows .. " rows")
  local failed
  for _, r in ipairs(rows) do if r.status == "failed" then failed = r end end
  T.ok(failed and failed.error:find("planned failure", 1, true) and failed.rank ~= nil, "the failed row names the error and rank")
  local info = sweep.info()
  local set = tonumber(os.getenv("OPENBLAS_NUM_THREADS") or "")
  local want = set or math.max(1, info.cores // 2)
  local good = true
  for _, r in ipairs(rows) do good = good and r.provenance.threads == want end
  T.ok(good, set and ("OPENBLAS_NUM_THREADS = " .. set .. " wins over the default threads")
             or ("each of 2 ranks on this node runs cores/2 = " .. want .. " GEMM threads"))
end)

T.section("ranks that build different sweeps", function()
  local env = { FIX_DIR = tmp .. "/differ" }
  local ok, code, out = run(command(env, true, "sh -c 'FIX_SEEDS=$((3 + OMPI_COMM_WORLD_RANK)) exec \"$0\" \"$@\"' "))
  T.ok(not ok and out:find("the sweep differs between ranks", 1, true), "an error on every rank, no task runs", out)
  T.eq(#rows_of(tmp .. "/differ/results.jsonl"), 0, "no rows")
end)

os.execute("rm -rf " .. sh_quote(tmp))
T.done()
