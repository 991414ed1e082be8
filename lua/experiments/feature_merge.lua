-- feature_merge.lua - the feature-averaging merge (nn.merge_features) against
-- weight averaging, permutation matching and REPAIR: the test error of every
-- merge of an independent and a spawned MLP pair on Fashion-MNIST (and of a
-- ResNet-20 pair on pooled images, a smaller run), the error of the merge
-- against the number n of fitting samples, the LLFC cosine of the merged
-- network's features against the members' average (pre- and
-- post-activations, on the fitting data and on held-out data), and merges of
-- more than two networks.
--   llfc lua/experiments/feature_merge.lua [--parts pairs,n,llfc,multi,resnet] [--quick]
local dir = (arg and arg[0] or ""):match("^(.*[/\\])") or "./"
local E = dofile(dir .. "common.lua")
local C = dofile(dir .. "cnn_common.lua")

local extra = {
  {"parts", "string", "pairs,n,llfc,multi,resnet", "what to run: MLP pairs, n, llfc, multi; resnet (with its llfc)"},
  {"pairs", "string", "independent,spawned", "MLP pairs: independent, spawned"},
  {"k", "number", 1, "spawn point of the spawned networks in epochs"},
  {"n-fit", "number", 10000, "training samples the merges, activation matching and REPAIR use"},
  {"ridge", "number", 1e-4, "ridge of nn.merge_features (relative to each layer's input scale)"},
  {"ns", "list", "100,300,1000,3000,10000", "fitting samples n of the error-against-n curve"},
  {"n-ridges", "list", "1e-4,1e-2", "ridges of the error-against-n curve"},
  {"models", "number", 3, "networks in the merges of more than two"},
  {"rwidth", "number", 2, "ResNet-20 width multiplier (integer)"},
  {"rnorm", "string", "bn", "ResNet-20 normalisation: bn | ln | none"},
  {"repochs", "number", 0, "ResNet-20 training epochs (0: --epochs)"},
  {"rlr", "number", 0.05, "ResNet-20 learning rate"},
  {"rdownsample", "number", 2, "average-pool the ResNet's images by this factor (2: 14x14)"},
  {"rn-train", "number", 0, "ResNet-20 training samples (0: --n-train)"},
  {"rn-fit", "number", 2000, "training samples the ResNet merges and REPAIR use"},
}
local about = "the feature-averaging merge against weight averaging, matching and REPAIR"
local o, ds = E.start("feature_merge", about, arg or {}, extra)
if o.quick then
  local q = { ns = {50, 200, 1000}, ["n-fit"] = 1000, rwidth = 1, repochs = 1, ["rn-train"] = 256, ["rn-fit"] = 128,
              rdownsample = 4, models = 3, k = 2 }
  for key, v in pairs(q) do if not o.given[key] then o[key] = v end end
end
local parts = {}
for s in o.parts:gmatch("[^,]+") do
  if not ({ pairs = 1, n = 1, llfc = 1, multi = 1, resnet = 1 })[s] then
    error("--parts: expected pairs, n, llfc, multi or resnet, got '" .. s .. "'", 0)
  end
  parts[s] = true
end
local want = {}
for s in o.pairs:gmatch("[^,]+") do
  if s ~= "independent" and s ~= "spawned" then error("--pairs: expected independent or spawned, got '" .. s .. "'", 0) end
  want[s] = true
