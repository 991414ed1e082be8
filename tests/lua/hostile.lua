-- hostile.lua - the generated robustness sweep, run by tests/sh/test_hostile.sh
-- (which watches it: a call that runs past the time limit gets Ctrl-C, one
-- that then does not return is killed and reported as a hang, and a crash is
-- reported with the call that caused it; the sweep then resumes after it).
--
-- The functions are those help() lists: every function of the llfc modules and
-- of the llfc table, and every method and metamethod of the types the man page
-- documents, found by walking the same tables help() walks.  Each gets a valid
-- call (VALID below; a function without one fails the sweep), made first; then
-- each argument in turn is replaced by every value of HOSTILE, and one
-- argument past the last is added with a few of them (PAST_LAST).  A call must return or raise a string error that names the
-- function (or "interrupted", after the time limit); it must not crash, hang or
-- leak (LeakSanitizer checks the last at exit in a sanitizer build).
--
-- Environment: HOSTILE_OUT (result lines are appended there), HOSTILE_STATUS (the
-- call in progress: "index<TAB>description<TAB>known"), HOSTILE_START (the first
-- call to make, after a crash), HOSTILE_DIR (a scratch directory).
local OUT = assert(os.getenv("HOSTILE_OUT"), "run by tests/sh/test_hostile.sh")
local STATUS = assert(os.getenv("HOSTILE_STATUS"))
local START = tonumber(os.getenv("HOSTILE_START") or "1")
local DIR = assert(os.getenv("HOSTILE_DIR"))
local VC = package.loaded["llfc.view.c"]

local out = assert(io.open(OUT, "a"))
out:setvbuf("line")
local function report(ok, msg) out:write(ok and "ok - " or "not ok - ", msg, "\n") end

-- ---- KNOWN_FAILURES ------------------------------------------------------------
-- Calls that still crash, hang or fail as the sweep defines it, each with the
-- reason and where the fix belongs.  They are still made: a known failure is
-- reported as such, and one that no longer fails is an error (remove it here).
-- The key is the call's description as the sweep prints it, or a Lua pattern
-- (starting with ^) for a family of such calls.  A reason that starts with
-- "crash" or "hang" lets the call crash or hang; any other known call that
-- crashes or hangs still fails the sweep.
local KNOWN_FAILURES = {
}
local function known_reason(desc)
  if KNOWN_FAILURES[desc] then return KNOWN_FAILURES[desc], desc end
  for k, why in pairs(KNOWN_FAILURES) do
    if k:sub(1, 1) == "^" and desc:find(k) then return why, k end
  end
end

-- ---- values ---------------------------------------------------------------------
local function tmp(name) return DIR .. "/" .. name end
local function blobs() return data.blobs{n = 24, classes = 2, dim = 2, seed = 1} end
local function mlp(seed) return nn.mlp{2, 4, 2, seed = seed or 1} end
local function closed(make) local o <close> = make(); return o end
local curve = metrics.interpolate(mlp(1), mlp(2), blobs(), {alphas = 3})
tensor.new{{1, 2}, {3, 4}, {5, 6}}:save(tmp("x.npy"))
tensor.new{0, 1, 1}:save(tmp("y.npy"))
mlp(1):save(tmp("net.safetensors"))
data.safetensors_write(tmp("w.safetensors"), {w = tensor.ones{2, 3}})
do -- small valid IDX files: 3 images of 2x2, 3 labels
  local f = assert(io.open(tmp("img.idx"), "wb"))
  f:write(string.pack(">I4I4I4I4", 0x803, 3, 2, 2), string.rep("\1\2\3\4", 3)); f:close()
  f = assert(io.open(tmp("lbl.idx"), "wb"))
  f:write(string.pack(">I4I4", 0x801, 3), "\0\1\2"); f:close()
end

