-- llfc.view: plots of result tables, in the terminal (ncurses, live) or as
-- text, SVG and CSV.  Layout and dispatch by result kind live here; drawing is
-- done by the pure C canvas (src/plot/plot.c) through the private primitives
-- package.loaded["llfc.view.c"] (src/lua/l_view.c).
local C = assert(package.loaded["llfc.view.c"], "llfc.view needs the llfc binary or module")
-- files and CSV go through llfc.write and llfc.csv (the llfc table, once it is complete)
local function lib() return package.loaded.llfc end
local M = {}

local fmt3 = function(x)
  if type(x) ~= "number" then return "-" end
  if x ~= x then return "nan" end
  return (string.format("%.3g", x):gsub("e%+?(%-?)0*(%d)", "e%1%2"))
end

local KINDS = { interpolate = true, llfc = true, weak_additivity = true,
                commutativity = true, report = true, train = true }

-- The kind of a result table: its `kind` field, or a guess from its fields;
-- a list of training histories is "train".
local function kindof(r)
  if type(r) ~= "table" then return nil end
  if type(r.kind) == "string" and KINDS[r.kind] then return r.kind end
  if type(r[1]) == "table" and (r[1].kind == "train" or r[1].step) then return "train" end
  if r.alphas and r.err then return "interpolate" end
  if r.interpolate or r.llfc or r.weak_additivity or r.commutativity then return "report" end
  if r.step and r.loss then return "train" end
  if type(r.layers) == "table" and type(r.layers[1]) == "table" then
    local l = r.layers[1]
    if l.dist_com then return "commutativity" end
    if l.ab then return "llfc" end
    if l.at then return "weak_additivity" end
  end
  return nil
end
M.kindof = kindof

local function num(x) return type(x) == "number" and x or 0 / 0 end

local function list(t, f)
  local out = {}
  for i, v in ipairs(t or {}) do out[i] = f(v, i) end
  return out
end

local function alpha_name(a, ascii)
  return (ascii and "a=" or "α=") .. fmt3(a)
end

