-- permutation.lua - an independently trained pair before and after weight
-- matching and activation matching: barrier, LLFC per layer, weak additivity,
-- and commutativity (Dist_com against Dist_W and Dist_H), to see which factor
-- of (W_A - P W_B P^T)(H_A - P H_B) each method shrinks.
--   llfc lua/experiments/permutation.lua [--n-match 5000] [--method corr] [--quick]
local dir = (arg and arg[0] or ""):match("^(.*[/\\])") or "./"
local E = dofile(dir .. "common.lua")

local o, ds = E.start("permutation",
  "weight matching and activation matching of an independent pair", arg or {},
  { {"n-match", "number", 5000, "training samples activation matching compares"},
    {"method", "string", "inner", "activation matching statistic: inner | corr"} })
local widths = E.widths(o, ds)
local s1, s2 = math.floor(o.seeds[1]), math.floor(o.seeds[2] or o.seeds[1] + 1)

E.log(o, string.format("training the independent pair (seeds %d, %d)", s1, s2))
local a, b = nn.pair(widths, ds.train, E.train_opts(o, { init_seeds = {s1, s2}, seeds = {s1, s2} }))

E.log(o, "weight matching")
local pw, sw = perm.weight_match(a, b, { seed = s1 })
E.log(o, string.format("activation matching (%s, %d samples)", o.method, math.min(o["n-match"], #ds.train)))
local pa, sa = perm.activation_match(a, b, ds.train,
                                     { n = math.floor(math.min(o["n-match"], #ds.train)), method = o.method })
local pairs_ = {
  { "none", b },
  { "weight", pw:apply(b) },
  { "activation", pa:apply(b) },
}

local R = {}
for i, p in ipairs(pairs_) do
  E.log(o, "metrics, permutation: " .. p[1])
  R[i] = E.report(o, a, p[2], ds)
  E.save(o, "report_" .. p[1], R[i])
  E.save(o, "interpolate_" .. p[1], R[i].interpolate)
  E.save(o, "commutativity_" .. p[1], R[i].commutativity)
  E.save(o, "llfc_" .. p[1], R[i].llfc)
end
-- before and after matching on one figure (the field's standard plot), and side by side per layer
local labels = { "unmatched", "weight matching", "activation matching" }
local function each(f) local t = {}; for i = 1, #R do t[i] = R[i][f] end; return t end
E.save(o, "interpolate_overlay", each("interpolate"), { labels = labels })
assert(view.save(each("interpolate"), o.out .. "/interpolate_overlay.png", { labels = labels, panel = 1, size = { 6, 3.6 }, dpi = 150 }))
E.save(o, "llfc_overlay", each("llfc"), { labels = labels })
E.save(o, "commutativity_overlay", each("commutativity"), { labels = labels })

local lmc, llfc, weak, comm = {}, {}, {}, {}
for i, p in ipairs(pairs_) do
  lmc[i] = E.lmc_row(p[1], R[i].interpolate)
  E.llfc_rows(llfc, p[1], R[i].llfc)
  for _, l in ipairs(R[i].weak_additivity.layers) do
    local row = { p[1], l.name }
    for _, at in ipairs(l.at) do row[#row + 1] = at.mean end
    weak[#weak + 1] = row
  end
  for _, l in ipairs(R[i].commutativity.layers) do
    comm[#comm + 1] = { p[1], l.layer, l.input, l.dist_com, l.dist_w, l.dist_h }
  end
end
local wh = { "perm", "layer" }
for _, at in ipairs(R[1].weak_additivity.layers[1].at) do wh[#wh + 1] = string.format("a=%.2f", at.alpha) end

print(string.format("\nweight matching: %d sweeps, %.1f s; activation matching: %.1f s",
                    sw.iterations, sw.seconds, sa.seconds))
E.table(o, "lmc", "LMC: test error along the path, B permuted by each method",
        { headers = E.LMC_HEADERS, rows = lmc })
E.table(o, "llfc", "LLFC: E[1 - cos_alpha] per layer vs E[1 - cos_AB]",
        { headers = E.llfc_headers(R[1].llfc), rows = llfc })
E.table(o, "weak_additivity",
        "weak additivity: E[1 - cos(relu(a Ht_A + (1-a) Ht_B), a relu(Ht_A) + (1-a) relu(Ht_B))]",
        { headers = wh, rows = weak })
E.table(o, "commutativity",
        "commutativity: Dist_com = Dist(W_A H_A + W_B H_B, W_A H_B + W_B H_A), Dist_W = Dist(W_A, W_B), Dist_H = Dist(H_A, H_B)",
        { headers = { "perm", "layer", "input", "Dist_com", "Dist_W", "Dist_H" }, rows = comm })

-- which factor each method shrinks: mean over weight layers of Dist_W and Dist_H
-- (layer 1's input is x, the same for both, so Dist_H there is 0 for all)
local function means(r)
  local w, h, c, nh = 0, 0, 0, 0
  for _, l in ipairs(r.commutativity.layers) do
    w = w + l.dist_w; c = c + l.dist_com
    if l.layer > 1 then h = h + l.dist_h; nh = nh + 1 end
  end
  local n = #r.commutativity.layers
  return { dist_w = w / n, dist_h = h / math.max(nh, 1), dist_com = c / n }
end
local summary = {}
local t = { headers = { "perm", "barrier_err", "mean_1-cos_a", "mean_Dist_W", "mean_Dist_H(l>1)", "mean_Dist_com" }, rows = {} }
for i, p in ipairs(pairs_) do
  local m = means(R[i])
  local lm = E.llfc_mean(R[i].llfc)
  t.rows[i] = { p[1], R[i].interpolate.barrier.err, lm, m.dist_w, m.dist_h, m.dist_com }
  summary[p[1]] = { barrier_err = R[i].interpolate.barrier.err, barrier_loss = R[i].interpolate.barrier.loss,
                    llfc_mean = lm, dist_w = m.dist_w, dist_h = m.dist_h, dist_com = m.dist_com }
end
E.table(o, "summary", "summary: which factor each method shrinks", t)
-- Dist_W (solid) and Dist_H (dashed) per weight layer for each method
local series, groups = {}, {}
for j, l in ipairs(R[1].commutativity.layers) do groups[j] = string.format("%d (%s)", l.layer, l.input) end
for i, p in ipairs(pairs_) do
  local w, h = {}, {}
  for j, l in ipairs(R[i].commutativity.layers) do w[j], h[j] = l.dist_w, l.dist_h end
  series[#series + 1] = { name = "Dist_W " .. p[1], y = w, color = i }
  series[#series + 1] = { name = "Dist_H " .. p[1], y = h, dashed = true, color = i }
end
E.figure(o, "factors", { title = "the two factors per weight layer", xlabel = "weight layer (input)",
                         ylabel = "Dist", groups = groups, series = series })
E.finish(o, summary)
