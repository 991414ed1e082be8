-- llfc.results: readable tostring() of the metrics module's result tables.
-- metrics.* return plain tables with kind = "interpolate" | "llfc" |
-- "weak_additivity" | "commutativity" | "report"; attach(t) gives them (and
-- their sub-tables) the metatable of their kind, which names the kind for the
-- view (mt.kind) and prints them.  Every header states the convention.
local util = require "llfc.util"
local fmt = util.fmt

local M = {}
local CONV = "theta_alpha = alpha*A + (1-alpha)*B  (alpha=1 is A, alpha=0 is B)"

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
  out[#out + 1] = "interpolate: " .. CONV .. ", " .. count(t)
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
  out[#out + 1] = "llfc: 1 - cos(f(theta_alpha), alpha f(A) + (1-alpha) f(B)); c = <f_alpha, mix>/|f_alpha|^2; "
    .. CONV .. "; features " .. (t.features or "post") .. ", " .. count(t)
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
