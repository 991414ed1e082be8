-- test_perm.lua - the perm module from Lua: specs, Perm objects, the
-- assignment solver, planted-permutation recovery by both matching methods.
local T = require "check"
local perm, nn, tensor, data, metrics = llfc.perm, llfc.nn, llfc.tensor, llfc.data, llfc.metrics

-- brute force over permutations of 1..n (n small)
local function brute(C, maximize)
  local n, best = #C, nil
  local used, cur = {}, 0
  local function rec(i)
    if i > n then
      if best == nil or (maximize and cur > best) or (not maximize and cur < best) then best = cur end
      return
    end
    for j = 1, n do
      if not used[j] then
        used[j] = true; cur = cur + C[i][j]
        rec(i + 1)
        used[j] = false; cur = cur - C[i][j]
      end
    end
  end
  rec(1)
  return best
end

T.section("lap", function()
  local a, t = perm.lap({{4, 1, 3}, {2, 0, 5}, {3, 2, 2}})
  T.eq(table.concat(a, " "), "2 1 3", "lap hand example assignment (1-based)")
  T.eq(t, 5, "lap hand example total")
  local _, tmax = perm.lap({{4, 1, 3}, {2, 0, 5}, {3, 2, 2}}, {maximize = true})
  T.eq(tmax, 11, "lap maximize total")
  local rng, bad = 7, 0
  local function rnd() rng = (rng * 1103515245 + 12345) % 2147483648; return rng % 17 - 8 end
  for n = 1, 6 do
    for _ = 1, 8 do
      local C = {}
      for i = 1, n do C[i] = {}; for j = 1, n do C[i][j] = rnd() end end
      local _, tot = perm.lap(C)
      local _, totm = perm.lap(C, {maximize = true})
      if tot ~= brute(C, false) or totm ~= brute(C, true) then bad = bad + 1 end
    end
  end
  T.eq(bad, 0, "lap equals brute force on 48 integer matrices up to 6x6 (min and max)")
  local r = perm.lap({{1, 2}, {0, 5}, {3, 0}})
  T.ok(r[1] == false and r[2] == 1 and r[3] == 2, "lap 3x2 leaves row 1 unassigned (false)")
  local c = tensor.new({{0.5, 2}, {1, 0.25}})
  local ta, tt = perm.lap(c)
  T.ok(ta[1] == 1 and ta[2] == 2 and tt == 0.75, "lap on a llfc.Tensor")
  T.raises(function() perm.lap({{1, 0 / 0}, {2, 3}}) end, "perm.lap: cost[1][2] is nan", "lap rejects nan")
  T.raises(function() perm.lap({{1, -math.huge}, {2, 3}}) end, "-inf", "lap rejects -inf")
  T.raises(function() perm.lap({{1, 2}, {3}}) end, "row 2 has 1 entries, row 1 has 2", "lap rejects ragged rows")
  T.raises(function() perm.lap({{1, 2}, {3, 4}}, {maximize = 1}) end, "option 'maximize' must be a boolean",
           "lap checks its options")
end)

