-- matchers.lua - every alignment method on the same independent pairs: none,
-- weight matching, activation matching, the straight-through estimator,
-- Sinkhorn (weight distance and midpoint loss) and commutativity matching,
-- on an MLP pair and a ResNet-20 pair.  Per method: its time, the barrier
-- (error and loss), 1 - cos at alpha 0.5 per layer, Dist_com, Dist_W and
-- Dist_H per weight layer, and J = sum over weight layers of
-- |(W_A - W_B')(H_A - H_B')|^2 (on the test samples, and on the samples the
-- data-driven matchers use); for a BatchNorm conv pair also the error barrier
-- with every interior point's statistics reset.
--   llfc lua/experiments/matchers.lua [--methods weight,commutativity] [--nets mlp] [--quick]
-- With --aggregate DIR1,DIR2,... it runs nothing: it reads the CSV files of
-- earlier runs (one per seed pair) and prints the mean and standard deviation
-- over them of every summary measure, the verdict on the means (with the
-- number of runs in which the best method beats the runner-up), and draws the
-- interpolations and J per layer with error bars of one SD.
local dir = (arg and arg[0] or ""):match("^(.*[/\\])") or "./"
local E = dofile(dir .. "common.lua")
local C = dofile(dir .. "cnn_common.lua")

local ALL = "none,weight,activation,ste,sinkhorn,sinkhorn_loss,commutativity"
local extra = {
  {"methods", "string", ALL, "methods to run, comma separated"},
  {"n-match", "number", 2000, "training samples activation and commutativity matching use (and J_match)"},
  {"ste-epochs", "number", 2, "STE: passes over the training set"},
  {"ste-lr", "number", 1e-3, "STE: Adam learning rate"},
  {"sk-steps", "number", 200, "Sinkhorn, weight objective: steps"},
  {"sk-epochs", "number", 1, "Sinkhorn, loss objective: passes over the training set"},
  {"comm-init", "string", "weight", "commutativity matching's start: weight | activation | identity"},
  {"nets", "string", "mlp,resnet20", "the pairs to run: mlp, resnet20 or both"},
  {"resnet", "number", 1, "the conv pair's ResNet-20 width"},
  {"res-norm", "string", "bn", "the conv pair's normalisation: bn | ln"},
  {"res-epochs", "number", 2, "the conv pair's training epochs"},
  {"res-lr", "number", 0.05, "the conv pair's learning rate"},
  {"res-train", "number", 4000, "the conv pair's training images"},
  {"res-test", "number", 1000, "the conv pair's test images"},
  {"res-match", "number", 256, "the conv pair: samples for activation and commutativity matching"},
  {"downsample", "number", 2, "the conv pair: average-pool the images by this factor"},
  {"aggregate", "string", nil, "DIR1,DIR2,...: no run; mean and std over earlier runs' outputs"},
}
-- --quick: the MLP on spirals (common.lua), a tiny ResNet-20 on 7x7 images
local QUICK = { ["n-match"] = 300, ["ste-epochs"] = 1, ["sk-steps"] = 40, ["res-epochs"] = 1, ["res-train"] = 256,
                ["res-test"] = 128, ["res-match"] = 48, downsample = 4, batch = 32 }
local about = "every matching method on an independent pair: barrier, LLFC, commutativity and J"

