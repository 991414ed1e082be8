-- common.lua - shared pieces of the experiment scripts: the option parser,
-- datasets and networks, the live view switch, tables, and the output
-- directory (CSV, JSON, SVG, PDF).  Loaded by each script with
--   local E = dofile(script_dir .. "common.lua")
-- so the scripts run from any directory.
local E = {}

-- ---- options ------------------------------------------------------------------------
-- Every script shares these; a script adds its own in `extra` (same format).
-- Types: "string", "number", "list" (comma separated numbers), "flag".
local COMMON = {
  {"dataset", "string", "fashion", "fashion | spirals | moons | blobs"},
  {"hidden", "list", "512,512,512", "hidden widths (input and classes come from the data)"},
  {"epochs", "number", 3, "training epochs of each network"},
  {"lr", "number", 0.05, "SGD learning rate (momentum 0.9)"},
  {"schedule", "string", "constant", "learning-rate schedule over the run: constant | cosine | linear | step"},
  {"batch", "number", 128, "mini-batch size"},
  {"n-train", "number", 10000, "training samples (first n of the training set)"},
  {"n-test", "number", 2000, "test samples the metrics are measured on"},
  {"seeds", "list", "1,2", "seeds of the two networks (init and data order)"},
  {"alphas", "number", 11, "points on the interpolation path"},
  {"out", "string", nil, "output directory (default ./out/NAME)"},
  {"quick", "flag", false, "small synthetic run for tests (spirals, 2x32 hidden, seconds)"},
  {"no-view", "flag", false, "never open the live view (text only)"},
  {"help", "flag", false, "print this help"},
}

-- Values --quick uses unless given explicitly on the command line.
local QUICK = { dataset = "spirals", hidden = {32, 32}, epochs = 8, lr = 0.05, batch = 32,
                ["n-train"] = 1200, ["n-test"] = 600 }

