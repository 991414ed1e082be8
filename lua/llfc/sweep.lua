-- llfc.sweep: a set of named tasks with dependencies, written once in Lua and
-- run in this process, across the ranks of an Open MPI job (mpirun / srun),
-- or one task at a time (--task, --array-index: job arrays, GNU parallel).
-- Each finished task appends one JSON row to DIR/results.jsonl; networks a
-- task returns go to DIR/models/ under the hash of their bytes.  Running the
-- same sweep again skips the tasks whose rows are there and whose files
-- verify.  Scheduling, the MPI transport, the file lock and SHA-256 are in C
-- (src/dist/, through package.loaded["llfc.sweep.c"], src/lua/l_sweep.c).
local C = assert(package.loaded["llfc.sweep.c"], "llfc.sweep needs the llfc binary or module")
local M = {}

local RESULTS, MODELS = "results.jsonl", "models"
local ID_PATTERN = "^[%w_.:/=+,%-]+$"

local function llfc_table() return rawget(_G, "llfc") or package.loaded.llfc end
local function nn() return package.loaded["llfc.nn"] or rawget(_G, "nn") end

local function is_net(v)
  local mt = type(v) == "userdata" and getmetatable(v)
  return mt and mt.__name == "llfc.Net"
end

local function copy(t)
  if type(t) ~= "table" then return t end
  local c = {}
  for k, v in pairs(t) do c[k] = copy(v) end
  return c
end

local function keys_sorted(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks, function(a, b) return tostring(a) < tostring(b) end)
  return ks
end

