-- spawn_llfc.lua - LMC and LLFC of a spawned pair against an independently
-- trained pair (the poster's Fig. 3): the barrier along the linear path, and
-- per layer E[1 - cos_alpha] against E[1 - cos_AB].
--   llfc lua/experiments/spawn_llfc.lua [--k 1] [--epochs 5] [--quick] [--help]
local dir = (arg and arg[0] or ""):match("^(.*[/\\])") or "./"
local E = dofile(dir .. "common.lua")

local o, ds = E.start("spawn_llfc",
  "LMC and LLFC of a spawned pair vs an independently trained pair", arg or {},
  { {"k", "number", 1, "spawn point in epochs (the shared training before the split)"} })
local widths = E.widths(o, ds)
local s1, s2 = math.floor(o.seeds[1]), math.floor(o.seeds[2] or o.seeds[1] + 1)

-- the spawned pair: train from one init for k epochs, then split into two
-- copies continued with different data orders
E.log(o, string.format("spawned pair: %g shared epochs, then seeds %d and %d", o.k, s1, s2))
local spe = E.steps_per_epoch(o, ds)
local sa, sb = nn.spawn(E.mlp(widths, s1), ds.train,
  E.train_opts(o, { k = math.floor(o.k * spe + 0.5), unit = "step", seeds = {s1 + 100, s2 + 100},
                    seed0 = s1 }))
-- the independent pair: different inits, different data orders
E.log(o, string.format("independent pair: seeds %d and %d", s1, s2))
local ia, ib = nn.pair(widths, ds.train, E.train_opts(o, { init_seeds = {s1, s2}, seeds = {s1, s2} }))

E.log(o, "metrics of the spawned pair")
local rs = E.report(o, sa, sb, ds)
E.log(o, "metrics of the independent pair")
local ri = E.report(o, ia, ib, ds)
E.save(o, "spawned", rs)
E.save(o, "independent", ri)
E.save(o, "spawned_llfc", rs.llfc)
E.save(o, "independent_llfc", ri.llfc)
E.save(o, "spawned_interpolate", rs.interpolate)
E.save(o, "independent_interpolate", ri.interpolate)
E.save(o, "interpolate_overlay", { rs.interpolate, ri.interpolate }, { labels = { "spawned", "independent" } })

E.table(o, "lmc", "LMC: test error along theta_alpha (barrier = max over alpha of err - chord)",
        { headers = E.LMC_HEADERS,
          rows = { E.lmc_row("spawned", rs.interpolate), E.lmc_row("independent", ri.interpolate) } })
local rows = E.llfc_rows({}, "spawned", rs.llfc)
E.llfc_rows(rows, "independent", ri.llfc)
E.table(o, "llfc", "LLFC (Fig. 3): E[1 - cos_alpha] per layer vs the baseline E[1 - cos_AB]",
        { headers = E.llfc_headers(rs.llfc), rows = rows })

local ms, mabs = E.llfc_mean(rs.llfc)
local mi, mabi = E.llfc_mean(ri.llfc)
print(string.format("\nmean over layers and alphas: spawned 1-cos_alpha = %.4f (1-cos_AB %.4f, ratio %.3f);" ..
                    " independent 1-cos_alpha = %.4f (1-cos_AB %.4f, ratio %.3f)",
                    ms, mabs, ms / mabs, mi, mabi, mi / mabi))
E.finish(o, {
  spawned = { barrier_err = rs.interpolate.barrier.err, barrier_loss = rs.interpolate.barrier.loss,
              err_a = rs.interpolate.err_a, err_b = rs.interpolate.err_b,
              llfc_mean = ms, ab_mean = mabs },
  independent = { barrier_err = ri.interpolate.barrier.err, barrier_loss = ri.interpolate.barrier.loss,
                  err_a = ri.interpolate.err_a, err_b = ri.interpolate.err_b,
                  llfc_mean = mi, ab_mean = mabi },
})