end
if o.models < 3 then error("--models: at least 3 (pairs are the other parts)", 0) end
local s1, s2 = math.floor(o.seeds[1]), math.floor(o.seeds[2] or o.seeds[1] + 1)
local nfit = math.min(math.floor(o["n-fit"]), #ds.train)
local fit = ds.train:subset(nfit)
print(string.format("merges fitted on the first %d training samples (ridge %g); errors on %d test samples",
                    nfit, o.ridge, #ds.test))
local summary = { pairs = {}, n_curve = {}, llfc = {}, multi = {} }

local function test_of(net, test) local r = net:eval(test or ds.test) return r.err, r.loss end

-- the error of the ensemble: the weighted average of the networks' logits
-- (what the merge's last fit aims at), in batches of 500 test samples
local function ensemble_err(list, test)
  local x, y = test:tensors()
  local n, wrong = x:size(1), 0
  for s = 1, n, 500 do
    local m = math.min(500, n - s + 1)
    local xb = x:narrow(1, s, m)
    local z = list[1]:forward(xb):mul(1 / #list)
    for i = 2, #list do z:add(list[i]:forward(xb), 1 / #list) end
    wrong = wrong + m - z:argmax(2):eq(y:narrow(1, s, m)):sum()
  end
  return wrong / n
end

-- the trained networks are kept in OUT/nets/ (nn.load reads them); a network
-- found there is loaded instead of trained again, so a stopped run resumes
-- after its last finished network (and networks trained elsewhere can be
-- put there under these names)
local function keep(net, name)
  E.mkdir(o.out .. "/nets")
  assert(net:save(o.out .. "/nets/" .. name .. ".safetensors"))
  return net
end
local function kept(name)
  local path = o.out .. "/nets/" .. name .. ".safetensors"
  local f = io.open(path, "rb")
  if not f then return nil end
  f:close()
  local net, err = nn.load(path)
  if not net then error("feature_merge: " .. err, 0) end
  E.log(o, "loaded " .. path)
  return net
end

-- ---- networks -----------------------------------------------------------------------
local widths = E.widths(o, ds)
local nets = {}     -- cache: independent[i], spawned[i]
local function independent(i)
  if not nets["i" .. i] then nets["i" .. i] = kept("mlp_independent_" .. i) end
  if not nets["i" .. i] then
    local seed = s1 + i - 1
    if i == 2 then seed = s2 end
    E.log(o, string.format("training independent MLP %d (seed %d)", i, seed))
    local net = E.mlp(widths, seed)
    net:train(ds.train, E.train_opts(o, { seed = seed }))
    nets["i" .. i] = keep(net, "mlp_independent_" .. i)
  end
  return nets["i" .. i]
end
-- spawned networks: one parent (seed0 s1, --k epochs), children with data orders 101, 102, ...
local function spawned(i)
  if not nets["s" .. i] then
    local j = i % 2 == 1 and i or i - 1 -- children come in pairs
    nets["s" .. j], nets["s" .. (j + 1)] = kept("mlp_spawned_" .. j), kept("mlp_spawned_" .. (j + 1))
  end
  if not nets["s" .. i] then
    local j = i % 2 == 1 and i or i - 1
    local spe = E.steps_per_epoch(o, ds)
    E.log(o, string.format("spawning MLPs %d and %d (%g shared epochs)", j, j + 1, o.k))
    local a, b = nn.spawn(E.mlp(widths, s1), ds.train, E.train_opts(o, { k = math.max(1, math.floor(o.k * spe + 0.5)),
      unit = "step", seeds = {100 + j, 101 + j}, seed0 = s1 }))
    nets["s" .. j], nets["s" .. (j + 1)] = keep(a, "mlp_spawned_" .. j), keep(b, "mlp_spawned_" .. (j + 1))
  end
  return nets["s" .. i]
end

-- B aligned to A and the merges, computed once per net, pair and alignment
local cache = {}
local function aligned(key, a, b, how, fitset, nf)
  local k = key .. "/" .. how
  if not cache[k] then
    if how == "weight" then cache[k] = perm.weight_match(a, b, { seed = s1 }):apply(b)
    elseif how == "activation" then cache[k] = perm.activation_match(a, b, fitset, { n = nf }):apply(b)
    else cache[k] = b end
  end
  return cache[k]
end
local function merged(key, a, bb, how, fitset, nf)
  local k = key .. "/" .. how .. "/fm"
  if not cache[k] then
    local t0 = os.clock()
    local fm, info = nn.merge_features({ a, bb }, fitset, { n = nf, ridge = o.ridge })
    cache[k] = { fm, info, os.clock() - t0 }
  end
  return table.unpack(cache[k])
end

-- ---- 1. every merge of a pair --------------------------------------------------------
local ROWS = {}   -- errors.csv: long form
local WIDE = {}   -- merges.csv: one row per net, pair and alignment
local WIDE_HEADERS = { "net", "pair", "align", "err_A", "err_B", "best", "ensemble", "wa", "wa_reset_bn", "repair",
                       "fm", "fm_mse_ratio" }
local function add(net, pair, align, method, err, loss, secs)
  ROWS[#ROWS + 1] = { net, pair, align, method, err, loss, secs or 0 }
end
local function write_tables()
  E.write(o.out .. "/errors.csv", E.csv({ headers = { "net", "pair", "align", "method", "err", "loss", "cpu_seconds" },
                                         rows = ROWS }))
  E.write(o.out .. "/merges.csv", E.csv({ headers = WIDE_HEADERS, rows = WIDE }))
end

-- the mean over fits of mse_fit / mse_avg (how much of the weight average's
-- pre-activation error the fit removes, on the fitting data)
local function mse_ratio(info)
  local s, n = 0, 0
  for _, f in ipairs(info.fits) do
    if f.mse_avg == f.mse_avg and f.mse_avg > 0 then s = s + f.mse_fit / f.mse_avg; n = n + 1 end
  end
  return n > 0 and s / n or 0 / 0
end

-- weight average, REPAIR and the feature merge of a and b (aligned or not)
local function merges(netname, pname, a, b, fitset, test, nf, bn, aligns)
  local function terr(net) return test_of(net, test) end
  local ea, la = terr(a)
  local eb, lb = terr(b)
  add(netname, pname, "-", "A", ea, la)
  add(netname, pname, "-", "B", eb, lb)
  local out = { err_a = ea, err_b = eb, best = math.min(ea, eb), ensemble = ensemble_err({ a, b }, test), align = {} }
  add(netname, pname, "-", "ensemble", out.ensemble, "-") -- (no loss: the average of logits is not a network)
  for _, al in ipairs(aligns) do
    local t0 = os.clock()
    local how = al
    local bb = aligned(netname .. "/" .. pname, a, b, how, fitset, nf)
    local tal = os.clock() - t0
    local r = { align_seconds = tal }
    t0 = os.clock()
    local wa = nn.lerp(a, bb, 0.5)
    r.wa, r.wa_loss = terr(wa)
    add(netname, pname, how, "wa", r.wa, r.wa_loss, os.clock() - t0)
    if bn then
      t0 = os.clock()
      r.reset, r.reset_loss = terr(nn.reset_bn(wa, fitset, { n = nf }))
      add(netname, pname, how, "wa_reset_bn", r.reset, r.reset_loss, os.clock() - t0)
    end
    t0 = os.clock()
    r.repair, r.repair_loss = terr(nn.repair(a, bb, 0.5, fitset, { n = nf }))
    add(netname, pname, how, "repair", r.repair, r.repair_loss, os.clock() - t0)
    local fm, info, fs = merged(netname .. "/" .. pname, a, bb, how, fitset, nf)
    r.fm_seconds = fs
    r.fm, r.fm_loss = terr(fm)
    r.fm_mse_ratio = mse_ratio(info)
    add(netname, pname, how, "fm", r.fm, r.fm_loss, r.fm_seconds)
    E.log(o, string.format("%s %s, align %s: wa %.4f%s, repair %.4f, fm %.4f (fit: %.1f cpu s; mse fit/avg %.3f)",
                           netname, pname, how, r.wa, bn and string.format(", reset %.4f", r.reset) or "", r.repair,
                           r.fm, r.fm_seconds, r.fm_mse_ratio))
    WIDE[#WIDE + 1] = { netname, pname, how, ea, eb, out.best, out.ensemble, r.wa, bn and r.reset or "-", r.repair,
                        r.fm, r.fm_mse_ratio }
    out.align[how] = r
    write_tables()
  end
  return out
end

if parts.pairs then
  for _, pname in ipairs({ "independent", "spawned" }) do
    if want[pname] then
      local a, b
      if pname == "independent" then a, b = independent(1), independent(2) else a, b = spawned(1), spawned(2) end
      local r = merges("mlp", pname, a, b, fit, ds.test, nfit, false, { "none", "weight", "activation" })
      summary.pairs[pname] = r
    end
  end
end

-- ---- 2. error against the number of fitting samples ----------------------------------
if parts.n then
  local a, b = independent(1), independent(2)
  E.log(o, "error against n: the independent pair, weight-matched")
  local bw = aligned("mlp/independent", a, b, "weight", fit, nfit)
  local wa = test_of(nn.lerp(a, bw, 0.5))
  local ns = {}
  for _, n in ipairs(o.ns) do if n <= #ds.train then ns[#ns + 1] = math.floor(n) end end
  local rows, series, lx = {}, {}, {}
  for i, n in ipairs(ns) do lx[i] = math.log(n, 10) end
  for ri, ridge in ipairs(o["n-ridges"]) do
    local s = { name = string.format("merge, ridge %g", ridge), y = {} }
    for _, n in ipairs(ns) do
      local t0 = os.clock()
      local ok, fm, info = pcall(nn.merge_features, { a, bw }, ds.train, { n = n, ridge = ridge })
      local err, loss, fiterr = 0 / 0, 0 / 0, 0 / 0
      if ok then
        err, loss = test_of(fm)
        fiterr = fm:eval(ds.train, { n = n }).err
      end
      rows[#rows + 1] = { n, ridge, err, loss, fiterr, ok and mse_ratio(info) or 0 / 0, os.clock() - t0 }
      s.y[#s.y + 1] = err
      E.log(o, string.format("n = %d, ridge %g: test error %.4f (on its fitting samples %.4f)", n, ridge, err, fiterr))
    end
    series[ri] = s
  end
  local repair = test_of(nn.repair(a, bw, 0.5, fit, { n = nfit }))
  local best = math.min((test_of(a)), (test_of(b)))
  local function flat(name, v)
    local y = {}
    for i = 1, #ns do y[i] = v end
    return { name = name, y = y, dashed = true }
  end
  series[#series + 1] = flat("weight average (matched)", wa)
  series[#series + 1] = flat("REPAIR (matched)", repair)
  series[#series + 1] = flat("better endpoint", best)
  E.table(o, "n_curve", "test error of the merge (weight-matched independent pair) against the fitting samples n",
          { headers = { "n", "ridge", "test_err", "test_loss", "fit_err", "mse_ratio", "cpu_seconds" }, rows = rows })
  print(string.format("for reference: weight average %.4f, REPAIR %.4f, better endpoint %.4f (all matched)", wa,
                      repair, best))
  E.figure(o, "n_curve_chart", { title = "feature merge: test error against the fitting samples n", xlabel = "log10 n",
                           ylabel = "test error", x = lx, series = series })
  summary.n_curve = { rows = rows, wa = wa, repair = repair, best = best }
end

-- ---- 3. LLFC of the merged network against the members' average ------------------------
local LL = {}
local function llfc_part(netname, pname, a, b, fitset, test, nf, align)
  local bb = aligned(netname .. "/" .. pname, a, b, align, fitset, nf)
  local fm = merged(netname .. "/" .. pname, a, bb, align, fitset, nf)
  local wa = nn.lerp(a, bb, 0.5)
  local sets = { { "fit", fitset:subset(math.min(nf, #fitset)) }, { "test", test } }
  local res, series, groups = {}, {}, nil
  for _, m in ipairs({ { "fm", fm }, { "wa", wa } }) do
    for _, f in ipairs({ "pre", "post" }) do
      for _, d in ipairs(sets) do
        local r = metrics.feature_llfc(m[2], { a, bb }, d[2], { features = f })
        local key = m[1] .. "_" .. f .. "_" .. d[1]
        res[key] = r
        local s = { name = string.format("%s %s %s", m[1] == "fm" and "merge" or "weight avg", f, d[1]), y = {},
                    dashed = m[1] == "wa" }
        groups = groups or {}
        for i, l in ipairs(r.layers) do
          LL[#LL + 1] = { netname, pname, align, m[1], f, d[1], l.name, l.mean, l.std, l.coef_mean }
          s.y[i], groups[i] = l.mean, l.name
        end
        if m[1] == "fm" or d[1] == "test" then series[#series + 1] = s end
      end
    end
  end
  E.figure(o, "llfc_" .. netname .. "_" .. pname .. "_chart", {
    title = string.format("%s %s: 1 - cos(f(net), average of the members' f)", netname, pname),
    xlabel = "feature layer", ylabel = "mean 1 - cos", groups = groups, series = series })
  local rows = {}
  for i, l in ipairs(res.fm_pre_fit.layers) do
    rows[i] = { l.name, l.mean, res.fm_pre_test.layers[i].mean, res.fm_post_fit.layers[i].mean,
                res.fm_post_test.layers[i].mean, res.fm_post_test.layers[i].coef_mean,
                res.wa_pre_test.layers[i].mean, res.wa_post_test.layers[i].mean }
  end
  E.table(o, "llfc_" .. netname .. "_" .. pname,
          string.format("%s %s pair (align %s): mean 1 - cos of the merge's features against the members' average",
                        netname, pname, align),
          { headers = { "layer", "fm_pre_fit", "fm_pre_test", "fm_post_fit", "fm_post_test", "fm_coef_test",
                        "wa_pre_test", "wa_post_test" }, rows = rows })
  E.write(o.out .. "/llfc.csv", E.csv({ headers = { "net", "pair", "align", "merge", "features", "data", "layer",
                                                    "mean_1-cos", "std", "coef" }, rows = LL }))
  return rows
end

if parts.llfc then
  local a, b = independent(1), independent(2)
  E.log(o, "LLFC of the merges: the independent pair (weight-matched)")
  summary.llfc.independent = llfc_part("mlp", "independent", a, b, fit, ds.test, nfit, "weight")
  if want.spawned then
    E.log(o, "LLFC of the merges: the spawned pair")
    summary.llfc.spawned = llfc_part("mlp", "spawned", spawned(1), spawned(2), fit, ds.test, nfit, "none")
  end
end

-- ---- 4. more than two networks ----------------------------------------------------------
if parts.multi then
  local M = math.floor(o.models)
  local rows = {}
  for _, kind in ipairs({ "independent", "spawned" }) do
    if want[kind] then
      local list, errs = {}, {}
      for i = 1, M do list[i] = kind == "independent" and independent(i) or spawned(i) end
      local best, mean = 1, 0
      for i, n in ipairs(list) do errs[i] = test_of(n); best = math.min(best, errs[i]); mean = mean + errs[i] / M end
      -- aligned copies: every network weight-matched to the first
      local al = { list[1] }
      for i = 2, M do al[i] = perm.weight_match(list[1], list[i], { seed = s1 }):apply(list[i]) end
      local function wavg(l)
        local w = l[1]
        for i = 2, #l do w = nn.lerp(w, l[i], (i - 1) / i) end
        return w
      end
      local r = { kind, M, best, mean, ensemble_err(list, ds.test), (test_of(wavg(list))), (test_of(wavg(al))) }
      local t0 = os.clock()
      r[8] = test_of((nn.merge_features(list, fit, { n = nfit, ridge = o.ridge })))
      local fm, info = nn.merge_features(al, fit, { n = nfit, ridge = o.ridge })
      r[9] = test_of(fm)
      r[10] = os.clock() - t0
      r[11] = mse_ratio(info)
      rows[#rows + 1] = r
      E.log(o, string.format("%d %s MLPs: best %.4f, ensemble %.4f, weight avg %.4f / matched %.4f, fm %.4f / "
                             .. "matched %.4f", M, kind, best, r[5], r[6], r[7], r[8], r[9]))
      summary.multi[kind] = { errs = errs, best = best, mean = mean, ensemble = r[5], wa = r[6], wa_matched = r[7],
                              fm = r[8], fm_matched = r[9] }
    end
  end
  E.table(o, "multi", string.format("merges of %d MLPs (matched: each weight-matched to the first)", M),
          { headers = { "networks", "k", "best", "mean", "ensemble", "wa", "wa_matched", "fm", "fm_matched",
                        "cpu_seconds", "mse_ratio" }, rows = rows })
end

-- ---- 5. ResNet-20, a smaller run ----------------------------------------------------------
if parts.resnet then
  -- C.images reads the options: --rdownsample and --rn-train in place of --downsample and --n-train
  local ro = setmetatable({ downsample = o.rdownsample,
                            ["n-train"] = o["rn-train"] > 0 and o["rn-train"] or o["n-train"] }, { __index = o })
  local ids = C.images(ro, E)
  local arch = "resnet20-" .. o.rnorm
  local rn = math.min(math.floor(o["rn-fit"]), #ids.train)
  local rfit = ids.train:subset(rn)
  E.log(o, string.format("ResNet-20 (width %d, %s) on %s %s images: independent pair", o.rwidth, o.rnorm, ids.name,
                         table.concat(ids.train.shape, "x")))
  print(string.format("\nResNet-20 part: data %s: %d train, %d test, images %s; width %d, norm %s; %g epochs, lr %g; "
                      .. "merges, matching, reset and REPAIR on %d training images", ids.name, #ids.train, #ids.test,
                      table.concat(ids.train.shape, "x"), math.floor(o.rwidth), o.rnorm,
                      o.repochs > 0 and o.repochs or o.epochs, o.rlr, rn))
  local tmpl = C.net(arch, ids, s1, 1, math.floor(o.rwidth))
  local ropts = E.train_opts(o, { init_seeds = { s1, s2 }, seeds = { s1, s2 }, lr = o.rlr,
                                  epochs = o.repochs > 0 and o.repochs or o.epochs })
  local t0 = os.time()
  local a, b = nn.pair(tmpl, ids.train, ropts)
  local train_s = os.time() - t0
  keep(a, "resnet20_a")
  keep(b, "resnet20_b")
  local r = merges("resnet20", "independent", a, b, rfit, ids.test, rn, o.rnorm == "bn", { "none", "weight" })
  r.train_seconds = train_s
  summary.resnet = r
  llfc_part("resnet20", "independent", a, b, rfit, ids.test, rn, "weight")
end

if #WIDE > 0 then
  E.table(o, "merges", "test error of each merge of a pair (fm: nn.merge_features; best: the better endpoint; "
          .. "ensemble: the average of the endpoints' logits; fm_mse_ratio: the fit's pre-activation error over the "
          .. "weight average's, mean over layers, on the fitting data)",
          { headers = WIDE_HEADERS, rows = WIDE })
  write_tables()
end
E.finish(o, summary)
