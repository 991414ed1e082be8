-- instability.lua - instability analysis: spawn a pair after k epochs of shared
-- training (k swept), train both children to the end, and measure the barrier
-- and the mean LLFC metric against k.  Small k gives independent-like pairs,
-- larger k pairs that are linearly (and layerwise linearly) connected.
--   llfc lua/experiments/instability.lua [--ks 0,0.25,0.5,1,2] [--epochs 3] [--quick]
local dir = (arg and arg[0] or ""):match("^(.*[/\\])") or "./"
local E = dofile(dir .. "common.lua")

local o, ds = E.start("instability", "barrier and LLFC against the spawn time k", arg or {},
  { {"ks", "list", "0,0.25,0.5,1,2", "spawn times in epochs"},
    {"epochs", "number", 3, "total training epochs of each child (counted from initialisation)"} })
local widths = E.widths(o, ds)
local s1, s2 = math.floor(o.seeds[1]), math.floor(o.seeds[2] or o.seeds[1] + 1)
local spe = E.steps_per_epoch(o, ds)

local rows, series = {}, { k = {}, barrier = {}, barrier_loss = {}, llfc = {}, ab = {} }
local summary = { runs = {} }
for i, k in ipairs(o.ks) do
  if k > o.epochs then error(string.format("--ks: spawn time %g is past the end of training (%g epochs)", k, o.epochs), 0) end
  local steps = math.floor(k * spe + 0.5)
  E.log(o, string.format("k = %g epochs (%d steps): spawning and training the children", k, steps))
  local a, b = nn.spawn(E.mlp(widths, s1), ds.train,
    E.train_opts(o, { k = steps, unit = "step", seeds = {s1 + 100, s2 + 100}, seed0 = s1 }))
  E.log(o, string.format("k = %g: metrics", k))
  local r = E.report(o, a, b, ds)
  E.save(o, string.format("report_k%g", k), r)
  local c = r.interpolate
  local lm, ab = E.llfc_mean(r.llfc)
  rows[i] = { k, steps, c.err_a, c.err_b, c.barrier.err, c.barrier.loss, lm, ab }
  series.k[i], series.barrier[i], series.barrier_loss[i] = k, c.barrier.err, c.barrier.loss
  series.llfc[i], series.ab[i] = lm, ab
  summary.runs[i] = { k = k, steps = steps, err_a = c.err_a, err_b = c.err_b, barrier_err = c.barrier.err,
                      barrier_loss = c.barrier.loss, llfc_mean = lm, ab_mean = ab }
end

E.table(o, "instability", "instability: barrier and mean LLFC metric (over layers and alphas) against k",
        { headers = { "k_epochs", "k_steps", "err_A", "err_B", "barrier_err", "barrier_loss",
                      "mean_1-cos_a", "mean_1-cos_AB" }, rows = rows })
E.figure(o, "barrier_vs_k", {
  title = "barrier against spawn time k", xlabel = "k (epochs)", ylabel = "barrier", x = series.k,
  series = { { name = "test error", y = series.barrier }, { name = "test loss", y = series.barrier_loss, dashed = true } } })
E.figure(o, "llfc_vs_k", {
  title = "LLFC against spawn time k", xlabel = "k (epochs)", ylabel = "mean over layers and alphas", x = series.k,
  series = { { name = "1 - cos_alpha", y = series.llfc }, { name = "1 - cos_AB", y = series.ab, dashed = true } } })
E.finish(o, summary)
