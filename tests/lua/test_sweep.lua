-- test_sweep.lua - sweeps in one process: JSON rows, grids, summaries against
-- hand-computed statistics, resuming (what runs again and what does not),
-- failures, retries and skipped dependents, content-named model files and
-- their verification, single tasks from the command line (--task,
-- --array-index, --levels), concurrent single tasks under the file lock, and
-- a run killed in the middle.  The MPI runs are in test_sweep_mpi.lua.
local T = require "check"
local C = package.loaded["llfc.sweep.c"]
local sh_quote, slurp = T.sh_quote, T.slurp
local LLFC = os.getenv("LLFC") or (T.builddir .. "/llfc")
local FIXTURE = T.srcdir .. "/tests/lua/sweep_fixture.lua"

local tmp = T.tmpname("-sweep")
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

-- a quiet sweep in a fresh directory
local ndir = 0
local function fresh(opts)
  ndir = ndir + 1
  opts = opts or {}
  opts.dir = opts.dir or (tmp .. "/s" .. ndir)
  if opts.progress == nil then opts.progress = false end
  return sweep.new(opts), opts.dir
end

T.section("json rows", function()
  T.eq(C.json_encode({ b = 1, a = { 1, 2.5, "x" }, c = true }), '{"a":[1,2.5,"x"],"b":1,"c":true}',
       "objects are written with sorted keys, on one line")
  local vals = { 0.1, 1 / 3, 1e300, -2.5e-310, 123456789012, 2 ^ 53 + 2 }
  local same = true
  for _, v in ipairs(vals) do same = same and C.json_decode(C.json_encode({ v }))[1] == v end
  T.ok(same, "numbers read back bit for bit (0.1, 1/3, 1e300, a subnormal, integers)")
  local nan = C.json_decode(C.json_encode({ x = 0 / 0, y = math.huge }))
  T.ok(nan.x ~= nan.x and nan.y ~= nan.y, "NaN and infinity are written as null and read back as NaN")
  T.raises(function() C.json_encode({ out = { f = print } }) end, "out.f: a function cannot be stored",
           "a function in a row is an error naming where it is")
  T.raises(function() C.json_encode({ 1, 2, x = 3 }) end, "both list items and named fields", "mixed tables are refused")
  local v, msg = C.json_decode('{"a": [1, 2')
  T.ok(v == nil and msg:find("bad JSON"), "broken JSON: nil and a message", msg)
  T.eq(C.sha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256 of a string")
end)

T.section("grid", function()
  local g = sweep.grid{ seed = { 1, 2 }, k = { 0, 0.5 } }
  local want = { { 0, 1 }, { 0, 2 }, { 0.5, 1 }, { 0.5, 2 } }
  local ok = #g == 4
  for i, w in ipairs(want) do ok = ok and g[i].k == w[1] and g[i].seed == w[2] end
  T.ok(ok, "grid: names in alphabetical order, the last changing fastest")
  T.raises(function() sweep.grid{ seed = {} } end, "'seed' must be a non-empty list", "an empty axis is an error")
end)

T.section("summary", function()
  local rows = {
    { status = "done", params = { k = 1, w = "a" }, out = { x = 1 } },
    { status = "done", params = { k = 1, w = "a" }, out = { x = 2 } },
    { status = "done", params = { k = 1, w = "a" }, out = { x = 3 } },
    { status = "done", params = { k = 1, w = "a" }, out = { x = 4 } },
    { status = "done", params = { k = 0.5, w = "a" }, out = { x = 7, y = 0 / 0 } },
    { status = "done", params = { k = 0.5, w = "a" }, out = { x = 9, y = 1 } },
    { status = "failed", params = { k = 0.5, w = "a" }, out = { x = 1000 } },
    { k = 2, x = 5 }, -- a plain table summarises too
  }
  local s = sweep.summary(rows, { by = "k", values = { "x", "y" } })
  T.eq(s.kind, "summary", "a summary has kind = 'summary'")
  T.ok(#s.groups == 3 and s.groups[1].k == 0.5 and s.groups[2].k == 1 and s.groups[3].k == 2,
       "groups sorted by k; the failed row left out")
  local g1 = s.groups[2]
  -- by hand: mean 2.5, sum of squares 1.5^2*2 + 0.5^2*2 = 5, sample variance 5/3
  T.near(g1.x.mean, 2.5, 1e-15, "mean of 1..4")
  T.near(g1.x.std, math.sqrt(5 / 3), 1e-15, "sample std of 1..4 = sqrt(5/3)")
  T.ok(g1.x.min == 1 and g1.x.max == 4 and g1.x.count == 4 and g1.n == 4, "min, max, count, n")
  local g0 = s.groups[1]
  T.ok(g0.x.mean == 8 and g0.x.count == 2 and math.abs(g0.x.std - math.sqrt(2)) < 1e-15,
       "k = 0.5: mean 8, std sqrt(2)")
  T.ok(g0.y.count == 1 and g0.y.mean == 1 and g0.y.std ~= g0.y.std, "a NaN is not counted; one value has std NaN")
  T.ok(s.groups[3].x.mean == 5 and s.groups[3].y.count == 0, "a group without a value: count 0")
  local text = tostring(s)
  T.ok(text:find("mean", 1, true) and text:find("2.5000", 1, true) and text:find("1.2910", 1, true),
       "a summary prints its statistics", text)
  local s2 = sweep.summary(rows, { by = { "w", "k" } })
  T.ok(#s2.values == 2 and s2.values[1] == "x" and #s2.groups == 3, "values default to every numeric output")
  local ser = sweep.series(s, { x = "k", y = "x" })
  T.ok(ser.kind == "series" and view.kindof(ser) == "series" and #ser.series == 1, "sweep.series: a result of the view's series kind")
  local s1 = ser.series[1]
  T.ok(s1.x[1] == 0.5 and s1.x[2] == 1 and s1.y[2] == 2.5 and math.abs(s1.sd[2] - math.sqrt(5 / 3)) < 1e-15,
       "the series: x, mean and sd of each group")
  local s3 = sweep.summary(rows, { by = { "k", "w" }, values = { "x" } })
  local ser3 = sweep.series(s3, { x = "k" }).series
  T.ok(#ser3 == 2 and ser3[1].name == "w=a" and #ser3[1].x == 2 and ser3[2].name == "w=nil",
       "one line per value of the second by name (the plain row has no w)")
  local txt = view.text(ser, { ascii = true, height = 10 })
  T.ok(txt:find("x against k", 1, true), "the view draws it as text", txt)
  local svg = tmp .. "/sum.svg"
  T.eq(sweep.save(s, svg, { x = "k", y = "x" }), svg, "sweep.save writes a figure through view.save")
  T.ok((slurp(svg) or ""):find("</svg>", 1, true), "the SVG is complete")
  local csvp = tmp .. "/sum.csv"
  sweep.save(s, csvp)
  local l = lines_of(csvp)
  T.ok(l[1] == "k,value,mean,std,min,max,count,n" and #l == 7 and l[4]:find("^1,x,2.5,", 1), "sweep.save writes CSV", l[4])
  T.raises(function() sweep.series(s, { y = "zz" }) end, "not a value of the summary", "an unknown value to plot")
  T.raises(function() sweep.summary(rows, { vales = "x" }) end, "did you mean 'values'", "a typo in the options is named")
end)

T.section("errors", function()
  T.raises(function() sweep.new{} end, "option 'dir'", "sweep.new needs a dir")
  T.raises(function() sweep.new{ dir = "x", retires = 2 } end, "sweep.new: unknown option 'retires' (did you mean 'retries'?)",
           "a typo is named")
  local S = fresh()
  T.raises(function() S:task{ id = "a b", run = print } end, "id must be", "an id with a space")
  S:task{ id = "a", run = function() end }
  T.raises(function() S:task{ id = "a", run = print } end, "already in the sweep", "a duplicate id")
  T.raises(function() S:task{ id = "b", deps = { "z" }, run = print } end, "depends on 'z', which is not a task",
           "an unknown input")
  T.raises(function() S:task{ id = "c" } end, "needs run = function", "a task without run")
  T.raises(function() S:task{ id = "d", params = { f = print }, run = print } end, "params: f: a function",
           "params that cannot be stored")
  T.raises(function() S:run{ tsk = "a" } end, "did you mean 'task'", "a typo in the run options")
  T.raises(function() S:run{ task = "zz" } end, "no task 'zz'", "an unknown task to run alone")
  local doc = llfc.doc(S, 100)
  T.ok(doc and doc:find("^Type Sweep") and doc:find("Sweep:run", 1, true), "help(S) lists a sweep's methods", doc)
  T.ok(tostring(S):find("^llfc.Sweep"), "a sweep prints as llfc.Sweep")
end)

T.section("run and resume", function()
  local calls = {}
  local function note(id) calls[id] = (calls[id] or 0) + 1 end
  local ds = data.moons{ n = 200, noise = 0.1, split = 0.5, seed = 3 }
  local function build(S, width)
    local tr = S:task{ id = "train", params = { width = width }, run = function(p)
      note("train")
      local net = nn.mlp{ 2, p.width, 2, seed = 1 }
      net:train(ds.train, { epochs = 2, lr = 0.05, seed = 1, progress = false })
      return { net = net, err = net:eval(ds.test).err, info = { w = p.width, tag = "x" } }
    end }
    S:task{ id = "eval", deps = { tr }, run = function(_, inputs)
      note("eval")
      return { err2 = inputs.train.net:eval(ds.test).err, err = inputs[1].err, w = inputs[1].info.w }
    end }
    S:task{ id = "solo", params = { v = 3 }, run = function(p) note("solo"); return { v = p.v * 2 } end }
  end
  local S, dir = fresh()
  build(S, 8)
  local rows, counts = S:run()
  T.ok(#rows == 3 and counts.done == 3 and counts.ran == 3 and calls.train == 1 and calls.eval == 1,
       "every task runs once", string.format("%d rows, %s ran", #rows, tostring(counts.ran)))
  local tr, ev = rows[1], rows[3]
  T.ok(tr.id == "train" and rows[2].id == "solo" and ev.id == "eval", "rows in the sweep's order (by level)")
  T.ok(ev.out.err2 == tr.out.err and ev.out.err == tr.out.err and ev.out.w == 8,
       "the dependent got the net (same error) and the values")
  local m = tr.models and tr.models.net
  T.ok(m and m.file == "models/" .. m.sha256:sub(1, 32) .. ".safetensors", "the net is saved under its hash", m and m.file)
  local p = io.popen("sha256sum " .. sh_quote(dir .. "/" .. (m and m.file or "x")))
  local ref = p:read("a"):match("^(%x+)")
  p:close()
  T.eq(ref, m and m.sha256, "the recorded hash is sha256sum's")
  T.ok(ev.inputs and ev.inputs.train == tr.digest and #tr.digest == 16, "a row records its inputs' digests")
  local pv = tr.provenance or {}
  T.ok(pv.llfc == llfc.version and type(pv.gemm) == "table" and pv.gemm.core == llfc.blas().core
       and pv.threads == llfc.blas().threads and tr.host and tr.rank == 0 and tr.time:match("^%d+%-%d+%-%d+T"),
       "provenance: version, GEMM library, threads, host, rank, time")
  -- again: nothing runs
  calls = {}
  local rows2, c2 = S:run()
  T.ok(c2.ran == 0 and next(calls) == nil and #rows2 == 3, "a second run runs nothing")
  T.eq(#lines_of(dir .. "/results.jsonl"), 3, "and appends no rows")
  -- changed params: that task and its dependent run again
  local S2 = fresh{ dir = dir }
  build(S2, 12)
  calls = {}
  S2:run()
  T.ok(calls.train == 1 and calls.eval == 1 and not calls.solo, "changed params: the task and its dependent run again")
  T.eq(#S2:rows(), 3, "rows() gives one done row per task")
  -- a corrupted model file: detected, its task and dependents redone
  local S3 = fresh{ dir = dir }
  build(S3, 12)
  local r3 = S3:rows("^train$")[1]
  local path = dir .. "/" .. r3.models.net.file
  local f = assert(io.open(path, "r+b"))
  f:seek("set", 200)
  local b = f:read(1)
  f:seek("set", 200)
  f:write(string.char((b:byte() + 1) % 256))
  f:close()
  calls = {}
  local rows4, c4 = S3:run()
  T.ok(calls.train == 1 and calls.eval == 1 and not calls.solo and c4.ran == 2,
       "a corrupted model file: its task and the task after it run again")
  local r4 = rows4[1]
  T.ok(r4.models.net.sha256 == r3.models.net.sha256 and C.sha256_file(path) == r3.models.net.sha256,
       "the same training writes the same bytes: the file is whole again")
  os.remove(path)
  calls = {}
  S3:run()
  T.ok(calls.train == 1 and calls.eval == 1, "a deleted model file: redone")
  T.eq(#S3:levels(), 3, "levels lists every task")
  T.ok(S3:levels()[3].level == 1 and S3:levels()[3].index == 2 and S3:levels()[1].status == "done",
       "levels: index, level, status")
  local csvp = S3:csv(tmp .. "/rows.csv")
  local l = lines_of(csvp)
  T.ok(l[1] == "id,v,width,err,err2,v,w,seconds,host,rank" or l[1]:find("^id,"), "csv has a header", l[1])
  T.eq(#l, 4, "csv: one line per done task")
  T.raises(function() S3:csv("") end, "Sweep:csv: expected a path", "an empty path names Sweep:csv")
  T.raises(function() S3:csv(0 / 0) end, "Sweep:csv: expected a path", "a number is not a path")
  T.raises(function() sweep.save(sweep.summary(S3:rows()), "") end, "sweep.save: expected a path", "an empty path names sweep.save")
end)

T.section("failures", function()
  local attempts = {}
  local S, dir = fresh{ retries = 1 }
  S:task{ id = "flaky", run = function(_, _, ctx)
    attempts.flaky = ctx.attempt
    if ctx.attempt == 1 then error("flaky fails once") end
    return { v = 1 }
  end }
  S:task{ id = "bad", run = function() attempts.bad = (attempts.bad or 0) + 1; error("bad always fails") end }
  S:task{ id = "after_bad", deps = { "bad" }, run = function() attempts.after = true end }
  S:task{ id = "after_after", deps = { "after_bad" }, run = function() attempts.after2 = true end }
  S:task{ id = "nan", run = function() return { x = 0 / 0 } end }
  S:task{ id = "fn", run = function() return { f = print } end }
  S:task{ id = "notable", run = function() return 42 end }
  local rows, c = S:run()
  local all = rows_of(dir .. "/results.jsonl")
  T.ok(attempts.flaky == 2 and count(all, "flaky", "failed") == 1 and count(all, "flaky", "done") == 1,
       "a task that raises is recorded as failed and retried")
  T.ok(attempts.bad == 2 and count(all, "bad", "failed") == 2, "retries = 1: two attempts, two failed rows")
  local fr
  for _, r in ipairs(all) do if r.id == "bad" then fr = r end end
  T.ok(fr and fr.error:find("bad always fails", 1, true) and fr.attempt == 2, "the failed row has the error and attempt")
  T.ok(not attempts.after and not attempts.after2 and count(all, "after_bad", "skipped") == 1
       and count(all, "after_after", "skipped") == 1, "the tasks after a failed one are skipped, never run")
  local sk
  for _, r in ipairs(all) do if r.id == "after_after" then sk = r end end
  T.ok(sk and sk.error == "input 'bad' failed", "a skipped row names the failed task", sk and sk.error)
  local byid = {}
  for _, r in ipairs(rows) do byid[r.id] = r end
  T.ok(byid.nan.status == "failed" and byid.nan.error:find("'x' is NaN", 1, true), "a NaN output fails the task")
  T.ok(byid.fn.status == "failed" and byid.fn.error:find("'f'", 1, true) and byid.fn.error:find("function", 1, true),
       "an output that cannot be stored fails the task, naming it", byid.fn.error)
  T.ok(byid.notable.status == "failed" and byid.notable.error:find("returned a number", 1, true),
       "a task must return a table")
  T.ok(c.done == 1 and c.failed == 4 and c.skipped == 2, "counts: 1 done, 4 failed, 2 skipped",
       string.format("%d %d %d", c.done, c.failed, c.skipped))
  -- resume: failed and skipped rows do not count as done
  attempts = {}
  S:run()
  T.ok(attempts.bad == 2 and attempts.flaky == nil, "a resumed run retries the failed task, not the done one")
end)

-- ---- through the binary -------------------------------------------------------------
local function fixture(env, args, bg)
  local parts = {}
  for k, v in pairs(env) do parts[#parts + 1] = k .. "=" .. sh_quote(v) end
  table.sort(parts)
  local cmd = "env " .. table.concat(parts, " ") .. " " .. sh_quote(LLFC) .. " " .. sh_quote(FIXTURE) .. " " ..
              (args or "")
  if bg then return cmd end
  local p = io.popen(cmd .. " < /dev/null 2>&1")
  local out = p:read("a")
  local ok, _, code = p:close()
  return ok, code, out
end

local function wait_for(path, seconds)
  for _ = 1, math.floor(seconds / 0.05) do
    local f = io.open(path)
    if f then local s = f:read("a"); f:close(); return s end
    os.execute("sleep 0.05")
  end
end

local function alive(pid) return os.execute("kill -0 " .. pid .. " 2>/dev/null") == true end

local function wait_gone(pid, seconds)
  for _ = 1, math.floor(seconds / 0.05) do
    if not alive(pid) then return true end
    os.execute("sleep 0.05")
  end
  return false
end

T.section("killed run, resumed", function()
  local dir, log = tmp .. "/kill", tmp .. "/kill.log"
  local env = { FIX_DIR = dir, FIX_LOG = log, FIX_BLOCK = "eval/s2", OPENBLAS_NUM_THREADS = "1" }
  os.execute(fixture(env, "", true) .. " > " .. sh_quote(tmp .. "/kill.out") .. " 2>&1 < /dev/null &")
  local b = wait_for(dir .. ".block", 20)
  local pid = b and b:match("^%S+ (%d+)")
  T.ok(pid ~= nil, "the run reached the blocking task", b)
  if not pid then return end
  os.execute("kill -9 " .. pid)
  T.ok(wait_gone(pid, 10), "the run is killed")
  os.remove(dir .. ".block")
  local before = rows_of(dir .. "/results.jsonl")
  T.ok(#before == 4 and count(before, "eval/s1", "done") == 1 and count(before, "eval/s2") == 0,
       "rows of the 4 tasks finished before the kill, none of the task in flight", #before .. " rows")
  os.remove(log)
  env.FIX_BLOCK = nil
  local ok, code, out = fixture(env)
  T.ok(ok and out:find("rows 7", 1, true), "the resumed run ends with 7 rows", out)
  local ran = {}
  for _, l in ipairs(lines_of(log)) do ran[#ran + 1] = l:match("^(%S+)") end
  T.eq(table.concat(ran, " "), "eval/s2 eval/s3 all", "only the unfinished tasks ran")
  local after = rows_of(dir .. "/results.jsonl")
  local once = #after == 7
  for _, id in ipairs({ "train/s1", "train/s2", "train/s3", "eval/s1", "eval/s2", "eval/s3", "all" }) do
    once = once and count(after, id, "done") == 1
  end
  T.ok(once, "every task has exactly one done row: nothing lost, nothing twice")
end)

T.section("Ctrl-C records nothing for the task in flight", function()
  local dir = tmp .. "/int"
  local env = { FIX_DIR = dir, FIX_BLOCK = "eval/s1", OPENBLAS_NUM_THREADS = "1" }
  os.execute(fixture(env, "", true) .. " > " .. sh_quote(tmp .. "/int.out") .. " 2>&1 < /dev/null & echo $! > " ..
             sh_quote(tmp .. "/int.pid"))
  local b = wait_for(dir .. ".block", 20)
  local pid = b and b:match("^%S+ (%d+)")
  if not pid then T.ok(false, "the run reached the blocking task"); return end
  os.execute("kill -INT " .. pid)
  T.ok(wait_gone(pid, 10), "SIGINT ends the run")
  local rows = rows_of(dir .. "/results.jsonl")
  T.ok(#rows == 3 and count(rows, "eval/s1") == 0, "no row (done or failed) for the interrupted task", #rows .. " rows")
  T.ok((slurp(tmp .. "/int.out") or ""):find("interrupted", 1, true), "the run says it was interrupted")
end)

T.section("single tasks", function()
  local dir = tmp .. "/single"
  local env = { FIX_DIR = dir, FIX_SEEDS = "4", OPENBLAS_NUM_THREADS = "1", FIX_LOG = tmp .. "/single.log" }
  local ok, code, out = fixture(env, "--levels")
  T.ok(ok and out:find("level 0: indices 0-3 (4 tasks)", 1, true) and out:find("level 2: indices 8-8 (1 tasks)", 1, true),
       "--levels prints the index range of each level", out)
  T.ok(out:find("eval/s2%s+train/s2") ~= nil and not out:find("rows ", 1, true),
       "--levels shows each task's inputs and ends the script")
  ok, code, out = fixture(env, "--task all")
  T.ok(not ok and code == 1 and out:find("its inputs are not done yet", 1, true) and out:find("'eval/s3' (not run)", 1, true),
       "a task whose inputs are not done: an error naming them", out)
  ok, code, out = fixture(env, "--task nope")
  T.ok(not ok and out:find("no task 'nope'", 1, true), "an unknown task id", out)
  -- four single tasks at once, appending under the lock
  local cmds = {}
  for s = 1, 4 do cmds[s] = fixture(env, "--task train/s" .. s, true) .. " > /dev/null 2>&1 &" end
  os.execute("(" .. table.concat(cmds, " ") .. " wait)")
  local rows = rows_of(dir .. "/results.jsonl")
  local each = #rows == 4
  for s = 1, 4 do each = each and count(rows, "train/s" .. s, "done") == 1 end
  T.ok(each, "4 concurrent single tasks: 4 whole rows, one per task", #rows .. " rows")
  ok, code, out = fixture(env, "--array-index 4")
  rows = rows_of(dir .. "/results.jsonl")
  T.ok(ok and count(rows, "eval/s1", "done") == 1, "--array-index 4 runs the 5th task of the order (eval/s1)", out)
  env.SLURM_ARRAY_TASK_ID = "5"
  ok, code, out = fixture(env, "--array-index")
  rows = rows_of(dir .. "/results.jsonl")
  T.ok(ok and count(rows, "eval/s2", "done") == 1, "--array-index alone takes SLURM_ARRAY_TASK_ID", out)
  ok, code, out = fixture(env, "--array-index 9")
  T.ok(not ok and out:find("has 9 tasks (indices 0-8)", 1, true), "an index past the end is an error", out)
  local nlog = #lines_of(tmp .. "/single.log")
  ok, code, out = fixture(env, "--task train/s1")
  T.ok(ok and out:find("done already", 1, true) and #lines_of(tmp .. "/single.log") == nlog,
       "a done task is not run again", out)
  env.FIX_FAIL = "eval/s3=5"
  ok, code, out = fixture(env, "--task eval/s3")
  rows = rows_of(dir .. "/results.jsonl")
  T.ok(not ok and code == 1 and count(rows, "eval/s3", "failed") == 2, "a failing single task: its retries, rows, status 1")
  local p = io.popen(sh_quote(LLFC) .. " -e 'x = 1' --levels 2>&1")
  local o2 = p:read("a")
  local ok2, _, code2 = p:close()
  T.ok(not ok2 and code2 == 1 and o2:find("ran none", 1, true), "--levels with no sweep: status 1 and a message", o2)
end)

os.execute("rm -rf " .. sh_quote(tmp))
T.done()