-- The hostile values: {label, value or function making a fresh one}.
local NIL = {}
local function fresh(f) return {fresh = f} end
local HOSTILE = {
  -- nil and values of the wrong type
  {"nil", NIL}, {"true", true}, {"function", print}, {"string", "/nonexistent_llfc_dir/x"}, {"empty string", ""},
  -- numbers: not finite, zero, negative, fractional, beyond exact integers, huge sizes
  {"nan", 0 / 0}, {"inf", 1 / 0}, {"-inf", -1 / 0}, {"0", 0}, {"-1", -1}, {"1.5", 1.5},
  {"2^53", 2 ^ 53}, {"2^40", 2 ^ 40}, {"mininteger", math.mininteger},
  -- tables: empty, bad sizes, bad elements, options that are wrong or absurd
  {"{}", fresh(function() return {} end)}, {"{-1}", fresh(function() return {-1} end)},
  {"{2^40, 2^40}", fresh(function() return {2 ^ 40, 2 ^ 40} end)}, {"{nan}", fresh(function() return {0 / 0} end)},
  {"{'a'}", fresh(function() return {"a"} end)},
  {"junk opts", fresh(function() return {bogus = 1, n = "x", alphas = 0 / 0, batch = -1, seed = {}, epochs = 0 / 0, lr = "fast"} end)},
  {"huge opts", fresh(function() return {n = 2 ^ 40, alphas = 2 ^ 40, batch = 2 ^ 40, k = 2 ^ 40, bins = 2 ^ 40,
                                           classes = 2 ^ 40, width = 2 ^ 40, depth = 2 ^ 40} end)},
  -- tensors of another shape, empty, a view, NaN
  {"tensor 2x3x2", fresh(function() return tensor.ones{2, 3, 2} end)},
  {"0-element tensor", fresh(function() return tensor.zeros{0, 2} end)},
  {"transposed view", fresh(function() return tensor.new{{1, 2, 3}, {4, 5, 6}}:t() end)},
  {"nan tensor", fresh(function() return tensor.new{{0 / 0, 1}, {1 / 0, -1 / 0}} end)},
  -- datasets and networks that do not fit, objects of another type, closed objects
  {"empty dataset", fresh(function() return blobs():subset({}) end)},
  {"dataset dim 3", fresh(function() return data.blobs{n = 24, classes = 2, dim = 3, seed = 1} end)},
  {"net width 5", fresh(function() return nn.mlp{2, 5, 2, seed = 3} end)},
  {"conv net", fresh(function() return nn.vgg{layers = {2, "M"}, input = {1, 4, 4}, classes = 2, seed = 1} end)},
  {"perm", fresh(function() return perm.identity(mlp()) end)},
  {"trainer", fresh(function() return mlp():trainer(blobs(), {epochs = 1}) end)},
  {"result table", curve},
  {"freed tensor", fresh(function() return closed(function() return tensor.zeros{2, 2} end) end)},
  {"freed net", fresh(function() return closed(mlp) end)},
  {"freed dataset", fresh(function() return closed(blobs) end)},
}
local PAST_LAST = {}
for _, h in ipairs(HOSTILE) do
  if h[1] == "nil" or h[1] == "nan" or h[1] == "string" or h[1] == "junk opts" or h[1] == "huge opts" or h[1] == "freed net" then
    PAST_LAST[#PAST_LAST + 1] = h
  end
end
local function value(v)
  if v == NIL then return nil end
  if type(v) == "table" and v.fresh then return v.fresh() end
  return v
end

-- ---- valid calls ----------------------------------------------------------------
-- VALID[name] = function() return args... end: a call that succeeds (methods:
-- self first).  Fresh objects every time, so one call cannot spoil the next.
local function T() return tensor.new{{1, 2, 3}, {4, 5, 6}} end
-- a sweep of one quick task in the scratch directory, run once
local nsweeps = 0
local function S(run)
  nsweeps = nsweeps + 1
  local s = sweep.new{dir = tmp("sweep" .. nsweeps), progress = false}
  s:task{id = "t", params = {a = 1}, run = function(p) return {x = p.a} end}
  if run then s:run() end
  return s
end
-- a curve between two networks, trained for one short epoch
local function curve_of() return (nn.curve(mlp(1), mlp(2), blobs(), {epochs = 1, batch = 12})) end
local summary = sweep.summary({{params = {k = 1}, out = {x = 1}}, {params = {k = 2}, out = {x = 3}}}, {by = "k"})
view.save({kind = "interpolate", alphas = {0, 1}, err = {0.5, 0.25}, loss = {1, 0.5}}, tmp("r.json"))
local function tr() return mlp():trainer(blobs(), {epochs = 1, batch = 12}) end
local result = {kind = "interpolate", alphas = {0, 1}, err = {0.5, 0.25}, loss = {1, 0.5}}
local VALID = {
  ["llfc.blas"] = function() return end,
  ["llfc.csv"] = function() return {{"a", "b"}, {1, 2}} end,
  ["llfc.json"] = function() return {a = {1, 2}} end,
  ["llfc.write"] = function() return tmp("w.txt"), "x" end,
  ["llfc.doc"] = function() return "mm", 60 end,
  ["llfc.help"] = function() return "Tensor:mm" end,
  ["llfc.demo"] = function() return {wait = false, ascii = true} end,
  ["tensor.new"] = function() return {{1, 2}, {3, 4}} end,
  ["tensor.zeros"] = function() return {2, 3} end,
  ["tensor.ones"] = function() return 2, 3 end,
  ["tensor.full"] = function() return {2, 3}, 1.5 end,
  ["tensor.arange"] = function() return 0, 5, 1 end,
  ["tensor.linspace"] = function() return 0, 1, 5 end,
  ["tensor.rand"] = function() return {2, 3}, {seed = 1} end,
  ["tensor.randn"] = function() return {2, 3}, {seed = 1} end,
  ["tensor.load"] = function() return tmp("x.npy") end,
  ["tensor.is"] = function() return T() end,
  ["Tensor:size"] = function() return T(), 1 end, ["Tensor:shape"] = function() return T() end,
  ["Tensor:dim"] = function() return T() end, ["Tensor:numel"] = function() return T() end,
  ["Tensor:is_contiguous"] = function() return T() end,
  ["Tensor:get"] = function() return T(), 1, 2 end, ["Tensor:set"] = function() return T(), 1, 2, 5 end,
  ["Tensor:narrow"] = function() return T(), 1, 1, 1 end, ["Tensor:select"] = function() return T(), 1, 1 end,
  ["Tensor:transpose"] = function() return T(), 1, 2 end, ["Tensor:t"] = function() return T() end,
  ["Tensor:view"] = function() return T(), {3, 2} end, ["Tensor:reshape"] = function() return T(), {6} end,
  ["Tensor:contiguous"] = function() return T() end, ["Tensor:clone"] = function() return T() end,
  ["Tensor:copy"] = function() return T(), tensor.ones{2, 3} end, ["Tensor:fill"] = function() return T(), 1 end,
  ["Tensor:add"] = function() return T(), tensor.ones{2, 3}, 2 end, ["Tensor:sub"] = function() return T(), tensor.ones{2, 3}, 1 end,
  ["Tensor:mul"] = function() return T(), tensor.ones{2, 3} end, ["Tensor:div"] = function() return T(), tensor.ones{2, 3} end,
  ["Tensor:eq"] = function() return T(), tensor.ones{2, 3} end, ["Tensor:lt"] = function() return T(), tensor.ones{2, 3} end,
  ["Tensor:gt"] = function() return T(), tensor.ones{2, 3} end, ["Tensor:le"] = function() return T(), tensor.ones{2, 3} end,
  ["Tensor:ge"] = function() return T(), tensor.ones{2, 3} end, ["Tensor:dot"] = function() return T(), tensor.ones{2, 3} end,
  ["Tensor:mm"] = function() return T(), tensor.ones{3, 2} end,
  ["Tensor:save"] = function() return T(), tmp("m.npy") end,
  ["Tensor.__add"] = function() return T(), T() end, ["Tensor.__sub"] = function() return T(), T() end,
  ["Tensor.__mul"] = function() return T(), 2 end, ["Tensor.__div"] = function() return T(), 2 end,
  ["data.from_tensors"] = function() return tensor.new{{1, 2}, {3, 4}}, {1, 2}, {classes = 2} end,
  ["data.blobs"] = function() return {n = 20} end, ["data.moons"] = function() return {n = 20} end,
  ["data.spirals"] = function() return {n = 20} end,
  ["data.idx"] = function() return tmp("img.idx"), tmp("lbl.idx") end,
  ["data.npy"] = function() return tmp("x.npy"), tmp("y.npy"), {classes = 2} end,
  -- the loaders of real data sets find no files in the scratch directory: nil, message
  ["data.fashion_mnist"] = function() return DIR end, ["data.mnist"] = function() return DIR end,
  ["data.cifar10"] = function() return DIR end,
  ["data.safetensors_read"] = function() return tmp("w.safetensors") end,
  ["data.safetensors_write"] = function() return tmp("w2.safetensors"), {w = tensor.ones{2}}, {note = "x"} end,
  ["Dataset:get"] = function() return blobs(), 1 end, ["Dataset:subset"] = function() return blobs(), 5 end,
  ["Dataset:split"] = function() return blobs(), 0.5, 1 end, ["Dataset:normalize"] = function() return blobs() end,
  ["Dataset:tensors"] = function() return blobs() end, ["Dataset:labels"] = function() return blobs() end,
  ["Dataset:order"] = function() return blobs(), 1 end, ["Dataset:batches"] = function() return blobs(), 5, 1 end,
  ["Dataset:augment"] = function()
    local x = tensor.rand({4, 1, 4, 4}, {seed = 1})
    return data.from_tensors(x, {1, 2, 1, 2}), {crop = 1, flip = true, seed = 1}
  end,
  ["Dataset.__index"] = function() return blobs(), "n" end,
  ["nn.mlp"] = function() return {2, 4, 2, seed = 1} end,
  ["nn.vgg"] = function() return {layers = {2, "M"}, input = {1, 4, 4}, classes = 2} end,
  ["nn.resnet20"] = function() return {width = 1, norm = "ln", input = {1, 4, 4}, classes = 2} end,
  ["nn.lerp"] = function() return mlp(1), mlp(2), 0.5 end,
  ["nn.load"] = function() return tmp("net.safetensors") end,
  ["nn.gemm_rate"] = function() return 16, 0 end,
  ["nn.spawn"] = function() return mlp(), blobs(), {k = 1, epochs = 1, seeds = {2, 3}, batch = 12} end,
  ["nn.pair"] = function() return {2, 4, 2}, blobs(), {epochs = 1, batch = 12} end,
  ["nn.reset_bn"] = function()
    return nn.vgg{layers = {2, "M"}, norm = "bn", input = {1, 4, 4}, classes = 2}, data.from_tensors(tensor.rand({4, 16}, {seed = 1}), {1, 2, 1, 2})
  end,
  ["nn.repair"] = function()
    local a = nn.vgg{layers = {2, "M"}, norm = "bn", input = {1, 4, 4}, classes = 2, seed = 1}
    return a, a:like(2), 0.5, data.from_tensors(tensor.rand({4, 16}, {seed = 1}), {1, 2, 1, 2})
  end,
  ["Net:forward"] = function() return mlp(), tensor.ones{3, 2} end,
  ["Net:features"] = function() return mlp(), tensor.ones{3, 2} end,
  ["Net:eval"] = function() return mlp(), blobs() end,
  ["Net:train"] = function() return mlp(), blobs(), {epochs = 1, batch = 12} end,
  ["Net:trainer"] = function() return mlp(), blobs(), {epochs = 1} end,
  ["Net:like"] = function() return mlp(), 2 end,
  ["Net:save"] = function() return mlp(), tmp("n2.safetensors") end,
  ["Net.__index"] = function() return mlp(), "nparams" end,
  ["Net.__eq"] = function() return mlp(), mlp() end,
  ["Trainer:run"] = function() local t = tr(); return t, 2, t:history() end,
  ["Trainer:history"] = function() return tr(), "phase", 1 end,
  ["Trainer:fork"] = function() return tr(), mlp() end,
  ["Trainer:reseed"] = function() return tr(), 2 end,
  ["Trainer.__index"] = function() return tr(), "step" end,
  ["perm.identity"] = function() return mlp() end,
  ["perm.random"] = function() return mlp(), 1 end,
  ["perm.from_table"] = function() local n = mlp(); return n, perm.random(n, 1):totable() end,
  ["perm.check"] = function() local n = mlp(); return n, perm.random(n, 1), tensor.ones{3, 2} end,
  ["perm.lap"] = function() return {{1, 2}, {3, 4}}, {maximize = false} end,
  ["perm.weight_match"] = function() return mlp(1), mlp(2), {max_iter = 5} end,
  ["perm.activation_match"] = function() return mlp(1), mlp(2), blobs(), {n = 20} end,
  ["Perm:apply"] = function() return perm.random(mlp(), 3), mlp() end,
  ["Perm:compose"] = function() local n = mlp(); return perm.random(n, 3), perm.random(n, 4) end,
  ["Perm:get"] = function() local p = perm.random(mlp(), 3); return p, p:groups()[1] end,
  ["Perm.__index"] = function() local p = perm.random(mlp(), 3); return p, p:groups()[1] end,
  ["Perm.__eq"] = function() local n = mlp(); return perm.random(n, 3), perm.random(n, 4) end,
  ["metrics.interpolate"] = function() return mlp(1), mlp(2), blobs(), {alphas = 3} end,
  ["metrics.llfc"] = function() return mlp(1), mlp(2), blobs(), {alphas = {.5}} end,
  ["metrics.weak_additivity"] = function() return mlp(1), mlp(2), blobs(), {alphas = {.5}} end,
  ["metrics.commutativity"] = function() return mlp(1), mlp(2), blobs() end,
  ["metrics.report"] = function() return mlp(1), mlp(2), blobs(), {alphas = 3, llfc_alphas = {.5}} end,
  ["view.kindof"] = function() return result end,
  ["view.text"] = function() return result end, ["view.csv"] = function() return result end,
  ["view.svg"] = function() return result end, ["view.plot"] = function() return result end,
  ["view.save"] = function() return result, tmp("c.svg") end,
  ["view.live"] = function() return function() return result end, "t" end,
  ["view.begin"] = function() return "interpolate", "t" end,
  ["view.update"] = function() return result end,
  ["view.finish"] = function() return result, "done" end,
  ["view.close"] = function() return end,
  ["view.json"] = function() return result end,
  ["view.load"] = function() return tmp("r.json") end,
  ["view.summary"] = function() return {result, result} end,
  ["sweep.new"] = function() nsweeps = nsweeps + 1; return {dir = tmp("new" .. nsweeps), progress = false} end,
  ["sweep.grid"] = function() return {seed = {1, 2}, k = {0, 1}} end,
  ["sweep.summary"] = function() return {{params = {k = 1}, out = {x = 1}}, {params = {k = 2}, out = {x = 3}}}, {by = "k"} end,
  ["sweep.series"] = function() return summary, {x = "k", y = "x"} end,
  ["sweep.plot"] = function() return summary, {x = "k", y = "x"} end,
  ["sweep.save"] = function() return summary, tmp("s.csv") end,
  ["sweep.read"] = function() local s = S(true); return s.results or tmp("sweep" .. nsweeps .. "/results.jsonl") end,
  ["sweep.info"] = function() return end,
  ["sweep.rank"] = function() return end,
  ["Sweep:task"] = function() return S(), {id = "u", params = {b = 2}, run = function() return {y = 1} end} end,
  ["Sweep:run"] = function() return S(), {mpi = false} end,
  ["Sweep:rows"] = function() return S(true), "^t" end,
  ["Sweep:levels"] = function() return S() end,
  ["Sweep:csv"] = function() return S(true), tmp("rows.csv") end,
  ["nn.average"] = function() return {mlp(1), mlp(2)}, {0.5, 0.5} end,
  ["nn.curve"] = function() return mlp(1), mlp(2), blobs(), {epochs = 1, batch = 12} end,
  ["nn.merge_features"] = function() return {mlp(1), mlp(2)}, blobs(), {n = 24} end,
  ["nn.stitch"] = function() return mlp(1), mlp(2), "h1" end,
  ["metrics.feature_llfc"] = function() return mlp(1), {mlp(1), mlp(2)}, blobs() end,
  ["metrics.merge"] = function() return nn.average{mlp(1), mlp(2)}, {mlp(1), mlp(2)}, blobs() end,
  ["metrics.plane"] = function() return mlp(1), mlp(2), mlp(3), blobs(), {grid = 3} end,
  ["metrics.principal_angles"] = function() return mlp(1), mlp(2), blobs(), {k = 2, n = 24} end,
  ["metrics.stitch"] = function() return mlp(1), mlp(2), blobs() end,
  ["perm.align_many"] = function() return {mlp(1), mlp(2), mlp(3)}, {max_iter = 3} end,
  ["perm.ste_match"] = function() return mlp(1), mlp(2), blobs(), {steps = 2, batch = 12} end,
  ["perm.sinkhorn_match"] = function() return mlp(1), mlp(2), {steps = 3} end,
  ["perm.commutativity_match"] = function() return mlp(1), mlp(2), blobs(), {n = 24, max_iter = 3} end,
  ["Perm:save"] = function() return perm.random(mlp(), 3), tmp("p.safetensors") end,
  ["perm.load"] = function() perm.random(mlp(), 3):save(tmp("p0.safetensors")); return tmp("p0.safetensors"), mlp() end,
  ["Curve:at"] = function() return curve_of(), 0.5 end,
  ["Curve:weights"] = function() return curve_of(), 0.5 end,
  ["Curve:save"] = function() return curve_of(), tmp("curve.safetensors") end,
  ["Curve.__index"] = function() return curve_of(), "kind" end,
}
-- methods and metamethods that take nothing but self
local SELF = {Tensor = T, Dataset = blobs, Net = mlp, Perm = function() return perm.random(mlp(), 3) end, Trainer = tr,
              Sweep = function() return S() end, Curve = curve_of}

-- ---- the functions help() lists -------------------------------------------------
local FUNCS = {}
local function add(name, f) FUNCS[#FUNCS + 1] = {name = name, f = f} end
for k, v in pairs(llfc) do if type(v) == "function" then add("llfc." .. k, v) end end
for m, t in pairs(llfc) do -- the modules: tensor, data, nn, perm, metrics, view, sweep
  if type(t) == "table" then
    for k, v in pairs(t) do if type(v) == "function" then add(m .. "." .. k, v) end end
  end
end
tr() -- every type registered
local reg = debug.getregistry()
for k, mt in pairs(reg) do
  if type(k) == "string" and k:match("^llfc%.%u") and type(mt) == "table" then
    local ty = k:sub(6)
    local doc = llfc.doc(ty)
    if doc and doc:find("^Type " .. ty) then -- a type the man page documents
      for m, f in pairs(mt.methods or {}) do if type(f) == "function" then add(ty .. ":" .. m, f) end end
      for m, f in pairs(mt) do
        if type(f) == "function" and m:match("^__") and m ~= "__gc" and m ~= "__close" then add(ty .. "." .. m, f) end
      end
    end
  end
end
table.sort(FUNCS, function(a, b) return a.name < b.name end)

-- a valid call for every function: VALID, or self alone
local missing = {}
for _, fn in ipairs(FUNCS) do
  local ty = fn.name:match("^(%u%w*)[:.]")
  if VALID[fn.name] then fn.valid = VALID[fn.name]
  elseif ty and SELF[ty] then fn.valid = SELF[ty]
  end
  if not fn.valid then missing[#missing + 1] = fn.name end
end

-- ---- calling --------------------------------------------------------------------
-- Call through a field with a constant name, as a user's code does, so that
-- Lua can name the function in "bad argument" messages.
local function caller(name, f)
  local key = name:match("[%w_]+$")
  local call = load(("local t = ...; return function(...) return t.%s(...) end"):format(key))({[key] = f})
  return key, call
end

local function names_fn(err, key)
  if err:find(key, 1, true) then return true end
  local op = key:match("^__(%w+)$") -- metamethods: the operator or the type
  return op ~= nil and (err:find(op, 1, true) or err:find("arithmetic", 1, true) or err:find("Tensor", 1, true)
                        or err:find("llfc.", 1, true))
end

local index = 0
local calls, failures, known_seen = 0, 0, {}
local function status(desc, known)
  local f = io.open(STATUS, "w")
  f:write(index, "\t", desc, "\t", known and known:gsub("[\t\n]", " ") or "", "\n")
  f:close()
end

-- one call: returns nil when it behaved, else what went wrong
local function one(fn, key, call, args, n, label)
  index = index + 1
  if index < START then return nil end
  local desc = fn.name .. " " .. label
  local known, kkey = known_reason(desc)
  status(desc, known)
  calls = calls + 1
  local ok, err = pcall(call, table.unpack(args, 1, n))
  VC.clear_interrupt()
  local bad
  if not ok then
    if type(err) ~= "string" then bad = "a non-string error (" .. type(err) .. ")"
    elseif err:find("interrupted", 1, true) then -- the time limit's Ctrl-C: the driver counts it
    elseif not names_fn(err, key) then bad = "an error that does not name " .. key .. ": " .. err end
  end
  if known then
    if bad then known_seen[kkey] = true; report(true, "known failure (KNOWN_FAILURES): " .. desc .. ": " .. known)
    elseif kkey == desc then report(false, desc .. " is in KNOWN_FAILURES (" .. known .. ") but behaves now: remove it from the list") end
    return nil
  end
  return bad and (label .. ": " .. bad) or nil
end

-- The sweep's own steps run protected: Ctrl-C from the time limit can land
-- just after a call returned, in the sweep's code ("interrupted!" from the
-- REPL's hook): that loses at most the step, never the sweep.
local function step(record, f, ...)
  local ok, err = pcall(f, ...)
  VC.clear_interrupt()
  if ok then record(err)
  elseif not (type(err) == "string" and err:find("interrupted", 1, true)) then record("the sweep itself failed: " .. tostring(err)) end
end

local nfuncs, times = 0, {}
for _, fn in ipairs(FUNCS) do
  if fn.valid then
    nfuncs = nfuncs + 1
    local t0 = VC.now()
    local key, call = caller(fn.name, fn.f)
    local bad = {}
    local function record(b) if b then bad[#bad + 1] = b end end
    -- the valid call itself must succeed
    local n = select("#", fn.valid())
    step(record, function()
      index = index + 1
      if index < START then return nil end
      status(fn.name .. " valid call", false)
      local valid = table.pack(fn.valid())
      local ok, err = pcall(call, table.unpack(valid, 1, valid.n))
      if not ok then return "the valid call raised: " .. tostring(err) end
    end)
    step(record, one, fn, key, call, {}, 0, "with no arguments")
    for pos = 1, n + 1 do
      -- one argument past the last: a few values are enough to see it ignored or refused
      for _, h in ipairs(pos <= n and HOSTILE or PAST_LAST) do
        step(record, function()
          local args = table.pack(fn.valid())
          args[pos] = value(h[2])
          return one(fn, key, call, args, math.max(args.n, pos), "arg " .. pos .. " = " .. h[1])
        end)
      end
    end
    if VC.isopen and VC.isopen() then view.close() end
    if #bad > 0 then failures = failures + 1 end
    times[#times + 1] = {fn.name, VC.now() - t0}
    if index >= START then
      report(#bad == 0, fn.name .. " survives every hostile argument" .. (#bad > 0 and (": " .. table.concat(bad, "; ", 1, math.min(#bad, 6)) .. (#bad > 6 and ("; ... " .. #bad - 6 .. " more") or "")) or ""))
    end
  end
end
report(#missing == 0, "every function help() lists has a valid call in the sweep" ..
       (#missing > 0 and (": none for " .. table.concat(missing, ", ")) or ""))
table.sort(times, function(a, b) return a[2] > b[2] end)
local slow = {}
for i = 1, math.min(6, #times) do slow[i] = string.format("%s %.1f s", times[i][1], times[i][2]) end
report(true, "the slowest functions to sweep: " .. table.concat(slow, ", "))
local stale = {}
for desc in pairs(KNOWN_FAILURES) do if not known_seen[desc] and START == 1 then stale[#stale + 1] = desc end end
report(#stale == 0, "every entry of KNOWN_FAILURES still fails" ..
       (#stale > 0 and (": these behave now (remove them): " .. table.concat(stale, "; ")) or ""))
local f = io.open(STATUS, "w")
f:write("done\t", index, "\t", calls, "\t", nfuncs, "\n")
f:close()
out:close()
