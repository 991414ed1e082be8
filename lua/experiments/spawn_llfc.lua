-- spawn_llfc.lua - LMC and LLFC of spawned pairs against independently trained
-- pairs (the poster's Fig. 3), over several seeds (mean +- std): the barrier
-- along the linear path, and per layer E[1 - cos_alpha] against E[1 - cos_AB].
-- A sweep (llfc.sweep): for each seed one task spawns a pair, one trains an
-- independent pair, and one task measures each; results in OUT/results.jsonl
-- and OUT/models/, resumable, and runnable under mpirun or one task at a time.
--   llfc lua/experiments/spawn_llfc.lua [--k 1] [--epochs 5] [--seeds 1,2,3] [--quick] [--help]
local dir = (arg and arg[0] or ""):match("^(.*[/\\])") or "./"
local E = dofile(dir .. "common.lua")

local o, ds, S = E.start_sweep("spawn_llfc",
  "LMC and LLFC of a spawned pair vs an independently trained pair", arg or {},
  { {"k", "number", 1, "spawn point in epochs (the shared training before the split)"} })
local widths = E.widths(o, ds)
local spe = E.steps_per_epoch(o, ds)
local cfg = E.run_config(o, ds)
local steps = math.floor(o.k * spe + 0.5)

-- what the metrics of one pair leave in its row
local function measure(r)
  local c, l = r.interpolate, r.llfc
  local lm, ab = E.llfc_mean(l)
  local layers = {}
  for i, ly in ipairs(l.layers) do
    local at = {}
    for j, a in ipairs(ly.at) do at[j] = a.mean end
    layers[i] = { name = ly.name, ab = ly.ab.mean, at = at, coef = ly.at[math.ceil(#ly.at / 2)].coef_mean }
  end
  local alphas = {}
  for j, a in ipairs(l.layers[1].at) do alphas[j] = a.alpha end
  return { err_a = c.err_a, err_b = c.err_b, barrier_err = c.barrier.err, barrier_loss = c.barrier.loss,
           max_err = c.lemma.max_err, eps2 = 2 * c.lemma.eps, lemma = c.lemma.holds and 1 or 0,
           llfc_mean = lm, ab_mean = ab, layers = layers, alphas = alphas }
end

for _, s in ipairs(o.seeds) do
  local sa, sb = 2 * s - 1, 2 * s
  -- the spawned pair: train from one init for k epochs, then split into two
  -- copies continued with different data orders
  local sp = S:task{ id = string.format("spawned/s%d", s), params = { seed = s, k = o.k, steps = steps, cfg = cfg },
    run = function(p)
      local a, b = nn.spawn(E.mlp(widths, sa), ds.train,
        E.train_opts(o, { k = p.steps, unit = "step", seeds = {sa + 100, sb + 100}, seed0 = sa, progress = false }))
      return { a = a, b = b }
    end }
  -- the independent pair: different inits, different data orders
  local ind = S:task{ id = string.format("independent/s%d", s), params = { seed = s, cfg = cfg }, run = function()
    local a, b = nn.pair(widths, ds.train, E.train_opts(o, { init_seeds = {sa, sb}, seeds = {sa, sb}, progress = false }))
    return { a = a, b = b }
  end }
  for _, pair in ipairs({ { "spawned", sp }, { "independent", ind } }) do
    S:task{ id = string.format("measure/%s/s%d", pair[1], s), params = { seed = s, pair = pair[1], cfg = cfg },
            deps = { pair[2] }, run = function(_, inputs)
      local r = E.report(o, inputs[1].a, inputs[1].b, ds)
      local m = measure(r)
      m.report = r -- the whole report goes into the row too (a few KB): the figures come from the rows
      return m
    end }
  end
end
S:run()

local rows = S:rows("^measure/")
local function reps_part(reps, part)
  local t = {}
  for i, r in ipairs(reps) do t[i] = r[part] end
  return t
end
local VALUES = { "err_a", "err_b", "barrier_err", "barrier_loss", "max_err", "eps2", "lemma", "llfc_mean", "ab_mean" }
local sum = sweep.summary(rows, { by = "pair", values = VALUES })
local byp = {}
for _, g in ipairs(sum.groups) do byp[g.pair] = g end
local PAIRS = { "spawned", "independent" }

local lmc = {}
for _, name in ipairs(PAIRS) do
  local g = byp[name]
  if g then
    lmc[#lmc + 1] = { name, g.n, g.err_a.mean, g.err_b.mean, g.barrier_err.mean, g.barrier_err.std, g.barrier_loss.mean,
                      g.barrier_loss.std, g.max_err.mean, g.eps2.mean,
                      string.format("%d/%d", math.floor(g.lemma.mean * g.lemma.count + 0.5), g.lemma.count) }
  end
end
E.table(o, "lmc", string.format("LMC: test error along theta_alpha (barrier = max over alpha of err - chord), mean and std over %d seeds",
                                #o.seeds),
        { headers = { "pair", "n", "err_A", "err_B", "barrier_err", "barrier_err_std", "barrier_loss", "barrier_loss_std",
                      "max_err", "2eps", "lemma_holds" }, rows = lmc })

-- per layer: mean and std over seeds of 1 - cos_AB and 1 - cos_alpha at each alpha
local alphas = rows[1] and rows[1].out.alphas or {}
local function mean_std(xs)
  local n, s, ss = #xs, 0, 0
  for _, x in ipairs(xs) do s = s + x end
  local m = n > 0 and s / n or 0 / 0
  for _, x in ipairs(xs) do ss = ss + (x - m) ^ 2 end
  return m, n > 1 and math.sqrt(ss / (n - 1)) or 0 / 0
end
local headers = { "pair", "layer", "1-cos_AB", "1-cos_AB_std" }
for _, a in ipairs(alphas) do
  headers[#headers + 1] = string.format("1-cos_a=%.2f", a)
  headers[#headers + 1] = string.format("1-cos_a=%.2f_std", a)
end
headers[#headers + 1] = "coef(a=.5)"
local ll = {}
for _, name in ipairs(PAIRS) do
  local mine = {}
  for _, r in ipairs(rows) do if r.params.pair == name then mine[#mine + 1] = r.out end end
  for li, layer in ipairs(mine[1] and mine[1].layers or {}) do
    local function col(f)
      local xs = {}
      for _, out in ipairs(mine) do xs[#xs + 1] = f(out.layers[li]) end
      return mean_std(xs)
    end
    local row = { name, layer.name }
    row[3], row[4] = col(function(x) return x.ab end)
    for j = 1, #alphas do
      local m, sd = col(function(x) return x.at[j] end)
      row[#row + 1], row[#row + 2] = m, sd
    end
    row[#row + 1] = (col(function(x) return x.coef end))
    ll[#ll + 1] = row
  end
end
E.table(o, "llfc", string.format("LLFC (Fig. 3): E[1 - cos_alpha] per layer vs the baseline E[1 - cos_AB], mean and std over %d seeds",
                                 #o.seeds), { headers = headers, rows = ll })

-- figures: each pair's LLFC and interpolation, mean +- SD over the seeds
-- (view.summary of the rows' reports), the two interpolations overlaid, and
-- the first seed's whole report
local sums = {}
for _, name in ipairs(PAIRS) do
  local reps = {}
  for _, r in ipairs(rows) do if r.params.pair == name then reps[#reps + 1] = r.out.report end end
  if #reps > 0 then
    E.save(o, name, reps[1])
    local what = #reps == 1 and "seed" or "seeds"
    sums[name] = { llfc = view.summary(reps_part(reps, "llfc"), { what = what }),
                   interpolate = view.summary(reps_part(reps, "interpolate"), { what = what }) }
    E.save(o, name .. "_llfc", sums[name].llfc, { panels = { 1, 2 } }) -- a summary has no histograms
    E.save(o, name .. "_interpolate", sums[name].interpolate)
  end
end
if sums.spawned and sums.independent then
  E.save(o, "interpolate_overlay", { sums.spawned.interpolate, sums.independent.interpolate },
         { labels = { "spawned", "independent" } })
end

local out = {}
for _, name in ipairs(PAIRS) do
  local g = byp[name]
  if g then
    out[#out + 1] = string.format("%s 1-cos_alpha = %.4f +- %.4f (1-cos_AB %.4f, ratio %.3f)", name, g.llfc_mean.mean,
                                  g.llfc_mean.std, g.ab_mean.mean, g.llfc_mean.mean / g.ab_mean.mean)
  end
end
print("\nmean over layers and alphas (mean +- std over seeds): " .. table.concat(out, "; "))

local summary = { seeds = o.seeds, runs = {} }
for _, name in ipairs(PAIRS) do
  local g = byp[name]
  if g then
    local e = { n = g.n }
    for _, v in ipairs(VALUES) do e[v] = g[v].mean; e[v .. "_std"] = g[v].std end
    summary[name] = e
  end
end
for i, r in ipairs(rows) do
  summary.runs[i] = { pair = r.params.pair, seed = r.params.seed, barrier_err = r.out.barrier_err,
                      barrier_loss = r.out.barrier_loss, err_a = r.out.err_a, err_b = r.out.err_b,
                      llfc_mean = r.out.llfc_mean, ab_mean = r.out.ab_mean }
end
E.finish(o, summary)
