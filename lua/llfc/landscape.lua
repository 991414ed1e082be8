-- llfc.landscape: the workflows on several networks written in Lua.
-- nn.curve trains a curve between two networks (Garipov et al. 2018) on the
-- Trainer: the curve's hooks (curve.h) make the trainer evaluate every batch
-- at theta(t) for a t drawn uniformly and move the bends by w_k(t) times the
-- gradient there, so the options, schedule, progress bar, callbacks, Ctrl-C
-- and live view are net:train's.  metrics.stitch evaluates nn.stitch at
-- every cut, the stitching layer trained with net:train when asked.
-- install(llfc, checkarg) adds them; checkarg(v, "net" | "dataset", n,
-- fname) raises the usual bad-argument errors.
local M = {}

-- options of nn.curve that are not the trainer's
local OWN = { kind = true, bends = true }

function M.install(llfc, checkarg)
  local nn, view, metrics = llfc.nn, llfc.view, llfc.metrics

  -- f(a, b, ds [, opts]): two networks, a dataset and an options table (nil: {})
  local function check3(fname, a, b, ds, opts)
    checkarg(a, "net", 1, fname)
    checkarg(b, "net", 2, fname)
    checkarg(ds, "dataset", 3, fname)
    if opts == nil then return {} end
    if type(opts) ~= "table" then
      error(string.format("bad argument #4 to '%s' (table expected, got %s)", fname, type(opts)), 3)
    end
    return opts
  end
  local C = assert(package.loaded["llfc.curve.c"], "llfc.landscape needs the llfc binary or module")

  -- an error raised by a call inside fname, as fname's own: the position
  -- inside this file dropped, the inner function's name ("eval: ...") kept
  -- after fname's
  local function own_error(fname, err)
    local msg = tostring(err):gsub("^%[llfc%] ", ""):gsub("^[%w_.]+:%d+: ", "")
    if msg:sub(1, #fname + 1) == fname .. ":" or msg == "interrupted" then return msg end
    return fname .. ": " .. msg
  end

  -- nn.curve(a, b, ds [, {kind = "bezier", bends = 1, epochs, lr, seed, ...}]) -> curve, history
  function nn.curve(a, b, ds, opts)
    local fname = "nn.curve"
    opts = check3(fname, a, b, ds, opts)
    local kind, bends = opts.kind == nil and "bezier" or opts.kind, opts.bends == nil and 1 or opts.bends
    if type(kind) ~= "string" then
      error(string.format("%s: option 'kind' must be \"bezier\" or \"polychain\", got %s", fname, type(kind)), 2)
    end
    if math.type(bends) ~= "integer" then
      error(string.format("%s: option 'bends' must be an integer, got %s", fname, tostring(bends)), 2)
    end
    if opts.test ~= nil then
      error(fname .. ": option 'test' is not used (the trainer's network is a new point of the curve each batch; "
            .. "evaluate the curve with metrics.interpolate(curve, ds))", 2)
    end
    local c = C.new(a, b, kind, bends)
    local topts = {}
    for k, v in pairs(opts) do if not OWN[k] then topts[k] = v end end
    local point = c:at(0.5)
    local t <close> = point:trainer(ds, topts, fname)
    -- t is drawn from a stream of its own, seeded from the data-order seed
    C.attach(c, t, (math.tointeger(opts.seed) or 1) * 7919 + 17)
    local h = t:history("curve")
    h.curve = { kind = kind, bends = bends }
    local v = opts.view and view
    if v then v.begin("train", opts.title or ("curve (" .. kind .. ")")) end
    local ok, intr = pcall(t.run, t, t.total_steps, h, { label = "curve" })
    if not ok then
      if v then v.finish(h, tostring(intr)) end
      error(intr, 0)
    end
    if v then v.finish(h, intr and "interrupted" or nil) end
    return c, h
  end

  -- options of metrics.stitch passed to the stitching layer's training
  local TRAIN = { "epochs", "steps", "lr", "momentum", "weight_decay", "wd", "batch", "seed", "schedule",
                  "nesterov", "warmup", "lr_min", "augment" }
  local STITCH_OPTS = { "layer", "layers", "train", "batch_eval", "progress", "view", "title" }

  -- metrics.stitch(a, b, ds [, {layer | layers, train = false | true | dataset, epochs = 1, lr = 0.01, ...}])
  function metrics.stitch(a, b, ds, opts)
    local fname = "metrics.stitch"
    opts = check3(fname, a, b, ds, opts)
    local known = {}
    for _, k in ipairs(TRAIN) do known[k] = true end
    for _, k in ipairs(STITCH_OPTS) do known[k] = true end
    for k in pairs(opts) do
      if not known[k] then error(string.format("%s: unknown option '%s'", fname, tostring(k)), 2) end
    end
    local tr = opts.train
    local train_ds = tr == true and ds or (tr ~= false and tr ~= nil and tr or nil)
    if tr ~= nil and type(tr) ~= "boolean" and not (getmetatable(tr) and tostring(tr):find("Dataset")) then
      error(fname .. ": option 'train' must be true, false or a dataset", 2)
    end
    local topts = { epochs = 1, lr = 0.01, progress = false }
    for _, k in ipairs(TRAIN) do if opts[k] ~= nil then topts[k] = opts[k] end end
    local nf = #a:widths() - 1
    local cuts = opts.layers
    if cuts == nil and opts.layer ~= nil then cuts = { opts.layer } end
    if cuts == nil then
      cuts = {}
      for l = 0, nf do cuts[#cuts + 1] = l end
    elseif type(cuts) ~= "table" then
      error(fname .. ": option 'layers' must be a list of layers (0 the input, then 1..N or names)", 2)
    end
    local function eval(net, which)
      local ok, ev = pcall(net.eval, net, ds)
      if not ok then error(own_error(fname, which and (which .. ": " .. tostring(ev)) or ev), 0) end
      return ev
    end
    local ea, eb = eval(a, "network a"), eval(b, "network b")
    local r = { kind = "stitch", n = #ds, total = #ds, complete = false, trained = train_ds ~= nil,
                err_a = ea.err, err_b = eb.err, loss_a = ea.loss, loss_b = eb.loss, layers = {} }
    local t0 = os.clock()
    local v = opts.view and view
    if v then v.begin("stitch", opts.title or "stitching: A's layers up to the cut, then B's") end
    local function fail(err)
      err = own_error(fname, err)
      if v then v.finish(r, err) end
      error(err, 0)
    end
    local R = package.loaded["llfc.results"] or require("llfc.results")
    R.attach(r)
    for i, l in ipairs(cuts) do
      local ok, s, cut = pcall(nn.stitch, a, b, l)
      local e = { layer = l }
      if not ok then
        if not tostring(s):find("is not one", 1, true) then fail(s) end
        e.name = tostring(s):match("the cut after (%S+) is not one") or tostring(l)
        e.err, e.loss = 0 / 0, 0 / 0
        e.note = tostring(s):gsub("^nn%.stitch: ", "")
      else
        e.layer, e.name, e.width = cut.layer, cut.name, cut.width
        local okv, ev = pcall(eval, s)
        if not okv then fail(ev) end
        e.err, e.loss = ev.err, ev.loss
        if train_ds then
          local okt, h = pcall(s.train, s, train_ds, topts)
          if not okt then fail(h) end
          local p = s:params()
          local st = nn.stitch(a, b, cut.layer, { weight = p["stitch.weight"], bias = p["stitch.bias"] })
          local okv2, ev2 = pcall(eval, st)
          if not okv2 then fail(ev2) end
          e.err_trained, e.loss_trained = ev2.err, ev2.loss
          e.train_loss = h.epochs[#h.epochs] and h.epochs[#h.epochs].loss or nil
          if h.interrupted then r.interrupted = true end
        end
      end
      r.layers[#r.layers + 1] = e
      r.seconds = os.clock() - t0
      if opts.progress and opts.progress(i, #cuts, "stitch") == false then fail(fname .. ": interrupted") end
      if v and not v.update(r) then break end
      if r.interrupted then break end
    end
    r.complete = #r.layers == #cuts
    if v then v.finish(r, r.interrupted and "interrupted" or nil) end
    return r
  end
end

return M
