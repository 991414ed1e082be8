-- landscape.lua - beyond one pair and one straight line, for independently
-- trained networks: the plane through three of them before and after
-- aligning all three into one frame (perm.align_many), a trained curve
-- between two against the straight line (nn.curve), and merging 3..N networks
-- by averaging after alignment (both methods) against averaging without,
-- with the merge's gap and the N-model LLFC; then stitching and principal
-- angles of the first pair.
--   llfc lua/experiments/landscape.lua [--models 5] [--grid 21] [--curve-epochs 3] [--quick] [--help]
--   llfc lua/experiments/landscape.lua --nets a.safetensors,b.safetensors,c.safetensors   (networks trained elsewhere)
local dir = (arg and arg[0] or ""):match("^(.*[/\\])") or "./"
local E = dofile(dir .. "common.lua")

local o, ds = E.start("landscape", "planes, curves and merges of independently trained networks", arg or {},
  { {"models", "number", 5, "independent networks (the plane takes the first three, merges 3..models)"},
    {"grid", "number", 21, "points on each axis of the plane's grid"},
    {"margin", "number", 0.2, "the plane's margin around the three networks (a fraction of their extent)"},
    {"plane-llfc", "flag", false, "also LLFC per layer on the plane (three more forward passes per point)"},
    {"curve-epochs", "number", nil, "epochs of curve training (default: --epochs)"},
    {"curve-kind", "string", "bezier", "bezier | polychain"},
    {"bends", "number", 1, "bends of the curve"},
    {"align-iter", "number", 100, "rounds / Frank-Wolfe steps of perm.align_many"},
    {"stitch-epochs", "number", 1, "epochs of training of each stitching layer"},
    {"stitch-lr", "number", 0.01, "learning rate of the stitching layers"},
    {"k", "number", 10, "dimension of the subspaces of the principal angles"},
    {"nets", "string", nil, "comma-separated model files to study instead of training networks (at least 3)"} })