-- ---- --aggregate: mean and std over the outputs of earlier runs ------------------
local function read_csv(path)
  local f = io.open(path, "r")
  if not f then error("--aggregate: cannot read " .. path, 0) end
  local headers, rows = nil, {}
  for line in f:lines() do
    local cells = {}
    for c in (line .. ","):gmatch("([^,]*),") do cells[#cells + 1] = c end
    if not headers then headers = cells
    else
      local r = {}
      for j, h in ipairs(headers) do r[h] = tonumber(cells[j]) or cells[j] end
      rows[#rows + 1] = r
    end
  end
  f:close()
  return rows, headers
end

local function mean_sd(v)
  local n, s = #v, 0
  for _, x in ipairs(v) do s = s + x end
  local m = s / n
  if n < 2 then return m, 0 / 0 end
  local q = 0
  for _, x in ipairs(v) do q = q + (x - m) ^ 2 end
  return m, math.sqrt(q / (n - 1))
end

local function aggregate(o)
  local dirs = {}
  for d in o.aggregate:gmatch("[^,]+") do dirs[#dirs + 1] = d end
  E.mkdir(o.out)
  o.t0 = os.time()
  local runs = {}
  for k, d in ipairs(dirs) do
    runs[k] = { summary = read_csv(d .. "/summary.csv"), curves = read_csv(d .. "/curves.csv"),
                layers = read_csv(d .. "/layers.csv") }
  end
  -- nets and methods in the order of the first run
  local order, seen = {}, {}
  for _, r in ipairs(runs[1].summary) do
    if not seen[r.net .. "/" .. r.method] then
      seen[r.net .. "/" .. r.method] = true
      order[#order + 1] = { net = r.net, method = r.method }
    end
  end
  local function pick(rows, net, method)
    for _, r in ipairs(rows) do if r.net == net and r.method == method then return r end end
  end
  local function endpoint(rows, net, method, al)
    for _, r in ipairs(rows) do
      if r.net == net and r.method == method and math.abs(r.alpha - al) < 1e-9 then return r.err end
    end
  end
  local M = { "seconds", "barrier_err", "barrier_loss", "err_mid", "loss_mid", "mean_1-cos_a=0.50", "mean_Dist_com",
              "mean_Dist_W", "mean_Dist_H(l>1)", "J_test", "J_match" }
  local headers, rows, stats = { "net", "method", "n", "err_A", "err_B" }, {}, {}
  for _, m in ipairs(M) do headers[#headers + 1] = m; headers[#headers + 1] = m .. "_std" end
  for _, om in ipairs(order) do
    local row = { om.net, om.method, 0 }
    local ea, eb, per = {}, {}, {}
    for _, run in ipairs(runs) do
      local s = pick(run.summary, om.net, om.method)
      if s then
        ea[#ea + 1] = endpoint(run.curves, om.net, om.method, 1)
        eb[#eb + 1] = endpoint(run.curves, om.net, om.method, 0)
        for _, m in ipairs(M) do per[m] = per[m] or {}; per[m][#per[m] + 1] = s[m] end
      end
    end
    row[3] = #ea
    row[4], row[5] = (mean_sd(ea)), (mean_sd(eb))
    stats[om.net .. "/" .. om.method] = per
    for _, m in ipairs(M) do
      local mu, sd = mean_sd(per[m] or {})
      row[#row + 1] = mu; row[#row + 1] = sd
    end
    rows[#rows + 1] = row
  end
  E.table(o, "summary_seeds", string.format("per method, mean and std (n - 1) over %d runs: matcher time (s), barrier, "
          .. "error and loss at alpha 0.5, mean 1 - cos_alpha, Dist_com, Dist_W, Dist_H, J (test, matching samples)", #runs),
          { headers = headers, rows = rows })
  -- the same, compact: mean +- std of the headline measures
  local function pm(v, fmt)
    local mu, sd = mean_sd(v or {})
    if sd ~= sd then return string.format(fmt, mu) end
    return string.format(fmt .. " +- " .. fmt, mu, sd)
  end
  local crows = {}
  for _, om in ipairs(order) do
    local per = stats[om.net .. "/" .. om.method]
    crows[#crows + 1] = { om.net, om.method, pm(per.seconds, "%.1f"), pm(per.barrier_err, "%.4f"),
                          pm(per.barrier_loss, "%.4f"), pm(per.err_mid, "%.4f"), pm(per["mean_1-cos_a=0.50"], "%.4f"),
                          pm(per.mean_Dist_com, "%.4f"), pm(per.J_test, "%.4g") }
  end
  E.table(o, "summary_seeds_pm", string.format("mean +- std over %d runs", #runs),
          { headers = { "net", "method", "seconds", "barrier_err", "barrier_loss", "err_mid", "1-cos_a=0.50",
                        "Dist_com", "J_test" }, rows = crows })
  -- the verdict on the means; wins = runs in which the best beats the runner-up
  local MEASURES = { "barrier_err", "barrier_loss", "err_mid", "loss_mid", "mean_1-cos_a=0.50", "mean_Dist_com",
                     "J_test", "J_match" }
  local vrows, verdict = {}, {}
  local nets = {}
  for _, om in ipairs(order) do if not nets[om.net] then nets[om.net] = true; nets[#nets + 1] = om.net end end
  for _, net in ipairs(nets) do
    verdict[net] = {}
    for _, m in ipairs(MEASURES) do
      local cand = {}
      for _, om in ipairs(order) do
        if om.net == net and om.method ~= "none" then
          local mu, sd = mean_sd(stats[net .. "/" .. om.method][m])
          cand[#cand + 1] = { method = om.method, mean = mu, sd = sd, v = stats[net .. "/" .. om.method][m] }
        end
      end
      table.sort(cand, function(x, y) return x.mean < y.mean or (x.mean == y.mean and x.method < y.method) end)
      local b, r2 = cand[1], cand[2]
      local wins = 0
      if r2 then for k = 1, math.min(#b.v, #r2.v) do if b.v[k] < r2.v[k] then wins = wins + 1 end end end
      local w = stats[net .. "/weight"] and stats[net .. "/weight"][m]
      local wmu = w and (mean_sd(w)) or 0 / 0
      vrows[#vrows + 1] = { net, m, b.method, b.mean, b.sd, r2 and r2.method or "-", r2 and r2.mean or 0 / 0,
                            r2 and r2.sd or 0 / 0, string.format("%d/%d", wins, #b.v), wmu }
      verdict[net][m] = { best = b.method, mean = b.mean, std = b.sd, runner_up = r2 and r2.method,
                          runner_up_mean = r2 and r2.mean, runner_up_std = r2 and r2.sd, wins = wins, runs = #b.v,
                          weight = wmu }
    end
  end
  E.table(o, "verdict_seeds", "the lowest mean of each measure (methods other than none), its std, the runner-up, "
          .. "the runs in which the best is below the runner-up, and weight matching's mean",
          { headers = { "net", "measure", "best", "mean", "std", "runner_up", "its_mean", "its_std", "wins",
                        "weight_matching" }, rows = vrows })
  -- figures: error along the path and J per weight layer, mean and one SD
  for _, net in ipairs(nets) do
    local alphas, sr, jr, groups = {}, {}, {}, {}
    for _, r in ipairs(runs[1].curves) do if r.net == net and r.method == order[1].method then alphas[#alphas + 1] = r.alpha end end
    for _, r in ipairs(runs[1].layers) do if r.net == net and r.method == order[1].method then groups[#groups + 1] = string.format("%d (%s)", r.layer, r.weight) end end
    local k = 0
    for _, om in ipairs(order) do
      if om.net == net and om.method ~= "none" then
        k = k + 1
        local y, sd, jy, jsd = {}, {}, {}, {}
        for i, al in ipairs(alphas) do
          local v = {}
          for _, run in ipairs(runs) do v[#v + 1] = endpoint(run.curves, net, om.method, al) end
          y[i], sd[i] = mean_sd(v)
        end
        for i = 1, #groups do
          local v = {}
          for _, run in ipairs(runs) do
            local c = 0
            for _, r in ipairs(run.layers) do
              if r.net == net and r.method == om.method then c = c + 1; if c == i then v[#v + 1] = r.num end end
            end
          end
          jy[i], jsd[i] = mean_sd(v)
        end
        if #runs < 2 then sd, jsd = nil, nil end
        sr[#sr + 1] = { name = om.method, y = y, sd = sd, dashed = k > 6 }
        jr[#jr + 1] = { name = om.method, y = jy, sd = jsd, dashed = k > 6 }
      end
    end
    -- (none is left out: its barrier and J are an order of magnitude above every method's)
    E.figure(o, net .. "_seeds_interpolate", { title = string.format("%s: test error along the path after each matching, mean and SD over %d runs", net, #runs),
                                              xlabel = "alpha (1 = A)", ylabel = "test error", x = alphas, series = sr })
    E.figure(o, net .. "_seeds_J", { title = string.format("%s: |(W_A - W_B')(H_A - H_B')|^2 per weight layer, mean and SD over %d runs", net, #runs),
                                    xlabel = "weight layer", ylabel = "num", groups = groups, series = jr })
    local bm, by, bsd, ly, lsd = {}, {}, {}, {}, {}
    for _, om in ipairs(order) do
      if om.net == net and om.method ~= "none" then
        local per = stats[net .. "/" .. om.method]
        bm[#bm + 1] = om.method
        by[#bm], bsd[#bm] = mean_sd(per.barrier_err)
        ly[#bm], lsd[#bm] = mean_sd(per.barrier_loss)
      end
    end
    if #runs < 2 then bsd, lsd = nil, nil end
    E.figure(o, net .. "_seeds_barrier", { title = string.format("%s: barrier after each matching, mean and SD over %d runs", net, #runs),
                                          xlabel = "method", ylabel = "barrier", groups = bm,
                                          series = { { name = "error", y = by, sd = bsd }, { name = "loss", y = ly, sd = lsd, dashed = true } } })
  end
  E.finish(o, { runs = dirs, verdict = verdict })
end

-- the methods and nets asked for, checked before any data is read
local function check_choices(o)
  local methods, nets = {}, {}
  for m in o.methods:gmatch("[^,]+") do
    if not ("," .. ALL .. ","):find("," .. m .. ",", 1, true) then
      error("--methods: unknown method '" .. m .. "' (" .. ALL .. ")", 0)
    end
    methods[#methods + 1] = m
  end
  if o["res-norm"] ~= "bn" and o["res-norm"] ~= "ln" then error("--res-norm: expected bn or ln", 0) end
  for n in o.nets:gmatch("[^,]+") do
    if n ~= "mlp" and n ~= "resnet20" then error("--nets: expected mlp and/or resnet20, got '" .. n .. "'", 0) end
    nets[n] = true
  end
  return methods, nets
end

do
  local o0 = E.options("matchers", about, arg or {}, extra)
  if o0.aggregate then return aggregate(o0) end
  check_choices(o0)
end
local o, ds = E.start("matchers", about, arg or {}, extra)
if o.quick then
  for k, v in pairs(QUICK) do if not o.given[k] then o[k] = v end end
end
local methods, nets = check_choices(o)
local s1, s2 = math.floor(o.seeds[1]), math.floor(o.seeds[2] or o.seeds[1] + 1)

-- the Perm of one method and its time (the matcher's own clock)
local function match(m, a, b, train, nmatch, steps_scale)
  local sub = train:subset(math.min(nmatch, #train))
  if m == "none" then return perm.identity(b), 0, {} end
  local p, st
  if m == "weight" then p, st = perm.weight_match(a, b, { seed = s1 })
  elseif m == "activation" then p, st = perm.activation_match(a, b, sub, { n = #sub })
  elseif m == "ste" then
    p, st = perm.ste_match(a, b, train, { epochs = math.floor(o["ste-epochs"]), lr = o["ste-lr"], seed = s1,
                                          batch = math.min(500, #train) })
  elseif m == "sinkhorn" then p, st = perm.sinkhorn_match(a, b, { steps = math.floor(o["sk-steps"] * steps_scale) })
  elseif m == "sinkhorn_loss" then
    p, st = perm.sinkhorn_match(a, b, train, { objective = "loss", epochs = math.floor(o["sk-epochs"]), seed = s1,
                                               batch = math.min(500, #train) })
  elseif m == "commutativity" then
    p, st = perm.commutativity_match(a, b, sub, { n = #sub, init = o["comm-init"], seed = s1 })
  end
  return p, st.seconds, st
end

-- J = sum over weight layers of metrics.commutativity's numerator
local function J_of(r) local s = 0; for _, l in ipairs(r.layers) do s = s + l.num end; return s end

-- the error barrier with every interior point's BatchNorm statistics
-- re-estimated (nn.reset_bn on the first 500 training images): a BatchNorm
-- net's plain midpoint is dominated by stale statistics (section 7 of RESULTS)
local function reset_barrier(a, b2, data, alphas)
  local sub = data.train:subset(math.min(500, #data.train))
  local errs = {}
  for i, al in ipairs(alphas) do
    local m = al == 1 and a or al == 0 and b2 or nn.reset_bn(nn.lerp(a, b2, al), sub)
    errs[i] = m:eval(data.test).err
  end
  local e0, e1, bar = errs[1], errs[#errs], -math.huge
  for i, al in ipairs(alphas) do
    local chord = alphas[1] == 0 and (al * e1 + (1 - al) * e0) or ((1 - al) * e1 + al * e0)
    bar = math.max(bar, errs[i] - chord)
  end
  return bar
end

local results = {}   -- per net: { {method =, seconds =, report =, J_test =, J_match =, stats =}, ... }
local function run_methods(net, a, b, data, nmatch, steps_scale, bn)
  local rows = {}
  local sub = data.train:subset(math.min(nmatch, #data.train))
  for _, m in ipairs(methods) do
    E.log(o, string.format("%s: %s", net, m))
    local p, secs, st = match(m, a, b, data.train, nmatch, steps_scale)
    p:save(o.out .. "/" .. net .. "_" .. m .. ".perm.safetensors")
    local b2 = p:apply(b)
    local r = metrics.report(a, b2, data.test, { alphas = math.floor(o.alphas), llfc_alphas = { 0.5 },
                                                 weak_alphas = { 0.5 }, view = o.view or nil })
    if o.view then collectgarbage() end
    local jm = J_of(metrics.commutativity(a, b2, sub))
    local br = bn and reset_barrier(a, b2, data, r.interpolate.alphas) or 0 / 0
    rows[#rows + 1] = { method = m, seconds = secs, report = r, J_test = J_of(r.commutativity), J_match = jm,
                        stats = st, barrier_reset = br }
  end
  results[#results + 1] = { net = net, rows = rows }
end

-- 1. the MLP pair
if nets.mlp then
  local widths = E.widths(o, ds)
  E.log(o, string.format("training the independent MLP pair (seeds %d, %d)", s1, s2))
  local a, b = nn.pair(widths, ds.train, E.train_opts(o, { init_seeds = {s1, s2}, seeds = {s1, s2} }))
  run_methods("mlp", a, b, ds, math.floor(o["n-match"]), 1)
end

-- 2. the ResNet-20 pair
if nets.resnet20 then
  local ro = setmetatable({ ["n-train"] = o["res-train"], ["n-test"] = o["res-test"],
                            dataset = o.quick and o.dataset or "fashion" }, { __index = o })
  local rd = C.images(ro, E)
  local arch = "resnet20-" .. o["res-norm"]
  print(string.format("conv pair: ResNet-20 width %d (%s) on %s, %d train, %d test, images %s; %g epochs, lr %g",
                      o.resnet, o["res-norm"], rd.name, #rd.train, #rd.test, table.concat(rd.train.shape, "x"),
                      o["res-epochs"], o["res-lr"]))
  local tmpl = C.net(arch, rd, s1, 1, math.floor(o.resnet))
  E.log(o, string.format("training the independent ResNet-20 pair (seeds %d, %d)", s1, s2))
  local ra, rb = nn.pair(tmpl, rd.train, E.train_opts(o, { init_seeds = {s1, s2}, seeds = {s1, s2},
                                                           epochs = o["res-epochs"], lr = o["res-lr"] }))
  run_methods("resnet20", ra, rb, rd, math.floor(o["res-match"]), 0.5, o["res-norm"] == "bn")
end

-- ---- tables ------------------------------------------------------------------
local function mean(t) local s = 0; for _, v in ipairs(t) do s = s + v end; return #t > 0 and s / #t or 0 / 0 end
local function summary_row(net, row)
  local r = row.report
  local cos, com, dw, dh = {}, {}, {}, {}
  for _, l in ipairs(r.llfc.layers) do cos[#cos + 1] = l.at[1].mean end
  for _, l in ipairs(r.commutativity.layers) do
    com[#com + 1] = l.dist_com; dw[#dw + 1] = l.dist_w
    if l.input ~= "x" then dh[#dh + 1] = l.dist_h end
  end
  local ip, mid = r.interpolate, 1
  for i, al in ipairs(ip.alphas) do if math.abs(al - 0.5) < math.abs(ip.alphas[mid] - 0.5) then mid = i end end
  return { net, row.method, row.seconds, ip.barrier.err, ip.barrier.loss, ip.err[mid], ip.loss[mid], mean(cos),
           mean(com), mean(dw), mean(dh), row.J_test, row.J_match, row.barrier_reset }
end
local SUMMARY = { "net", "method", "seconds", "barrier_err", "barrier_loss", "err_mid", "loss_mid", "mean_1-cos_a=0.50",
                  "mean_Dist_com", "mean_Dist_W", "mean_Dist_H(l>1)", "J_test", "J_match", "barrier_err_reset_bn" }
local summ, layers, llfc, curves = {}, {}, {}, {}
for _, res in ipairs(results) do
  for _, row in ipairs(res.rows) do
    summ[#summ + 1] = summary_row(res.net, row)
    local r = row.report
    for _, l in ipairs(r.commutativity.layers) do
      layers[#layers + 1] = { res.net, row.method, l.layer, l.name, l.input, l.dist_com, l.dist_w, l.dist_h, l.num }
    end
    for _, l in ipairs(r.llfc.layers) do
      llfc[#llfc + 1] = { res.net, row.method, l.name, l.ab.mean, l.at[1].mean }
    end
    for i, al in ipairs(r.interpolate.alphas) do
      curves[#curves + 1] = { res.net, row.method, al, r.interpolate.err[i], r.interpolate.loss[i] }
    end
  end
end
E.table(o, "summary", "per method: matcher time (s), barrier, error and loss at alpha 0.5 (the grid point nearest), "
        .. "mean over layers of 1 - cos_alpha (alpha 0.5), of Dist_com, Dist_W, Dist_H, and J on the test samples "
        .. "and on the matching samples; for a BatchNorm pair the error barrier with each point's statistics reset",
        { headers = SUMMARY, rows = summ })
E.table(o, "layers", "per weight layer: Dist_com, Dist_W, Dist_H and num = |(W_A - W_B')(H_A - H_B')|^2 (test samples)",
        { headers = { "net", "method", "layer", "weight", "input", "Dist_com", "Dist_W", "Dist_H", "num" }, rows = layers })
E.table(o, "llfc", "per feature layer: E[1 - cos(f_A, f_B)] and E[1 - cos_alpha] at alpha 0.5",
        { headers = { "net", "method", "layer", "1-cos_AB", "1-cos_a=0.50" }, rows = llfc })
E.write(o.out .. "/curves.csv", E.csv({ headers = { "net", "method", "alpha", "err", "loss" }, rows = curves }))

-- ---- the verdict: the best method on each measure, and by how much -------------
-- (methods tied at the lowest value are listed together; the runner-up is the
-- next lower value)
local MEASURES = { { 4, "barrier_err" }, { 5, "barrier_loss" }, { 6, "err_mid" }, { 7, "loss_mid" },
                   { 8, "mean_1-cos_a=0.50" }, { 9, "mean_Dist_com" }, { 12, "J_test" }, { 13, "J_match" },
                   { 14, "barrier_err_reset_bn" } }
local verdict, vrows = {}, {}
for _, res in ipairs(results) do
  verdict[res.net] = {}
  local rows, wm = {}, nil
  for _, s in ipairs(summ) do
    if s[1] == res.net and s[2] ~= "none" then rows[#rows + 1] = s end
    if s[1] == res.net and s[2] == "weight" then wm = s end
  end
  for _, mz in ipairs(MEASURES) do
    local k = mz[1]
    table.sort(rows, function(x, y) return x[k] < y[k] or (x[k] == y[k] and x[2] < y[2]) end)
    if #rows > 0 and rows[1][k] == rows[1][k] then
      local best, names, second = rows[1][k], {}, nil
      for _, s in ipairs(rows) do
        if s[k] <= best + 1e-12 * math.abs(best) then names[#names + 1] = s[2]
        elseif not second then second = s end
      end
      local bn = table.concat(names, "+")
      vrows[#vrows + 1] = { res.net, mz[2], bn, best, second and second[2] or "-", second and second[k] or 0 / 0,
                            wm and wm[k] or 0 / 0 }
      verdict[res.net][mz[2]] = { best = names, value = best, runner_up = second and second[2],
                                  runner_up_value = second and second[k], weight = wm and wm[k] }
    end
  end
end
E.table(o, "verdict", "the lowest value of each measure (methods other than none; ties joined by +), the runner-up, "
        .. "and weight matching's", { headers = { "net", "measure", "best", "value", "runner_up", "its_value",
                                                   "weight_matching" }, rows = vrows })

-- ---- figures (SVG, PDF, CSV, JSON) -------------------------------------------------
-- per net: the interpolations, LLFC and commutativity of every method overlaid,
-- and J per weight layer
for _, res in ipairs(results) do
  local labels, interp, ll, com = {}, {}, {}, {}
  for k, row in ipairs(res.rows) do
    labels[k] = row.method
    interp[k], ll[k], com[k] = row.report.interpolate, row.report.llfc, row.report.commutativity
  end
  E.save(o, res.net .. "_interpolate", interp, { labels = labels })
  E.save(o, res.net .. "_llfc", ll, { labels = labels })
  E.save(o, res.net .. "_commutativity", com, { labels = labels })
  local groups, series = {}, {}
  for j, l in ipairs(res.rows[1].report.commutativity.layers) do groups[j] = string.format("%d (%s)", l.layer, l.name) end
  for k, row in ipairs(res.rows) do
    local y = {}
    for j, l in ipairs(row.report.commutativity.layers) do y[j] = l.num end
    series[k] = { name = row.method, y = y, dashed = k > 6 }
  end
  E.figure(o, res.net .. "_J", { title = res.net .. ": |(W_A - W_B')(H_A - H_B')|^2 per weight layer (test samples)",
                                 xlabel = "weight layer", ylabel = "num", groups = groups, series = series })
end

-- ---- summary.json ------------------------------------------------------------------
local summary = { verdict = verdict, nets = {} }
for _, res in ipairs(results) do
  local t = {}
  for _, row in ipairs(res.rows) do
    local st = row.stats or {}
    local r = row.report
    t[row.method] = { seconds = row.seconds, barrier_err = r.interpolate.barrier.err,
                      barrier_loss = r.interpolate.barrier.loss, err_a = r.interpolate.err_a,
                      err_b = r.interpolate.err_b, J_test = row.J_test, J_match = row.J_match,
                      barrier_err_reset_bn = row.barrier_reset,
                      J_init = st.J_init, J_final = st.J_final, J_sweeps = st.J, swaps = st.swaps,
                      iterations = st.iterations, ste_loss = row.method == "ste" and st.loss or nil,
                      objective_last = st.objective and st.objective[#st.objective] or nil }
  end
  summary.nets[res.net] = t
end
E.finish(o, summary)
