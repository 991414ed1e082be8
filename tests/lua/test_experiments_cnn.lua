-- test_experiments_cnn.lua - the conv net experiment scripts (repair.lua,
-- resnet.lua) run end to end in --quick mode (a small Fashion-MNIST subset
-- pooled to 7x7, or synthetic images without the data package) through the
-- real binary; their tables and files exist and hold sane numbers.
local T = require "check"
local sh_quote, slurp, csv = T.sh_quote, T.slurp, T.csv
local function run(script, args) return T.run_experiment(script, args) end

local function find(rows, fields)
  for _, r in ipairs(rows or {}) do
    local hit = true
    for k, v in pairs(fields) do hit = hit and r[k] == v end
    if hit then return r end
  end
end

local function frac(v) return type(v) == "number" and v >= -1 and v <= 1 end

local tmp = T.tmpname("-expcnn")
os.execute("mkdir -p " .. sh_quote(tmp))

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

os.execute("rm -rf " .. sh_quote(tmp))
T.done()
