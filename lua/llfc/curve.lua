-- llfc.curve: nn.curve, the training of a curve between two networks
-- (Garipov et al. 2018) written on the Trainer: the curve's hooks (curve.h)
-- make the trainer evaluate every batch at theta(t) for a t drawn uniformly
-- and move the bends by w_k(t) times the gradient there, so the options,
-- schedule, progress bar, callbacks, Ctrl-C and live view are net:train's.
-- install(llfc, checkarg) adds nn.curve; checkarg(v, "net" | "dataset", n,
-- fname) raises the usual bad-argument errors.
local M = {}

-- options of nn.curve that are not the trainer's
local OWN = { kind = true, bends = true }

function M.install(llfc, checkarg)
  local nn, view = llfc.nn, llfc.view
  local C = assert(package.loaded["llfc.curve.c"], "llfc.curve needs the llfc binary or module")

  -- nn.curve(a, b, ds [, {kind = "bezier", bends = 1, epochs, lr, seed, ...}]) -> curve, history
  function nn.curve(a, b, ds, opts)
    local fname = "nn.curve"
    checkarg(a, "net", 1, fname)
    checkarg(b, "net", 2, fname)
    checkarg(ds, "dataset", 3, fname)
    if opts == nil then opts = {} end
    if type(opts) ~= "table" then
      error(string.format("bad argument #4 to '%s' (table expected, got %s)", fname, type(opts)), 2)
    end
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
end

return M
