-- resnet.lua - ResNet-20 on Fashion-MNIST: a spawned pair trains, is
-- interpolated and gets the full LLFC report (live view in a terminal); an
-- independent wide pair (width --wide) before and after weight matching,
-- with the BatchNorm reset / REPAIR barrier of the matched pair beside it.
--   llfc lua/experiments/resnet.lua [--width 1] [--wide 4] [--norm bn] [--quick]
local dir = (arg and arg[0] or ""):match("^(.*[/\\])") or "./"
local E = dofile(dir .. "common.lua")
local C = dofile(dir .. "cnn_common.lua")

local extra = {
  {"norm", "string", "bn", "normalisation: bn | ln | none"},
  {"width", "number", 1, "width multiplier of the spawned pair"},
  {"wide", "number", 4, "width multiplier of the independent (wide) pair"},
  {"k", "number", 1, "spawn point in epochs"},
  {"epochs", "number", 2, "training epochs of each network"},
  {"lr", "number", 0.05, "SGD learning rate (momentum 0.9)"},
  {"n-train", "number", 5000, "training samples (first n of the training set)"},
  {"n-test", "number", 1000, "test samples the metrics are measured on"},
  {"wide-alphas", "number", 0, "points on the wide pair's paths (0: --alphas)"},
  {"fix-alphas", "number", 5, "points on the path of the matched pair with BatchNorm reset / REPAIR"},
  {"wide-train", "number", 0, "training samples of the wide pair (0: --n-train)"},
  {"wide-epochs", "number", 0, "training epochs of the wide pair (0: --epochs)"},
}
for _, s in ipairs(C.OPTIONS) do extra[#extra + 1] = s end
local about = "ResNet-20: a spawned pair's LLFC report, weight matching of a wide independent pair"
local o, ds = C.start("resnet", about, arg or {}, extra,
                      { wide = 1, epochs = 1, ["n-train"] = 256, ["n-test"] = 128, ["n-repair"] = 32, alphas = 3,
                        downsample = 4, k = 0.5, batch = 32 }, E)
if o.view then print("(each computation is drawn live; press q to go on, or run with --no-view)") end
local arch = "resnet20-" .. o.norm
local s1, s2 = math.floor(o.seeds[1]), math.floor(o.seeds[2] or o.seeds[1] + 1)
local summary = {}

-- 1. the spawned pair and its full report
local tmpl = C.net(arch, ds, s1, 1, math.floor(o.width))
local spe = E.steps_per_epoch(o, ds)
E.log(o, string.format("spawned ResNet-20 (width %d, %s): %g shared epochs, then seeds %d and %d", o.width,
                       o.norm, o.k, s1 + 100, s2 + 100))
local t0 = os.time()
local sa, sb = nn.spawn(tmpl, ds.train, E.train_opts(o, { k = math.max(1, math.floor(o.k * spe + 0.5)),
  unit = "step", seeds = {s1 + 100, s2 + 100}, seed0 = s1 }))
local train_s = os.time() - t0
E.log(o, "LLFC report of the spawned pair")
t0 = os.time()
local rs = E.report(o, sa, sb, ds)
local report_s = os.time() - t0
E.save(o, "spawned", rs)
E.save(o, "spawned_llfc", rs.llfc)
E.save(o, "spawned_interpolate", rs.interpolate)
summary.spawned = { width = math.floor(o.width), barrier_err = rs.interpolate.barrier.err,
                    barrier_loss = rs.interpolate.barrier.loss, err_a = rs.interpolate.err_a,
                    err_b = rs.interpolate.err_b, llfc_mean = (E.llfc_mean(rs.llfc)),
                    train_seconds = train_s, report_seconds = report_s }

-- 2. the wide independent pair, before and after weight matching
local wt = C.net(arch, ds, s1, 1, math.floor(o.wide))
E.log(o, string.format("independent wide ResNet-20 (width %d): seeds %d, %d", o.wide, s1, s2))
t0 = os.time()
local wtrain = o["wide-train"] > 0 and ds.train:subset(math.min(math.floor(o["wide-train"]), #ds.train)) or ds.train
local ia, ib = nn.pair(wt, wtrain, E.train_opts(o, { init_seeds = {s1, s2}, seeds = {s1, s2},
  epochs = o["wide-epochs"] > 0 and o["wide-epochs"] or o.epochs }))
local wtrain_s = os.time() - t0
E.log(o, "weight matching")
local pw, st = perm.weight_match(ia, ib, { seed = s1 })
local ibm = pw:apply(ib)
local na = math.floor(o["wide-alphas"] > 0 and o["wide-alphas"] or o.alphas)
local ci = metrics.interpolate(ia, ib, ds.test, { alphas = na })
local cm = metrics.interpolate(ia, ibm, ds.test, { alphas = na })
E.save(o, "wide_independent_interpolate", ci)
E.save(o, "wide_matched_interpolate", cm)
E.save(o, "wide_interpolate_overlay", { ci, cm }, { labels = { "independent", "weight matched" } })
E.log(o, "BatchNorm reset / REPAIR of the matched pair")
local fixes = C.paths(ia, ibm, ds, C.alphas(math.min(na, math.floor(o["fix-alphas"]))), o["n-repair"], o.norm == "bn")

local lrows = { E.lmc_row("spawned", rs.interpolate), E.lmc_row("wide independent", ci),
                E.lmc_row("wide matched", cm) }
E.table(o, "lmc", "LMC: test error along theta_alpha (barrier = max over alpha of err - chord)",
        { headers = E.LMC_HEADERS, rows = lrows })
local rows = E.llfc_rows({}, "spawned", rs.llfc)
E.table(o, "llfc", "LLFC of the spawned pair: E[1 - cos_alpha] per layer vs E[1 - cos_AB]",
        { headers = E.llfc_headers(rs.llfc), rows = rows })
E.table(o, "matched_fixes", string.format("the matched wide pair: barrier without and with each fix (%d alphas)", #fixes.plain.alphas),
        { headers = { "pair", "err_plain", "err_reset_bn", "err_repair", "loss_plain", "loss_reset_bn", "loss_repair" },
          rows = { { "wide matched", fixes.plain.barrier.err, C.cell(fixes.reset, "err"), fixes.repair.barrier.err,
                     fixes.plain.barrier.loss, C.cell(fixes.reset, "loss"), fixes.repair.barrier.loss } } })
print(string.format("\nweight matching: %d sweeps, %.1f s; barrier %.4f -> %.4f (%s)", st.iterations, st.seconds,
                    ci.barrier.err, cm.barrier.err, cm.barrier.err < ci.barrier.err and "lowered" or "NOT lowered"))
summary.wide = { width = math.floor(o.wide), err_a = ci.err_a, err_b = ci.err_b,
                 barrier_err = ci.barrier.err, barrier_loss = ci.barrier.loss,
                 matched_barrier_err = cm.barrier.err, matched_barrier_loss = cm.barrier.loss,
                 matched_reset_err = fixes.reset and fixes.reset.barrier.err or nil,
                 matched_repair_err = fixes.repair.barrier.err,
                 lowered = cm.barrier.err < ci.barrier.err, match_seconds = st.seconds, train_seconds = wtrain_s,
                 n_train = #wtrain }
E.finish(o, summary)
