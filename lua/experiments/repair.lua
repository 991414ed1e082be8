-- repair.lua - the barrier of conv nets along the linear path, plain, with
-- the BatchNorm statistics reset at each alpha, and with REPAIR (Jordan et
-- al. 2022): for VGG-11 (BatchNorm, none) and ResNet-20 (BatchNorm,
-- LayerNorm), an independent pair before and after weight matching and a
-- spawned pair.
--   llfc lua/experiments/repair.lua [--archs vgg11-bn,resnet20-ln] [--width 0.25] [--quick]
local dir = (arg and arg[0] or ""):match("^(.*[/\\])") or "./"
local E = dofile(dir .. "common.lua")
local C = dofile(dir .. "cnn_common.lua")

local extra = {
  {"archs", "string", "vgg11-bn,vgg11-none,resnet20-bn,resnet20-ln", "networks: vgg11-bn|ln|none, resnet20-bn|ln|none"},
  {"pairs", "string", "independent,matched,spawned", "pairs: independent, matched (weight matching), spawned"},
  {"width", "number", 0.25, "VGG width multiplier"},
  {"rwidth", "number", 1, "ResNet-20 width multiplier (integer)"},
  {"k", "number", 1, "spawn point of the spawned pair in epochs"},
  {"epochs", "number", 2, "training epochs of each network"},
  {"lr", "number", 0.05, "SGD learning rate (momentum 0.9)"},
  {"n-train", "number", 5000, "training samples (first n of the training set)"},
  {"n-test", "number", 1000, "test samples the barriers are measured on"},
  {"alphas", "number", 5, "points on the interpolation path"},
}
for _, s in ipairs(C.OPTIONS) do extra[#extra + 1] = s end
local about = "barriers of conv nets: plain interpolation, BatchNorm reset, REPAIR"
local o, ds = C.start("repair", about, arg or {}, extra,
                      { archs = "vgg11-bn,vgg11-ln", width = 0.0625, epochs = 1, ["n-train"] = 400,
                        ["n-test"] = 200, ["n-repair"] = 64, alphas = 3, downsample = 4, k = 0.5, batch = 32 }, E)
print(string.format("statistics of reset_bn and REPAIR on %d training samples; %d alphas",
                    math.min(o["n-repair"], #ds.train), math.floor(o.alphas)))

local archs, want = {}, {}
for s in o.archs:gmatch("[^,]+") do archs[#archs + 1] = s end
for s in o.pairs:gmatch("[^,]+") do
  if s ~= "independent" and s ~= "matched" and s ~= "spawned" then
    error("--pairs: expected independent, matched or spawned, got '" .. s .. "'", 0)
  end
  want[s] = true
end
local s1, s2 = math.floor(o.seeds[1]), math.floor(o.seeds[2] or o.seeds[1] + 1)
local alphas = C.alphas(o.alphas)
local rows, summary = {}, {}

local HEADERS = { "net", "pair", "err_A", "err_B", "err_plain", "err_reset_bn", "err_repair",
                  "loss_plain", "loss_reset_bn", "loss_repair" }
-- barriers.csv and curves.csv (one row per net, pair, method and alpha) as far as computed
local function write_csv()
  E.write(o.out .. "/barriers.csv", E.csv({ headers = HEADERS, rows = rows }))
  local crow = {}
  for _, arch in ipairs(archs) do
    for _, pname in ipairs({ "independent", "matched", "spawned" }) do
      local r = summary[arch] and summary[arch][pname]
      for _, m in ipairs({ "plain", "reset", "repair" }) do
        local c = r and r[m]
        if c then
          for i, al in ipairs(c.alphas) do crow[#crow + 1] = { arch, pname, m, al, c.err[i], c.loss[i] } end
        end
      end
    end
  end
  E.write(o.out .. "/curves.csv", E.csv({ headers = { "net", "pair", "method", "alpha", "err", "loss" }, rows = crow }))
end

for _, arch in ipairs(archs) do
  local tmpl = C.net(arch, ds, s1, o.width, math.floor(o.rwidth))
  local bn = C.has_bn(arch)
  local res = {}
  local list = {}
  if want.independent or want.matched then
    E.log(o, string.format("%s: training the independent pair (seeds %d, %d)", arch, s1, s2))
    local a, b = nn.pair(tmpl, ds.train, E.train_opts(o, { init_seeds = {s1, s2}, seeds = {s1, s2} }))
    if want.independent then list[#list + 1] = { "independent", a, b } end
    if want.matched then
      E.log(o, arch .. ": weight matching")
      local p = perm.weight_match(a, b, { seed = s1 })
      list[#list + 1] = { "matched", a, p:apply(b) }
    end
  end
  if want.spawned then
    local spe = E.steps_per_epoch(o, ds)
    E.log(o, string.format("%s: spawned pair (%g shared epochs)", arch, o.k))
    local a, b = nn.spawn(tmpl, ds.train, E.train_opts(o, { k = math.max(1, math.floor(o.k * spe + 0.5)),
      unit = "step", seeds = {s1 + 100, s2 + 100}, seed0 = s1 }))
    list[#list + 1] = { "spawned", a, b }
  end
  for _, p in ipairs(list) do
    E.log(o, string.format("%s, %s: barriers", arch, p[1]))
    local t0 = os.time()
    local r = C.paths(p[2], p[3], ds, alphas, o["n-repair"], bn)
    r.wall = os.time() - t0
    rows[#rows + 1] = { arch, p[1], r.plain.err_a, r.plain.err_b, r.plain.barrier.err, C.cell(r.reset, "err"),
                        r.repair.barrier.err, r.plain.barrier.loss, C.cell(r.reset, "loss"),
                        r.repair.barrier.loss }
    summary[arch] = res
    res[p[1]] = { err_a = r.plain.err_a, err_b = r.plain.err_b, plain = r.plain, reset = r.reset,
                  repair = r.repair, seconds = r.wall }
    write_csv() -- a long run leaves its finished pairs behind
    E.log(o, string.format("%s, %s: barrier err plain %.4f, reset_bn %s, REPAIR %.4f (%d s)", arch, p[1],
                           r.plain.barrier.err, r.reset and string.format("%.4f", r.reset.barrier.err) or "-",
                           r.repair.barrier.err, r.wall))
  end
end

E.table(o, "barriers", "barrier (max over alpha of err - chord; loss likewise) without and with each fix",
        { headers = HEADERS, rows = rows })
write_csv()
E.finish(o, summary)