T.section("spec and perms", function()
  local net = nn.mlp{6, 10, 8, 3, seed = 1}
  local s = net:permspec()
  T.eq(#s.groups, 2, "mlp 6-10-8-3 has 2 groups")
  T.ok(s.groups[1].name == "P1" and s.groups[1].size == 10 and s.groups[1].feature == "h1", "P1: 10 units, feature h1")
  T.eq(#s.groups[1].axes, 3, "P1 moves 3 axes (W1 rows, b1, W2 columns)")
  T.ok(s.params[3].name == "2.weight" and s.params[3].axes[1] == "P2" and s.params[3].axes[2] == "P1",
       "2.weight axes are P2, P1")
  T.ok(s.params[5].axes[1] == "-", "output layer rows are fixed")
  local txt = tostring(s)
  T.ok(txt:find("P1", 1, true) and txt:find("2.weight axis 2", 1, true) and txt:find("10x6", 1, true),
       "the spec prints readably", txt)

  local id = perm.identity(net)
  T.ok(id:is_identity() and #id.P1 == 10 and id.P1[10] == 10, "perm.identity")
  local p = perm.random(net, 3)
  T.ok(not p:is_identity() and p == perm.random(net, 3) and p ~= perm.random(net, 4), "perm.random is seeded")
  T.eq(table.concat(p:get("P2"), ","), table.concat(p.P2, ","), "p:get(name) equals p[name]")
  T.ok(tostring(p):find("P2", 1, true), "tostring(p) names the groups")
  T.ok(p:compose(p:inverse()):is_identity(), "p:compose(p:inverse()) is the identity")
  local q = perm.random(net, 5)
  local x = tensor.randn(20, 6, {seed = 2})
  local y1 = p:apply(q:apply(net)):forward(x)
  local y2 = p:compose(q):apply(net):forward(x)
  T.eq((y1 - y2):abs():max(), 0, "p:compose(q):apply(net) == p:apply(q:apply(net))")
  local r = perm.from_table(net, p:totable())
  T.ok(r == p, "from_table(p:totable()) == p")
  local half = perm.from_table(net, {P2 = p.P2})
  T.ok(half.P1[3] == 3 and half.P2[1] == p.P2[1], "from_table: a missing group is the identity")
  T.raises(function() perm.from_table(net, {P3 = {}}) end, "unknown group 'P3' (the network's groups: P1, P2)",
           "from_table rejects an unknown group")
  T.raises(function() perm.from_table(net, {P1 = {1, 2, 3}}) end, "P1 has 3 entries but the group has 10 units",
           "from_table rejects a wrong size")
  T.raises(function() perm.from_table(net, {P2 = {1, 2, 3, 4, 5, 6, 7, 7}}) end, "7 appears twice",
           "from_table rejects a repeat")
  T.raises(function() perm.from_table(net, {P2 = {1, 2, 3, 4, 5, 6, 7, 9}}) end, "outside 1..8",
           "from_table rejects out of range")
  T.raises(function() p:apply(nn.mlp{6, 11, 8, 3}) end, "group P1 has 10 units in the permutation and 11",
           "apply to another width fails clearly")
  local worst = 0
  for seed = 1, 5 do
    worst = math.max(worst, perm.check(net, perm.random(net, seed), x))
  end
  T.ok(worst < 1e-5, "perm.check: random perms keep the function (max diff " .. worst .. ")")
  for _, act in ipairs({"tanh", "identity"}) do
    local n2 = nn.mlp{6, 9, 7, 5, 2, act = act, seed = 4}
    local d = perm.check(n2, perm.random(n2, 8), x)
    T.ok(d < 1e-5, "perm.check: a " .. act .. " MLP keeps its function (max diff " .. d .. ")")
  end
  local ds = data.blobs{n = 50, dim = 6, classes = 3, seed = 1}
  T.ok(perm.check(net, p, ds) < 1e-5, "perm.check accepts a dataset")
end)

local function same_up_to_dead(p, q, a, x)
  -- entries that differ must be units of a that are zero on every sample
  local post = {}
  for _, f in ipairs(a:features(x)) do post[f.name] = f.post end
  for _, g in ipairs(a:permspec().groups) do
    local h = post[g.feature]
    local pg, qg = p[g.name], q[g.name]
    for i = 1, g.size do
      if pg[i] ~= qg[i] then
        if not h then return false end
        if h:narrow(2, i, 1):abs():max() ~= 0 then return false end
      end
    end
  end
  return true
end

T.section("planted recovery", function()
  for _, w in ipairs({{8, 16, 12, 3}, {20, 48, 64, 32, 5}, {50, 128, 128, 10}}) do
    w.seed = #w
    local a = nn.mlp(w)
    local p = perm.random(a, 11)
    local b = p:inverse():apply(a) -- so that p:apply(b) == a
    local name = table.concat(w, "-")
    local q, st = perm.weight_match(a, b, {seed = 2})
    T.ok(q == p, "weight_match recovers a planted permutation (" .. name .. ", " .. st.iterations .. " sweeps)")
    T.ok(#st.objective == st.iterations and st.seconds >= 0 and st.kind == "weight_match", "weight_match stats")
    local x = tensor.randn(600, w[1], {seed = 3})
    for _, m in ipairs({"inner", "corr"}) do
      local r, s2 = perm.activation_match(a, b, x, {method = m, batch = 128})
      T.ok(same_up_to_dead(r, p, a, x) and s2.n == 600,
           "activation_match (" .. m .. ") recovers a planted permutation (" .. name .. ")")
    end
  end
  local a, b = nn.mlp{6, 10, 3, seed = 1}, nn.mlp{6, 10, 3, seed = 2}
  T.raises(function() perm.weight_match(a, b, {max_iter = 0}) end, "max_iter' must be at least 1", "weight_match checks max_iter")
  T.raises(function() perm.weight_match(a, b, {init = 3}) end, "option 'init' must be a llfc.Perm", "weight_match checks init")
  T.raises(function() perm.activation_match(a, b, tensor.randn(5, 6), {method = "cos"}) end,
           "method' must be \"inner\" or \"corr\"", "activation_match checks method")
  T.raises(function() perm.activation_match(a, b, tensor.randn(5, 7)) end, "input must be [n, 6]",
           "activation_match checks the input width")
  T.raises(function() perm.weight_match(a, nn.mlp{6, 11, 3}) end, "parameter '0.weight' is 10x6 in the first network and 11x6",
           "weight_match names the mismatch")
  local q, st = perm.weight_match(a, b, {seed = 1})
  local q2, st2 = perm.weight_match(a, b, {seed = 1, init = q})
  T.ok(q2 == q and st2.iterations == 1, "weight_match from its own answer stops after one sweep")
  T.ok(tostring(st):find("objective per sweep", 1, true), "stats print")
end)

-- progress = fn and Ctrl-C: the permutation so far, stats.interrupted, the
-- interrupt consumed.  The signal comes from a background shell while the
-- progress callback waits (the REPL's hook raises inside the callback).
T.section("progress and Ctrl-C", function()
  local a, b = nn.mlp{6, 24, 24, 3, seed = 11}, nn.mlp{6, 24, 24, 3, seed = 12}
  local x = tensor.randn(300, 6)
  local calls, last = 0, nil
  local _, st = perm.weight_match(a, b, {seed = 3, progress = function(d, t, w) calls = calls + 1; last = {d, t, w} end})
  T.ok(calls == st.iterations and last[1] == st.iterations and last[2] == 100 and last[3]:find("weight_match sweep", 1, true),
       "weight_match calls progress(done, total, what) once per sweep", calls .. " calls, " .. st.iterations .. " sweeps")
  T.ok(st.interrupted == false, "an uninterrupted weight_match has interrupted = false")
  calls = 0
  local _, sa = perm.activation_match(a, b, x, {batch = 100, progress = function(d, t) calls = calls + 1; last = {d, t} end})
  T.ok(calls == 3 and last[1] == 300 and last[2] == 300 and sa.interrupted == false, "activation_match calls progress per batch")
  T.raises(function() perm.weight_match(a, b, {progress = 1}) end, "option 'progress' must be a function", "progress type checked")
  T.raises(function() perm.weight_match(a, b, {progress = function() return false end}) end, "interrupted",
           "weight_match: progress returning false stops with 'interrupted'")
  T.raises(function() perm.activation_match(a, b, x, {batch = 100, progress = function() error("boom") end}) end, "boom",
           "activation_match: an error in the progress callback is reported")
  local function ctrl_c()
    os.execute("(sleep 0.05; kill -INT $PPID) &")
    local t0 = os.clock()
    while os.clock() - t0 < 5 do end
  end
  local sent = false
  local q, sq = perm.weight_match(a, b, {seed = 3, progress = function() if not sent then sent = true; ctrl_c() end end})
  T.ok(sq.interrupted == true and sq.iterations == 1, "Ctrl-C in weight_match returns the perm so far (interrupted, 1 sweep)",
       tostring(sq.interrupted) .. ", " .. sq.iterations)
  local q1 = perm.weight_match(a, b, {seed = 3, max_iter = 1})
  T.ok(q == q1, "the interrupted weight_match perm equals a 1-sweep run")
  sent = false
  local r, sr = perm.activation_match(a, b, x, {batch = 100, progress = function() if not sent then sent = true; ctrl_c() end end})
  T.ok(sr.interrupted == true and sr.n == 100, "Ctrl-C in activation_match matches on the batches done", tostring(sr.n))
  local r1 = perm.activation_match(a, b, x, {batch = 100, n = 100})
  T.ok(r == r1, "the interrupted activation_match equals a match on the first 100 samples")
  local _, s3 = perm.weight_match(a, b, {seed = 3})
  T.ok(s3.interrupted == false and s3.iterations >= 1, "the interrupt was consumed: the next call runs to the end")
end)

-- STE, Sinkhorn and commutativity matching from Lua: the same Perm and a
-- stats table, J = the sum of metrics.commutativity's numerators, soft
-- matrices, Perm files, option and network errors
T.section("ste, sinkhorn, commutativity", function()
  local a = nn.mlp{8, 16, 12, 3, seed = 1}
  local p = perm.random(a, 11)
  local b = p:inverse():apply(a)
  local ds = data.blobs{n = 200, dim = 8, classes = 3, seed = 1}
  local q, st = perm.commutativity_match(a, b, ds)
  T.ok(q == p and st.J_final == 0 and st.kind == "commutativity_match" and st.n == 200,
       "commutativity_match keeps a planted permutation found by weight matching")
  local q2, s2 = perm.ste_match(a, b, ds, {epochs = 1, batch = 50})
  T.ok(q2 == p and s2.steps == 4 and #s2.loss == 1, "ste_match recovers a planted permutation (4 steps)")
  local q3, s3, soft = perm.sinkhorn_match(a, b, {steps = 150, soft = true})
  T.ok(q3 == p and s3.steps == 150 and #s3.objective == 150, "sinkhorn_match recovers a planted permutation")
  local S = soft.P1
  T.ok(S and S:size(1) == 16 and S:size(2) == 16, "soft = true returns the matrices by group ([16, 16] for P1)")
  local function ds_err(M)
    local t, w = M:totable(), 0
    for i = 1, #t do
      local r, c = 0, 0
      for j = 1, #t do r = r + t[i][j]; c = c + t[j][i] end
      w = math.max(w, math.abs(r - 1), math.abs(c - 1))
    end
    return w, t
  end
  local worst, St = ds_err(S)
  T.ok(math.abs(worst - s3.ds_error) < 1e-6 and worst < 1e-2,
       "stats.ds_error is the soft matrices' largest row or column sum error (sharp logits: 20 rounds leave "
       .. string.format("%.1e)", worst))
  local best = 0
  for i = 1, 16 do if St[i][p.P1[i]] > 0.5 then best = best + 1 end end
  T.eq(best, 16, "each row of P1's matrix peaks on the planted unit")
  local _, s4, soft4 = perm.sinkhorn_match(a, b, {steps = 10, soft = true})
  T.ok(ds_err(soft4.P2) < 1e-5 and s4.ds_error < 1e-5, "after 10 steps they are doubly stochastic to 1e-5")
  -- an independent pair: J is metrics' numerator summed, and it goes down
  local a2, b2 = nn.mlp{8, 16, 12, 3, seed = 2}, nn.mlp{8, 16, 12, 3, seed = 3}
  local r, rs = perm.commutativity_match(a2, b2, ds, {init = "identity", seed = 5})
  local c = metrics.commutativity(a2, r:apply(b2), ds)
  local J = 0
  for _, l in ipairs(c.layers) do J = J + l.num end
  T.near(rs.J_final, J, 1e-5, "stats.J_final = the sum of metrics.commutativity's num over the layers")
  local c0 = metrics.commutativity(a2, b2, ds)
  local J0 = 0
  for _, l in ipairs(c0.layers) do J0 = J0 + l.num end
  T.near(rs.J_init, J0, 1e-5, "init = 'identity': J_init is the unpermuted pair's")
  local mono = rs.J[1] <= rs.J_init
  for i = 2, #rs.J do mono = mono and rs.J[i] <= rs.J[i - 1] end
  T.ok(mono and rs.J_final <= rs.J[#rs.J] and #rs.J == rs.iterations, "J never increases across sweeps")
  T.ok(rs.steps.full + rs.steps.partial + rs.steps.none >= 2, "the group steps are counted")
  T.ok(tostring(rs):find("J per sweep", 1, true) and tostring(s2):find("loss per epoch", 1, true)
       and tostring(s3):find("objective per step", 1, true), "the stats print")
  local r2 = perm.commutativity_match(a2, b2, ds, {init = "identity", seed = 5})
  T.ok(r2 == r, "commutativity_match is deterministic for a seed")
  local ra = perm.commutativity_match(a2, b2, ds, {init = "activation", swaps = false, n = 50})
  local rp = perm.commutativity_match(a2, b2, ds, {init = r, n = 50})
  T.ok(ra and rp, "init = 'activation' and init = a Perm run")
  local calls = 0
  perm.commutativity_match(a2, b2, ds, {progress = function(d, t, w) calls = calls + 1 end})
  T.ok(calls >= 2, "commutativity_match reports progress per group step", tostring(calls))

  -- errors
  local c3 = nn.mlp{8, 17, 12, 3}
  T.raises(function() perm.commutativity_match(a2, c3, ds) end, "0.weight", "commutativity_match: mismatched nets")
  T.raises(function() perm.ste_match(a2, c3, ds) end, "0.weight", "ste_match: mismatched nets")
  T.raises(function() perm.sinkhorn_match(a2, c3) end, "0.weight", "sinkhorn_match: mismatched nets")
  T.raises(function() perm.commutativity_match(a2, b2, ds, {init = "weights"}) end,
           "option 'init' must be \"weight\", \"activation\" or \"identity\" or a llfc.Perm", "an unknown init")
  T.raises(function() perm.commutativity_match(a2, b2, ds, {init = perm.identity(c3)}) end, "init",
           "an init Perm of another net")
  T.raises(function() perm.commutativity_match(a2, b2, ds, {n = 0}) end, "option 'n' must be at least 1", "n = 0")
  T.raises(function() perm.commutativity_match(a2, b2, ds, {max_iters = 3}) end, "did you mean 'max_iter'",
           "a misspelt option")
  T.raises(function() perm.commutativity_match(a2, b2, tensor.randn(5, 7)) end, "input must be [n, 8]",
           "inputs of another width")
  T.raises(function() perm.ste_match(a2, b2, ds, {alpha = 1}) end, "option 'alpha' must be in [0, 1)", "alpha = 1")
  T.raises(function() perm.ste_match(a2, b2, ds, {lr = 0}) end, "option 'lr' must be a positive number", "lr = 0")
  T.raises(function() perm.ste_match(a2, b2, tensor.randn(5, 8)) end, "llfc.Dataset expected", "STE needs labels")
  T.raises(function() perm.sinkhorn_match(a2, b2, {objective = "loss"}) end, "the loss objective needs a dataset",
           "the loss objective without data")
  T.raises(function() perm.sinkhorn_match(a2, b2, {objective = "dist"}) end,
           "option 'objective' must be \"weight\" or \"loss\"", "an unknown objective")
  T.raises(function() perm.sinkhorn_match(a2, b2, {tau = 0}) end, "option 'tau' must be a positive number", "tau = 0")
  T.raises(function() perm.sinkhorn_match(a2, b2, {init = "activation"}) end, "option 'init' must be", "Sinkhorn's inits")
  local _, sl = perm.sinkhorn_match(a2, b2, ds, {objective = "loss", batch = 50, epochs = 2})
  T.ok(sl.steps == 8 and sl.objective_name == "loss", "the loss objective runs epochs x batches steps")
end)

-- a ResNet-20 through its permutation spec (residual groups, shortcuts):
-- each new matcher finds a planted permutation
T.section("ste, sinkhorn, commutativity on a ResNet-20", function()
  local a = nn.resnet20{width = 1, norm = "ln", classes = 3, input = {1, 8, 8}, seed = 5}
  local p = perm.random(a, 3)
  local b = p:inverse():apply(a)
  local x = tensor.randn{100, 1, 8, 8}
  local ds = data.from_tensors(x, a:forward(x):argmax(2), {classes = 3})
  local q, st = perm.commutativity_match(a, b, x, {seed = 1})
  T.ok(q == p and st.J_final == 0, "commutativity_match keeps the planted permutation of a ResNet-20")
  T.ok(perm.sinkhorn_match(a, b, {steps = 60}) == p, "sinkhorn_match (weight objective, from M = I) recovers it")
  local r, sr = perm.ste_match(a, b, ds, {epochs = 2, batch = 50})
  T.ok(r == p and sr.steps == 4, "ste_match recovers it (4 steps)")
end)

-- the new matchers from Lua: progress(done, total, what) per step, a false
-- return stops them, and a real SIGINT returns the answer so far with
-- interrupted = true, the interrupt consumed
T.section("ste, sinkhorn, commutativity: progress and Ctrl-C", function()
  local a, b = nn.mlp{8, 24, 16, 3, seed = 4}, nn.mlp{8, 24, 16, 3, seed = 5}
  local ds = data.blobs{n = 200, dim = 8, classes = 3, seed = 2}
  local calls, last = 0, nil
  local _, st = perm.ste_match(a, b, ds, {epochs = 2, batch = 50, progress = function(d, t, w) calls = calls + 1; last = {d, t, w} end})
  T.ok(calls == 8 and last[1] == 8 and last[2] == 8 and type(last[3]) == "string" and st.interrupted == false,
       "ste_match calls progress(done, total, what) once per step (8 steps)", calls .. " calls")
  calls = 0
  local _, ss = perm.sinkhorn_match(a, b, {steps = 12, progress = function(d, t, w) calls = calls + 1; last = {d, t, w} end})
  T.ok(calls == 12 and last[1] == 12 and last[2] == 12 and ss.interrupted == false,
       "sinkhorn_match calls progress once per step (12 steps)", calls .. " calls")
  T.raises(function() perm.ste_match(a, b, ds, {epochs = 1, batch = 50, progress = function() return false end}) end,
           "interrupted", "ste_match: progress returning false stops with 'interrupted'")
  T.raises(function() perm.sinkhorn_match(a, b, {steps = 5, progress = function() error("boom") end}) end, "boom",
           "sinkhorn_match: an error in the progress callback is reported")
  local function ctrl_c()
    os.execute("(sleep 0.05; kill -INT $PPID) &")
    local t0 = os.clock()
    while os.clock() - t0 < 5 do end
  end
  local sent = false
  local function once() if not sent then sent = true; ctrl_c() end end
  local q, sq = perm.ste_match(a, b, ds, {epochs = 3, batch = 50, seed = 2, progress = once})
  local q1 = perm.ste_match(a, b, ds, {steps = 1, batch = 50, seed = 2})
  T.ok(sq.interrupted == true and sq.steps == 1 and q == q1, "Ctrl-C in ste_match returns the projection of step 1",
       tostring(sq.interrupted) .. ", " .. sq.steps)
  sent = false
  local r, sr = perm.sinkhorn_match(a, b, {steps = 50, progress = once})
  local r1 = perm.sinkhorn_match(a, b, {steps = 1})
  T.ok(sr.interrupted == true and sr.steps == 1 and r == r1, "Ctrl-C in sinkhorn_match projects the matrices of step 1",
       tostring(sr.interrupted) .. ", " .. sr.steps)
  sent = false
  local c, sc = perm.commutativity_match(a, b, ds, {seed = 3, progress = once})
  local Jc = 0
  for _, l in ipairs(metrics.commutativity(a, c:apply(b), ds).layers) do Jc = Jc + l.num end
  T.ok(sc.interrupted == true and sc.J_final <= sc.J_init and math.abs(Jc - sc.J_final) <= 1e-5 * sc.J_init,
       "Ctrl-C in commutativity_match returns the permutation so far, its J reported", tostring(sc.interrupted))
  local _, s3 = perm.commutativity_match(a, b, ds, {seed = 3})
  T.ok(s3.interrupted == false and s3.J_final <= sc.J_final, "the interrupt was consumed: the next call runs to the end")
end)

T.section("Perm files", function()
  local net = nn.mlp{6, 10, 8, 3, seed = 1}
  local p = perm.random(net, 4)
  local path = T.tmpname(".safetensors")
  T.ok(p:save(path) == true, "p:save(path) returns true")
  T.ok(perm.load(path, net) == p, "perm.load(path, net) gives the saved Perm")
  local q = perm.load(path)
  T.ok(q and table.concat(q:groups(), ",") == "P1,P2" and q:apply(net):forward(tensor.randn(3, 6)) ~= nil,
       "perm.load(path) without a net: the file's groups, applicable to the net")
  local r, msg = perm.load(path, nn.mlp{6, 11, 8, 3})
  T.ok(r == nil and msg:find("P1 has 10 entries but the group has 11", 1, true), "loading for another width: nil, message",
       tostring(msg))
  local r2, msg2 = perm.load(T.tmpname(".none"))
  T.ok(r2 == nil and msg2:find("cannot open", 1, true), "a missing file: nil, message", tostring(msg2))
  local ok, msg3 = p:save("/nonexistent-dir/p.safetensors")
  T.ok(ok == nil and type(msg3) == "string", "an unwritable path: nil, message")
  net:save(path)
  local r3, msg4 = perm.load(path)
  T.ok(r3 == nil and msg4:find("not a permutation file", 1, true), "a model file is not a Perm", tostring(msg4))
  os.remove(path)
end)

T.section("perm.check takes what net:forward takes", function()
  local net = nn.vgg{layers = {3, "M", 4}, input = {2, 4, 4}, classes = 3, seed = 1}
  local p = perm.random(net, 2)
  local x = tensor.randn{5, 2, 4, 4}
  local d = perm.check(net, p, x)
  T.ok(type(d) == "number" and d < 1e-4, "perm.check on an image batch [n, c, h, w]", tostring(d))
  T.raises(function() perm.check(net, p, tensor.randn{5, 7}) end, "input must be [n, 32]", "a wrong shape names the expected one")
end)

T.done()
