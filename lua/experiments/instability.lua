-- instability.lua - instability analysis: spawn a pair after k epochs of shared
-- training (k swept), train both children to the end, and measure the barrier
-- and the mean LLFC metric against k, over several seeds (mean +- std).  Small
-- k gives independent-like pairs, larger k pairs that are linearly (and
-- layerwise linearly) connected.  A sweep (llfc.sweep): one task spawns and
-- trains the pair of seed s at time k, one measures it; the results go to
-- OUT/results.jsonl and OUT/models/, a second run resumes, and the same
-- command runs under mpirun or one task at a time (--task, --array-index).
--   llfc lua/experiments/instability.lua [--ks 0,0.25,0.5,1,2] [--epochs 3] [--seeds 1,2,3] [--quick]
local dir = (arg and arg[0] or ""):match("^(.*[/\\])") or "./"
local E = dofile(dir .. "common.lua")

local o, ds, S = E.start_sweep("instability", "barrier and LLFC against the spawn time k", arg or {},
  { {"ks", "list", "0,0.25,0.5,1,2", "spawn times in epochs"},
    {"epochs", "number", 3, "total training epochs of each child (counted from initialisation)"} })
local widths = E.widths(o, ds)
local spe = E.steps_per_epoch(o, ds)
local cfg = E.run_config(o, ds)
for _, k in ipairs(o.ks) do
  if k > o.epochs then error(string.format("--ks: spawn time %g is past the end of training (%g epochs)", k, o.epochs), 0) end
end

for _, s in ipairs(o.seeds) do
  local sa, sb = 2 * s - 1, 2 * s
  for _, k in ipairs(o.ks) do
    local steps = math.floor(k * spe + 0.5)
    local params = { seed = s, k = k, steps = steps, cfg = cfg }
    local pair = S:task{ id = string.format("pair/s%d/k%g", s, k), params = params, run = function(p)
      local a, b = nn.spawn(E.mlp(widths, sa), ds.train,
        E.train_opts(o, { k = p.steps, unit = "step", seeds = {sa + 100, sb + 100}, seed0 = sa, progress = false }))
      return { a = a, b = b }
    end }
    S:task{ id = string.format("measure/s%d/k%g", s, k), params = params, deps = { pair }, run = function(_, inputs)
      local r = E.report(o, inputs[1].a, inputs[1].b, ds)
      local c = r.interpolate
      local lm, ab = E.llfc_mean(r.llfc)
      -- the whole report goes into the row too (a few KB): the figures below come from the rows
      return { err_a = c.err_a, err_b = c.err_b, barrier_err = c.barrier.err, barrier_loss = c.barrier.loss,
               llfc_mean = lm, ab_mean = ab, report = r }
    end }
  end
end
S:run()

-- mean +- std over the seeds for each k
local rows = S:rows("^measure/")
local VALUES = { "err_a", "err_b", "barrier_err", "barrier_loss", "llfc_mean", "ab_mean" }
local sum = sweep.summary(rows, { by = "k", values = VALUES })
local trows, series = {}, { k = {}, barrier = {}, barrier_sd = {}, loss = {}, loss_sd = {}, llfc = {}, llfc_sd = {},
                            ab = {}, ab_sd = {} }
for i, g in ipairs(sum.groups) do
  trows[i] = { g.k, math.floor(g.k * spe + 0.5), g.n, g.err_a.mean, g.err_b.mean, g.barrier_err.mean, g.barrier_err.std,
               g.barrier_loss.mean, g.barrier_loss.std, g.llfc_mean.mean, g.llfc_mean.std, g.ab_mean.mean, g.ab_mean.std }
  series.k[i] = g.k
  series.barrier[i], series.barrier_sd[i] = g.barrier_err.mean, g.barrier_err.std
  series.loss[i], series.loss_sd[i] = g.barrier_loss.mean, g.barrier_loss.std
  series.llfc[i], series.llfc_sd[i] = g.llfc_mean.mean, g.llfc_mean.std
  series.ab[i], series.ab_sd[i] = g.ab_mean.mean, g.ab_mean.std
end
E.table(o, "instability",
        string.format("instability: barrier and mean LLFC metric (over layers and alphas) against k, mean and std over %d seeds",
                      #o.seeds),
        { headers = { "k_epochs", "k_steps", "n", "err_A", "err_B", "barrier_err", "barrier_err_std", "barrier_loss",
                      "barrier_loss_std", "mean_1-cos_a", "mean_1-cos_a_std", "mean_1-cos_AB", "mean_1-cos_AB_std" },
          rows = trows })
-- the first seed's report at each k, as the single-seed script saved it
for _, r in ipairs(rows) do
  if r.params.seed == o.seeds[1] then E.save(o, string.format("report_k%g", r.params.k), r.out.report) end
end
local per = {}
for i, r in ipairs(rows) do
  per[i] = { r.params.seed, r.params.k, r.params.steps, r.out.err_a, r.out.err_b, r.out.barrier_err,
             r.out.barrier_loss, r.out.llfc_mean, r.out.ab_mean }
end
E.write(o.out .. "/instability_runs.csv", E.csv{ headers = { "seed", "k_epochs", "k_steps", "err_A", "err_B",
  "barrier_err", "barrier_loss", "mean_1-cos_a", "mean_1-cos_AB" }, rows = per })
E.figure(o, "barrier_vs_k", {
  title = "barrier against spawn time k", xlabel = "k (epochs)", ylabel = "barrier", x = series.k,
  errlabel = string.format("mean \u{b1} SD over %d seeds", #o.seeds),
  series = { { name = "test error", y = series.barrier, sd = series.barrier_sd },
             { name = "test loss", y = series.loss, sd = series.loss_sd, dashed = true } } })
E.figure(o, "llfc_vs_k", {
  title = "LLFC against spawn time k", xlabel = "k (epochs)", ylabel = "mean over layers and alphas", x = series.k,
  errlabel = string.format("mean \u{b1} SD over %d seeds", #o.seeds),
  series = { { name = "1 - cos_alpha", y = series.llfc, sd = series.llfc_sd },
             { name = "1 - cos_AB", y = series.ab, sd = series.ab_sd, dashed = true } } })
local summary = { seeds = o.seeds, runs = {}, by_k = {} }
for i, r in ipairs(rows) do
  summary.runs[i] = { seed = r.params.seed, k = r.params.k, steps = r.params.steps, err_a = r.out.err_a,
                      err_b = r.out.err_b, barrier_err = r.out.barrier_err, barrier_loss = r.out.barrier_loss,
                      llfc_mean = r.out.llfc_mean, ab_mean = r.out.ab_mean }
end
for i, g in ipairs(sum.groups) do
  local e = { k = g.k, n = g.n }
  for _, v in ipairs(VALUES) do e[v] = g[v].mean; e[v .. "_std"] = g[v].std end
  summary.by_k[i] = e
end
E.finish(o, summary)
