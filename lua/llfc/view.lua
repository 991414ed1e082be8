-- llfc.view: plots of results, in the terminal (ncurses, live) or as text,
-- and exported as SVG, PDF, PNG, CSV or JSON.  What each result kind looks
-- like is described once in llfc.figures; the C primitives
-- (package.loaded["llfc.view.c"], src/lua/l_view.c) turn that description
-- into a figure that the terminal canvas and cairo both draw.
local C = assert(package.loaded["llfc.view.c"], "llfc.view needs the llfc binary or module")
local F = require "llfc.figures"
-- CSV through llfc.csv, the core's writer (the llfc table, once it is complete)
local function lib() return package.loaded.llfc end
local M = {}

local fmt3 = F.fmt3
M.kindof = function(r) return (F.kindof(r)) end

local function list(t, f)
  local out = {}
  for i, v in ipairs(t or {}) do out[i] = f(v, i) end
  return out
end

-- ---- argument checks ----------------------------------------------------------------
local function check_result(fname, r)
  local kind, is_list = F.kindof(r)
  if not kind then
    error(string.format("%s: expected a result table (interpolate, llfc, weak_additivity, commutativity, report, train, "
                        .. "heatmap or series) or a list of results of one kind, got %s", fname,
                        type(r) == "table" and (type(r[1]) == "table" and "a list of results of different or unknown kinds"
                                                or "a table without a known kind") or type(r)), 3)
  end
  return kind, is_list
end

local OPT_NAMES = { "log", "ascii", "layer", "layers", "panel", "panels", "width", "height", "title", "labels",
                    "ylim", "xlim", "size", "dpi", "smooth", "cols", "contour" }

local function bad(fname, msg, ...) error(string.format("%s: " .. msg, fname, ...), 4) end

local function check_opts(fname, opts, argn)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(string.format("%s: bad argument #%d (options table expected, got %s)", fname, argn, type(opts)), 3)
  end
  local ok, err = pcall(C.checktypos, opts, OPT_NAMES, fname)
  if not ok then error(err, 3) end
  for _, k in ipairs { "log", "ascii" } do
    if opts[k] ~= nil and type(opts[k]) ~= "boolean" then bad(fname, "option '%s' must be a boolean, got %s", k, type(opts[k])) end
  end
  if opts.layer ~= nil and math.type(opts.layer) ~= "integer" then
    bad(fname, "option 'layer' must be an integer, got %s", type(opts.layer))
  end
  for _, k in ipairs { "ylim", "xlim" } do
    local v = opts[k]
    if v ~= nil and not (type(v) == "table" and type(v[1]) == "number" and type(v[2]) == "number" and v[1] < v[2]) then
      bad(fname, "option '%s' must be {lo, hi} with lo < hi", k)
    end
  end
  if opts.size ~= nil and not (type(opts.size) == "table" and type(opts.size[1]) == "number" and type(opts.size[2]) == "number"
                               and opts.size[1] >= 1 and opts.size[2] >= 1 and opts.size[1] <= 100 and opts.size[2] <= 100) then
    bad(fname, "option 'size' must be {width, height} in inches (1 to 100)")
  end
  if opts.dpi ~= nil and not (type(opts.dpi) == "number" and opts.dpi >= 10 and opts.dpi <= 2400) then
    bad(fname, "option 'dpi' must be a number from 10 to 2400")
  end
  if opts.title ~= nil and type(opts.title) ~= "string" then bad(fname, "option 'title' must be a string") end
  if opts.labels ~= nil and type(opts.labels) ~= "table" then bad(fname, "option 'labels' must be a list of names") end
  for _, k in ipairs { "layers", "panels" } do
    if opts[k] ~= nil and type(opts[k]) ~= "table" then bad(fname, "option '%s' must be a list", k) end
  end
  if opts.smooth ~= nil and opts.smooth ~= false and not (type(opts.smooth) == "number" and opts.smooth >= 0 and opts.smooth < 1) then
    bad(fname, "option 'smooth' must be false or an EMA weight in [0, 1)")
  end
  if opts.cols ~= nil and math.type(opts.cols) ~= "integer" then bad(fname, "option 'cols' must be an integer") end
  if opts.contour ~= nil and type(opts.contour) ~= "number" then
    bad(fname, "option 'contour' must be a number (the level a heat map draws a contour line at)")
  end
  return opts
