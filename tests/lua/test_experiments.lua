-- test_experiments.lua - each experiment script runs end to end in --quick
-- mode through the real binary into a temporary directory: the MLP ones on
-- synthetic spirals, the conv net ones (repair.lua, resnet.lua, the ResNet
-- part of feature_merge.lua and the ResNet pair of matchers.lua beside its
-- spirals MLP pair) on a small
-- Fashion-MNIST subset pooled to 7x7 (synthetic images without the data
-- package); their outputs exist and their numbers are sane.
local T = require "check"
local sh_quote, slurp, csv = T.sh_quote, T.slurp, T.csv
local function run(script, args) return T.run_experiment(script, args) end

local function is_svg(path)
  local s = slurp(path)
  return s ~= nil and s:find("<svg", 1, true) ~= nil and s:find("</svg>", 1, true) ~= nil
end

local function is_pdf(path)
  local s = slurp(path)
  return s ~= nil and s:sub(1, 5) == "%PDF-"
end

local function find_row(rows, key, val)
  for _, r in ipairs(rows or {}) do if r[key] == val then return r end end
end

local tmp = T.tmpname("-exp")
os.execute("mkdir -p " .. sh_quote(tmp))

local function elapsed(t0) return os.time() - t0 end

T.section("spawn_llfc", function()
  local out = tmp .. "/spawn"
  local t0 = os.time()
  local ok, code, text = run("spawn_llfc.lua", "--quick --no-view --out " .. sh_quote(out))
  T.ok(ok, "spawn_llfc --quick exits 0", "exit " .. tostring(code))
  T.ok(elapsed(t0) < 30, "spawn_llfc --quick is fast", elapsed(t0) .. " s")
  T.ok(text:find("LLFC (Fig. 3)", 1, true) and text:find("spawned", 1, true), "spawn_llfc prints its tables")
  for _, f in ipairs({ "summary.json", "lmc.csv", "llfc.csv", "spawned.csv", "independent.csv" }) do
    T.ok(slurp(out .. "/" .. f), "spawn_llfc writes " .. f)
  end
  T.ok(is_svg(out .. "/spawned_llfc.svg") and is_svg(out .. "/independent_interpolate.svg"),
       "spawn_llfc writes SVG plots")
  local lmc = csv(out .. "/lmc.csv")
  local s, i = find_row(lmc, "pair", "spawned"), find_row(lmc, "pair", "independent")
  T.ok(s and i and s.barrier_err >= 0 and s.barrier_err <= 1 and s.err_A <= 1, "lmc.csv holds fractions")
  T.ok(s and i and s.barrier_err < i.barrier_err, "spawned barrier below the independent barrier",
       s and i and (s.barrier_err .. " vs " .. i.barrier_err))
  local ll = csv(out .. "/llfc.csv")
  local sh1 = find_row(ll, "pair", "spawned")
  T.ok(sh1 and sh1["1-cos_a=0.50"] < sh1["1-cos_AB"], "spawned: 1 - cos_alpha below 1 - cos_AB at h1")
  T.ok(ll and #ll == 6, "llfc.csv has one row per pair and layer (2 x 3)", ll and #ll)
  local js = slurp(out .. "/summary.json") or ""
  T.ok(js:find('"spawned"', 1, true) and js:find('"options"', 1, true), "summary.json has the numbers and options")
  T.ok(js:find('"provenance"', 1, true) and js:find('"' .. llfc.blas().gemm .. '"', 1, true),
       "summary.json records the BLAS backend that computed the run", llfc.blas().gemm)
  -- a sweep over seeds: 3 seeds x (2 pairs + 2 measurements) rows, each measurement in the means
  T.ok(s and i and s.n == 3 and i.n == 3 and s.barrier_err_std >= 0, "lmc.csv: 3 seeds per pair, with std")
  local rows = sweep.read(out .. "/results.jsonl")
  T.ok(rows and #rows == 12, "results.jsonl: one row per task (3 seeds x 4 tasks)", rows and #rows)
  local bs = {}
  for _, r in ipairs(rows or {}) do
    if r.id:match("^measure/spawned/") then bs[#bs + 1] = r.out.barrier_err end
  end
  local m = #bs == 3 and (bs[1] + bs[2] + bs[3]) / 3
  T.ok(m and math.abs(m - s.barrier_err) < 1e-8, "the table's mean is the mean of the rows",
       tostring(m) .. " vs " .. tostring(s and s.barrier_err))
end)

T.section("permutation", function()
  local out = tmp .. "/perm"
  local ok, code, text = run("permutation.lua", "--quick --no-view --out " .. sh_quote(out))
  T.ok(ok, "permutation --quick exits 0", "exit " .. tostring(code))
  T.ok(text:find("commutativity", 1, true) and text:find("weak additivity", 1, true),
       "permutation prints the commutativity and weak additivity tables")
  local lmc = csv(out .. "/lmc.csv")
  local n, w, a = find_row(lmc, "pair", "none"), find_row(lmc, "pair", "weight"), find_row(lmc, "pair", "activation")
  T.ok(n and w and a, "lmc.csv has rows none, weight, activation")
  T.ok(n and w and a and w.barrier_err < n.barrier_err and a.barrier_err < n.barrier_err,
       "both matchings lower the barrier")
  T.ok(n and w and n.err_A == w.err_A and n.err_B == w.err_B, "permuting B leaves its error unchanged")
  local com = csv(out .. "/commutativity.csv")
  local c1 = find_row(com, "perm", "none")
  T.ok(c1 and c1.input == "x" and c1.Dist_H == 0, "layer 1: Dist_H = 0 (the same input x)")
  local sum = csv(out .. "/summary.csv")
  local sn, sw, sa = find_row(sum, "perm", "none"), find_row(sum, "perm", "weight"), find_row(sum, "perm", "activation")
  T.ok(sn and sw and sw.mean_Dist_W < sn.mean_Dist_W, "weight matching shrinks Dist_W")
  T.ok(sn and sa and sa["mean_Dist_H(l>1)"] < sn["mean_Dist_H(l>1)"], "activation matching shrinks Dist_H")
  T.ok(sn and sw and sa and sw.mean_Dist_com < sn.mean_Dist_com and sa.mean_Dist_com < sn.mean_Dist_com,
       "both shrink Dist_com")
  T.ok(csv(out .. "/weak_additivity.csv") and is_svg(out .. "/commutativity_weight.svg")
       and is_svg(out .. "/report_none.svg") and is_pdf(out .. "/factors.pdf"), "permutation writes CSV, SVG and PDF")
  T.ok(is_pdf(out .. "/interpolate_overlay.pdf") and (slurp(out .. "/interpolate_overlay.png") or ""):sub(2, 4) == "PNG",
       "permutation overlays the interpolations before and after matching (PDF, PNG)")
  local j = view.load(out .. "/report_weight.json")
  T.ok(j and view.kindof(j) == "report" and type(j.interpolate.barrier.err) == "number", "the report as JSON loads back")
end)

T.section("instability", function()
  local out = tmp .. "/inst"
  local ok, code = run("instability.lua", "--quick --no-view --ks 0,0.5,2 --out " .. sh_quote(out))
  T.ok(ok, "instability --quick exits 0", "exit " .. tostring(code))
  local rows = csv(out .. "/instability.csv")
  T.ok(rows and #rows == 3, "one row per spawn time", rows and #rows)
  T.ok(rows and rows[1].k_steps == 0 and rows[3].k_epochs == 2 and rows[3].k_steps > rows[2].k_steps,
       "spawn steps follow --ks")
  local fine = rows ~= nil
  for _, r in ipairs(rows or {}) do
    fine = fine and r.barrier_err >= 0 and r.barrier_err <= 1 and r["mean_1-cos_a"] >= 0
  end
  T.ok(fine, "barriers are fractions and LLFC means non-negative")
  T.ok(is_svg(out .. "/barrier_vs_k.svg") and is_svg(out .. "/llfc_vs_k.svg"), "instability draws its SVG charts")
  T.ok(rows and rows[1].n == 3 and rows[1].barrier_err_std >= 0, "each k: 3 seeds, mean and std")
  local runs = csv(out .. "/instability_runs.csv")
  T.ok(runs and #runs == 9, "instability_runs.csv: one row per seed and k", runs and #runs)
  -- the same command again resumes: nothing runs, nothing is appended, the table is the same
  local before = slurp(out .. "/results.jsonl")
  local table1 = slurp(out .. "/instability.csv")
  local okr = run("instability.lua", "--quick --no-view --ks 0,0.5,2 --out " .. sh_quote(out))
  T.ok(okr and slurp(out .. "/results.jsonl") == before and slurp(out .. "/instability.csv") == table1,
       "running it again resumes: no task runs, the same table")
  local ok3 = run("instability.lua", "--quick --no-view --ks 0,0.5,2 --seeds 1,2,4 --out " .. sh_quote(out))
  local rows3 = sweep.read(out .. "/results.jsonl")
  T.ok(ok3 and rows3 and #rows3 == 18 + 6, "another seed: only its tasks run (6 more rows)", rows3 and #rows3)
  local ok2, code2 = run("instability.lua", "--quick --no-view --ks 9 --out " .. sh_quote(out))
  T.ok(not ok2, "a spawn time past the end of training is an error", "exit " .. tostring(code2))
end)

T.section("lemma", function()
  local out = tmp .. "/lemma"
  local ok, code = run("lemma.lua", "--quick --no-view --out " .. sh_quote(out))
  T.ok(ok, "lemma --quick exits 0", "exit " .. tostring(code))
  local rows = csv(out .. "/lemma.csv")
  T.ok(rows and #rows == 4, "four pairs: independent, two matched, spawned", rows and #rows)
  local good = rows ~= nil
  for _, r in ipairs(rows or {}) do
    -- independent check of the table's arithmetic
    good = good and math.abs(r.eps - math.max(r.err_A, r.err_B)) < 1e-9
      and math.abs(r["2eps"] - 2 * r.eps) < 1e-9 and r.max_err >= r.eps - 1e-9
      and ((r.max_err <= r["2eps"] + 1e-12) == (r.bound == "holds"))
  end
  T.ok(good, "eps = max(err_A, err_B), 2eps, max_err >= eps and the verdict agree")
  local sp = find_row(rows, "pair", "spawned")
  T.ok(sp and sp.bound == "holds", "the bound holds for the spawned pair")
  T.ok(is_svg(out .. "/lemma_curves.svg") and is_pdf(out .. "/lemma_curves.pdf"), "lemma draws the error curves (SVG and PDF)")
end)

T.section("landscape", function()
  local out = tmp .. "/landscape"
  local t0 = os.time()
  local ok, code, text = run("landscape.lua", "--quick --no-view --out " .. sh_quote(out))
  T.ok(ok, "landscape --quick exits 0", "exit " .. tostring(code))
  T.ok(elapsed(t0) < 60, "landscape --quick is fast", elapsed(t0) .. " s")
  T.ok(text:find("plane through a, b, c", 1, true) and text:find("merging K networks", 1, true)
       and text:find("stitching", 1, true), "landscape prints the plane, the merges and the stitching")
  local pl = csv(out .. "/plane.csv")
  local before, after = find_row(pl, "plane", "as trained"), find_row(pl, "plane", "aligned")
  T.ok(before and after and before.err_1 == after.err_1 and before.err_3 == after.err_3,
       "aligning permutes the networks: their own errors stay")
  T.ok(before and after and after.max_err_triangle < before.max_err_triangle and after["|b-a|"] < before["|b-a|"],
       "after alignment the triangle's worst error and the distances are smaller")
  local grid = csv(out .. "/plane_after.csv")
  T.ok(grid and #grid == 3 + 7 * 7 and grid[1].err == after.err_1, "the plane's CSV: the three networks, then 7x7 points")
  local cv = csv(out .. "/curve.csv")
  local mid = find_row(cv, "t", 0.5)
  T.ok(mid and mid.err_curve < mid.err_line and cv[1].err_line == cv[1].err_curve,
       "the trained curve's error at t = 0.5 is below the line's, with the same ends")
  local m = csv(out .. "/merge.csv")
  local none3, avg3 = nil, nil
  for _, r in ipairs(m or {}) do
    if r.K == 3 and r.alignment == "none" then none3 = r end
    if r.K == 3 and r.alignment == "average" then avg3 = r end
  end
  T.ok(m and #m == 3 * 2 and none3 and avg3 and avg3.gap < none3.gap and avg3["mean_1-cos"] < none3["mean_1-cos"],
       "merging 3 and 4 networks: aligning first shrinks the gap and the N-model LLFC")
  local st = csv(out .. "/stitch.csv")
  T.ok(st and #st == 4 and st[1].name == "x" and st[4].name == "logits", "stitch.csv: one row per cut")
  T.ok(is_svg(out .. "/plane_after.svg") and is_pdf(out .. "/plane_before.pdf") and is_svg(out .. "/curve_vs_line.svg")
       and is_pdf(out .. "/merge_gap.pdf"), "landscape draws the planes, the curve and the merges (SVG and PDF)")
  local c = nn.load(out .. "/curve.safetensors")
  T.ok(c and c.kind == "bezier", "the trained curve is saved and loads back")
  local js = slurp(out .. "/summary.json") or ""
  T.ok(js:find('"plane"', 1, true) and js:find('"options"', 1, true) and js:find('"barrier_err_curve"', 1, true),
       "summary.json has the numbers and options")
end)

T.section("options", function()
  local ok, code, text = run("lemma.lua", "--help")
  T.ok(ok and text:find("--quick", 1, true) and text:find("--pairs", 1, true), "--help lists the options")
  local ok2, code2 = run("spawn_llfc.lua", "--no-such-option")
  T.ok(not ok2 and code2 == 2, "an unknown option exits with status 2", "exit " .. tostring(code2))
  local ok3 = run("spawn_llfc.lua", "--quick --no-view --epochs many --out " .. sh_quote(tmp .. "/bad"))
  T.ok(not ok3, "a non-numeric value is an error")
end)

-- ---- conv net experiments ----------------------------------------------------
do
local function find(rows, fields)
  for _, r in ipairs(rows or {}) do
    local hit = true
    for k, v in pairs(fields) do hit = hit and r[k] == v end
    if hit then return r end
  end
end

local function frac(v) return type(v) == "number" and v >= -1 and v <= 1 end


T.section("repair.lua", function()
  local out = tmp .. "/repair"
  local ok, code, text = run("repair.lua", "--quick --no-view --out " .. sh_quote(out))
  T.ok(ok, "repair --quick exits 0", "exit " .. tostring(code))
  T.ok(text:find("err_reset_bn", 1, true) and text:find("theta_alpha = alpha*A", 1, true),
       "repair prints the barrier table with the convention")
  local rows = csv(out .. "/barriers.csv")
  T.ok(rows and #rows == 6, "one row per net and pair (2 nets x independent, matched, spawned)", rows and #rows)
  local bn, ln = find(rows, { net = "vgg11-bn", pair = "matched" }), find(rows, { net = "vgg11-ln", pair = "independent" })
  T.ok(bn and frac(bn.err_plain) and frac(bn.err_reset_bn) and frac(bn.err_repair) and bn.err_A >= 0 and bn.err_A <= 1,
       "a BatchNorm net has all three barriers as fractions")
  T.ok(ln and ln.err_reset_bn == "-" and frac(ln.err_repair), "a LayerNorm net has no BatchNorm reset ('-') but REPAIR")
  local ind, mat = find(rows, { net = "vgg11-bn", pair = "independent" }), bn
  T.ok(ind and mat and ind.err_A == mat.err_A and ind.err_B == mat.err_B,
       "weight matching leaves the endpoints' errors unchanged")
  local curves = csv(out .. "/curves.csv")
  local c0 = find(curves, { net = "vgg11-ln", pair = "spawned", method = "repair", alpha = 0 })
  local c1 = find(curves, { net = "vgg11-ln", pair = "spawned", method = "plain", alpha = 0 })
  T.ok(c0 and c1 and c0.err == c1.err, "every method's path ends at the trained networks")
  local js = slurp(out .. "/summary.json") or ""
  T.ok(js:find('"vgg11-bn"', 1, true) and js:find('"options"', 1, true) and js:find('"repair"', 1, true),
       "summary.json has the curves and options")
  local ok2, code2 = run("repair.lua", "--quick --no-view --archs vgg7-bn --out " .. sh_quote(out))
  T.ok(not ok2, "an unknown architecture is an error", "exit " .. tostring(code2))
end)

T.section("resnet.lua", function()
  local out = tmp .. "/resnet"
  local ok, code, text = run("resnet.lua", "--quick --no-view --out " .. sh_quote(out))
  T.ok(ok, "resnet --quick exits 0", "exit " .. tostring(code))
  T.ok(text:find("weight matching:", 1, true) and text:find("LLFC of the spawned pair", 1, true),
       "resnet prints the LMC, LLFC and matching lines")
  local lmc = csv(out .. "/lmc.csv")
  local s, i, m = find(lmc, { pair = "spawned" }), find(lmc, { pair = "wide independent" }),
                  find(lmc, { pair = "wide matched" })
  T.ok(s and i and m and frac(s.barrier_err) and frac(i.barrier_err) and frac(m.barrier_err),
       "lmc.csv: spawned, wide independent and matched barriers as fractions")
  T.ok(i and m and i.err_B == m.err_B, "permuting B leaves its error unchanged")
  local ll = csv(out .. "/llfc.csv")
  T.ok(ll and #ll == 20 and ll[1].layer == "conv1" and ll[#ll].layer == "logits",
       "llfc.csv: the 19 ReLU feature layers of ResNet-20 and the logits", ll and #ll)
  local fine = ll ~= nil
  for _, r in ipairs(ll or {}) do fine = fine and r["1-cos_a=0.50"] >= 0 and r["1-cos_AB"] >= 0 end
  T.ok(fine, "LLFC means are non-negative")
  T.ok((slurp(out .. "/spawned_llfc.svg") or ""):find("</svg>", 1, true), "the spawned pair's LLFC plot")
  local fx = csv(out .. "/matched_fixes.csv")
  T.ok(fx and fx[1] and frac(fx[1].err_plain) and frac(fx[1].err_reset_bn) and frac(fx[1].err_repair),
       "the matched pair's barrier with BatchNorm reset and REPAIR")
  local js = slurp(out .. "/summary.json") or ""
  T.ok(js:find('"lowered"', 1, true) and js:find('"spawned"', 1, true), "summary.json has both parts")
end)
T.section("matchers.lua", function()
  local out = tmp .. "/matchers"
  local t0 = os.time()
  local ok, code, text = run("matchers.lua", "--quick --no-view --out " .. sh_quote(out))
  T.ok(ok, "matchers --quick exits 0", "exit " .. tostring(code))
  T.ok(elapsed(t0) < 90, "matchers --quick is fast", elapsed(t0) .. " s")
  T.ok(text:find("the lowest value of each measure", 1, true) and text:find("Dist_com", 1, true),
       "matchers prints the summary and the verdict")
  local rows = csv(out .. "/summary.csv")
  local names = { "none", "weight", "activation", "ste", "sinkhorn", "sinkhorn_loss", "commutativity" }
  local all = rows ~= nil
  for _, net in ipairs({ "mlp", "resnet20" }) do
    for _, m in ipairs(names) do
      local r = find(rows, { net = net, method = m })
      all = all and r ~= nil and frac(r.barrier_err) and r.J_test >= 0 and r.seconds >= 0
      all = all and slurp(out .. "/" .. net .. "_" .. m .. ".perm.safetensors") ~= nil
    end
  end
  T.ok(all, "one summary row and one saved Perm per net and method, barriers as fractions")
  local rr, mr = find(rows, { net = "resnet20", method = "weight" }), find(rows, { net = "mlp", method = "weight" })
  T.ok(rr and frac(rr.barrier_err_reset_bn) and mr and tostring(mr.barrier_err_reset_bn):find("nan", 1, true) ~= nil,
       "the BatchNorm ResNet has the barrier with its statistics reset, the MLP none")
  local n, w = find(rows, { net = "mlp", method = "none" }), find(rows, { net = "mlp", method = "weight" })
  local c = find(rows, { net = "mlp", method = "commutativity" })
  T.ok(n and w and w.barrier_err < n.barrier_err, "weight matching lowers the MLP barrier")
  -- commutativity matching starts from weight matching and never raises J on its samples
  T.ok(w and c and c.J_match <= w.J_match, "commutativity matching's J on its samples is at most weight matching's",
       w and c and (c.J_match .. " vs " .. w.J_match))
  local lay = csv(out .. "/layers.csv")
  T.ok(find(lay, { net = "resnet20", method = "ste", weight = "layer2.0.shortcut.0" }) ~= nil,
       "layers.csv has every weight op of the ResNet, shortcuts included")
  T.ok(is_svg(out .. "/mlp_interpolate.svg") and is_svg(out .. "/resnet20_commutativity.svg")
       and is_svg(out .. "/mlp_J.svg"), "matchers draws its figures")
  local js = slurp(out .. "/summary.json") or ""
  T.ok(js:find('"verdict"', 1, true) and js:find('"J_sweeps"', 1, true), "summary.json has the verdict and J per sweep")
  local ok2 = run("matchers.lua", "--quick --no-view --methods weight,magic --out " .. sh_quote(out))
  T.ok(not ok2, "an unknown method is an error")
  local t0b = os.time()
  local ok4, _, text4 = run("matchers.lua", "--no-view --nets vgg --out " .. sh_quote(out))
  T.ok(not ok4 and not text4:find("data ", 1, true) and elapsed(t0b) < 10,
       "an unknown net is an error before any data is read")
  -- --aggregate over two copies of the run: the means are the run's values, the stds 0
  local agg = tmp .. "/matchers_agg"
  local ok3, code3 = run("matchers.lua", "--no-view --aggregate " .. sh_quote(out .. "," .. out) .. " --out " .. sh_quote(agg))
  T.ok(ok3, "matchers --aggregate exits 0", "exit " .. tostring(code3))
  local ms = csv(agg .. "/summary_seeds.csv")
  local mc = ms and find(ms, { net = "mlp", method = "commutativity" })
  T.ok(mc and c and mc.n == 2 and math.abs(mc.J_test - c.J_test) <= 1e-6 * c.J_test and mc.J_test_std == 0
       and math.abs(mc.barrier_err - c.barrier_err) < 1e-9, "the aggregate's mean is the run's value and its std 0")
  T.ok(is_svg(agg .. "/mlp_seeds_interpolate.svg") and is_svg(agg .. "/resnet20_seeds_J.svg")
       and csv(agg .. "/verdict_seeds.csv") ~= nil, "the aggregate draws its figures and writes the verdict")
  T.ok(not run("matchers.lua", "--no-view --aggregate " .. sh_quote(tmp .. "/nowhere") .. " --out " .. sh_quote(agg)),
       "--aggregate of a missing directory is an error")
end)

T.section("feature_merge.lua", function()
  local out = tmp .. "/fmerge"
  local t0 = os.time()
  local ok, code, text = run("feature_merge.lua", "--quick --no-view --out " .. sh_quote(out))
  T.ok(ok, "feature_merge --quick exits 0", "exit " .. tostring(code))
  T.ok(os.time() - t0 < 60, "feature_merge --quick is fast", (os.time() - t0) .. " s")
  T.ok(text:find("test error of each merge", 1, true) and text:find("theta_alpha = alpha*A", 1, true),
       "feature_merge prints the merge table with the convention")
  local rows = csv(out .. "/merges.csv")
  T.ok(rows and #rows == 8, "merges.csv: MLP pairs x 3 alignments, ResNet-20 x 2", rows and #rows)
  local fine = rows ~= nil
  for _, r in ipairs(rows or {}) do
    fine = fine and frac(r.wa) and frac(r.repair) and frac(r.fm) and math.abs(r.best - math.min(r.err_A, r.err_B)) < 1e-12
  end
  T.ok(fine, "errors are fractions and best is the better endpoint")
  local none, wm = find(rows, { net = "mlp", pair = "independent", align = "none" }),
                   find(rows, { net = "mlp", pair = "independent", align = "weight" })
  T.ok(none and wm and none.err_A == wm.err_A and none.err_B == wm.err_B, "matching leaves the endpoints' errors")
  T.ok(none and none.fm < none.wa, "independent pair: the merge beats the plain weight average",
       none and (none.fm .. " vs " .. none.wa))
  -- the saved networks give the table's endpoint and ensemble errors (the quick test set regenerated here)
  local sp = data.spirals{ n = 1800, split = 1200 / 1800, seed = 1, classes = 3, noise = 0.2 }
  local na, nb = nn.load(out .. "/nets/mlp_independent_1.safetensors"), nn.load(out .. "/nets/mlp_independent_2.safetensors")
  local x, y = sp.test:tensors()
  local ens = na and nb and 1 - na:forward(x):add(nb:forward(x)):argmax(2):eq(y):mean()
  T.ok(na and none and math.abs(na:eval(sp.test).err - none.err_A) < 1e-9 and math.abs(ens - none.ensemble) < 1e-9,
       "the saved networks reproduce err_A and the ensemble error", none and ens and (ens .. " vs " .. none.ensemble))
  local rb = find(rows, { net = "resnet20", align = "weight" })
  T.ok(rb and frac(rb.wa_reset_bn), "the BatchNorm ResNet has a reset_bn column")
  local nc = csv(out .. "/n_curve.csv")
  T.ok(nc and #nc == 6 and nc[1].n == 50 and nc[3].n == 1000, "n_curve.csv: 3 n x 2 ridges", nc and #nc)
  local ll = csv(out .. "/llfc.csv")
  local h1 = find(ll, { net = "mlp", pair = "independent", merge = "fm", features = "pre", data = "fit", layer = "h1" })
  T.ok(h1 and h1["mean_1-cos"] < 1e-9, "the merge's first pre-activation is the members' average on the fitting data",
       h1 and h1["mean_1-cos"])
  T.ok(find(ll, { net = "resnet20", merge = "fm", features = "post", data = "test", layer = "layer3.2" }),
       "llfc.csv has the ResNet's block outputs")
  local mu = csv(out .. "/multi.csv")
  T.ok(mu and #mu == 2 and mu[1].k == 3 and frac(mu[1].fm) and frac(mu[2].fm_matched) and frac(mu[1].ensemble),
       "multi.csv: 3 networks merged, two kinds")
  T.ok((slurp(out .. "/n_curve_chart.svg") or ""):find("</svg>", 1, true) and
       (slurp(out .. "/llfc_mlp_independent_chart.svg") or ""):find("</svg>", 1, true), "feature_merge writes SVG charts")
  local js = slurp(out .. "/summary.json") or ""
  T.ok(js:find('"n_curve"', 1, true) and js:find('"options"', 1, true), "summary.json has the parts and options")
  local ok2 = run("feature_merge.lua", "--quick --no-view --parts everything --out " .. sh_quote(out))
  T.ok(not ok2, "an unknown part is an error")
  local ok3, _, help = run("feature_merge.lua", "--help")
  T.ok(ok3 and help:find("--n-ridges", 1, true), "--help lists the options")
end)
end

os.execute("rm -rf " .. sh_quote(tmp))
T.done()
