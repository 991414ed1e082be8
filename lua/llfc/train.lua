-- llfc.train: the training workflows, written on the Trainer object of the
-- nn module (net:trainer, Trainer:run / history / fork / reseed):
-- net:train, nn.spawn (Frankle et al.'s spawning method) and nn.pair (two
-- independent trainings).  install(llfc, net_mt, checkarg) adds them to the
-- nn module and the Net methods (net_mt.methods); checkarg(v, "net" |
-- "dataset", n, fname) raises the usual bad-argument errors.
local M = {}

local function copy(t, extra)
  local c = {}
  for k, v in pairs(t or {}) do c[k] = v end
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

-- opts[field] as a list of two integers (or the defaults d1, d2)
local function two_ints(opts, field, d1, d2, fname)
  local v = opts[field]
  if v == nil then return { d1, d2 } end
  if type(v) ~= "table" or #v ~= 2 or math.type(v[1]) ~= "integer" or math.type(v[2]) ~= "integer" then
    error(string.format("%s: option '%s' must be a list of two integers", fname, field), 3)
  end
  return { v[1], v[2] }
end

-- Run trainer t for n steps into history h, with the live view's overlay
-- list vs (or nil); a failure closes the view with its message and raises.
local function run(view, t, n, h, label, vs, oneline)
  local ok, intr = pcall(t.run, t, n, h, { label = label, viewset = vs, oneline = oneline })
  if not ok then
    if view then view.finish(vs or h, tostring(intr)) end
    error(intr, 0)
  end
  return intr
end

