-- llfc.results: readable tostring() of the metrics module's result tables.
-- metrics.* return plain tables with kind = "interpolate" | "llfc" |
-- "weak_additivity" | "commutativity" | "report"; attach(t) gives them (and
-- their sub-tables) the metatable of their kind, which names the kind for the
-- view (mt.kind) and prints them.  Every header states the convention.
local util = require "llfc.util"
local fmt = util.fmt

local M = {}
local CONV = "theta_alpha = alpha*A + (1-alpha)*B  (alpha=1 is A, alpha=0 is B)"
-- a result along a curve (nn.curve) says so: alpha is t, the mix the curve's weights
local CURVE = "along a curve: theta(t) = sum_k w_k(t) theta_k  (t=1 is A, t=0 is B; alpha below is t)"
local function conv(t) return t.path == "curve" and CURVE or CONV end

local function pm(m, s) return fmt(m) .. " +- " .. fmt(s) end

local function pad(s, n) s = tostring(s); return s .. string.rep(" ", n - #s) end
local function lpad(s, n) s = tostring(s); return string.rep(" ", n - #s) .. s end

-- width of the layer-name column: 8, or the longest name (ResNet "layer1.0.relu1")
local function namew(layers)
  local w = 8
  for _, ly in ipairs(layers or {}) do w = math.max(w, #tostring(ly.name or "")) end
  return w
end

local function count(t)
  if t.complete == false then return string.format("n = %d (partial)", t.n) end
  return string.format("n = %d", t.n)
end

local show = {}

function show.interpolate(t)
  local out = {}
  out[#out + 1] = "interpolate: " .. conv(t) .. ", " .. count(t)
  out[#out + 1] = "  alpha       err      loss"
  for i, a in ipairs(t.alphas) do
    out[#out + 1] = string.format("  %5.3f  %8s  %8s", a, fmt(t.err[i]), fmt(t.loss[i]))
  end
  out[#out + 1] = string.format("  endpoints: err_a = %s, err_b = %s, loss_a = %s, loss_b = %s",
    fmt(t.err_a), fmt(t.err_b), fmt(t.loss_a), fmt(t.loss_b))
  local b = t.barrier
  out[#out + 1] = string.format("  barrier: err %s at alpha %s, loss %s at alpha %s",
    fmt(b.err), fmt(b.err_alpha), fmt(b.loss), fmt(b.loss_alpha))
  local l = t.lemma
  out[#out + 1] = string.format("  lemma max err <= 2 eps: eps = %s, max err = %s, %s",
    fmt(l.eps), fmt(l.max_err), l.holds and "holds"
      or (b.loss ~= b.loss and "not established (NaN loss: a network outputs NaN or inf)") or "fails")
  return table.concat(out, "\n")
end

function show.llfc(t)
  local out = {}
  out[#out + 1] = (t.path == "curve" and "llfc: 1 - cos(f(theta(t)), sum_k w_k(t) f(theta_k)); c = <f_t, mix>/|f_t|^2; "
                   or "llfc: 1 - cos(f(theta_alpha), alpha f(A) + (1-alpha) f(B)); c = <f_alpha, mix>/|f_alpha|^2; ")
    .. conv(t) .. "; features " .. (t.features or "post") .. ", " .. count(t)
  local nw = namew(t.layers)
  out[#out + 1] = "  " .. pad("layer", nw) .. lpad("dim", 6) .. "  " .. pad("1-cos(A,B)", 20) .. "  alpha  "
    .. pad("1-cos_alpha", 20) .. "  " .. pad("c", 20) .. "  skipped"
  for _, ly in ipairs(t.layers) do
    for k, at in ipairs(ly.at) do
      local first = k == 1
      out[#out + 1] = string.format("  %s%s  %s  %5.3f  %s  %s  %d",
        pad(first and ly.name or "", nw), lpad(first and ly.dim or "", 6),
        pad(first and pm(ly.ab.mean, ly.ab.std) or "", 20), at.alpha,
        pad(pm(at.mean, at.std), 20), pad(pm(at.coef_mean, at.coef_std), 20), at.skipped or 0)
    end
    if ly.skipped and ly.skipped > 0 then
      out[#out + 1] = string.format("  %s  (baseline: %d samples skipped)", pad("", nw), ly.skipped)
    end
  end
  return table.concat(out, "\n")
end

function show.weak_additivity(t)
  local out = {}
  out[#out + 1] = "weak additivity: 1 - cos(relu(alpha Ht_A + (1-alpha) Ht_B), alpha relu(Ht_A) + (1-alpha) relu(Ht_B)); "
    .. CONV .. ", " .. count(t)
  local nw = namew(t.layers)
  local h = "  " .. pad("layer", nw) .. lpad("dim", 6)
  for _, a in ipairs(t.alphas) do h = h .. "  " .. pad("alpha=" .. string.format("%.3f", a), 20) end
  out[#out + 1] = h
  for _, ly in ipairs(t.layers) do
    local row = "  " .. pad(ly.name, nw) .. lpad(ly.dim, 6)
    for _, at in ipairs(ly.at) do row = row .. "  " .. pad(pm(at.mean, at.std), 20) end
    out[#out + 1] = row
  end
  return table.concat(out, "\n")
end

function show.commutativity(t)
  local out = {}
  out[#out + 1] = "commutativity: Dist(X,Y) = |X-Y|^2/(|X| |Y|), Dist_com = Dist(W_A H_A + W_B H_B, W_A H_B + W_B H_A), "
    .. "H = the layer's input, biases excluded; " .. count(t)
  -- columns as wide as the longest module / input name (conv nets: "layer1.0.conv1")
  local wn, wi = 6, 6
  for _, c in ipairs(t.layers) do
    wn = math.max(wn, #tostring(c.name or ""))
    wi = math.max(wi, #tostring(c.input or ""))
  end
  out[#out + 1] = "  layer  " .. pad("weight", wn) .. "  " .. pad("input", wi) .. "    Dist_com      Dist_W      Dist_H"
  for _, c in ipairs(t.layers) do
    out[#out + 1] = string.format("  %5d  %s  %s  %10s  %10s  %10s", c.layer, pad(c.name or "", wn), pad(c.input or "", wi),
      fmt(c.dist_com), fmt(c.dist_w), fmt(c.dist_h))
  end
  return table.concat(out, "\n")
end

function show.report(t)
  local out = { "report: " .. CONV .. ", " .. count(t) }
  for _, k in ipairs { "interpolate", "llfc", "weak_additivity", "commutativity" } do
    if t[k] then out[#out + 1] = show[k](t[k]) end
  end
  return table.concat(out, "\n\n")
end


-- a grid (rows z[j][i] at (x[i], y[j])) as characters, the top row the largest y;
-- marks = {{x =, y =, label =}, ...} drawn at their nearest cells
local RAMP = " .:-=+*#%@"
local function char_map(x, y, z, marks)
  local lo, hi = math.huge, -math.huge
  for _, row in ipairs(z) do
    for _, v in ipairs(row) do
      if v == v then lo = math.min(lo, v); hi = math.max(hi, v) end
    end
  end
  local function nearest(t, v)
    local best, bi = math.huge, 1
    for i, u in ipairs(t) do if math.abs(u - v) < best then best, bi = math.abs(u - v), i end end
    return bi
  end
  local at = {}
  for _, m in ipairs(marks or {}) do at[nearest(y, m.y) .. ":" .. nearest(x, m.x)] = tostring(m.label):upper() end
  local out = {}
  for j = #y, 1, -1 do
    local cells = {}
    for i = 1, #x do
      local v, ch = z[j][i], " "
      if v == v then
        local k = hi > lo and 1 + math.floor((v - lo) / (hi - lo) * (#RAMP - 1) + 0.5) or 1
        ch = RAMP:sub(k, k)
      end
      local m = at[j .. ":" .. i]
      cells[i] = m and (m .. m) or (ch .. ch)
    end
    out[#out + 1] = string.format("  %8s |%s|", fmt(y[j]), table.concat(cells))
  end
  out[#out + 1] = string.format("  %8s  x from %s to %s; '%s' = %s .. '%s' = %s, blank = not computed", "",
    fmt(x[1]), fmt(x[#x]), RAMP:sub(1, 1), fmt(lo), RAMP:sub(-1), fmt(hi))
  return out
end

function show.plane(t)
  local out = {}
  local done = t.done and t.points_total and t.done < t.points_total
  out[#out + 1] = string.format("plane through a, b, c: theta(x, y) = a + x u + y v, u along b - a, v towards c "
    .. "(|b-a| = %s, |c-a| = %s, |c-b| = %s); %dx%d grid, n = %d%s", fmt(t.dist.ab), fmt(t.dist.ac),
    fmt(t.dist.bc), t.grid, t.grid, t.n, done and string.format(" (partial: %d of %d points)", t.done, t.points_total) or "")
  for _, p in ipairs(t.points) do
    out[#out + 1] = string.format("  %s at (%s, %s): err %s, loss %s", p.label, fmt(p.x), fmt(p.y), fmt(p.err), fmt(p.loss))
  end
  local lo, hi, at = math.huge, -math.huge, nil
  for j, row in ipairs(t.err) do
    for i, v in ipairs(row) do
      if v == v and v < lo then lo = v end
      if v == v and v > hi then hi, at = v, { t.x[i], t.y[j] } end
    end
  end
  if at then
    out[#out + 1] = string.format("  grid err from %s to %s (highest at (%s, %s))", fmt(lo), fmt(hi), fmt(at[1]), fmt(at[2]))
  end
  out[#out + 1] = "  test error:"
  for _, line in ipairs(char_map(t.x, t.y, t.err, t.points)) do out[#out + 1] = line end
  if t.llfc then
    local row = {}
    for _, l in ipairs(t.llfc) do row[#row + 1] = l.name end
    out[#out + 1] = "  LLFC (mean 1 - cos against w_a f(a) + w_b f(b) + w_c f(c)) per layer: " .. table.concat(row, ", ")
  end
  return table.concat(out, "\n")
end

function show.merge(t)
  local out = {}
  out[#out + 1] = string.format("merge against its %d members: err %s (members' mean %s), gap %s; loss %s (members' mean %s), "
    .. "loss gap %s; %s", #t.members, fmt(t.err), fmt(t.members_err), fmt(t.gap), fmt(t.loss), fmt(t.members_loss),
    fmt(t.loss_gap), count(t))
  local errs = {}
  for i, m in ipairs(t.members) do errs[i] = string.format("%d: %s (w %s)", i, fmt(m.err), fmt(t.weights[i])) end
  out[#out + 1] = "  members' err: " .. table.concat(errs, ", ")
  out[#out + 1] = "  N-model LLFC: 1 - cos(f(merge), sum_k w_k f(member_k)); c = <f, mix>/|f|^2"
  local nw = namew(t.layers)
  out[#out + 1] = "  " .. pad("layer", nw) .. lpad("dim", 7) .. "  " .. pad("1 - cos", 20) .. "  " .. pad("c", 20) .. "  skipped"
  for _, l in ipairs(t.layers or {}) do
    out[#out + 1] = string.format("  %s%s  %s  %s  %d", pad(l.name, nw), lpad(l.dim, 7), pad(pm(l.mean, l.std), 20),
      pad(pm(l.coef_mean, l.coef_std), 20), l.skipped or 0)
  end
  return table.concat(out, "\n")
end

function show.stitch(t)
  local out = {}
  out[#out + 1] = string.format("stitching: A's layers up to the cut, a linear stitching layer (identity%s), then B's; "
    .. "err_a = %s, err_b = %s, %s", t.trained and " and trained" or "", fmt(t.err_a), fmt(t.err_b), count(t))
  local nw = namew(t.layers)
  out[#out + 1] = "  cut  " .. pad("after", nw) .. "        err       loss" .. (t.trained and "  err_trained  loss_trained" or "")
  for _, l in ipairs(t.layers or {}) do
    if l.note then
      out[#out + 1] = string.format("  %3s  %s  (%s)", tostring(l.layer), pad(l.name or "", nw), l.note)
    else
      out[#out + 1] = string.format("  %3d  %s  %9s  %9s%s", l.layer, pad(l.name or "", nw), fmt(l.err), fmt(l.loss),
        t.trained and string.format("  %11s  %12s", fmt(l.err_trained), fmt(l.loss_trained)) or "")
    end
  end
  return table.concat(out, "\n")
end

function show.principal_angles(t)
  local out = {}
  out[#out + 1] = string.format("principal angles between the top-%d subspaces of A's and B's features in sample space "
    .. "(the spans of their top left singular vectors over n = %d samples; 0 = the same subspace, 90 = orthogonal); "
    .. "features %s", t.k, t.n, t.features or "post")
  local nw = namew(t.layers)
  out[#out + 1] = "  " .. pad("layer", nw) .. lpad("dim", 7) .. lpad("k", 4) .. "  mean cos  min cos  angles (degrees)"
  for _, l in ipairs(t.layers or {}) do
    local deg = {}
    for i, a in ipairs(l.angles or {}) do
      if i > 8 then deg[#deg + 1] = "..."; break end
      deg[#deg + 1] = string.format("%.1f", math.deg(a))
    end
    out[#out + 1] = string.format("  %s%s%s  %8s  %7s  %s", pad(l.name, nw), lpad(l.dim, 7), lpad(l.k, 4),
      fmt(l.mean_cos), fmt(l.min_cos), table.concat(deg, " "))
  end
  return table.concat(out, "\n")
end

M.meta = {}
for kind, f in pairs(show) do
  -- a result edited into the wrong shape still prints (print must not raise)
  local function safe(t)
    local ok, s = pcall(f, t)
    return ok and s or string.format("%s result (malformed: %s)", kind, tostring(s):gsub("^%[llfc%] ", ""))
  end
  -- kind: the view reads a result's kind from its metatable
  M.meta[kind] = { __name = "llfc.result", __tostring = safe, kind = kind }
end
-- results the view draws that print as plain tables
for _, kind in ipairs { "heatmap", "series" } do
  M.meta[kind] = { __name = "llfc.result", kind = kind }
end

-- Give t (and the sub-results of a report) the metatable of its kind.
function M.attach(t)
  local mt = M.meta[t.kind]
  if mt and getmetatable(t) == nil then setmetatable(t, mt) end
  if t.kind == "report" then
    for _, k in ipairs { "interpolate", "llfc", "weak_additivity", "commutativity" } do
      if type(t[k]) == "table" then M.attach(t[k]) end
    end
  end
  return t
end

M.tostring = function(t) local f = show[t.kind]; return f and f(t) or tostring(t) end

return M