-- ---- panels: each a {name=, charts = {spec, ...}} ---------------------------
local function interp_charts(r)
  local alphas = r.alphas or {}
  local function one(field, label, ends_a, ends_b, bfield, balpha)
    local ys = r[field] or {}
    local spec = { type = "lines", title = "interpolation: " .. label .. " vs alpha",
                   xlabel = "alpha  (1 = A, 0 = B)", ylabel = label,
                   series = { { name = label, x = alphas, y = ys } }, markers = {}, notes = {} }
    -- endpoints: alpha = 0 is B, alpha = 1 is A
    local eb, ea = ends_b, ends_a
    for i, a in ipairs(alphas) do
      if a == 0 and type(ys[i]) == "number" then eb = eb or ys[i] end
      if a == 1 and type(ys[i]) == "number" then ea = ea or ys[i] end
    end
    if type(eb) == "number" then spec.markers[#spec.markers + 1] = { x = 0, y = eb, label = "B" } end
    if type(ea) == "number" then spec.markers[#spec.markers + 1] = { x = 1, y = ea, label = "A" } end
    if type(ea) == "number" and type(eb) == "number" then
      table.insert(spec.series, { name = "linear", x = { 0, 1 }, y = { eb, ea }, dashed = true })
      local b = r.barrier
      if type(b) == "table" and type(b[bfield]) == "number" and type(b[balpha]) == "number" then
        local x = b[balpha]
        local base = x * ea + (1 - x) * eb
        spec.notes[1] = { x = x, y0 = base, y1 = base + b[bfield], label = "barrier " .. fmt3(b[bfield]) }
      end
    end
    return spec
  end
  return { one("err", "err", r.err_a, r.err_b, "err", "err_alpha"),
           one("loss", "loss", r.loss_a, r.loss_b, "loss", "loss_alpha") }
end

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

local function at_value(layer, alpha, k, field)
  for _, e in ipairs(layer.at or {}) do
    if e.alpha == alpha then return num(e[field]) end
  end
  local e = (layer.at or {})[k]
  return e and num(e[field]) or 0 / 0
end

local function alpha_bars(r, title, ylabel, field, st, with_ab)
  local layers = r.layers or {}
  local spec = { type = "bars", title = title, ylabel = ylabel, log = st.log,
                 groups = layer_names(layers), series = {} }
  for k, a in ipairs(result_alphas(r)) do
    spec.series[#spec.series + 1] = { name = alpha_name(a, st.ascii),
      y = list(layers, function(l) return at_value(l, a, k, field) end) }
  end
  if with_ab then
    spec.series[#spec.series + 1] = { name = "A vs B",
      y = list(layers, function(l) return type(l.ab) == "table" and num(l.ab.mean) or 0 / 0 end) }
  end
  return spec
end

local function coef_hist(r, st)
  local layers = r.layers or {}
  local li = math.min(math.max(st.layer or 1, 1), math.max(#layers, 1))
  local l = layers[li]
  local charts = {}
  if not l then return { { type = "hist", title = "scale coefficient: no layers yet", series = {} } } end
  for k, e in ipairs(l.at or {}) do
    local h = e.coef_hist
    local spec = { type = "hist", xlabel = "c", ylabel = "samples",
                   title = string.format("layer %s: coefficient c at %s (mean %s, std %s)", tostring(l.name or li),
                                         alpha_name(e.alpha, st.ascii), fmt3(e.coef_mean), fmt3(e.coef_std)),
                   series = {} }
    if type(h) == "table" and type(h.edges) == "table" and type(h.counts) == "table"
       and #h.edges == #h.counts + 1 then
      spec.series[1] = { name = "", x = h.edges, y = h.counts, color = k }
    end
    charts[#charts + 1] = spec
  end
  if #charts == 0 then charts[1] = { type = "hist", title = "layer " .. tostring(l.name or li) .. ": no coefficients", series = {} } end
  return charts
end

local function comm_bars(r, st)
  local layers = r.layers or {}
  local function col(f) return list(layers, function(l) return num(l[f]) end) end
  return { type = "bars", title = "commutativity per weight layer", ylabel = "Dist", log = st.log,
           groups = layer_names(layers, "commutativity"),
           series = { { name = "Dist_com", y = col("dist_com") }, { name = "Dist_W", y = col("dist_w") },
                      { name = "Dist_H", y = col("dist_h") } } }
end

local function histories(r)
  if r.kind == "train" or r.step then return { r } end
  return r
end

local function train_charts(r)
  local hs = histories(r)
  local loss = { type = "lines", title = "training loss", xlabel = "step", ylabel = "loss", series = {} }
  local acc = { type = "lines", title = "training accuracy", xlabel = "step", ylabel = "acc", series = {} }
  local names = { "a", "b", "c", "d" }
  for i, h in ipairs(hs) do
    local x = h.step or h.epoch or {}
    if not h.step and h.epoch then loss.xlabel, acc.xlabel = "epoch", "epoch" end
    local name = #hs > 1 and ("run " .. (h.name or h.phase or names[i] or i)) or ""
    if type(h.loss) == "table" then loss.series[#loss.series + 1] = { name = name, x = x, y = h.loss, color = i } end
    if type(h.acc) == "table" then acc.series[#acc.series + 1] = { name = name, x = x, y = h.acc, color = i } end
  end
  local charts = { loss }
  if #acc.series > 0 then charts[2] = acc end
  return charts
end

local function panels_of(r, kind, st)
  local p = {}
  if kind == "interpolate" then
    p[1] = { name = "interpolation", charts = interp_charts(r) }
  elseif kind == "llfc" then
    p[1] = { name = "llfc", charts = { alpha_bars(r, "LLFC: E[1 - cos(f_alpha, alpha f_A + (1-alpha) f_B)] per layer",
                                                 "1 - cos", "mean", st, true) } }
    p[2] = { name = "coefficients", charts = { alpha_bars(r, "scale coefficient: mean c per layer", "c", "coef_mean",
                                                          { log = false, ascii = st.ascii }) } }
    p[3] = { name = "histogram", layered = true, charts = coef_hist(r, st) }
  elseif kind == "weak_additivity" then
    p[1] = { name = "weak additivity", charts = { alpha_bars(r, "weak additivity: E[1 - cos] per ReLU layer",
                                                             "1 - cos", "mean", st, false) } }
  elseif kind == "commutativity" then
    p[1] = { name = "commutativity", charts = { comm_bars(r, st) } }
  elseif kind == "train" then
    p[1] = { name = "training", charts = train_charts(r) }
  elseif kind == "report" then
    for _, sub in ipairs { "interpolate", "llfc", "weak_additivity", "commutativity" } do
      if type(r[sub]) == "table" then
        for _, q in ipairs(panels_of(r[sub], sub, st)) do p[#p + 1] = q end
      end
    end
  end
  return p
end

-- number of layers a layered panel can step through
local function nlayers(r, kind)
  if kind == "report" then r = r.llfc end
  return type(r) == "table" and type(r.layers) == "table" and #r.layers or 0
end

-- ---- argument checks ----------------------------------------------------------------
local function check_result(fname, r)
  local kind = kindof(r)
  if not kind then
    error(string.format("%s: expected a result table (interpolate, llfc, weak_additivity, commutativity, report or train), got %s",
                        fname, type(r) == "table" and "a table without a known kind" or type(r)), 3)
  end
  return kind
end

local OPT_NAMES = { "log", "ascii", "layer", "panel", "width", "height" }

local function check_opts(fname, opts, argn)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(string.format("%s: bad argument #%d (options table expected, got %s)", fname, argn, type(opts)), 3)
  end
  if C.checktypos then
    local ok, err = pcall(C.checktypos, opts, OPT_NAMES, fname)
    if not ok then error(err, 3) end
  end
  for _, k in ipairs { "log", "ascii" } do
    if opts[k] ~= nil and type(opts[k]) ~= "boolean" then
      error(string.format("%s: option '%s' must be a boolean, got %s", fname, k, type(opts[k])), 3)
    end
  end
  if opts.layer ~= nil and math.type(opts.layer) ~= "integer" then
    error(string.format("%s: option 'layer' must be an integer, got %s", fname, type(opts.layer)), 3)
  end
  return opts
end

-- level: where errors point (3: the caller of the function that asks)
local function pick_panel(fname, panels, want, level)
  level = level or 3
  if want == nil then return 1 end
  if math.type(want) == "integer" then
    if want < 1 or want > #panels then
      error(string.format("%s: panel %d out of range (1..%d)", fname, want, #panels), level)
    end
    return want
  end
  if type(want) == "string" then
    for i, p in ipairs(panels) do if p.name == want then return i end end
    error(string.format("%s: no panel '%s' (have: %s)", fname, want,
                        table.concat(list(panels, function(p) return p.name end), ", ")), level)
  end
  error(string.format("%s: option 'panel' must be a number or a name, got %s", fname, type(want)), level)
end

local function new_state(opts, ascii)
  return { panel = 1, layer = opts.layer or 1, log = opts.log or false, ascii = ascii, help = false, msg = nil }
end

local function use_ascii(opts)
  if opts.ascii ~= nil then return opts.ascii end
  return not C.utf8()
end

-- ---- drawing a whole screen into a canvas ---------------------------------------
local S = 10 -- status colour (LLFC_COLOR_STATUS)

local function draw_charts(cv, charts, x, y, w, h)
  local n = #charts
  if n == 0 then return end
  local side = n == 2 and w >= 140
  for i, spec in ipairs(charts) do
    if side then
      local cw = w // 2
      cv:draw(spec, x + (i - 1) * cw, y, cw - 1, h)
    else
      local y0 = y + (i - 1) * h // n
      local y1 = y + i * h // n
      cv:draw(spec, x, y0, w, y1 - y0)
    end
  end
end

local HELP = {
  "llfc view: keys",
  "",
  "q, Esc       quit (back to the prompt)",
  "Tab, S-Tab   next / previous panel",
  "Up, Down     previous / next panel",
  "Left, Right  previous / next layer",
  "l            log scale on / off",
  "s            save this panel as SVG",
  "?            this help (any key closes)",
  "Ctrl-C       stop the computation and quit",
}

local function status_line(cv, y, w, s)
  cv:text(0, y, string.rep(" ", w), S)
  cv:text(0, y, " " .. s, S, w)
end

-- progress summary of a (partial) result
local function progress(r, kind)
  if type(r) ~= "table" then return "waiting" end
  -- metrics: samples seen so far out of the dataset, then what is there
  if kind ~= "train" and type(r.n) == "number" and type(r.total) == "number" and r.total > 0
     and r.complete ~= true then
    return string.format("%d/%d samples (%d%%)", r.n, r.total, math.floor(100 * r.n / r.total))
  end
  if kind == "interpolate" then
    local n = #(r.alphas or {})
    return string.format("%d alpha%s, last %s", n, n == 1 and "" or "s", fmt3((r.alphas or {})[n]))
  elseif kind == "train" then
    local h = histories(r)
    local parts = {}
    for i, t in ipairs(h) do
      local n = #(t.step or t.loss or {})
      local step = (t.step or {})[n] or n
      local of = type(t.total_steps) == "number" and ("/" .. t.total_steps) or ""
      parts[i] = string.format("step %s%s loss %s", tostring(step), of, fmt3((t.loss or {})[n]))
    end
    return table.concat(parts, " | ")
  elseif kind == "report" then
    local have = {}
    for _, s in ipairs { "interpolate", "llfc", "weak_additivity", "commutativity" } do
      if r[s] then have[#have + 1] = s end
    end
    return #have > 0 and table.concat(have, ", ") or "starting"
  elseif type(r.layers) == "table" then
    local n = #r.layers
    local last = r.layers[n]
    return string.format("%d layer%s%s", n, n == 1 and "" or "s",
                         last and (", last " .. tostring(last.name or last.input or n)) or "")
  end
  return ""
end

local function render(cv, r, kind, st, title, status)
  local w, h = cv:size()
  cv:clear()
  local panels = type(r) == "table" and panels_of(r, kind, st) or {}
  if st.panel > #panels then st.panel = math.max(#panels, 1) end
  local p = panels[st.panel]
  local head = string.format("llfc view: %s", title or kind)
  if p then head = head .. string.format("  [%d/%d] %s", st.panel, #panels, p.name) end
  if st.log then head = head .. "  (log)" end
  status_line(cv, 0, w, head)
  if p then draw_charts(cv, p.charts, 0, 1, w, h - 2)
  else cv:text(2, 2, "waiting for data ...") end
  local foot = st.msg or status or "q quit  Tab panel  <- -> layer  l log  s save  ? help"
  status_line(cv, h - 1, w, foot)
  if st.help then
    local bw, bh = 46, #HELP + 2
    local x0, y0 = math.max((w - bw) // 2, 0), math.max((h - bh) // 2, 0)
    for i = 0, bh - 1 do cv:text(x0, y0 + i, string.rep(" ", bw), S) end
    for i, line in ipairs(HELP) do cv:text(x0 + 2, y0 + i, line, S, bw - 3) end
  end
  return panels
end

local function unique_name(base)
  local name = base .. ".svg"
  local k = 1
  while true do
    local f = io.open(name, "r")
    if not f then return name end
    f:close()
    k = k + 1
    name = string.format("%s-%d.svg", base, k)
  end
end

local function panel_svg(p)
  local n = #p.charts
  return C.svg(p.charts, n == 2 and 2 or 1, 640, 420)
end

-- Handle one key; returns "quit" when the view should close.
local function handle_key(key, st, r, kind, title)
  if key == nil then return nil end
  if st.help and key ~= "resize" and key ~= "interrupt" then st.help = false; return "redraw" end
  st.msg = nil
  if key == "q" or key == "Q" or key == "escape" or key == "interrupt" then return "quit" end
  local panels = type(r) == "table" and panels_of(r, kind, st) or {}
  local np = math.max(#panels, 1)
  if key == "tab" or key == "down" or key == "pagedown" then st.panel = st.panel % np + 1
  elseif key == "btab" or key == "up" or key == "pageup" then st.panel = (st.panel - 2) % np + 1
  elseif key == "right" or key == "left" then
    local nl = nlayers(r, kind)
    if nl > 0 then st.layer = (st.layer - 1 + (key == "right" and 1 or -1)) % nl + 1 end
  elseif key == "l" then st.log = not st.log
  elseif key == "?" or key == "h" then st.help = true
  elseif key == "s" then
    local p = panels[st.panel]
    if p then
      local name = unique_name(string.format("llfc-%s-%s", kind, (p.name:gsub("%W+", "_"))))
      local ok, err = lib().write(name, panel_svg(p))
      st.msg = ok and ("saved " .. name) or ("save failed: " .. tostring(err))
    end
  end
  return "redraw"
end

-- ---- text fallback ----------------------------------------------------------------
local function text_width()
  local w = tonumber(os.getenv("COLUMNS") or "") or 80
  return math.max(40, math.min(w, 160))
end

function M.text(r, opts)
  local kind = check_result("view.text", r)
  opts = check_opts("view.text", opts, 2)
  local st = new_state(opts, use_ascii(opts))
  local panels = panels_of(r, kind, st)
  local first, last = 1, #panels
  if opts.panel ~= nil then first = pick_panel("view.text", panels, opts.panel); last = first end
  local w, ch = text_width(), opts.height or 16
  local out = {}
  for i = first, last do
    local p = panels[i]
    out[#out + 1] = string.format("== %s ==\n", p.name)
    for _, spec in ipairs(p.charts) do
      local cv <close> = C.canvas(w, ch, st.ascii)
      cv:draw(spec)
      out[#out + 1] = cv:totext()
    end
  end
  if kind == "interpolate" or kind == "report" then
    out[#out + 1] = "theta_alpha = alpha*A + (1-alpha)*B: alpha = 1 is A, alpha = 0 is B\n"
  end
  return table.concat(out)
end

-- ---- view.plot --------------------------------------------------------------------
function M.plot(r, opts)
  local kind = check_result("view.plot", r)
  opts = check_opts("view.plot", opts, 2)
  local ascii = use_ascii(opts)
  local st = new_state(opts, ascii)
  st.panel = pick_panel("view.plot", panels_of(r, kind, st), opts.panel)
  local tty = C.term()
  if not tty then
    io.write(M.text(r, opts))
    io.flush()
    return
  end
  C.clear_interrupt()
  local scr <close> = C.open()
  if not scr then io.write(M.text(r, opts)); return end
  local title = kind
  local act = "redraw"
  while true do
    if act == "redraw" or act == "resize" then
      local w, h = C.size()
      local cv <close> = C.canvas(math.max(w, 1), math.max(h, 1), ascii)
      render(cv, r, kind, st, title)
      C.blit(cv)
    end
    local key = C.getkey(500)
    act = handle_key(key, st, r, kind, title)
    if act == "quit" then break end
  end
  C.close()
  C.clear_interrupt()
end

-- ---- the live protocol --------------------------------------------------------------
local live = nil

local function live_draw(L, status)
  local w, h = C.size()
  local cv <close> = C.canvas(math.max(w, 1), math.max(h, 1), L.st.ascii)
  local elapsed = C.now() - L.t0
  local r, eta = L.result, ""
  if type(r) == "table" and L.kind ~= "train" and type(r.n) == "number" and type(r.total) == "number"
     and r.n > 0 and r.n < r.total then
    eta = string.format(", ETA %.0f s", elapsed * (r.total - r.n) / r.n)
  elseif type(r) == "table" and L.kind == "train" then
    -- one run: steps done so far of total_steps (a spawned pair trains its children one after the other)
    local hs = histories(r)
    local first, h = hs[1], hs[#hs]
    local n = type(h) == "table" and type(h.step) == "table" and #h.step or 0
    local s0 = type(first) == "table" and type(first.step) == "table" and first.step[1] or 1
    local s, tot = n > 0 and h.step[n], h and h.total_steps
    if #hs == 1 and s and type(tot) == "number" and s > s0 and s < tot then
      eta = string.format(", ETA %.0f s", elapsed * (tot - s) / (s - s0 + 1))
    end
  end
  local line = status or string.format("%s: %s  %.1f s%s   (q stop, ? help)", L.title,
                                       progress(L.result, L.kind), elapsed, eta)
  render(cv, L.result, L.kind, L.st, L.title, line)
  C.blit(cv)
  L.last_draw = C.now()
end

local function live_close(L)
  if L and L.scr then C.close(); L.scr = nil end
end

function M.begin(kind, title)
  if live then live_close(live) end
  if kind ~= nil and type(kind) ~= "string" then
    error("view.begin: bad argument #1 (kind string expected, got " .. type(kind) .. ")", 2)
  end
  local ascii = use_ascii({})
  live = { kind = kind or "live", title = title and tostring(title) or kind or "live", t0 = C.now(),
           st = new_state({}, ascii), last_print = -1, last_draw = -1, n = 0 }
  if C.term() then
    live.scr = C.open()
    if live.scr then
      local ok, err = pcall(live_draw, live)
      if not ok then live_close(live); live = nil; error(err, 0) end
    end
  end
end

function M.update(partial)
  if type(partial) ~= "table" then
    error("view.update: bad argument #1 (partial result table expected, got " .. type(partial) .. ")", 2)
  end
  if not live then M.begin(kindof(partial), nil) end
  local L = live
  if L.stopped then return false end
  L.result = partial
  L.n = L.n + 1
  local k = kindof(partial)
  if k then L.kind = k end
  if L.scr and C.isopen() then
    local ok, err = pcall(function()
      while true do
        local key = C.getkey(0)
        if key == nil then break end
        if handle_key(key, L.st, L.result, L.kind, L.title) == "quit" then L.stopped = true; break end
      end
      -- metrics update per layer or alpha: draw each; training may update
      -- every step: at most 25 frames a second (the next step redraws)
      if not L.stopped and (L.kind ~= "train" or C.now() - L.last_draw >= 0.04) then live_draw(L) end
    end)
    if not ok then live_close(L); live = nil; error(err, 0) end
    if L.stopped then live_close(L) end
  else
    local now = C.now()
    if now - L.last_print >= 0.5 then
      io.stderr:write(string.format("view: %s: %s (%.1f s)\n", L.title, progress(partial, L.kind), now - L.t0))
      io.stderr:flush()
      L.last_print = now
    end
  end
  return not L.stopped
end

function M.finish(result, status)
  local L = live
  if not L then return end
  live = nil
  if type(result) == "table" then
    L.result = result
    L.kind = kindof(result) or L.kind
  end
  local elapsed = C.now() - L.t0
  if L.scr and C.isopen() then
    local ok, err = pcall(function()
      if status ~= nil or L.stopped then return end -- interrupted, stopped or failed: no waiting
      local line = string.format("%s: done in %.1f s  (q quit, ? help)", L.title, elapsed)
      live_draw(L, line)
      while true do
        local key = C.getkey(500)
        local act = handle_key(key, L.st, L.result, L.kind, L.title)
        if act == "quit" then break end
        if act then live_draw(L, L.st.msg and nil or line) end
      end
    end)
    live_close(L)
    if not ok then error(err, 0) end
  else
    live_close(L)
    io.stderr:write(string.format("view: %s: %s after %.1f s\n", L.title,
                                  status and tostring(status) or (L.stopped and "stopped" or "done"), elapsed))
    io.stderr:flush()
  end
end

-- Close a live view left open (after an error inside a computation).
function M.close()
  if live then live_close(live); live = nil end
  C.close()
end

function M.live(fn, title)
  if type(fn) ~= "function" then
    error("view.live: bad argument #1 (function expected, got " .. type(fn) .. ")", 2)
  end
  M.begin("live", title or "live")
  local last
  local guard <close> = setmetatable({}, { __close = function() M.close() end })
  local function update(partial)
    last = partial
    return M.update(partial)
  end
  local res = table.pack(pcall(fn, update))
  if not res[1] then
    M.finish(last, "error")
    error(res[2], 0)
  end
  M.finish(last, nil)
  return table.unpack(res, 2, res.n)
end

-- ---- export ---------------------------------------------------------------------------
local function csv_table(r, kind)
  local rows = {}
  local function row(...) rows[#rows + 1] = table.pack(...) end
  if kind == "interpolate" then
    row("alpha", "err", "loss")
    for i, a in ipairs(r.alphas or {}) do row(a, (r.err or {})[i], (r.loss or {})[i]) end
  elseif kind == "llfc" then
    row("layer", "dim", "alpha", "mean", "std", "coef_mean", "coef_std", "ab_mean", "ab_std", "skipped")
    for _, l in ipairs(r.layers or {}) do
      local ab = type(l.ab) == "table" and l.ab or {}
      for _, e in ipairs(l.at or {}) do
        row(l.name, l.dim, e.alpha, e.mean, e.std, e.coef_mean, e.coef_std, ab.mean, ab.std, l.skipped)
      end
    end
  elseif kind == "weak_additivity" then
    row("layer", "alpha", "mean", "std")
    for _, l in ipairs(r.layers or {}) do
      for _, e in ipairs(l.at or {}) do row(l.name, e.alpha, e.mean, e.std) end
    end
  elseif kind == "commutativity" then
    row("layer", "input", "dist_com", "dist_w", "dist_h")
    for i, l in ipairs(r.layers or {}) do row(l.layer or i, l.input, l.dist_com, l.dist_w, l.dist_h) end
  elseif kind == "train" then
    row("run", "step", "epoch", "loss", "acc")
    for k, h in ipairs(histories(r)) do
      local n = math.max(#(h.step or {}), #(h.loss or {}), #(h.acc or {}), #(h.epoch or {}))
      for i = 1, n do row(k, (h.step or {})[i], (h.epoch or {})[i], (h.loss or {})[i], (h.acc or {})[i]) end
    end
  elseif kind == "report" then
    -- one long table: section, then that section's columns as name=value pairs
    row("section", "layer", "alpha", "quantity", "value")
    local ip = r.interpolate
    if type(ip) == "table" then
      for i, a in ipairs(ip.alphas or {}) do
        row("interpolate", "", a, "err", (ip.err or {})[i])
        row("interpolate", "", a, "loss", (ip.loss or {})[i])
      end
    end
    for _, sec in ipairs { "llfc", "weak_additivity" } do
      local t = r[sec]
      for _, l in ipairs(type(t) == "table" and t.layers or {}) do
        if sec == "llfc" and type(l.ab) == "table" then row(sec, l.name, "", "ab_mean", l.ab.mean) end
        for _, e in ipairs(l.at or {}) do
          row(sec, l.name, e.alpha, "mean", e.mean)
          if sec == "llfc" then row(sec, l.name, e.alpha, "coef_mean", e.coef_mean) end
        end
      end
    end
    local cm = r.commutativity
    for i, l in ipairs(type(cm) == "table" and cm.layers or {}) do
      for _, q in ipairs { "dist_com", "dist_w", "dist_h" } do row("commutativity", l.layer or i, "", q, l[q]) end
    end
  end
  return lib().csv(rows)
end
M.csv = function(r)
  return csv_table(r, check_result("view.csv", r))
end

-- the SVG text of a result; fname is the function the errors name
local function svg_of(fname, r, kind, opts)
  local st = new_state(opts, false)
  local panels = panels_of(r, kind, st)
  local charts = {}
  local first, last = 1, #panels
  if opts.panel ~= nil then first = pick_panel(fname, panels, opts.panel, 4); last = first end
  for i = first, last do
    for _, c in ipairs(panels[i].charts) do charts[#charts + 1] = c end
  end
  if #charts == 0 then error(fname .. ": nothing to draw", 4) end
  return C.svg(charts, #charts > 1 and 2 or 1, opts.width or 640, opts.height or 420)
end

function M.svg(r, opts)
  local kind = check_result("view.svg", r)
  return svg_of("view.svg", r, kind, check_opts("view.svg", opts, 2))
end

function M.save(r, path, opts)
  local kind = check_result("view.save", r)
  if type(path) ~= "string" then
    error("view.save: bad argument #2 (file name expected, got " .. type(path) .. ")", 2)
  end
  opts = check_opts("view.save", opts, 3)
  local ext = path:match("%.(%w+)$")
  ext = ext and ext:lower()
  local data
  if ext == "svg" then data = svg_of("view.save", r, kind, opts)
  elseif ext == "csv" then data = csv_table(r, kind)
  else
    error(string.format("view.save: cannot tell the format of '%s' (use a .svg or .csv file name)", path), 2)
  end
  -- a file that cannot be written is not a mistake in the call: nil, message
  local ok, err = lib().write(path, data)
  if not ok then return nil, "view.save: " .. err end
  return path
end

-- A result table edited into the wrong shape (a number where a list belongs)
-- fails deep inside the drawing code; say which function and what it got.
for _, name in ipairs { "plot", "text", "csv", "svg", "save" } do
  local f = M[name]
  M[name] = function(...)
    local r = table.pack(pcall(f, ...))
    if r[1] then return table.unpack(r, 2, r.n) end
    local err = r[2]
    if type(err) == "string" and not err:find("view%.") and not err:find("interrupted", 1, true) then
      err = string.format("view.%s: malformed %s result (%s)", name, tostring(kindof((...)) or "?"),
                          err:gsub("^%[llfc%] ", ""))
    end
    error(err, 0)
  end
end

return M