if o.quick and not o.given.grid then o.grid = 7 end
if o.quick and not o.given.models then o.models = 4 end
local files = {}
if o.nets then for f in o.nets:gmatch("[^,]+") do files[#files + 1] = f end end
local N = o.nets and #files or math.floor(o.models)
if o.nets and N < 3 then error("--nets: need at least 3 model files (the plane takes three), got " .. N, 0) end
if N < 3 then error("--models: need at least 3 networks (the plane takes three)", 0) end
local widths = E.widths(o, ds)
local s1 = math.floor(o.seeds[1])
local view_on = o.view or nil

-- ---- N independent networks -----------------------------------------------------------------------
local nets = {}
for i = 1, N do
  if o.nets then
    E.log(o, string.format("loading network %d of %d from %s", i, N, files[i]))
    local net, err = nn.load(files[i])
    if not net then error("--nets: " .. err, 0) end
    nets[i] = net
  else
    local s = s1 + i - 1
    E.log(o, string.format("training network %d of %d (seed %d)", i, N, s))
    nets[i] = E.mlp(widths, s)
    nets[i]:train(ds.train, E.train_opts(o, { seed = s }))
  end
end
local errs = {}
for i = 1, N do errs[i] = nets[i]:eval(ds.test).err end
local summary = { models = errs }

-- ---- the plane through the first three, before and after aligning them ------------------------------
local popts = { grid = math.floor(o.grid), margin = o.margin, what = o["plane-llfc"] and { "err", "loss", "llfc" } or nil,
                view = view_on }
E.log(o, string.format("the plane through networks 1, 2, 3 (%dx%d grid)", popts.grid, popts.grid))
popts.title = "plane through networks 1, 2, 3 (as trained)"
local before = metrics.plane(nets[1], nets[2], nets[3], ds.test, popts)
E.log(o, "aligning networks 1, 2, 3 (perm.align_many, method average)")
local ps3, st3 = perm.align_many({ nets[1], nets[2], nets[3] }, { method = "average", max_iter = math.floor(o["align-iter"]) })
local al3 = { ps3[1]:apply(nets[1]), ps3[2]:apply(nets[2]), ps3[3]:apply(nets[3]) }
popts.title = "plane through networks 1, 2, 3 (aligned into 1's frame)"
E.log(o, "the plane through the aligned three")
local after = metrics.plane(al3[1], al3[2], al3[3], ds.test, popts)
E.save(o, "plane_before", before)
E.save(o, "plane_after", after)
print("\n" .. tostring(before))
print("\n" .. tostring(after))

-- the plane's numbers: the highest error inside the triangle (all weights >= 0) and on the grid
local function plane_stats(p)
  local worst_in, worst, n_in = -math.huge, -math.huge, 0
  local ax, bx, cx, cy = p.points[1].x, p.points[2].x, p.points[3].x, p.points[3].y
  for j, y in ipairs(p.y) do
    for i, x in ipairs(p.x) do
      local e = p.err[j][i]
      worst = math.max(worst, e)
      local wc = y / cy
      local wb = (x - ax - wc * cx) / (bx - ax)
      if wc >= 0 and wb >= 0 and wb + wc <= 1 then worst_in = math.max(worst_in, e); n_in = n_in + 1 end
    end
  end
  local ends = math.max(p.points[1].err, p.points[2].err, p.points[3].err)
  return { max_in = worst_in, n_in = n_in, max_grid = worst, max_ends = ends, dist = p.dist }
end
local pb, pa = plane_stats(before), plane_stats(after)
E.table(o, "plane", "the plane through networks 1, 2, 3: test error inside the triangle and on the whole grid",
  { headers = { "plane", "err_1", "err_2", "err_3", "max_err_triangle", "max_err_grid", "|b-a|", "|c-a|", "|c-b|" },
    rows = { { "as trained", before.points[1].err, before.points[2].err, before.points[3].err, pb.max_in, pb.max_grid,
               before.dist.ab, before.dist.ac, before.dist.bc },
             { "aligned", after.points[1].err, after.points[2].err, after.points[3].err, pa.max_in, pa.max_grid,
               after.dist.ab, after.dist.ac, after.dist.bc } } })
summary.plane = { before = pb, after = pa, align = { iterations = st3.iterations, start = st3.start, final = st3.final } }

-- ---- a trained curve between networks 1 and 2 against the straight line ------------------------------
local cep = o["curve-epochs"] or o.epochs
E.log(o, string.format("training a %s curve with %d bend(s) between networks 1 and 2 (%g epochs)", o["curve-kind"],
                       math.floor(o.bends), cep))
local curve, ch = nn.curve(nets[1], nets[2], ds.train,
  E.train_opts(o, { kind = o["curve-kind"], bends = math.floor(o.bends), epochs = cep, seed = s1 + 1000 }))
local ialphas = math.max(math.floor(o.alphas), 2)
local line = metrics.interpolate(nets[1], nets[2], ds.test, { alphas = ialphas, view = view_on })
local along = metrics.interpolate(curve, ds.test, { alphas = ialphas, view = view_on })
E.save(o, "curve_vs_line", { line, along }, { labels = { "straight line", "trained " .. o["curve-kind"] .. " curve" },
                                              panel = 1, title = "test error from network 2 (0) to network 1 (1)" })
local lline = metrics.llfc(nets[1], nets[2], ds.test)
local lcurve = metrics.llfc(curve, ds.test)
local crow = {}
for i, l in ipairs(lline.layers) do
  local c = lcurve.layers[i]
  crow[#crow + 1] = { l.name, l.ab.mean, l.at[2].mean, c.at[2].mean, l.at[2].coef_mean, c.at[2].coef_mean }
end
E.table(o, "curve", string.format("curve vs line: barrier err %.4f (line) -> %.4f (curve), loss %.4f -> %.4f",
                                  line.barrier.err, along.barrier.err, line.barrier.loss, along.barrier.loss),
  { headers = { "t", "err_line", "err_curve", "loss_line", "loss_curve" },
    rows = (function()
      local r = {}
      for i, t in ipairs(line.alphas) do r[i] = { t, line.err[i], along.err[i], line.loss[i], along.loss[i] } end
      return r
    end)() })
E.table(o, "curve_llfc", "LLFC at t = 0.5: the line's 1 - cos(f(theta), (f(A) + f(B))/2) and the curve's "
        .. "1 - cos(f(theta(t)), sum_k w_k(t) f(theta_k)); 1-cos_AB the baseline",
  { headers = { "layer", "1-cos_AB", "1-cos_line", "1-cos_curve", "coef_line", "coef_curve" }, rows = crow })
assert(curve:save(o.out .. "/curve.safetensors"))
summary.curve = { kind = o["curve-kind"], bends = math.floor(o.bends), epochs = cep,
                  barrier_err_line = line.barrier.err, barrier_err_curve = along.barrier.err,
                  barrier_loss_line = line.barrier.loss, barrier_loss_curve = along.barrier.loss,
                  train_loss_last = ch.loss[#ch.loss] }

-- ---- merging 3..N networks: the average with and without alignment ----------------------------------
local mrows, gaps = {}, { none = {}, average = {}, universe = {} }
local ks = {}
for K = 3, N do
  ks[#ks + 1] = K
  local members = {}
  for i = 1, K do members[i] = nets[i] end
  local plain = metrics.merge(nn.average(members), members, ds.test)
  local function row(method, r, st)
    local lm = 0
    for _, l in ipairs(r.layers) do lm = lm + l.mean end
    mrows[#mrows + 1] = { K, method, r.err, r.members_err, r.gap, r.loss_gap, lm / #r.layers,
                          st and st.iterations or 0, st and st.seconds or 0 }
    gaps[method][#gaps[method] + 1] = r.gap
  end
  row("none", plain)
  for _, method in ipairs { "average", "universe" } do
    E.log(o, string.format("merging %d networks after perm.align_many (%s)", K, method))
    local ps, st = perm.align_many(members, { method = method, max_iter = math.floor(o["align-iter"]), seed = K })
    local aligned = {}
    for i = 1, K do aligned[i] = ps[i]:apply(members[i]) end
    row(method, metrics.merge(nn.average(aligned), aligned, ds.test), st)
  end
end
E.table(o, "merge", "merging K networks: err of the average, mean err of the members, gap = err - members' mean; "
        .. "mean over layers of the N-model LLFC 1 - cos(f(average), mean of f(members))",
  { headers = { "K", "alignment", "err_merge", "err_members", "gap", "loss_gap", "mean_1-cos", "align_iter",
                "align_s" }, rows = mrows })
local knames = {}
for i, K in ipairs(ks) do knames[i] = tostring(K) end
E.figure(o, "merge_gap", { title = "merging K networks: error gap of the average", xlabel = "K (networks)",
                           ylabel = "err(average) - mean err(members)", groups = knames,
                           series = { { name = "no alignment", y = gaps.none, dashed = true },
                                      { name = "align_many average", y = gaps.average },
                                      { name = "align_many universe", y = gaps.universe } } })
summary.merge = mrows

-- ---- stitching and principal angles of the first pair -------------------------------------------------
E.log(o, "stitching networks 1 and 2 at every cut (identity and trained stitch)")
local stitch = metrics.stitch(nets[1], nets[2], ds.test,
  { train = ds.train, epochs = o["stitch-epochs"], lr = o["stitch-lr"], batch = math.floor(o.batch), seed = s1 })
print("\n" .. tostring(stitch))
E.save(o, "stitch", stitch)
local angles = metrics.principal_angles(nets[1], nets[2], ds.test, { k = math.floor(o.k) })
print("\n" .. tostring(angles))
E.save(o, "principal_angles", angles)
summary.stitch, summary.principal_angles = {}, {}
for i, l in ipairs(stitch.layers) do
  summary.stitch[i] = { layer = l.name, err = l.err, err_trained = l.err_trained }
end
for i, l in ipairs(angles.layers) do summary.principal_angles[i] = { layer = l.name, mean_cos = l.mean_cos } end
E.finish(o, summary)