end

local function use_ascii(opts)
  if opts.ascii ~= nil then return opts.ascii end
  return not C.utf8()
end

local function new_state(opts, ascii)
  local labels
  if type(opts.labels) == "table" then labels = list(opts.labels, tostring) end
  return { panel = 1, layer = opts.layer or 1, log = opts.log or false, ascii = ascii, help = false, msg = nil,
           layers = opts.layers, labels = labels, smooth = opts.smooth, ylim = opts.ylim, xlim = opts.xlim,
           title = opts.title, contour = opts.contour }
end

-- The panels of a result with the options applied to every chart.
local function panels_of(r, kind, is_list, st)
  local panels = F.panels(r, kind, is_list, st, C)
  for _, p in ipairs(panels) do
    for _, c in ipairs(p.charts) do
      if st.ylim then c.ylo, c.yhi = st.ylim[1], st.ylim[2] end
      if st.xlim then c.xlo, c.xhi = st.xlim[1], st.xlim[2] end
      if st.log then c.log = true; if c.heat then c.heat.log = true end end
    end
    if st.title and #panels == 1 and #p.charts == 1 then p.charts[1].title = st.title end
  end
  return panels
end

local function pick_panel(fname, panels, want)
  if want == nil then return 1 end
  if math.type(want) == "integer" then
    if want < 1 or want > #panels then
      error(string.format("%s: panel %d out of range (1..%d)", fname, want, #panels), 4)
    end
    return want
  end
  if type(want) == "string" then
    for i, p in ipairs(panels) do if p.name == want then return i end end
    error(string.format("%s: no panel '%s' (have: %s)", fname, want,
                        table.concat(list(panels, function(p) return p.name end), ", ")), 4)
  end
  error(string.format("%s: option 'panel' must be a number or a name, got %s", fname, type(want)), 4)
end

-- the panels an export or text rendering shows: opts.panel, opts.panels, or all
local function chosen(fname, panels, opts)
  if opts.panel ~= nil then return { panels[pick_panel(fname, panels, opts.panel)] } end
  if opts.panels then
    local out = {}
    for _, w in ipairs(opts.panels) do out[#out + 1] = panels[pick_panel(fname, panels, w)] end
    return out
  end
  return panels
end

-- ---- drawing a whole screen into a canvas ---------------------------------------
local S = 10 -- status colour (LLFC_COLOR_STATUS)

local function draw_charts(cv, fig, n, x, y, w, h)
  if n == 0 then return end
  local cols = (n == 2 and w >= 140) and 2 or (n >= 4 and w >= 160) and 2 or 1
  local rows = (n + cols - 1) // cols
  local cw = w // cols
  for i = 1, n do
    local c, r = (i - 1) % cols, (i - 1) // cols
    local y0, y1 = y + r * h // rows, y + (r + 1) * h // rows
    cv:draw(fig, i, x + c * cw, y0, cw - (cols > 1 and 1 or 0), y1 - y0)
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
  "s            save this panel as SVG and PDF",
  "?            this help (any key closes)",
  "Ctrl-C       stop the computation and quit",
}

local function status_line(cv, y, w, s)
  cv:text(0, y, string.rep(" ", w), S)
  cv:text(0, y, " " .. s, S, w)
end

local function histories(r, is_list)
  if is_list then return r end
  return { r }
end

-- progress summary of a (partial) result
local function progress(r, kind, is_list)
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
    local parts = {}
    for i, t in ipairs(histories(r, is_list)) do
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

-- A view: the result, its kind, the state (panel, layer, log), and the figure
-- of the current panel, built once from the result and kept until the data or
-- the state change (redraws on a key or a resize reuse it).
local function view_figure(V)
  if V.fig and V.fig_key == V.st.panel .. ":" .. V.st.layer .. ":" .. tostring(V.st.log) then
    return V.fig, V.nfig, V.panels
  end
  local r = V.result
  local panels = type(r) == "table" and V.kind and panels_of(r, V.kind, V.is_list, V.st) or {}
  if V.st.panel > #panels then V.st.panel = math.max(#panels, 1) end
  local p = panels[V.st.panel]
  V.panels = panels
  V.fig, V.nfig = nil, 0
  if p and #p.charts > 0 then V.fig, V.nfig = C.figure(p.charts), #p.charts end
  V.fig_key = V.st.panel .. ":" .. V.st.layer .. ":" .. tostring(V.st.log)
  return V.fig, V.nfig, panels
end

local function set_result(V, r)
  V.result = r
  V.fig = nil
  local k, l = F.kindof(r)
  if k then V.kind, V.is_list = k, l end
end

local function render(cv, V, status)
  local w, h = cv:size()
  cv:clear()
  local fig, n, panels = view_figure(V)
  local p = panels[V.st.panel]
  -- the head names the result (its kind), then the panel, then the title the computation gave
  local head = string.format("llfc view: %s", V.kind or V.title or "")
  if p then head = head .. string.format("  [%d/%d] %s", V.st.panel, #panels, p.name) end
  if V.st.log then head = head .. "  (log)" end
  if V.title and V.title ~= V.kind and V.title ~= "live" then head = head .. "   " .. V.title end
  status_line(cv, 0, w, head)
  if fig then draw_charts(cv, fig, n, 0, 1, w, h - 2)
  else cv:text(2, 2, "waiting for data ...") end
  local foot = V.st.msg or status or "q quit  Tab panel  <- -> layer  l log  s save  ? help"
  status_line(cv, h - 1, w, foot)
  if V.st.help then
    local bw, bh = 46, #HELP + 2
    local x0, y0 = math.max((w - bw) // 2, 0), math.max((h - bh) // 2, 0)
    for i = 0, bh - 1 do cv:text(x0, y0 + i, string.rep(" ", bw), S) end
    for i, line in ipairs(HELP) do cv:text(x0 + 2, y0 + i, line, S, bw - 3) end
  end
end

local function screen_canvas(ascii)
  local w, h = C.size()
  return C.canvas(math.max(w, 1), math.max(h, 1), ascii, C.colors())
end

local function unique_name(base)
  local function free(n) local f = io.open(n, "r"); if f then f:close(); return false end; return true end
  local k = 1
  while true do
    local stem = k == 1 and base or string.format("%s-%d", base, k)
    if free(stem .. ".svg") and free(stem .. ".pdf") then return stem end
    k = k + 1
  end
end

local function export_opts(n, format)
  return { format = format, cols = n == 2 and 2 or (n >= 3 and 3 or 1) }
end

-- Handle one key; returns "quit" when the view should close.
local function handle_key(key, V)
  local st = V.st
  if key == nil then return nil end
  if st.help and key ~= "resize" and key ~= "interrupt" then st.help = false; return "redraw" end
  st.msg = nil
  if key == "q" or key == "Q" or key == "escape" or key == "interrupt" then return "quit" end
  local _, _, panels = view_figure(V)
  local np = math.max(#panels, 1)
  if key == "tab" or key == "down" or key == "pagedown" then st.panel = st.panel % np + 1
  elseif key == "btab" or key == "up" or key == "pageup" then st.panel = (st.panel - 2) % np + 1
  elseif key == "right" or key == "left" then
    local nl = V.is_list and 0 or F.nlayers(V.result, V.kind)
    if nl > 0 then st.layer = (st.layer - 1 + (key == "right" and 1 or -1)) % nl + 1 end
  elseif key == "l" then st.log = not st.log
  elseif key == "?" or key == "h" then st.help = true
  elseif key == "s" then
    local p = panels[st.panel]
    if p then
      local stem = unique_name(string.format("llfc-%s-%s", V.kind, (p.name:gsub("%W+", "_"))))
      local fig = C.figure(p.charts)
      local ok, err = C.export(fig, stem .. ".svg", export_opts(#p.charts, "svg"))
      if ok then ok, err = C.export(fig, stem .. ".pdf", export_opts(#p.charts, "pdf")) end
      st.msg = ok and ("saved " .. stem .. ".svg and .pdf") or ("save failed: " .. tostring(err))
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
  local kind, is_list = check_result("view.text", r)
  opts = check_opts("view.text", opts, 2)
  local st = new_state(opts, use_ascii(opts))
  local panels = chosen("view.text", panels_of(r, kind, is_list, st), opts)
  local w, ch = text_width(), opts.height or 16
  local out = {}
  for _, p in ipairs(panels) do
    out[#out + 1] = string.format("== %s ==\n", p.name)
    if #p.charts > 0 then
      local fig <close> = C.figure(p.charts)
      for i = 1, #p.charts do
        local cv <close> = C.canvas(w, ch, st.ascii)
        cv:draw(fig, i)
        out[#out + 1] = cv:totext()
      end
    end
  end
  if kind == "interpolate" or kind == "report" then
    out[#out + 1] = "theta_alpha = alpha*A + (1-alpha)*B: alpha = 1 is A, alpha = 0 is B\n"
  end
  return table.concat(out)
end

-- ---- view.plot --------------------------------------------------------------------
function M.plot(r, opts)
  local kind, is_list = check_result("view.plot", r)
  opts = check_opts("view.plot", opts, 2)
  local ascii = use_ascii(opts)
  local V = { st = new_state(opts, ascii), title = opts.title or kind }
  set_result(V, r)
  V.st.panel = pick_panel("view.plot", panels_of(r, kind, is_list, V.st), opts.panel)
  local tty = C.term()
  if not tty then
    io.write(M.text(r, opts))
    io.flush()
    return
  end
  C.clear_interrupt()
  local scr <close> = C.open()
  if not scr then io.write(M.text(r, opts)); return end
  local act = "redraw"
  while true do
    if act == "redraw" or act == "resize" then
      local cv <close> = screen_canvas(ascii)
      render(cv, V)
      C.blit(cv)
    end
    local key = C.getkey(500)
    act = handle_key(key, V)
    if act == "quit" then break end
  end
  C.close()
  C.clear_interrupt()
end

-- ---- the live protocol --------------------------------------------------------------
local live = nil

local function live_draw(L, status)
  local cv <close> = screen_canvas(L.st.ascii)
  local elapsed = C.now() - L.t0
  local r, eta = L.result, ""
  if type(r) == "table" and L.kind ~= "train" and type(r.n) == "number" and type(r.total) == "number"
     and r.n > 0 and r.n < r.total then
    eta = string.format(", ETA %.0f s", elapsed * (r.total - r.n) / r.n)
  elseif type(r) == "table" and L.kind == "train" then
    -- one run: steps done so far of total_steps (a spawned pair trains its children one after the other)
    local hs = histories(r, L.is_list)
    local first, h = hs[1], hs[#hs]
    local n = type(h) == "table" and type(h.step) == "table" and #h.step or 0
    local s0 = type(first) == "table" and type(first.step) == "table" and first.step[1] or 1
    local s, tot = n > 0 and h.step[n], h and h.total_steps
    if #hs == 1 and s and type(tot) == "number" and s > s0 and s < tot then
      eta = string.format(", ETA %.0f s", elapsed * (tot - s) / (s - s0 + 1))
    end
  end
  local line = status or string.format("%s: %s  %.1f s%s   (q stop, ? help)", L.title,
                                       progress(L.result, L.kind, L.is_list), elapsed, eta)
  render(cv, L, line)
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
  live = { kind = F.KINDS[kind] and kind or nil, title = title and tostring(title) or kind or "live", t0 = C.now(),
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
  if not live then M.begin(F.kindof(partial), nil) end
  local L = live
  if L.stopped then return false end
  set_result(L, partial)
  L.n = L.n + 1
  if L.scr and C.isopen() then
    local ok, err = pcall(function()
      while true do
        local key = C.getkey(0)
        if key == nil then break end
        if handle_key(key, L) == "quit" then L.stopped = true; break end
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
      io.stderr:write(string.format("view: %s: %s (%.1f s)\n", L.title, progress(partial, L.kind, L.is_list), now - L.t0))
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
  if type(result) == "table" then set_result(L, result) end
  local elapsed = C.now() - L.t0
  if L.scr and C.isopen() then
    local ok, err = pcall(function()
      if status ~= nil or L.stopped then return end -- interrupted, stopped or failed: no waiting
      local line = string.format("%s: done in %.1f s  (q quit, ? help)", L.title, elapsed)
      live_draw(L, line)
      while true do
        local key = C.getkey(500)
        local act = handle_key(key, L)
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
local function csv_rows(r, kind, row)
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
  elseif kind == "plane" then
    local head = { "x", "y", "err", "loss" }
    for _, l in ipairs(r.llfc or {}) do head[#head + 1] = "llfc_" .. tostring(l.name) end
    row(table.unpack(head))
    for _, p in ipairs(r.points or {}) do
      row(p.x, p.y, p.err, p.loss) -- the three networks themselves first
    end
    for j, y in ipairs(r.y or {}) do
      for i, x in ipairs(r.x or {}) do
        local cells = { x, y, ((r.err or {})[j] or {})[i], ((r.loss or {})[j] or {})[i] }
        for _, l in ipairs(r.llfc or {}) do cells[#cells + 1] = ((l.mean or {})[j] or {})[i] end
        row(table.unpack(cells, 1, #head))
      end
    end
  elseif kind == "principal_angles" then
    row("layer", "dim", "k", "mean_cos", "min_cos", "angles_deg")
    for _, l in ipairs(r.layers or {}) do
      local deg = {}
      for i, a in ipairs(l.angles or {}) do deg[i] = string.format("%.4f", math.deg(a)) end
      row(l.name, l.dim, l.k, l.mean_cos, l.min_cos, table.concat(deg, " "))
    end
  elseif kind == "stitch" then
    row("layer", "name", "err", "loss", "err_trained", "loss_trained", "note")
    for _, l in ipairs(r.layers or {}) do row(l.layer, l.name, l.err, l.loss, l.err_trained, l.loss_trained, l.note) end
  elseif kind == "merge" then
    row("layer", "dim", "mean", "std", "coef_mean", "coef_std", "skipped", "err", "members_err", "gap")
    for _, l in ipairs(r.layers or {}) do
      row(l.name, l.dim, l.mean, l.std, l.coef_mean, l.coef_std, l.skipped, r.err, r.members_err, r.gap)
    end
  elseif kind == "heatmap" then
    row("x", "y", "z")
    for j, y in ipairs(r.y or {}) do
      for i, x in ipairs(r.x or {}) do row(x, y, ((r.z or {})[j] or {})[i]) end
    end
  elseif kind == "series" then
    local head = { "x" }
    for k, s in ipairs(r.series or {}) do head[#head + 1] = s.name or tostring(k) end
    row(table.unpack(head))
    local xs = r.groups or r.x or (r.series and r.series[1] and r.series[1].x) or {}
    local n = 0
    for _, s in ipairs(r.series or {}) do n = math.max(n, #(s.y or {})) end
    for i = 1, n do
      local cells = { xs[i] or i }
      for k, s in ipairs(r.series or {}) do cells[k + 1] = (s.y or {})[i] end
      row(table.unpack(cells, 1, #head))
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
end

local function csv_table(r, kind, is_list, labels)
  local rows = {}
  local function add(...) rows[#rows + 1] = table.pack(...) end
  if kind == "train" then
    add("run", "step", "epoch", "loss", "acc")
    for k, x in ipairs(is_list and r or { r }) do
      local n = math.max(#(x.step or {}), #(x.loss or {}), #(x.acc or {}), #(x.epoch or {}))
      for i = 1, n do add(k, (x.step or {})[i], (x.epoch or {})[i], (x.loss or {})[i], (x.acc or {})[i]) end
    end
  elseif not is_list then
    csv_rows(r, kind, add)
  else
    -- a list: a first column names the result (its label, else its number)
    for k, x in ipairs(r) do
      local header = true
      csv_rows(x, kind, function(...)
        if header then
          header = false
          if k == 1 then add("run", ...) end
          return
        end
        add(labels and labels[k] or k, ...)
      end)
    end
  end
  return lib().csv(rows)
end

M.csv = function(r, opts)
  local kind, is_list = check_result("view.csv", r)
  opts = check_opts("view.csv", opts, 2)
  return csv_table(r, kind, is_list, opts.labels)
end

-- JSON of any result through cJSON (NaN and inf are written as null)
M.json = function(r)
  check_result("view.json", r)
  return C.json(r)
end

-- The figure of an export: the chosen panels' charts, in a grid.
local function export_figure(fname, r, opts)
  local kind, is_list = check_result(fname, r)
  opts = check_opts(fname, opts, 3)
  local st = new_state(opts, false)
  st.export = true
  local panels = chosen(fname, panels_of(r, kind, is_list, st), opts)
  local charts = {}
  for _, p in ipairs(panels) do
    for _, c in ipairs(p.charts) do charts[#charts + 1] = c end
  end
  if #charts == 0 then error(fname .. ": nothing to draw", 3) end
  local n = #charts
  local cols = opts.cols or (n == 1 and 1 or n <= 4 and 2 or 3)
  local eo = { cols = cols, title = (#charts > 1 or #panels > 1) and opts.title or nil, dpi = opts.dpi }
  if opts.size then eo.width, eo.height = opts.size[1], opts.size[2]
  elseif opts.width or opts.height then
    -- width/height: pixels of one chart at 100 per inch
    local rows = (n + cols - 1) // cols
    eo.width = (opts.width or 640) / 100 * math.min(cols, n)
    eo.height = (opts.height or 420) / 100 * rows
  end
  return C.figure(charts), eo
end

function M.svg(r, opts)
  local fig, eo = export_figure("view.svg", r, opts)
  return C.render(fig, "svg", eo)
end

local FORMATS = { svg = true, pdf = true, png = true, csv = true, json = true }

-- a file that cannot be written: nil and a message naming view.save
local function failed(err) return "view.save: " .. (tostring(err):gsub("^save: ", "")) end

function M.save(r, path, opts)
  local kind, is_list = check_result("view.save", r)
  if type(path) ~= "string" then
    error("view.save: bad argument #2 (file name expected, got " .. type(path) .. ")", 2)
  end
  local ext = path:match("%.(%w+)$")
  ext = ext and ext:lower()
  if not FORMATS[ext] then
    error(string.format("view.save: cannot tell the format of '%s' (use a file name ending in .svg, .pdf, .png, .csv or .json)", path), 2)
  end
  if ext == "csv" or ext == "json" then
    opts = check_opts("view.save", opts, 3)
    local data = ext == "csv" and csv_table(r, kind, is_list, opts.labels) or C.json(r)
    if ext == "json" then data = data .. "\n" end
    local ok, err = lib().write(path, data)
    if not ok then return nil, failed(err) end
    return path
  end
  local fig, eo = export_figure("view.save", r, opts)
  eo.format = ext
  local ok, err = C.export(fig, path, eo)
  if not ok then return nil, failed(err) end
  return path
end

-- view.load(path): a result saved as JSON, with its kind's metatable
function M.load(path)
  if type(path) ~= "string" then error("view.load: bad argument #1 (file name expected, got " .. type(path) .. ")", 2) end
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  local v, msg = C.json_decode(s)
  if v == nil then return nil, path .. ": " .. tostring(msg) end
  local ok, R = pcall(require, "llfc.results")
  if ok and type(v) == "table" then
    if v.kind then R.attach(v) else for _, x in ipairs(v) do if type(x) == "table" and x.kind then R.attach(x) end end end
  end
  return v
end

-- view.summary({r1, r2, ...} [, {spread = "sd" | "range", what = "seeds"}]): the mean result
function M.summary(rs, opts)
  local kind, is_list = F.kindof(rs)
  if not kind or not is_list then
    error("view.summary: bad argument #1 (a list of results of one kind expected)", 2)
  end
  if kind == "report" or kind == "heatmap" or kind == "series" then
    error("view.summary: cannot summarise " .. kind .. " results (summarise their parts)", 2)
  end
  opts = opts or {}
  if type(opts) ~= "table" then error("view.summary: bad argument #2 (options table expected)", 2) end
  local spread = opts.spread or "sd"
  if spread ~= "sd" and spread ~= "range" then error("view.summary: option 'spread' must be \"sd\" or \"range\"", 2) end
  local s = F.summary(rs, kind, spread, opts.what)
  local ok, R = pcall(require, "llfc.results")
  if ok then R.attach(s) end
  return s
end

-- A result table edited into the wrong shape (a number where a list belongs)
-- fails deep inside the drawing code; say which function and what it got.
for _, name in ipairs { "text", "csv", "svg", "save", "json" } do
  local f = M[name]
  M[name] = function(...)
    local r = table.pack(pcall(f, ...))
    if r[1] then return table.unpack(r, 2, r.n) end
    local err = r[2]
    if type(err) == "string" and not err:find("view%.") and not err:find("interrupted", 1, true) then
      err = string.format("view.%s: malformed %s result (%s)", name, tostring(F.kindof((...)) or "?"),
                          err:gsub("^%[llfc%] ", ""))
    end
    error(err, 0)
  end
end

return M
