-- llfc.figures: the figure of each result kind, described once.  A figure is
-- a list of panels {name =, charts = {spec, ...}}; a chart spec is the table
-- the plot core draws (see src/lua/l_view.c) into the terminal canvas and
-- through cairo into SVG, PDF and PNG, so the terminal and the exported file
-- show the same thing.  The kind of a result comes from the result itself:
-- its metatable (set where the result is made) or its `kind` field.
local M = {}

local KINDS = { interpolate = true, llfc = true, weak_additivity = true, commutativity = true,
                report = true, train = true, heatmap = true, series = true }
-- several networks and paths beyond the line (metrics.merge, metrics.plane)
KINDS.merge, KINDS.plane, KINDS.stitch, KINDS.principal_angles = true, true, true, true
M.KINDS = KINDS

-- kind, is_list: the kind of a result, or of a list of results of one kind.
function M.kindof(r)
  if type(r) ~= "table" then return nil end
  local mt = getmetatable(r)
  local k = type(mt) == "table" and rawget(mt, "kind") or rawget(r, "kind")
  if type(k) == "string" and KINDS[k] then return k, false end
  if k == nil and type(r[1]) == "table" then
    local k1 = M.kindof(r[1])
    if not k1 or k1 == "report" then return nil end
    for i = 2, #r do
      local ki, li = M.kindof(r[i])
      if ki ~= k1 or li then return nil end
    end
    return k1, true
  end
  return nil
end

local fmt3 = function(x)
  if type(x) ~= "number" then return "-" end
  if x ~= x then return "nan" end
  return (string.format("%.3g", x):gsub("e%+?(%-?)0*(%d)", "e%1%2"))
end
M.fmt3 = fmt3

local function num(x) return type(x) == "number" and x or 0 / 0 end

local function list(t, f)
  local out = {}
  for i, v in ipairs(type(t) == "table" and t or {}) do out[i] = f(v, i) end
  return out
end

local function alpha_name(a, ascii) return (ascii and "a=" or "α=") .. fmt3(a) end
local PM = "±"

-- What the error bars of a result are: SD over samples for one pair's
-- per-sample metric, or the spread over runs of a summary (view.summary).
local function errlabel(r)
  local o = type(r) == "table" and r.over
  if type(o) == "table" then
    if o.spread == "range" then return string.format("min-max over %d %s", o.n or 0, o.what or "runs") end
    return string.format("mean %s SD over %d %s", PM, o.n or 0, o.what or "runs")
  end
  return PM .. "1 SD over samples"
end

local function bars_err(y, sd)
  local lo, hi = {}, {}
  for i = 1, #y do
    local s = sd[i]
    if type(s) == "number" and s == s then lo[i], hi[i] = y[i] - s, y[i] + s
    else lo[i], hi[i] = y[i], y[i] end
  end
  return lo, hi
end

-- ---- interpolation -------------------------------------------------------------------
-- endpoints of one quantity: alpha = 0 is B, alpha = 1 is A
local function ends(r, field, fa, fb)
  local ea, eb = r[fa], r[fb]
  local ys = r[field] or {}
  for i, a in ipairs(r.alphas or {}) do
    if a == 0 and type(ys[i]) == "number" and type(eb) ~= "number" then eb = ys[i] end
    if a == 1 and type(ys[i]) == "number" and type(ea) ~= "number" then ea = ys[i] end
  end
  return ea, eb
end

-- The y-range floor: the axis spans at least the larger endpoint value, so a
-- barrier of one test sample (1/n) is drawn small, not as a cliff.
local function floor_of(ea, eb)
  local m = math.max(type(ea) == "number" and math.abs(ea) or 0, type(eb) == "number" and math.abs(eb) or 0)
  return m > 0 and m or nil
end

local QUANT = { err = { "err", "err_a", "err_b", "err", "err_alpha", "error" },
                loss = { "loss", "loss_a", "loss_b", "loss", "loss_alpha", "loss" } }