local function parse_value(name, typ, v)
  if typ == "number" then
    local x = tonumber(v)
    if not x then error(string.format("--%s: expected a number, got '%s'", name, v), 0) end
    return x
  elseif typ == "list" then
    local t = {}
    for s in tostring(v):gmatch("[^,]+") do
      local x = tonumber(s)
      if not x then error(string.format("--%s: expected numbers separated by commas, got '%s'", name, v), 0) end
      t[#t + 1] = x
    end
    return t
  end
  return v
end

local function usage(name, specs, about)
  local out = { string.format("usage: llfc lua/experiments/%s.lua [--option value ...]\n%s\n\noptions:", name, about) }
  for _, s in ipairs(specs) do
    local d = s[3]
    if type(d) == "table" then d = table.concat(d, ",") end
    out[#out + 1] = string.format("  --%-10s %s%s", s[1] .. (s[2] == "flag" and "" or " X"), s[4],
                                  (d ~= nil and s[2] ~= "flag") and (" [" .. tostring(d) .. "]") or "")
  end
  return table.concat(out, "\n")
end

-- E.options(name, about, argv, extra) -> opts (keys with '-' kept, e.g. o["n-train"])
function E.options(name, about, argv, extra)
  local specs, byname = {}, {}
  for _, s in ipairs(extra or {}) do specs[#specs + 1] = s; byname[s[1]] = s end
  for _, s in ipairs(COMMON) do
    if not byname[s[1]] then specs[#specs + 1] = s; byname[s[1]] = s end
  end
  local o, given = {}, {}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    local key, val = a:match("^%-%-([%w%-]+)=(.*)$")
    key = key or a:match("^%-%-([%w%-]+)$")
    local s = key and byname[key]
    if not s then
      io.stderr:write(usage(name, specs, about), "\n\n",
                      string.format("%s: unknown option '%s'\n", name, a))
      os.exit(2)
    end
    if s[2] == "flag" then o[key] = true
    else
      if val == nil then
        i = i + 1
        val = argv[i]
        if val == nil then error(string.format("%s: option --%s needs a value", name, key), 0) end
      end
      o[key] = parse_value(key, s[2], val)
    end
    given[key] = true
    i = i + 1
  end
  if o.help then print(usage(name, specs, about)); os.exit(0) end
  for _, s in ipairs(specs) do
    if o[s[1]] == nil then
      local d = s[3]
      if o.quick and QUICK[s[1]] ~= nil then d = QUICK[s[1]] end
      if type(d) == "string" and s[2] ~= "string" then d = parse_value(s[1], s[2], d) end
      o[s[1]] = d
    end
  end
  o.out = o.out or ("out/" .. name)
  o.name = name
  o.given = given
  o.view = (not o["no-view"]) and E.terminal()
  return o
end

-- true when the live view can open (stdin and stdout are terminals, TERM set, no CI)
function E.terminal()
  local C = package.loaded["llfc.view.c"]
  return C ~= nil and C.term() == true
end

-- ---- data and networks -------------------------------------------------------------
-- E.dataset(o) -> {train =, test =} sized by --n-train and --n-test
function E.dataset(o)
  local ntr, nte = math.floor(o["n-train"]), math.floor(o["n-test"])
  local d = o.dataset
  if d == "fashion" or d == "fashion_mnist" then
    local fm, msg = data.fashion_mnist()
    if not fm then error("fashion_mnist: " .. tostring(msg) .. " (or use --dataset spirals)", 0) end
    return { train = fm.train:subset(math.min(ntr, #fm.train)),
             test = fm.test:subset(math.min(nte, #fm.test)), name = "fashion_mnist" }
  end
  local gen = data[d]
  if d ~= "spirals" and d ~= "moons" and d ~= "blobs" then
    error("--dataset: expected fashion, spirals, moons or blobs, got '" .. tostring(d) .. "'", 0)
  end
  local args = { n = ntr + nte, split = ntr / (ntr + nte), seed = 1 }
  if d == "spirals" then args.classes = 3; args.noise = 0.2 end
  if d == "moons" then args.noise = 0.1 end
  local s = gen(args)
  s.name = d
  return s
end

-- The widths {in, hidden..., classes} for a dataset
function E.widths(o, ds)
  local w = { ds.train.dim }
  for _, h in ipairs(o.hidden) do w[#w + 1] = math.floor(h) end
  w[#w + 1] = ds.train.classes
  return w
end

-- A new MLP of the given widths with init seed
function E.mlp(widths, seed)
  local t = { seed = seed }
  for i, w in ipairs(widths) do t[i] = w end
  return nn.mlp(t)
end

-- Training options shared by every network of a run
function E.train_opts(o, extra)
  -- a progress bar on stderr when the run is in a terminal
  local t = { lr = o.lr, momentum = 0.9, batch = math.floor(o.batch), epochs = o.epochs,
              schedule = o.schedule, progress = o.view == true }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

function E.steps_per_epoch(o, ds)
  return math.ceil(#ds.train / math.floor(o.batch))
end

-- ---- output ------------------------------------------------------------------------
function E.mkdir(dir)
  -- os.execute with a quoted path; the directory is created with its parents
  local ok = os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'")
  if not ok then error("cannot create directory " .. dir, 0) end
end

-- the JSON text of a value (llfc.json: cJSON)
E.json = llfc.json

-- write a text file atomically (llfc.write: temporary file, fsync, rename); raises on failure
function E.write(path, text)
  return assert(llfc.write(path, text))
end

-- ---- tables ------------------------------------------------------------------------
-- A table {headers = {...}, rows = {{...}, ...}}; numbers print with 4 decimals.
local function cell(v)
  if type(v) == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    if v ~= v then return "nan" end
    if v ~= 0 and math.abs(v) < 1e-3 then return string.format("%.2e", v) end
    return string.format("%.4f", v)
  end
  return tostring(v)
end

function E.format_table(t)
  local w = {}
  for j, h in ipairs(t.headers) do w[j] = #h end
  for _, r in ipairs(t.rows) do
    for j = 1, #t.headers do w[j] = math.max(w[j], #cell(r[j])) end
  end
  local lines = {}
  local function line(r, f)
    local s = {}
    for j = 1, #t.headers do
      local c = f(r[j])
      s[j] = (j == 1) and (c .. string.rep(" ", w[j] - #c)) or (string.rep(" ", w[j] - #c) .. c)
    end
    lines[#lines + 1] = table.concat(s, "  ")
  end
  line(t.headers, tostring)
  for _, r in ipairs(t.rows) do line(r, cell) end
  return table.concat(lines, "\n")
end

-- the CSV text of a table (llfc.csv: the core's writer)
function E.csv(t)
  local rows = { t.headers }
  for i, r in ipairs(t.rows) do rows[i + 1] = r end
  return llfc.csv(rows)
end

-- print a table with a title and save it as out/NAME.csv
function E.table(o, name, title, t)
  print("\n" .. title)
  print(E.format_table(t))
  E.write(o.out .. "/" .. name .. ".csv", E.csv(t))
end

-- save a result (or a list of results of one kind, with opts.labels) as
-- out/NAME.svg, .pdf, .csv and .json
function E.save(o, name, result, opts)
  for _, ext in ipairs { ".svg", ".pdf", ".csv", ".json" } do
    assert(view.save(result, o.out .. "/" .. name .. ext, opts))
  end
end

-- a figure of quantities against a sweep variable or per layer:
-- E.figure(o, NAME, {title =, xlabel =, ylabel =, x = {...} | groups = {...},
--                    series = {{name =, y = {...}, dashed =}, ...}}) -> out/NAME.svg, .pdf, .csv, .json
function E.figure(o, name, f)
  f.kind = "series"
  E.save(o, name, f)
end

-- ---- runs --------------------------------------------------------------------------
-- Everything a script starts with: options, output dir, data, header line.
-- quiet = true prints nothing (the worker ranks of a sweep under mpirun).
function E.start(name, about, argv, extra, quiet)
  local o = E.options(name, about, argv, extra)
  E.mkdir(o.out)
  o.t0 = os.time()
  o.clock0 = os.clock()
  local ds = E.dataset(o)
  if quiet then o.view = false; return o, ds end
  print(string.format("%s: %s", name, about))
  print(string.format("data %s: %d train, %d test; widths %s; %g epochs, lr %g, batch %d%s",
                      ds.name, #ds.train, #ds.test, table.concat(E.widths(o, ds), "-"), o.epochs,
                      o.lr, math.floor(o.batch), o.quick and " (quick)" or ""))
  print("theta_alpha = alpha*A + (1-alpha)*B (alpha = 1 is A, alpha = 0 is B); errors are fractions")
  if o.view then print("(each computation is drawn live; press q to go on, or run with --no-view)") end
  return o, ds
end

-- ---- sweeps over seeds ----------------------------------------------------------------
-- The options of the scripts that run as sweeps (llfc.sweep): one run per seed.
E.SWEEP_OPTIONS = {
  {"seeds", "list", "1,2,3", "one run per seed s; its two networks use seeds 2s-1 and 2s"},
  {"retries", "number", 1, "times a failed task runs again"},
}

-- E.start for a sweep script: only rank 0 prints (under mpirun every rank
-- runs the script; the others end in Sweep:run), no live view (tasks run
-- wherever the scheduler sends them).  Returns o, ds, S (the sweep, results
-- in o.out: results.jsonl and models/).
function E.start_sweep(name, about, argv, extra)
  local all = {}
  for _, s in ipairs(extra or {}) do all[#all + 1] = s end
  for _, s in ipairs(E.SWEEP_OPTIONS) do all[#all + 1] = s end
  local rank0 = sweep.rank() == 0
  local o, ds = E.start(name, about, argv, all, not rank0)
  o.view = false
  o.rank0 = rank0
  for i, s in ipairs(o.seeds) do
    if math.type(s) ~= "integer" and s ~= math.floor(s) or s < 1 then
      error(string.format("--seeds: seeds are integers >= 1, got %s", tostring(s)), 0)
    end
    o.seeds[i] = math.floor(s)
  end
  local S = sweep.new{ dir = o.out, name = name, retries = math.floor(o.retries), data = E.data_desc(o, ds) }
  if rank0 then
    print(string.format("a sweep over seeds %s: results in %s/results.jsonl (running the command again resumes it)",
                        table.concat(o.seeds, ","), o.out))
  end
  return o, ds, S
end

-- What the tasks train and measure on, for the rows' provenance
function E.data_desc(o, ds)
  local d = string.format("%s: first %d training and %d test samples", ds.name, #ds.train, #ds.test)
  if ds.name ~= "fashion_mnist" then d = d .. " (seed 1)" end
  return d
end

-- The options that change what a task computes, recorded in its params (a run
-- with other options does not take the old rows as done)
function E.run_config(o, ds)
  return { dataset = ds.name, n_train = #ds.train, n_test = #ds.test, widths = table.concat(E.widths(o, ds), "-"),
           epochs = o.epochs, lr = o.lr, schedule = o.schedule, batch = math.floor(o.batch),
           alphas = math.floor(o.alphas) }
end

-- metrics.report with the run's alphas and the live view when in a terminal
function E.report(o, a, b, ds)
  local r = metrics.report(a, b, ds.test, { alphas = math.floor(o.alphas), view = o.view or nil })
  -- finalise the closed view's screen handle before the next view opens
  if o.view then collectgarbage() end
  return r
end

-- log a step with the elapsed wall time
function E.log(o, msg)
  io.stderr:write(string.format("[%4ds] %s\n", os.time() - o.t0, msg))
end

-- write summary.json (the options and the script's numbers) and say where things are
function E.finish(o, summary)
  local opts = {}
  for k, v in pairs(o) do
    if k ~= "given" and k ~= "t0" and k ~= "clock0" and k ~= "view" then opts[k] = v end
  end
  summary.options = opts
  summary.seconds = os.time() - o.t0
  summary.date = os.date("!%Y-%m-%d %H:%M UTC")
  E.write(o.out .. "/summary.json", E.json(summary) .. "\n")
  print(string.format("\nwrote %s/ (summary.json, *.csv, *.json, *.svg, *.pdf) in %d s", o.out, summary.seconds))
end

-- ---- rows shared by several scripts --------------------------------------------------
-- one row of the LMC table: pair, err_a, err_b, barrier err, barrier loss, max err, 2 eps
E.LMC_HEADERS = { "pair", "err_A", "err_B", "barrier_err", "barrier_loss", "max_err", "2eps", "lemma" }
function E.lmc_row(label, c)
  return { label, c.err_a, c.err_b, c.barrier.err, c.barrier.loss, c.lemma.max_err,
           2 * c.lemma.eps, c.lemma.holds and "holds" or "fails" }
end

-- per-layer LLFC rows: pair, layer, 1-cos_AB, 1-cos_alpha for each alpha, mean coefficient
function E.llfc_headers(r)
  local h = { "pair", "layer", "1-cos_AB" }
  for _, at in ipairs(r.layers[1].at) do h[#h + 1] = string.format("1-cos_a=%.2f", at.alpha) end
  h[#h + 1] = "coef(a=.5)"
  return h
end
function E.llfc_rows(rows, label, r)
  for _, l in ipairs(r.layers) do
    local row = { label, l.name, l.ab.mean }
    local mid = l.at[math.ceil(#l.at / 2)]
    for _, at in ipairs(l.at) do row[#row + 1] = at.mean end
    row[#row + 1] = mid.coef_mean
    rows[#rows + 1] = row
  end
  return rows
end

-- the mean over layers and alphas of 1 - cos_alpha, and of 1 - cos_AB
function E.llfc_mean(r)
  local s, n, sab = 0, 0, 0
  for _, l in ipairs(r.layers) do
    sab = sab + l.ab.mean
    for _, at in ipairs(l.at) do s = s + at.mean; n = n + 1 end
  end
  return s / n, sab / #r.layers
end

return E