function M.install(llfc, net_mt, checkarg)
  local nn, view = llfc.nn, llfc.view
  local Net = net_mt.methods

  local function checkopts(opts, n, fname, optional)
    if opts == nil and optional then return {} end
    if type(opts) ~= "table" then
      error(string.format("bad argument #%d to '%s' (table expected, got %s)", n, fname, type(opts)), 3)
    end
    return opts
  end

  -- net:train(ds [, opts]) -> history
  function Net.train(net, ds, opts)
    checkarg(net, "net", 0, "train")
    checkarg(ds, "dataset", 1, "train")
    opts = checkopts(opts, 2, "train", true)
    local t <close> = net:trainer(ds, opts, "train")
    local h = t:history()
    local v = opts.view and view
    if v then v.begin("train", opts.title or "train") end
    local intr = run(v, t, t.total_steps, h, nil, nil)
    if v then v.finish(h, intr and "interrupted" or nil) end
    return h
  end

  -- nn.spawn(net, ds, {k = 1, unit = "epoch", epochs =, seeds = {2, 3}, seed0 =, ...}) -> a, b, info
  function nn.spawn(net, ds, opts)
    local fname = "nn.spawn"
    checkarg(net, "net", 1, fname)
    checkarg(ds, "dataset", 2, fname)
    opts = checkopts(opts, 3, fname)
    local k = math.tointeger(opts.k == nil and 1 or opts.k)
    local unit = opts.unit == nil and "epoch" or opts.unit
    if not k or k < 0 then
      error(string.format("%s: option 'k' must be an integer >= 0, got %s", fname, tostring(opts.k)), 2)
    end
    if unit ~= "epoch" and unit ~= "step" then
      error(string.format('%s: unit must be "epoch" or "step", got "%s"', fname, tostring(unit)), 2)
    end
    local seeds = two_ints(opts, "seeds", 2, 3, fname)
    local seed0 = opts.seed0 == nil and (opts.seed or 1) or opts.seed0
    local parent = net:clone()
    local t0 <close> = parent:trainer(ds, copy(opts, { seed = seed0 }), fname)
    local ksteps = unit == "epoch" and k * t0.steps_per_epoch or k
    if ksteps > t0.total_steps or (unit == "epoch" and k > t0.total_steps) then
      error(string.format("%s: k = %d %s(s) is outside the run of %d steps", fname, k, unit, t0.total_steps), 2)
    end
    local v = opts.view and view
    local vs = {} -- the view overlays the parent's run and both children's
    local info = { spawn = t0:history("spawn") }
    vs[1] = info.spawn
    if v then v.begin("train", opts.title or "spawn") end
    if run(v, t0, ksteps, info.spawn, "spawn", v and vs, true) then
      if v then v.finish(vs, "interrupted") end
      info.interrupted = true
      io.stderr:write(fname .. ": interrupted while training the parent: no children (nil, nil)\n")
      return nil, nil, info
    end
    -- the copy: weights, momentum buffers, step count / schedule position, data position
    info.parent = parent:clone()
    local child = parent:clone()
    local t1 <close> = t0:fork(child)
    local interrupted = false
    for i, t in ipairs { t0, t1 } do
      t:reseed(seeds[i])
      local h = t:history(i == 1 and "a" or "b", seeds[i])
      h.spawn_step = ksteps
      vs[i + 1] = h
      info[i == 1 and "a" or "b"] = h
      interrupted = run(v, t, t0.total_steps - ksteps, h, i == 1 and "child a" or "child b", v and vs, true)
      if interrupted then
        if i == 1 then child = nil end
        io.stderr:write(string.format("%s: interrupted while training child %s: %s\n", fname,
          i == 1 and "a" or "b", i == 1 and "a is partly trained, b is nil" or "b is partly trained"))
        break
      end
    end
    info.spawn_step = ksteps
    info.interrupted = interrupted
    if v then v.finish(vs, interrupted and "interrupted" or nil) end
    return parent, child, info
  end

  -- nn.pair(widths_or_net, ds, {init_seeds = {1, 2}, seeds = init_seeds, init =, ...}) -> a, b, info
  function nn.pair(arch, ds, opts)
    local fname = "nn.pair"
    checkarg(ds, "dataset", 2, fname)
    opts = checkopts(opts, 3, fname)
    local is = two_ints(opts, "init_seeds", 1, 2, fname)
    local ss = two_ints(opts, "seeds", is[1], is[2], fname)
    local make
    if getmetatable(arch) == net_mt then
      checkarg(arch, "net", 1, fname)
      if opts.init ~= nil then
        error(fname .. ": option 'init' goes with a list of widths; a template network keeps its own", 2)
      end
      make = function(seed) return arch:like(seed) end
    elseif type(arch) == "table" then
      local ok, err = pcall(nn.mlp, copy(arch, { init = opts.init or arch.init }))
      if not ok then error(fname .. ": bad argument #1: " .. tostring(err):gsub("^nn%.mlp: ", ""), 2) end
      make = function(seed) return nn.mlp(copy(arch, { seed = seed, init = opts.init or arch.init })) end
    else
      error(string.format("bad argument #1 to '%s' (llfc.Net or table of widths expected, got %s)", fname,
        type(arch)), 2)
    end
    local v = opts.view and view
    local vs, info, nets = {}, {}, {}
    if v then v.begin("train", opts.title or "pair") end
    local interrupted = false
    for i = 1, 2 do
      local net = make(is[i])
      local t <close> = net:trainer(ds, copy(opts, { seed = ss[i] }), fname)
      local h = t:history(i == 1 and "a" or "b")
      h.init_seed = is[i]
      vs[i] = h
      info[i == 1 and "a" or "b"] = h
      nets[i] = net
      interrupted = run(v, t, t.total_steps, h, i == 1 and "net a" or "net b", v and vs, true)
      if interrupted then
        io.stderr:write(string.format("%s: interrupted while training net %s: %s\n", fname,
          i == 1 and "a" or "b", i == 1 and "a is partly trained, b is nil" or "b is partly trained"))
        break
      end
    end
    info.interrupted = interrupted
    if v then v.finish(vs, interrupted and "interrupted" or nil) end
    return nets[1], nets[2], info
  end
end

return M