local function interp_chart(rs, labels, field, st)
  local q = QUANT[field]
  local spec = { type = "lines", title = "interpolation: " .. q[1] .. " vs alpha",
                 xlabel = "α  (θ = αA + (1-α)B: 1 = A, 0 = B)", ylabel = q[6],
                 series = {}, markers = {}, notes = {}, log = st.log }
  if st.ascii then spec.xlabel = "alpha  (1 = A, 0 = B)" end
  -- along a curve (nn.curve) alpha is the curve's t
  local curve = false
  for _, r in ipairs(rs) do curve = curve or r.path == "curve" end
  if curve then spec.xlabel = st.ascii and "alpha, or t on a curve  (1 = A, 0 = B)" or "α, or t on a curve  (1 = A, 0 = B)" end
  local span = 0
  local spread = false
  for i, r in ipairs(rs) do
    local alphas, ys = r.alphas or {}, r[field] or {}
    local ea, eb = ends(r, field, q[2], q[3])
    local name = labels[i] or (#rs > 1 and tostring(i) or q[6])
    local b = type(r.barrier) == "table" and r.barrier or {}
    if #rs > 1 and type(b[q[4]]) == "number" then name = name .. " (barrier " .. fmt3(b[q[4]]) .. ")" end
    local s = { name = name, x = alphas, y = ys, color = i }
    local lo, hi = r[field .. "_lo"], r[field .. "_hi"]
    if type(lo) == "table" and type(hi) == "table" then s.elo, s.ehi, spread = lo, hi, true end
    if type(ea) == "number" and type(eb) == "number" then
      -- the chord under the curve
      spec.series[#spec.series + 1] = { name = i == 1 and #rs == 1 and "linear (chord)" or "",
                                        x = { 0, 1 }, y = { eb, ea }, dashed = true, color = #rs == 1 and 2 or i }
      if i == 1 then
        spec.markers[#spec.markers + 1] = { x = 0, y = eb, label = "B" }
        spec.markers[#spec.markers + 1] = { x = 1, y = ea, label = "A" }
      end
      if type(b[q[4]]) == "number" and type(b[q[5]]) == "number" and (#rs == 1 or b[q[4]] > 0) then
        local x = b[q[5]]
        local base = x * ea + (1 - x) * eb
        spec.notes[#spec.notes + 1] = { x = x, y0 = base, y1 = base + b[q[4]],
                                        label = #rs == 1 and ("barrier " .. fmt3(b[q[4]])) or "" }
      end
      span = math.max(span, floor_of(ea, eb) or 0)
    end
    spec.series[#spec.series + 1] = s
  end
  if span > 0 then spec.yspan = span end
  if spread then spec.errlabel = errlabel(rs[1]) end
  return spec
end

local function interp_panels(rs, labels, st)
  return { { name = "interpolation", charts = { interp_chart(rs, labels, "err", st), interp_chart(rs, labels, "loss", st) } } }
end

-- ---- per-layer results ------------------------------------------------------------------
local function layer_names(layers, field)
  return list(layers, function(l, i)
    if field == "commutativity" then
      -- conv nets: the weight's module path ("layer1.0.conv1"); MLPs: "2 (h1)"
      if type(l.name) == "string" and l.name:find("%D") then return l.name end
      return tostring(l.layer or i) .. (l.input and (" (" .. tostring(l.input) .. ")") or "")
    end
    return tostring(l.name or i)
  end)
end

-- alphas of a per-layer result: r.alphas, else those of the first layer
local function result_alphas(r)
  if type(r.alphas) == "table" and #r.alphas > 0 then return r.alphas end
  local l = r.layers and r.layers[1]
  return list(l and l.at, function(e) return e.alpha end)
end

local function at_entry(layer, alpha, k)
  for _, e in ipairs(layer.at or {}) do
    if e.alpha == alpha then return e end
  end
  return (layer.at or {})[k] or {}
end

-- the alpha nearest 0.5 (the overlays compare results there)
local function mid_alpha(r)
  local best
  for _, a in ipairs(result_alphas(r)) do
    if not best or math.abs(a - 0.5) < math.abs(best - 0.5) then best = a end
  end
  return best
end

-- layers chosen by opts.layers (names or 1-based numbers), in the result's order
local function pick_layers(layers, want)
  if type(want) ~= "table" then return layers end
  local out = {}
  for i, l in ipairs(layers) do
    for _, w in ipairs(want) do
      if w == i or w == l.name then out[#out + 1] = l; break end
    end
  end
  return out
end

local function alpha_bars(r, title, ylabel, field, sdfield, st, with_ab)
  local layers = pick_layers(r.layers or {}, st.layers)
  local spec = { type = "bars", title = title, ylabel = ylabel, log = st.log, xlabel = "layer",
                 groups = layer_names(layers), series = {}, errlabel = errlabel(r) }
  -- error bars: a summary's own ends (min-max over runs) where it has them, else +- the SD
  local function bars(entries)
    local y = list(entries, function(e) return num(e[field == "ab" and "mean" or field]) end)
    local sd = list(entries, function(e) return num(e[sdfield]) end)
    local lo, hi = bars_err(y, sd)
    for i, e in ipairs(entries) do
      local f = field == "ab" and "mean" or field
      if type(e[f .. "_lo"]) == "number" then lo[i], hi[i] = e[f .. "_lo"], e[f .. "_hi"] end
    end
    return y, lo, hi
  end
  for k, a in ipairs(result_alphas(r)) do
    local y, lo, hi = bars(list(layers, function(l) return at_entry(l, a, k) end))
    spec.series[#spec.series + 1] = { name = alpha_name(a, st.ascii), y = y, elo = lo, ehi = hi }
  end
  if with_ab then
    local save = field
    field = "ab"
    local sdf = sdfield
    sdfield = "std"
    local y, lo, hi = bars(list(layers, function(l) return type(l.ab) == "table" and l.ab or {} end))
    field, sdfield = save, sdf
    spec.series[#spec.series + 1] = { name = "A vs B", y = y, elo = lo, ehi = hi }
  end
  return spec
end

-- bars of several results side by side per layer, at their middle alpha
local function overlay_bars(rs, labels, title, ylabel, get, st)
  local layers = pick_layers(rs[1].layers or {}, st.layers)
  local spec = { type = "bars", title = title, ylabel = ylabel, log = st.log, xlabel = "layer",
                 groups = layer_names(layers), series = {}, errlabel = errlabel(rs[1]) }
  for i, r in ipairs(rs) do
    local byname = {}
    for j, l in ipairs(r.layers or {}) do byname[l.name or j] = l end
    local y, sd, elo, ehi = {}, {}, {}, {}
    for j, l in ipairs(layers) do
      local m, s, a, b = get(r, byname[l.name or j] or {})
      y[j], sd[j], elo[j], ehi[j] = num(m), num(s), a, b
    end
    local lo, hi = bars_err(y, sd)
    for j = 1, #y do
      if type(elo[j]) == "number" and type(ehi[j]) == "number" then lo[j], hi[j] = elo[j], ehi[j] end
    end
    spec.series[i] = { name = labels[i] or tostring(i), y = y, elo = lo, ehi = hi, color = i }
  end
  return spec
end

-- ---- coefficient histograms ---------------------------------------------------------------
-- The histogram of one (layer, alpha): from the samples when the result kept
-- them (a robust range and Freedman-Diaconis bins, src/plot/chart.c), else
-- the metric pass's bins cropped to where the samples are.
local function coef_counts(e, C)
  if type(e.coef_samples) == "table" and #e.coef_samples > 0 and C and C.hist then
    local h = C.hist(e.coef_samples)
    if h then return h.edges, h.counts, h.below, h.above, nil end
  end
  local h = e.coef_hist
  if type(h) ~= "table" or type(h.edges) ~= "table" or type(h.counts) ~= "table" or #h.edges ~= #h.counts + 1 then
    return nil
  end
  local counts, n = h.counts, #h.counts
  local below, above = num(h.below), num(h.above)
  if below ~= below then below = 0 end
  if above ~= above then above = 0 end
  local total = below + above
  for i = 1, n do total = total + num(counts[i]) end
  -- crop to the bins between the 0.5% and 99.5% points of the counts, one bin of margin
  local first, last, cum = nil, nil, below
  for i = 1, n do
    local c = num(counts[i])
    if not first and cum + c > 0.005 * total then first = i end
    cum = cum + c
    if cum >= 0.995 * total and not last then last = i end
  end
  first, last = math.max((first or 1) - 1, 1), math.min((last or n) + 1, n)
  local edges, cs = {}, {}
  for i = first, last do cs[#cs + 1] = counts[i]; edges[#edges + 1] = h.edges[i] end
  edges[#edges + 1] = h.edges[last + 1]
  for i = 1, first - 1 do below = below + num(counts[i]) end
  for i = last + 1, n do above = above + num(counts[i]) end
  local occupied = 0
  for i = 1, #cs do if num(cs[i]) > 0 then occupied = occupied + 1 end end
  local coarse = occupied <= 2 and total > 0 and
    string.format("all in %d bin%s of width %s: binned on the metric pass's fixed range", occupied,
                  occupied == 1 and "" or "s", fmt3(h.edges[2] - h.edges[1])) or nil
  return edges, cs, below, above, coarse
end

local function outside_caption(below, above, coarse)
  local parts = {}
  if coarse then parts[#parts + 1] = coarse end
  if (below or 0) > 0 or (above or 0) > 0 then
    parts[#parts + 1] = string.format("%d below, %d above the range shown", math.floor(below or 0), math.floor(above or 0))
  end
  return table.concat(parts, "; ")
end

-- terminal: the histograms of one layer, one chart per alpha
local function coef_hist_layer(r, st, C)
  local layers = r.layers or {}
  local li = math.min(math.max(st.layer or 1, 1), math.max(#layers, 1))
  local l = layers[li]
  local charts = {}
  if not l then return { { type = "hist", title = "scale coefficient: no layers yet", series = {} } } end
  for k, e in ipairs(l.at or {}) do
    local spec = { type = "hist", xlabel = "c", ylabel = "samples", log = st.log,
                   title = string.format("layer %s: coefficient c at %s (mean %s, std %s)", tostring(l.name or li),
                                         alpha_name(e.alpha, st.ascii), fmt3(e.coef_mean), fmt3(e.coef_std)),
                   series = {} }
    local edges, counts, below, above, coarse = coef_counts(e, C)
    if edges then
      spec.series[1] = { name = "", x = edges, y = counts, color = k }
      spec.caption = outside_caption(below, above, coarse)
    end
    charts[#charts + 1] = spec
  end
  if #charts == 0 then charts[1] = { type = "hist", title = "layer " .. tostring(l.name or li) .. ": no coefficients", series = {} } end
  return charts
end

-- the samples of every alpha of a layer pooled: one set of bins for all
local function pooled_bins(l, C)
  local pool = {}
  for _, e in ipairs(l.at or {}) do
    if type(e.coef_samples) ~= "table" then return nil end
    for _, v in ipairs(e.coef_samples) do pool[#pool + 1] = v end
  end
  local h = #pool > 0 and C and C.hist(pool)
  if not h then return nil end
  return h.edges[1], h.edges[#h.edges], #h.counts
end

-- exports: every layer (small multiples), the alphas overlaid in each
local function coef_hist_all(r, st, C)
  local charts = {}
  for li, l in ipairs(pick_layers(r.layers or {}, st.layers)) do
    local spec = { type = "hist", xlabel = "c", ylabel = "samples", log = st.log, series = {},
                   title = "layer " .. tostring(l.name or li) .. ": scale coefficient c" }
    local b, a, notes = 0, 0, {}
    local lo, hi, nb = pooled_bins(l, C)
    for k, e in ipairs(l.at or {}) do
      local edges, counts, below, above, coarse
      if lo then
        local h = C.hist(e.coef_samples, lo, hi, nb)
        edges, counts, below, above = h.edges, h.counts, h.below, h.above
      else
        edges, counts, below, above, coarse = coef_counts(e, C)
      end
      if edges then
        spec.series[#spec.series + 1] = { name = alpha_name(e.alpha, st.ascii), x = edges, y = counts, color = k }
        b, a = b + (below or 0), a + (above or 0)
        if coarse then notes[1] = coarse end
      end
    end
    spec.caption = outside_caption(b, a, notes[1])
    charts[#charts + 1] = spec
  end
  if #charts == 0 then charts[1] = { type = "hist", title = "scale coefficient: no layers", series = {} } end
  return charts
end

-- ---- commutativity ------------------------------------------------------------------------------
local function comm_bars(r, st)
  local layers = pick_layers(r.layers or {}, st.layers)
  local spec = { type = "bars", title = "commutativity per weight layer", ylabel = "Dist", log = st.log,
                 xlabel = "weight layer (input)", groups = layer_names(layers, "commutativity"), series = {} }
  for _, f in ipairs { { "dist_com", "Dist_com" }, { "dist_w", "Dist_W" }, { "dist_h", "Dist_H" } } do
    local s = { name = f[2], y = list(layers, function(l) return num(l[f[1]]) end) }
    if type(layers[1]) == "table" and type(layers[1][f[1] .. "_lo"]) == "number" then
      s.elo = list(layers, function(l) return num(l[f[1] .. "_lo"]) end)
      s.ehi = list(layers, function(l) return num(l[f[1] .. "_hi"]) end)
      spec.errlabel = errlabel(r)
    end
    spec.series[#spec.series + 1] = s
  end
  return spec
end

local function comm_overlay(rs, labels, st)
  local charts = {}
  for _, f in ipairs { { "dist_com", "Dist_com" }, { "dist_w", "Dist_W" }, { "dist_h", "Dist_H" } } do
    local spec = overlay_bars(rs, labels, "commutativity: " .. f[2] .. " per weight layer", f[2], function(_, l)
      return l[f[1]], nil, l[f[1] .. "_lo"], l[f[1] .. "_hi"]
    end, st)
    spec.groups = layer_names(pick_layers(rs[1].layers or {}, st.layers), "commutativity")
    spec.xlabel = "weight layer (input)"
    if not (type(rs[1].layers) == "table" and rs[1].layers[1] and rs[1].layers[1][f[1] .. "_lo"]) then spec.errlabel = nil end
    charts[#charts + 1] = spec
  end
  return charts
end

-- ---- training ------------------------------------------------------------------------------------
-- Exponential moving average with the start debiased (as TensorBoard): weight w
-- in [0, 1); w = nil chooses a window of about n/25 points.
local function ema(y, w)
  local n = #y
  if not w then
    local win = math.max(n / 25, 1)
    w = 1 - 1 / win
  end
  if w <= 0 then return y end
  local out, s, norm = {}, 0, 0
  for i = 1, n do
    local v = y[i]
    if type(v) == "number" and v == v then
      s = w * s + (1 - w) * v
      norm = w * norm + (1 - w)
      out[i] = s / norm
    else out[i] = 0 / 0 end
  end
  return out
end
M.ema = ema

local function histories(r, is_list)
  if is_list then return r end
  return { r }
end

-- epoch boundaries: the first step of each epoch after the first
local function epoch_marks(h)
  local marks, ep, st = {}, h.epoch, h.step
  if type(ep) ~= "table" or type(st) ~= "table" then return marks end
  local count = 0
  for i = 2, #ep do
    if ep[i] ~= ep[i - 1] then count = count + 1 end
  end
  local every = math.max(1, math.ceil(count / 12))
  local k = 0
  for i = 2, #ep do
    if ep[i] ~= ep[i - 1] then
      k = k + 1
      if k % every == 0 then marks[#marks + 1] = { x = st[i], label = count <= 12 and ("ep " .. tostring(ep[i])) or "" } end
    end
  end
  return marks
end

local function train_panels(r, is_list, labels, st)
  local hs = histories(r, is_list)
  local loss = { type = "lines", title = "training loss", xlabel = "step", ylabel = "loss", series = {}, log = st.log }
  local acc = { type = "lines", title = "training accuracy", xlabel = "step", ylabel = "accuracy", series = {}, log = st.log }
  local names = { "a", "b", "c", "d" }
  local smooth = st.smooth
  for i, h in ipairs(hs) do
    local x = h.step or h.epoch or {}
    if not h.step and h.epoch then loss.xlabel, acc.xlabel = "epoch", "epoch" end
    local name = labels[i] or (#hs > 1 and ("run " .. (h.name or h.phase or names[i] or i)) or "")
    for _, c in ipairs { { loss, h.loss }, { acc, h.acc } } do
      local chart, y = c[1], c[2]
      if type(y) == "table" and #y > 0 then
        local s = smooth ~= false and ema(y, type(smooth) == "number" and smooth or nil)
        if s and smooth ~= 0 and #y > 5 then
          chart.series[#chart.series + 1] = { name = "", x = x, y = y, color = i, faint = true }
          chart.series[#chart.series + 1] = { name = name ~= "" and name or "smoothed (EMA)", x = x, y = s, color = i }
        else
          chart.series[#chart.series + 1] = { name = name, x = x, y = y, color = i }
        end
      end
    end
    if i == 1 and h.step then
      local m = epoch_marks(h)
      loss.vlines, acc.vlines = m, m
    end
  end
  local charts = { loss }
  if #acc.series > 0 then charts[2] = acc end
  return { { name = "training", charts = charts } }
end

-- ---- heat maps and generic series ------------------------------------------------------------------
local function heat_panels(r, st)
  local spec = { type = "heat", title = r.title or "heat map", xlabel = r.xlabel or "x", ylabel = r.ylabel or "y",
                 heat = { x = r.x, y = r.y, z = r.z, zlabel = r.zlabel or "", log = r.log or st.log,
                          contour = st.contour or r.contour },
                 markers = list(r.points, function(p) return { x = p.x or p[1], y = p.y or p[2], label = p.label or p[3] or "" } end) }
  return { { name = "heat map", charts = { spec } } }
end

local function series_panels(rs, labels, st)
  local charts = {}
  for i, r in ipairs(rs) do
    local spec = { type = "lines", title = r.title or "", xlabel = r.xlabel or "", ylabel = r.ylabel or "",
                   log = r.log or st.log, series = {}, groups = r.groups, errlabel = r.errlabel, yspan = r.yspan }
    for k, s in ipairs(r.series or {}) do
      spec.series[k] = { name = s.name or labels[k] or tostring(k), x = s.x or r.x, y = s.y, elo = s.elo, ehi = s.ehi,
                         dashed = s.dashed, color = s.color }
      if s.sd and not s.elo then spec.series[k].elo, spec.series[k].ehi = bars_err(s.y, s.sd) end
    end
    charts[i] = spec
  end
  return { { name = "series", charts = charts } }
end


-- ---- several networks: the plane through three, a merge against its members ------------------------
local function plane_panels(r, st)
  local marks = list(r.points, function(p) return { x = p.x, y = p.y, label = p.label } end)
  local function heat(title, z, zlabel)
    return { type = "heat", title = title, xlabel = "x (along b - a)", ylabel = "y (towards c)",
             heat = { x = r.x, y = r.y, z = z, zlabel = zlabel, log = st.log,
                      -- the error map gets the contour level (the view's option, else the plane's)
                      contour = zlabel == "err" and (st.contour or r.contour) or nil },
             markers = marks }
  end
  local p = { { name = "error", charts = { heat("plane through a, b, c: error", r.err, "err") } },
              { name = "loss", charts = { heat("plane through a, b, c: loss", r.loss, "loss") } } }
  if type(r.llfc) == "table" and #r.llfc > 0 then
    local charts = {}
    for i, l in ipairs(r.llfc) do
      if st.export or i == math.min(math.max(st.layer or 1, 1), #r.llfc) then
        charts[#charts + 1] = heat("LLFC at " .. tostring(l.name) .. ": 1 - cos(f, w_a f(a) + w_b f(b) + w_c f(c))",
                                   l.mean, "1 - cos")
      end
    end
    p[3] = { name = "llfc", layered = true, charts = charts }
  end
  return p
end

local function merge_panels(r, st)
  local layers = pick_layers(r.layers or {}, st.layers)
  local bars = { type = "bars", title = "N-model LLFC: E[1 - cos(f(merge), " .. "sum_k w_k f(member_k))] per layer",
                 ylabel = "1 - cos", log = st.log, errlabel = errlabel(r), groups = layer_names(layers),
                 series = { { name = "merge", y = list(layers, function(l) return num(l.mean) end) } } }
  bars.series[1].elo, bars.series[1].ehi = bars_err(bars.series[1].y, list(layers, function(l) return num(l.std) end))
  local names, errs = {}, {}
  for i, m in ipairs(r.members or {}) do names[i], errs[i] = tostring(i), num(m.err) end
  names[#names + 1], errs[#errs + 1] = "merge", num(r.err)
  local err = { type = "bars", title = string.format("error: members and their merge (gap %s)", fmt3(r.gap)),
                ylabel = "err", groups = names, series = { { name = "err", y = errs } } }
  return { { name = "merge", charts = { err, bars } } }
end


-- stitching: the error at each cut, A's and B's errors as the references
local function stitch_panels(r, st)
  local names, err, tr, ea, eb = {}, {}, {}, {}, {}
  for i, l in ipairs(r.layers or {}) do
    names[i], err[i], tr[i], ea[i], eb[i] = tostring(l.name), num(l.err), num(l.err_trained), num(r.err_a), num(r.err_b)
  end
  local chart = { type = "lines", title = "stitching: A up to the cut, then B", xlabel = "cut after (layer of A)",
                  ylabel = "err", groups = names, log = st.log,
                  series = { { name = "identity stitch", y = err } } }
  if r.trained then chart.series[#chart.series + 1] = { name = "trained stitch", y = tr } end
  chart.series[#chart.series + 1] = { name = "A", y = ea, dashed = true }
  chart.series[#chart.series + 1] = { name = "B", y = eb, dashed = true }
  return { { name = "stitching", charts = { chart } } }
end


-- principal angles: per layer, the mean and the smallest cosine
local function angles_panels(r, st)
  local layers = pick_layers(r.layers or {}, st.layers)
  local chart = { type = "bars", title = string.format("principal angles of the top-%s subspaces (sample space)", tostring(r.k)),
                  ylabel = "cos θ", groups = layer_names(layers),
                  series = { { name = "mean cos", y = list(layers, function(l) return num(l.mean_cos) end) },
                             { name = "smallest cos", y = list(layers, function(l) return num(l.min_cos) end) } } }
  return { { name = "principal angles", charts = { chart } } }
end

-- ---- every kind --------------------------------------------------------------------------------------
-- panels(r, kind, is_list, st, C): st = {log, ascii, layer, layers, labels, smooth, export}
function M.panels(r, kind, is_list, st, C)
  local rs = is_list and r or { r }
  local labels = st.labels or {}
  if kind == "interpolate" then return interp_panels(rs, labels, st) end
  if kind == "train" then return train_panels(r, is_list, labels, st) end
  if kind == "heatmap" then return heat_panels(rs[1], st) end
  if kind == "series" then return series_panels(rs, labels, st) end
  if kind == "plane" then return plane_panels(rs[1], st) end
  if kind == "merge" then return merge_panels(rs[1], st) end
  if kind == "stitch" then return stitch_panels(rs[1], st) end
  if kind == "principal_angles" then return angles_panels(rs[1], st) end
  local p = {}
  if kind == "llfc" then
    if #rs > 1 then
      p[1] = { name = "llfc", charts = {
        overlay_bars(rs, labels, "LLFC: E[1 - cos(f_α, α f_A + (1-α) f_B)] per layer at α = " .. fmt3(mid_alpha(rs[1])),
                     "1 - cos", function(x, l) local e = at_entry(l, mid_alpha(x), 1); return e.mean, e.std, e.mean_lo, e.mean_hi end, st),
        overlay_bars(rs, labels, "baseline: E[1 - cos(f_A, f_B)] per layer", "1 - cos",
                     function(_, l) local ab = type(l.ab) == "table" and l.ab or {}; return ab.mean, ab.std, ab.mean_lo, ab.mean_hi end, st) } }
      p[2] = { name = "coefficients", charts = {
        overlay_bars(rs, labels, "scale coefficient: mean c per layer at α = " .. fmt3(mid_alpha(rs[1])), "c",
                     function(x, l) local e = at_entry(l, mid_alpha(x), 1); return e.coef_mean, e.coef_std end,
                     { log = false, layers = st.layers }) } }
    else
      p[1] = { name = "llfc", charts = { alpha_bars(r, "LLFC: E[1 - cos(f_α, α f_A + (1-α) f_B)] per layer",
                                                   "1 - cos", "mean", "std", st, true) } }
      p[2] = { name = "coefficients", charts = { alpha_bars(r, "scale coefficient: mean c per layer", "c", "coef_mean",
                                                            "coef_std", { ascii = st.ascii, layers = st.layers }) } }
      p[3] = { name = "histogram", layered = true,
               charts = st.export and coef_hist_all(r, st, C) or coef_hist_layer(r, st, C) }
    end
  elseif kind == "weak_additivity" then
    if #rs > 1 then
      p[1] = { name = "weak additivity", charts = { overlay_bars(rs, labels,
        "weak additivity: E[1 - cos] per ReLU layer at α = " .. fmt3(mid_alpha(rs[1])), "1 - cos",
        function(x, l) local e = at_entry(l, mid_alpha(x), 1); return e.mean, e.std end, st) } }
    else
      p[1] = { name = "weak additivity", charts = { alpha_bars(r, "weak additivity: E[1 - cos] per ReLU layer",
                                                               "1 - cos", "mean", "std", st, false) } }
    end
  elseif kind == "commutativity" then
    p[1] = { name = "commutativity", charts = #rs > 1 and comm_overlay(rs, labels, st) or { comm_bars(r, st) } }
  elseif kind == "report" then
    for _, sub in ipairs { "interpolate", "llfc", "weak_additivity", "commutativity" } do
      if type(r[sub]) == "table" then
        for _, q in ipairs(M.panels(r[sub], sub, false, st, C)) do p[#p + 1] = q end
      end
    end
  end
  return p
end

-- number of layers a layered panel can step through
function M.nlayers(r, kind)
  if kind == "report" then r = r.llfc end
  if kind == "plane" then return type(r) == "table" and type(r.llfc) == "table" and #r.llfc or 0 end
  return type(r) == "table" and type(r.layers) == "table" and #r.layers or 0
end

-- ---- summaries over runs ------------------------------------------------------------------------------
local function stats(vals, spread)
  local n, s, lo, hi = 0, 0, math.huge, -math.huge
  for _, v in ipairs(vals) do
    if type(v) == "number" and v == v then n = n + 1; s = s + v; lo = math.min(lo, v); hi = math.max(hi, v) end
  end
  if n == 0 then return 0 / 0, 0 / 0, 0 / 0, 0 / 0 end
  local m = s / n
  if spread == "range" then return m, lo, hi, (hi - lo) / 2 end
  local ss = 0
  for _, v in ipairs(vals) do if type(v) == "number" and v == v then ss = ss + (v - m) ^ 2 end end
  local sd = n > 1 and math.sqrt(ss / (n - 1)) or 0
  return m, m - sd, m + sd, sd
end

-- The mean over results of one kind (runs with different seeds), with the
-- spread over runs where a single result has a spread over samples.
function M.summary(rs, kind, spread, what)
  local n = #rs
  local over = { n = n, spread = spread, what = what or "runs" }
  local function col(get) local v = {}; for i, r in ipairs(rs) do v[i] = get(r) end; return v end
  local out = { kind = kind, over = over }
  if kind == "interpolate" then
    out.alphas = rs[1].alphas
    for _, f in ipairs { "err", "loss" } do
      out[f], out[f .. "_lo"], out[f .. "_hi"] = {}, {}, {}
      for i = 1, #(rs[1].alphas or {}) do
        out[f][i], out[f .. "_lo"][i], out[f .. "_hi"][i] = stats(col(function(r) return (r[f] or {})[i] end), spread)
      end
    end
    for _, f in ipairs { "err_a", "err_b", "loss_a", "loss_b" } do out[f] = stats(col(function(r) return r[f] end), spread) end
    out.barrier = {}
    for _, f in ipairs { "err", "loss" } do
      out.barrier[f] = stats(col(function(r) return (r.barrier or {})[f] end), spread)
      out.barrier[f .. "_alpha"] = rs[1].barrier and rs[1].barrier[f .. "_alpha"]
    end
    return out
  end
  if kind == "train" then error("view.summary: training histories overlay as a list; no summary", 3) end
  out.alphas = rs[1].alphas
  out.layers = {}
  for j, l1 in ipairs(rs[1].layers or {}) do
    local function lay(r) return (r.layers or {})[j] or {} end
    local l = { name = l1.name, dim = l1.dim, layer = l1.layer, input = l1.input }
    if kind == "commutativity" then
      for _, f in ipairs { "dist_com", "dist_w", "dist_h" } do
        l[f], l[f .. "_lo"], l[f .. "_hi"] = stats(col(function(r) return lay(r)[f] end), spread)
      end
    else
      if l1.ab then
        local m, lo, hi, sd = stats(col(function(r) return (lay(r).ab or {}).mean end), spread)
        l.ab = { mean = m, std = sd, mean_lo = lo, mean_hi = hi }
      end
      l.at = {}
      for k, e1 in ipairs(l1.at or {}) do
        local function at(r) return (lay(r).at or {})[k] or {} end
        local e = { alpha = e1.alpha }
        for _, f in ipairs { { "mean", "std" }, { "coef_mean", "coef_std" } } do
          local m, lo, hi, sd = stats(col(function(r) return at(r)[f[1]] end), spread)
          e[f[1]], e[f[2]], e[f[1] .. "_lo"], e[f[1] .. "_hi"] = m, sd, lo, hi
        end
        l.at[k] = e
      end
    end
    out.layers[j] = l
  end
  return out
end

return M