-- a typo in an options table raises at the caller's line, naming the option meant
-- (as: the function whose option list it is, when fname calls it for another)
local function typos(opts, fname, as)
  if type(opts) ~= "table" then
    error(string.format("%s: options must be a table, got %s", fname, type(opts)), 3)
  end
  local ok, err = pcall(C.checkopts, opts, as or fname)
  if not ok then
    local msg = tostring(err):gsub("^%[llfc%] [^:]+:%d+: ", "")
    if as then msg = fname .. msg:sub(#as + 1) end
    error(msg, 3)
  end
end

local function warn(self, fmt, ...)
  io.stderr:write(string.format("sweep %s: " .. fmt .. "\n", self.name, ...))
end

-- ---- the process id (for temporary file names) -------------------------------------
local pid_cache
local function pid()
  if not pid_cache then
    local f = io.open("/proc/self/stat")
    pid_cache = f and f:read("n")
    if f then f:close() end
    pid_cache = pid_cache or math.floor(C.now() * 1e6) % 1000000007
  end
  return pid_cache
end

-- ---- the sweep object --------------------------------------------------------------
local Sweep = {}
local SweepMT = { __name = "llfc.Sweep", __index = Sweep, methods = Sweep }
SweepMT.__tostring = function(s)
  return string.format("llfc.Sweep %s: %d tasks, results in %s", s.name, #s.tasks, s.results)
end
-- registered like the C types, so help(S) lists the methods
debug.getregistry()["llfc.Sweep"] = SweepMT

function M.new(opts)
  if type(opts) ~= "table" then error("sweep.new: expected an options table {dir = ...}", 2) end
  typos(opts, "sweep.new")
  if type(opts.dir) ~= "string" or opts.dir == "" then
    error("sweep.new: option 'dir' (the results directory) is required", 2)
  end
  local retries = opts.retries == nil and 1 or opts.retries
  if math.type(retries) ~= "integer" or retries < 0 then
    error("sweep.new: option 'retries' must be an integer >= 0", 2)
  end
  if opts.threads ~= nil and (math.type(opts.threads) ~= "integer" or opts.threads < 1) then
    error("sweep.new: option 'threads' must be an integer >= 1", 2)
  end
  local dir = opts.dir:gsub("/+$", "")
  if dir == "" then dir = "/" end
  local self = setmetatable({
    dir = dir, name = opts.name or dir:match("([^/]+)$") or dir, retries = retries,
    data = opts.data, rank0_works = opts.rank0_works ~= false, progress = opts.progress ~= false,
    allow_nan = opts.allow_nan == true, threads = opts.threads,
    results = dir .. "/" .. RESULTS, tasks = {}, index = {},
  }, SweepMT)
  return self
end

function Sweep:task(spec)
  if getmetatable(self) ~= SweepMT then error("Sweep:task: call it as S:task{...}", 2) end
  if type(spec) ~= "table" then error("Sweep:task: expected {id =, params =, deps =, run =}", 2) end
  typos(spec, "Sweep:task")
  local id = spec.id
  if type(id) ~= "string" or not id:match(ID_PATTERN) then
    error(string.format("Sweep:task: id must be a non-empty string of letters, digits and _ . : / = + , - (got %s)",
                        type(id) == "string" and ("'" .. id .. "'") or type(id)), 2)
  end
  if self.index[id] then error(string.format("Sweep:task: task '%s' is already in the sweep", id), 2) end
  if type(spec.run) ~= "function" then error(string.format("Sweep:task: task '%s' needs run = function(params, inputs, ctx)", id), 2) end
  local params = spec.params or {}
  if type(params) ~= "table" then error(string.format("Sweep:task: task '%s': params must be a table", id), 2) end
  local ok, pj = pcall(C.json_encode, params)
  if not ok then error(string.format("Sweep:task: task '%s': params: %s", id, tostring(pj):gsub("^json: ", "")), 2) end
  local deps = {}
  for k, d in ipairs(spec.deps or {}) do
    if type(d) ~= "string" then error(string.format("Sweep:task: task '%s': deps[%d] must be a task id", id, k), 2) end
    if not self.index[d] then
      error(string.format("Sweep:task: task '%s' depends on '%s', which is not a task of this sweep (declare it first)", id, d), 2)
    end
    deps[k] = d
  end
  local t = { id = id, params = copy(params), params_json = pj, deps = deps, run = spec.run, i = #self.tasks + 1 }
  self.tasks[t.i] = t
  self.index[id] = t.i
  self.graph = nil
  return id
end

-- the C graph (checked: cycles cannot arise since deps must be declared first,
-- but the C side checks anyway) and the digest every rank must agree on
local function graph_of(self)
  if self.graph then return self.graph end
  local ids, deps, parts = {}, {}, {}
  for i, t in ipairs(self.tasks) do
    ids[i] = t.id
    local d = {}
    for k, dep in ipairs(t.deps) do d[k] = self.index[dep] end
    deps[i] = d
    parts[i] = t.id .. "\t" .. t.params_json .. "\t" .. table.concat(t.deps, ",")
  end
  self.graph = C.run(ids, deps, self.retries)
  self.digest = C.sha256(table.concat(parts, "\n"))
  return self.graph
end

-- ---- reading results -----------------------------------------------------------------
local function read_rows(path)
  local f = io.open(path, "rb")
  if not f then return {}, 0 end
  local rows, bad = {}, 0
  for line in f:lines() do
    if line:find("%S") then
      local ok, r = pcall(C.json_decode, line)
      if ok and type(r) == "table" and type(r.id) == "string" then
        r._line = line
        rows[#rows + 1] = r
      else
        bad = bad + 1
      end
    end
  end
  f:close()
  return rows, bad
end

function M.read(path)
  if type(path) ~= "string" then error("sweep.read: expected the path of a results file", 2) end
  local f, msg = io.open(path, "rb")
  if not f then return nil, msg end
  f:close()
  local rows, bad = read_rows(path)
  for _, r in ipairs(rows) do r._line = nil end
  return rows, bad
end

-- Which tasks are done: the latest "done" row of each task whose params are the
-- task's, whose model files verify, whose inputs are done and were the inputs
-- it ran on.  Returns done[i] = row, last[i] = the latest row of any status.
local function scan(self, quiet)
  local rows, bad = read_rows(self.results)
  if bad > 0 and not quiet then warn(self, "%s: %d unreadable line(s) skipped", self.results, bad) end
  local cand, last = {}, {}
  for _, r in ipairs(rows) do
    local i = self.index[r.id]
    if i then
      last[i] = r
      if r.status == "done" then
        local ok, pj = pcall(C.json_encode, r.params or {})
        if ok and pj == self.tasks[i].params_json then cand[i] = r end
      end
    end
  end
  local hashes, done = {}, {}
  local order = graph_of(self):order()
  for _, i in ipairs(order) do
    local t, r = self.tasks[i], cand[i]
    local ok = r ~= nil
    if ok then
      for _, name in ipairs(keys_sorted(r.models or {})) do
        local m = r.models[name]
        local path = type(m) == "table" and type(m.file) == "string" and (self.dir .. "/" .. m.file)
        if path and hashes[path] == nil then hashes[path] = C.sha256_file(path) or false end
        if not path or hashes[path] ~= m.sha256 then
          ok = false
          if not quiet then
            warn(self, "task %s: model file %s is %s; the task runs again", t.id, path or "?",
                 path and hashes[path] and "corrupt (its sha256 differs)" or "missing")
          end
          break
        end
      end
    end
    if ok then
      for _, dep in ipairs(t.deps) do
        local dr = done[self.index[dep]]
        if not dr or type(r.inputs) ~= "table" or r.inputs[dep] ~= dr.digest then ok = false; break end
      end
    end
    if ok then done[i] = r end
  end
  return done, last
end

-- ---- running one task ----------------------------------------------------------------
local function provenance(self)
  local L = llfc_table()
  local b = L and L.blas and L.blas() or {}
  local gemm = {}
  for k, v in pairs(b) do
    if type(v) == "string" or type(v) == "number" or type(v) == "boolean" then gemm[k] = v end
  end
  return { llfc = L and L.version, lua = _VERSION, gemm = gemm, threads = b.threads, data = self.data }
end

-- a numeric output that is NaN fails the task (tables of outputs, such as a
-- whole metrics result, are data and may hold NaN)
local function check_finite(v, where)
  if type(v) == "number" and v ~= v then
    error(string.format("output %s is NaN (sweep.new{allow_nan = true} keeps it)", where), 0)
  end
end

local tmp_count = 0
local function save_net(self, net, name)
  C.mkdir(self.dir .. "/" .. MODELS)
  tmp_count = tmp_count + 1
  local tmp = string.format("%s/%s/.tmp-%d-%d.safetensors", self.dir, MODELS, pid(), tmp_count)
  local ok, msg = net:save(tmp)
  if not ok then error(string.format("output '%s': %s", name, tostring(msg)), 0) end
  local h, herr = C.sha256_file(tmp)
  if not h then os.remove(tmp); error(herr, 0) end
  local file = MODELS .. "/" .. h:sub(1, 32) .. ".safetensors"
  local rok, rerr = os.rename(tmp, self.dir .. "/" .. file)
  if not rok then os.remove(tmp); error(string.format("output '%s': %s", name, tostring(rerr)), 0) end
  return { file = file, sha256 = h }
end

-- the outputs of a dependency as its dependents see them: values and loaded nets
local function materialize(self, r)
  local v = copy(r.out or {})
  for name, m in pairs(r.models or {}) do
    local path = self.dir .. "/" .. m.file
    local h, herr = C.sha256_file(path)
    if not h then error(string.format("input '%s' of '%s': %s", name, r.id, herr), 0) end
    if h ~= m.sha256 then
      error(string.format("input '%s' of '%s': %s is corrupt (its sha256 differs from the row's)", name, r.id, path), 0)
    end
    local net, lerr = nn().load(path)
    if not net then error(string.format("input '%s' of '%s': %s", name, r.id, tostring(lerr)), 0) end
    v[name] = net
  end
  return v
end

local function is_interrupt(msg)
  msg = tostring(msg)
  return msg:find("interrupted!", 1, true) ~= nil or msg:match("interrupted$") ~= nil
end

-- Run task t; returns ok, row (a table) or nil, "interrupted".
local function run_task(self, t, attempt, inputs_json, where)
  local t0 = C.now()
  local row = { id = t.id, attempt = attempt, params = t.params, deps = #t.deps > 0 and t.deps or nil,
                rank = where.rank, host = where.host }
  local trace
  local ok, res = xpcall(function()
    local rows = C.json_decode(inputs_json)
    if type(rows) ~= "table" or #rows ~= #t.deps then error("bad inputs from the scheduler", 0) end
    local inputs, digests = {}, {}
    for k, dep in ipairs(t.deps) do
      local r = rows[k]
      if type(r) ~= "table" or r.id ~= dep then error(string.format("input %d is not '%s'", k, dep), 0) end
      inputs[k] = materialize(self, r)
      inputs[dep] = inputs[k]
      digests[dep] = r.digest
    end
    row.inputs = #t.deps > 0 and digests or nil
    local ctx = { id = t.id, attempt = attempt, rank = where.rank, dir = self.dir }
    local out = t.run(copy(t.params), inputs, ctx)
    if out == nil then out = {} end
    if type(out) ~= "table" or is_net(out) then
      error(string.format("task '%s' returned a %s: tasks return a table of outputs", t.id, type(out)), 0)
    end
    local values, models = {}, {}
    for _, name in ipairs(keys_sorted(out)) do
      local v = out[name]
      if type(name) ~= "string" then error("outputs must be named (a table with string keys)", 0) end
      if is_net(v) then models[name] = save_net(self, v, name)
      else
        local okj, jerr = pcall(C.json_encode, v)
        if not okj then error("output " .. tostring(jerr):gsub("^json: ", "'" .. name .. "' ") , 0) end
        if not self.allow_nan then check_finite(v, "'" .. name .. "'") end
        values[name] = v
      end
    end
    row.out, row.models = values, next(models) and models or nil
    row.digest = C.sha256(C.json_encode({ out = values, models = row.models })):sub(1, 16)
  end, function(e)
    trace = debug.traceback(tostring(e), 2)
    return e
  end)
  if C.sigint() or (not ok and is_interrupt(res)) then return nil, "interrupted" end
  row.status = ok and "done" or "failed"
  if not ok then
    row.error = tostring(res)
    row.out, row.models, row.digest = nil, nil, nil
    warn(self, "task %s failed (attempt %d of %d): %s", t.id, attempt, self.retries + 1,
         where.rank == 0 and trace or tostring(res))
  end
  row.seconds = C.now() - t0
  row.time = C.utc()
  row.provenance = provenance(self)
  return ok, row
end

-- ---- modes -----------------------------------------------------------------------------
local function status_of(done, last, i)
  if done[i] then return "done" end
  local r = last[i]
  if r and r.status == "failed" then return "failed" end
  if r and r.status == "skipped" then return "skipped" end
  return "-"
end

function Sweep:levels()
  if getmetatable(self) ~= SweepMT then error("Sweep:levels: call it as S:levels()", 2) end
  local g = graph_of(self)
  local order, lv = g:order(), g:levels()
  local done, last = scan(self, true)
  local out = {}
  for k, i in ipairs(order) do
    local t = self.tasks[i]
    out[k] = { index = k - 1, level = lv[i], id = t.id, deps = t.deps, status = status_of(done, last, i) }
  end
  return out
end

local function print_levels(self)
  local ls = self:levels()
  local w = 2
  for _, l in ipairs(ls) do w = math.max(w, #l.id) end
  print(string.format("sweep %s: %d tasks; index = --array-index, level = longest chain of inputs before it",
                      self.name, #ls))
  print(string.format("%-6s %-5s %-8s %-" .. w .. "s  %s", "index", "level", "status", "id", "inputs"))
  local spans = {}
  for _, l in ipairs(ls) do
    print(string.format("%-6d %-5d %-8s %-" .. w .. "s  %s", l.index, l.level, l.status, l.id, table.concat(l.deps, " ")))
    local s = spans[l.level + 1]
    if s then s[2] = l.index; s[3] = s[3] + 1 else spans[l.level + 1] = { l.index, l.index, 1 } end
  end
  for lv, s in ipairs(spans) do
    print(string.format("level %d: indices %d-%d (%d tasks)", lv - 1, s[1], s[2], s[3]))
  end
end

local function run_single(self, sel)
  local g = graph_of(self)
  local i
  if sel.task then
    i = self.index[sel.task]
    if not i then
      error(string.format("--task: no task '%s' in sweep %s (%d tasks; --levels lists them)", sel.task, self.name,
                          #self.tasks), 0)
    end
  else
    local order = g:order()
    if sel.array_index >= #order then
      error(string.format("--array-index %d: sweep %s has %d tasks (indices 0-%d)", sel.array_index, self.name,
                          #order, #order - 1), 0)
    end
    i = order[sel.array_index + 1]
  end
  local t = self.tasks[i]
  local done, last = scan(self)
  if done[i] then
    warn(self, "task %s is done already (%s)", t.id, self.results)
    return true
  end
  local missing, lines = {}, {}
  for k, dep in ipairs(t.deps) do
    local d = self.index[dep]
    if done[d] then lines[k] = done[d]._line
    else
      local r = last[d]
      missing[#missing + 1] = string.format("'%s' (%s)", dep,
        r and r.status == "failed" and ("failed: " .. tostring(r.error)) or (r and r.status or "not run"))
    end
  end
  if #missing > 0 then
    error(string.format("task %s: its inputs are not done yet: %s", t.id, table.concat(missing, ", ")), 0)
  end
  local env = C.env()
  local where = { rank = 0, host = env.host }
  local inputs = "[" .. table.concat(lines, ",") .. "]"
  C.watch_sigint(true)
  for attempt = 1, self.retries + 1 do
    local ok, row = run_task(self, t, attempt, inputs, where)
    if ok == nil then C.watch_sigint(false); error("interrupted", 0) end
    local w, werr = C.append(self.results, C.json_encode(row))
    if not w then C.watch_sigint(false); error(werr, 0) end
    if ok then C.watch_sigint(false); return true end
  end
  C.watch_sigint(false)
  return false
end

-- threads for the GEMM library: OPENBLAS_NUM_THREADS wins; else sweep.new{threads};
-- else under MPI the node's cores divided by its ranks; in a Slurm task its CPUs
local function set_threads(self, env)
  if os.getenv("OPENBLAS_NUM_THREADS") then return end
  local n = self.threads
  if not n and env.active then n = math.max(1, env.cores // math.max(1, env.local_size)) end
  if not n then n = tonumber(os.getenv("SLURM_CPUS_PER_TASK") or "") end
  local L = llfc_table()
  if n and L and L.blas then L.blas(math.floor(n)) end
end

-- The rows of the tasks after a run: the latest row of each (done, failed or
-- skipped), in the sweep's order.
local function result_of(self, counts)
  local done, last = scan(self, true)
  local rows, c = {}, { total = #self.tasks, done = 0, failed = 0, skipped = 0, ran = 0, failed_attempts = 0 }
  for _, i in ipairs(graph_of(self):order()) do
    local r = done[i] or last[i]
    if r then r._line = nil; rows[#rows + 1] = r end
    local st = status_of(done, last, i)
    if c[st] then c[st] = c[st] + 1 end
  end
  return rows, counts or c
end

function Sweep:run(opts)
  if getmetatable(self) ~= SweepMT then error("Sweep:run: call it as S:run()", 2) end
  opts = opts or {}
  typos(opts, "Sweep:run")
  local cli = C.cli()
  local sel = cli or { task = opts.task, array_index = opts.array_index, levels = opts.levels }
  if sel.array_index ~= nil and (math.type(sel.array_index) ~= "integer" or sel.array_index < 0) then
    error("Sweep:run: array_index must be an integer >= 0", 2)
  end
  local env = C.env()
  if env.launched and not env.built and env.size > 1 then
    error("sweep: llfc was built without MPI (configure --with-mpi), so under mpirun every rank would run " ..
          "the whole sweep; rebuild with MPI, or run one task per process with --array-index", 0)
  end
  local single = sel.task ~= nil or sel.array_index ~= nil
  if (single or sel.levels) and env.active then
    error("sweep: --task, --array-index and --levels run without MPI: start them without mpirun", 0)
  end
  graph_of(self)
  if sel.levels then
    print_levels(self)
    if cli then os.exit(0, true) end
    return self:levels()
  end
  C.mkdir(self.dir)
  local okd, derr = C.mkdir(self.dir .. "/" .. MODELS)
  if not okd then error(derr, 0) end
  if single then
    set_threads(self, env)
    local ok = run_single(self, sel)
    if cli then os.exit(ok and 0 or 1, true) end
    return result_of(self)
  end
  local distributed = env.active and opts.mpi ~= false
  local rank = distributed and env.rank or 0
  self.graph = nil -- a run starts from a fresh graph (the scan says what is done)
  local g = graph_of(self)
  local before = 0
  if rank == 0 then
    local done = scan(self)
    for i, r in pairs(done) do g:set_done(i, r._line); before = before + 1 end
  end
  set_threads(self, env)
  local workers = g:start{ results = rank == 0 and self.results or nil, digest = self.digest, name = self.name,
                           mpi = distributed,
                           rank0_works = self.rank0_works, progress = (rank == 0 and self.progress) and 1 or 0 }
  if rank == 0 and self.progress then
    warn(self, "%d tasks, %d done before; %d worker%s (%s), results in %s", #self.tasks, before, workers,
         workers == 1 and "" or "s", distributed and (env.size .. " MPI ranks") or "this process", self.results)
  end
  local where = { rank = rank, host = env.host }
  C.watch_sigint(true)
  local ok, err = pcall(function()
    while true do
      local i, attempt, inputs = g:next()
      if not i then return end
      local tok, row = run_task(self, self.tasks[i], attempt, inputs, where)
      if tok == nil then error("interrupted", 0) end
      g:report(i, tok, C.json_encode(row))
    end
  end)
  C.watch_sigint(false)
  local fok, ferr = pcall(g.finish, g)
  if not ok then error(err, 0) end
  if not fok then error(ferr, 0) end
  local counts = g:counts()
  if distributed then
    C.finalize()
    if rank > 0 then os.exit(0, true) end
  end
  return result_of(self, counts)
end

function Sweep:rows(pattern)
  if getmetatable(self) ~= SweepMT then error("Sweep:rows: call it as S:rows()", 2) end
  if pattern ~= nil and type(pattern) ~= "string" then error("Sweep:rows: the filter is a Lua pattern (a string)", 2) end
  graph_of(self)
  local done = scan(self, true)
  local rows = {}
  for _, i in ipairs(self.graph:order()) do
    local r = done[i]
    if r and (not pattern or r.id:find(pattern)) then r._line = nil; rows[#rows + 1] = r end
  end
  return rows
end

-- ---- grids -----------------------------------------------------------------------------
function M.grid(spec)
  if type(spec) ~= "table" then error("sweep.grid: expected {name = {values...}, ...}", 2) end
  local names = keys_sorted(spec)
  for _, k in ipairs(names) do
    if type(k) ~= "string" then error("sweep.grid: parameter names must be strings", 2) end
    if type(spec[k]) ~= "table" or #spec[k] == 0 then
      error(string.format("sweep.grid: '%s' must be a non-empty list of values", k), 2)
    end
  end
  local out = { {} }
  for _, k in ipairs(names) do
    local nxt = {}
    for _, base in ipairs(out) do
      for _, v in ipairs(spec[k]) do
        local p = copy(base)
        p[k] = v
        nxt[#nxt + 1] = p
      end
    end
    out = nxt
  end
  return out
end

-- ---- summaries -------------------------------------------------------------------------
local function field(row, k)
  if type(row.params) == "table" and row.params[k] ~= nil then return row.params[k] end
  if type(row.out) == "table" and row.out[k] ~= nil then return row.out[k] end
  return row[k]
end

local function less(a, b)
  if type(a) == "number" and type(b) == "number" then return a < b end
  return tostring(a) < tostring(b)
end

local SummaryMT = {}

local function fmtnum(x)
  local U = package.loaded["llfc.util"] or require("llfc.util")
  return U.fmt(x)
end

SummaryMT.__tostring = function(s)
  local head = {}
  for _, b in ipairs(s.by) do head[#head + 1] = b end
  for _, h in ipairs({ "value", "mean", "std", "min", "max", "count" }) do head[#head + 1] = h end
  local lines = { head }
  for _, g in ipairs(s.groups) do
    for _, v in ipairs(s.values) do
      local st = g[v]
      local r = {}
      for _, b in ipairs(s.by) do r[#r + 1] = tostring(g[b]) end
      r[#r + 1] = v
      r[#r + 1], r[#r + 2], r[#r + 3], r[#r + 4] = fmtnum(st.mean), fmtnum(st.std), fmtnum(st.min), fmtnum(st.max)
      r[#r + 1] = tostring(st.count)
      lines[#lines + 1] = r
    end
  end
  local w = {}
  for _, r in ipairs(lines) do for j, c in ipairs(r) do w[j] = math.max(w[j] or 0, #c) end end
  local out = { string.format("summary (%s): mean, sample std, min, max and count over the rows of each group",
                              #s.by > 0 and ("by " .. table.concat(s.by, ", ")) or "all rows") }
  for _, r in ipairs(lines) do
    local c = {}
    for j, x in ipairs(r) do c[j] = x .. string.rep(" ", w[j] - #x) end
    out[#out + 1] = (table.concat(c, "  "):gsub("%s+$", ""))
  end
  return table.concat(out, "\n")
end

function M.summary(rows, opts)
  if type(rows) ~= "table" then error("sweep.summary: expected a list of rows", 2) end
  for i, r in ipairs(rows) do
    if type(r) ~= "table" then error(string.format("sweep.summary: row %d is a %s, not a row table", i, type(r)), 2) end
  end
  if opts == nil then opts = {} end
  typos(opts, "sweep.summary")
  local by = opts.by or {}
  if type(by) == "string" then by = { by } end
  local values = opts.values
  if type(values) == "string" then values = { values } end
  if not values then -- every numeric output
    local seen = {}
    values = {}
    for _, r in ipairs(rows) do
      for k, v in pairs(type(r.out) == "table" and r.out or r) do
        if type(k) == "string" and type(v) == "number" and not seen[k] then seen[k] = true; values[#values + 1] = k end
      end
    end
    local isby = {}
    for _, b in ipairs(by) do isby[b] = true end
    local kept = {}
    for _, v in ipairs(values) do if not isby[v] then kept[#kept + 1] = v end end
    values = kept
    table.sort(values)
  end
  local groups, index = {}, {}
  for _, r in ipairs(rows) do
    if type(r) == "table" and (r.status == nil or r.status == "done") then
      local key, kv = {}, {}
      for j, b in ipairs(by) do
        local v = field(r, b)
        kv[j] = v
        key[j] = type(v) .. ":" .. tostring(v)
      end
      local k = table.concat(key, "\0")
      local g = index[k]
      if not g then
        g = { n = 0, _x = {} }
        for j, b in ipairs(by) do g[b] = kv[j] end
        index[k] = g
        groups[#groups + 1] = g
      end
      g.n = g.n + 1
      for _, v in ipairs(values) do
        local x = field(r, v)
        g._x[v] = g._x[v] or {}
        if type(x) == "number" and x == x then table.insert(g._x[v], x) end
      end
    end
  end
  for _, g in ipairs(groups) do
    for _, v in ipairs(values) do
      local xs = g._x[v] or {}
      local n, s = #xs, 0
      local lo, hi = math.huge, -math.huge
      for _, x in ipairs(xs) do s = s + x; lo = math.min(lo, x); hi = math.max(hi, x) end
      local mean = n > 0 and s / n or 0 / 0
      local ss = 0
      for _, x in ipairs(xs) do ss = ss + (x - mean) ^ 2 end
      g[v] = { mean = mean, std = n > 1 and math.sqrt(ss / (n - 1)) or 0 / 0,
               min = n > 0 and lo or 0 / 0, max = n > 0 and hi or 0 / 0, count = n }
    end
    g._x = nil
  end
  table.sort(groups, function(a, b)
    for _, k in ipairs(by) do
      if a[k] ~= b[k] then return less(a[k], b[k]) end
    end
    return false
  end)
  return setmetatable({ kind = "summary", by = by, values = values, groups = groups }, SummaryMT)
end

-- ---- plots of a summary: the view's "series" kind (lines against a
-- parameter, error bars of one standard deviation) -----------------------------------------
-- the series of a summary; errors name fname (sweep.series, or sweep.plot)
local function series(s, opts, fname, lvl)
  lvl = lvl or 2
  if type(s) ~= "table" or s.kind ~= "summary" then error(fname .. ": expected a summary (sweep.summary)", lvl) end
  if opts == nil then opts = {} end
  typos(opts, fname, fname ~= "sweep.series" and "sweep.series" or nil)
  local x = opts.x or s.by[1]
  local y = opts.y or s.values[1]
  if not x then error(fname .. ": the summary has no parameter to put on the x axis (sweep.summary{by = ...})", lvl) end
  if not y then error(fname .. ": the summary has no value to plot", lvl) end
  local found = false
  for _, v in ipairs(s.values) do found = found or v == y end
  if not found then error(string.format(fname .. ": y = '%s' is not a value of the summary", y), lvl) end
  local key = opts.series
  if key == nil then
    for _, b in ipairs(s.by) do if b ~= x then key = b; break end end
  end
  local order, by, nmax = {}, {}, 0
  for _, g in ipairs(s.groups) do
    if type(g[x]) ~= "number" then error(string.format(fname .. ": x = '%s' must be a numeric parameter", x), lvl) end
    local sk = key and tostring(g[key]) or y
    local ser = by[sk]
    if not ser then
      ser = { name = key and (key .. "=" .. sk) or y, x = {}, y = {}, sd = {} }
      by[sk] = ser
      order[#order + 1] = sk
    end
    local st = g[y]
    ser.x[#ser.x + 1], ser.y[#ser.y + 1], ser.sd[#ser.sd + 1] = g[x], st.mean, st.std
    nmax = math.max(nmax, st.count)
  end
  local r = { kind = "series", title = opts.title or string.format("%s against %s", y, x), xlabel = x, ylabel = y,
              series = {}, errlabel = string.format("mean \u{b1} SD over up to %d rows", nmax) }
  for k, sk in ipairs(order) do r.series[k] = by[sk] end
  return r
end

function M.series(s, opts) return series(s, opts, "sweep.series") end

local function view_module(fname)
  local V = package.loaded["llfc.view"] or rawget(_G, "view")
  if not V then error(fname .. ": needs the view module", 3) end
  return V
end

-- split opts into the series' options and the view's
local SERIES_KEYS = { x = true, y = true, series = true, title = true }
local function split_opts(opts)
  local so, vo = {}, {}
  for k, v in pairs(opts or {}) do if SERIES_KEYS[k] then so[k] = v else vo[k] = v end end
  return so, vo
end

function M.plot(s, opts)
  if opts ~= nil and type(opts) ~= "table" then error("sweep.plot: options must be a table, got " .. type(opts), 2) end
  local so, vo = split_opts(opts)
  local r = series(s, so, "sweep.plot", 3)
  return view_module("sweep.plot").plot(r, vo)
end

-- CSV through llfc.csv and atomic files through llfc.write, the library's
-- one writer of each (nil cells: row.n)
local function checkpath(path, fname, what)
  if type(path) ~= "string" or path == "" or path:find("\0", 1, true) then
    error(string.format("%s: %s (a non-empty file name), got %s", fname, what,
      type(path) == "string" and string.format("%q", path) or type(path)), 3)
  end
end

local function write_csv(path, rows)
  local L = llfc_table()
  return L.write(path, L.csv(rows))
end

local function summary_rows(s)
  local head = {}
  for _, b in ipairs(s.by) do head[#head + 1] = b end
  for _, h in ipairs({ "value", "mean", "std", "min", "max", "count", "n" }) do head[#head + 1] = h end
  local rows = { head }
  for _, g in ipairs(s.groups) do
    for _, v in ipairs(s.values) do
      local st, r = g[v], { n = 0 }
      local function add(x) r.n = r.n + 1; r[r.n] = x end
      for _, b in ipairs(s.by) do add(g[b]) end
      for _, x in ipairs({ v, st.mean, st.std, st.min, st.max, st.count, g.n }) do add(x) end
      rows[#rows + 1] = r
    end
  end
  return rows
end

function M.save(s, path, opts)
  checkpath(path, "sweep.save", "expected a path (.csv, or a figure: .svg, .pdf, .png, .json)")
  if type(s) ~= "table" or s.kind ~= "summary" then error("sweep.save: expected a summary (sweep.summary)", 2) end
  if path:match("%.csv$") then
    return write_csv(path, summary_rows(s))
  end
  local so, vo = split_opts(opts)
  return view_module("sweep.save").save(M.series(s, so), path, vo)
end

-- the done rows as CSV: id, each parameter, each scalar output, seconds, host, rank
function Sweep:csv(path)
  if getmetatable(self) ~= SweepMT then error("Sweep:csv: call it as S:csv(path)", 2) end
  checkpath(path, "Sweep:csv", "expected a path")
  local rows = self:rows()
  local pk, ok_, seenp, seeno = {}, {}, {}, {}
  for _, r in ipairs(rows) do
    for k, v in pairs(r.params or {}) do if type(v) ~= "table" and not seenp[k] then seenp[k] = true; pk[#pk + 1] = k end end
    for k, v in pairs(r.out or {}) do if type(v) ~= "table" and not seeno[k] then seeno[k] = true; ok_[#ok_ + 1] = k end end
  end
  table.sort(pk)
  table.sort(ok_)
  local head = { "id" }
  for _, k in ipairs(pk) do head[#head + 1] = k end
  for _, k in ipairs(ok_) do head[#head + 1] = seenp[k] and ("out." .. k) or k end
  for _, k in ipairs({ "seconds", "host", "rank" }) do head[#head + 1] = k end
  local out = { head }
  for _, r in ipairs(rows) do
    local c = { n = 0 }
    local function add(x) c.n = c.n + 1; c[c.n] = x end
    add(r.id)
    for _, k in ipairs(pk) do add((r.params or {})[k]) end
    for _, k in ipairs(ok_) do add((r.out or {})[k]) end
    add(r.seconds); add(r.host); add(r.rank)
    out[#out + 1] = c
  end
  return write_csv(path, out)
end

-- ---- where this process runs -------------------------------------------------------------
function M.info() return C.env() end
function M.rank() return C.env().rank end

return M
