-- lemma.lua - the poster's lemma "LLFC implies LMC": if A and B satisfy LLFC
-- and max(Err(A), Err(B)) <= eps, then Err(theta_alpha) <= 2 eps for every
-- alpha.  For several pairs (independent, weight matched, activation matched,
-- spawned) this prints the endpoint error eps, the largest error on the path,
-- 2 eps, and the LLFC metric, so one sees the bound hold where LLFC holds.
--   llfc lua/experiments/lemma.lua [--pairs 1] [--k 1] [--quick]
local dir = (arg and arg[0] or ""):match("^(.*[/\\])") or "./"
local E = dofile(dir .. "common.lua")

local o, ds = E.start("lemma", "endpoint error eps against the path's largest error and 2 eps", arg or {},
  { {"pairs", "number", 1, "independent pairs (each also weight and activation matched)"},
    {"k", "number", 1, "spawn point (epochs) of the spawned pair"},
    {"alphas", "number", 21, "points on the interpolation path"} })
local widths = E.widths(o, ds)
local s1 = math.floor(o.seeds[1])
local spe = E.steps_per_epoch(o, ds)

local todo = {}
for p = 1, math.floor(o.pairs) do
  local sa, sb = s1 + 2 * (p - 1), s1 + 2 * (p - 1) + 1
  E.log(o, string.format("independent pair %d (seeds %d, %d)", p, sa, sb))
  local a, b = nn.pair(widths, ds.train, E.train_opts(o, { init_seeds = {sa, sb}, seeds = {sa, sb} }))
  local tag = o.pairs > 1 and tostring(p) or ""
  todo[#todo + 1] = { "independent" .. tag, a, b }
  todo[#todo + 1] = { "weight_matched" .. tag, a, perm.weight_match(a, b, { seed = sa }):apply(b) }
  todo[#todo + 1] = { "activation_matched" .. tag, a,
                      perm.activation_match(a, b, ds.train, { n = math.min(5000, #ds.train) }):apply(b) }
end
E.log(o, string.format("spawned pair (k = %g epochs)", o.k))
local sa, sb = nn.spawn(E.mlp(widths, s1), ds.train,
  E.train_opts(o, { k = math.floor(o.k * spe + 0.5), unit = "step", seeds = {s1 + 100, s1 + 101}, seed0 = s1 }))
todo[#todo + 1] = { "spawned", sa, sb }

local rows, curves, names, summary = {}, {}, {}, { pairs = {} }
for i, t in ipairs(todo) do
  E.log(o, "metrics: " .. t[1])
  local r = E.report(o, t[2], t[3], ds)
  local c, lm = r.interpolate, E.llfc_mean(r.llfc)
  E.save(o, "interpolate_" .. t[1], c)
  rows[i] = { t[1], c.err_a, c.err_b, c.lemma.eps, c.lemma.max_err, 2 * c.lemma.eps,
              c.lemma.max_err / c.lemma.eps, c.lemma.holds and "holds" or "fails", lm }
  curves[#curves + 1], names[#names + 1] = c, t[1]
  summary.pairs[i] = { pair = t[1], err_a = c.err_a, err_b = c.err_b, eps = c.lemma.eps,
                       max_err = c.lemma.max_err, holds = c.lemma.holds, llfc_mean = lm,
                       barrier_err = c.barrier.err }
end
E.table(o, "lemma", "lemma: eps = max(err_A, err_B); the bound is max over alpha of err(theta_alpha) <= 2 eps",
        { headers = { "pair", "err_A", "err_B", "eps", "max_err", "2eps", "max_err/eps", "bound",
                      "mean_1-cos_a" }, rows = rows })
-- the pairs' test error along the path on one figure
E.save(o, "lemma_curves", curves, { labels = names, panel = 1, title = "test error along theta_alpha = alpha*A + (1-alpha)*B" })
E.finish(o, summary)
