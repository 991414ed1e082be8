-- sweep_fixture.lua - a small seeded sweep that the sweep tests run through
-- the binary (in one process, under mpirun, as single tasks), steered by the
-- environment:
--   FIX_DIR    the results directory (required)
--   FIX_SEEDS  number of seeds (default 3): train/sN -> eval/sN, and "all"
--              after every eval
--   FIX_LOG    every task run appends "id attempt rank pid" to this file
--   FIX_FAIL   "id=n,...": task id raises on its first n attempts
--   FIX_BLOCK  a task id, or "*" for any: the task writes FIX_DIR.block
--              ("id pid") and waits until FIX_DIR.go exists (at most 30 s)
--   FIX_BLOCK_RANK  block only on this rank
--   FIX_RETRIES     the sweep's retries (default 1)
-- Prints "rows N" and one line per row (id, status) on rank 0 at the end.
local dir = assert(os.getenv("FIX_DIR"), "FIX_DIR is required")
local nseeds = tonumber(os.getenv("FIX_SEEDS") or "3")
local logf = os.getenv("FIX_LOG")
local block, block_rank = os.getenv("FIX_BLOCK"), tonumber(os.getenv("FIX_BLOCK_RANK") or "")
local fails = {}
for id, n in (os.getenv("FIX_FAIL") or ""):gmatch("([^=,]+)=(%d+)") do fails[id] = tonumber(n) end

local function mypid()
  local f = io.open("/proc/self/stat")
  local p = f:read("n")
  f:close()
  return p
end

local function enter(ctx)
  if logf then
    local f = assert(io.open(logf, "a"))
    f:write(string.format("%s %d %d %d\n", ctx.id, ctx.attempt, ctx.rank, mypid()))
    f:close()
  end
  if block and (block == "*" or block == ctx.id) and (not block_rank or block_rank == ctx.rank) then
    local go = io.open(dir .. ".go")
    if go then go:close() else
      local f = assert(io.open(dir .. ".block.tmp", "w"))
      f:write(string.format("%s %d\n", ctx.id, mypid()))
      f:close()
      os.rename(dir .. ".block.tmp", dir .. ".block")
      -- wait in Lua, not in os.execute("sleep"): system() ignores SIGINT
      local t_end = os.time() + 30
      repeat
        local t = os.clock() + 0.02
        while os.clock() < t do end
        go = io.open(dir .. ".go")
      until go or os.time() > t_end
      if go then go:close() end
    end
  end
  if fails[ctx.id] and ctx.attempt <= fails[ctx.id] then
    error(string.format("planned failure of %s, attempt %d", ctx.id, ctx.attempt))
  end
end

local ds = data.moons{n = 400, noise = 0.1, split = 0.75, seed = 7}
local S = sweep.new{dir = dir, retries = tonumber(os.getenv("FIX_RETRIES") or "1"), data = "moons 300/100 seed 7"}
local evals = {}
for s = 1, nseeds do
  local tr = S:task{id = "train/s" .. s, params = {seed = s, width = 8}, run = function(p, _, ctx)
    enter(ctx)
    local net = nn.mlp{2, p.width, 2, seed = p.seed}
    net:train(ds.train, {epochs = 2, lr = 0.05, batch = 32, seed = p.seed, progress = false})
    return {net = net, err = net:eval(ds.test).err}
  end}
  evals[s] = S:task{id = "eval/s" .. s, params = {seed = s}, deps = {tr}, run = function(p, inputs, ctx)
    enter(ctx)
    local net = inputs[1].net
    return {err = net:eval(ds.test).err, loss = net:eval(ds.test).loss, same = inputs["train/s" .. p.seed].err}
  end}
end
S:task{id = "all", deps = evals, run = function(_, inputs, ctx)
  enter(ctx)
  local s = 0
  for k = 1, #evals do s = s + inputs[k].err end
  return {mean_err = s / #evals}
end}
local rows = S:run()
print("rows " .. #rows)
for _, r in ipairs(rows) do print(r.id, r.status) end
