/* l_view.c - Lua binding of the view module: figures from the plot core
 * (src/plot/plot.h), canvases, exports through cairo, JSON through cJSON, and
 * the terminal (src/plot/term.h).
 *
 * The public view functions (view.plot, view.save, view.begin/update/finish,
 * view.live) are written in Lua (lua/llfc/view.lua); this file gives them
 * the primitives as the private table package.loaded["llfc.view.c"]:
 *   figure({spec, ...}) -> Figure     (the charts built once; fig:n())
 *   canvas(w, h, ascii [, colors]) -> Canvas   (methods draw(fig, i, x, y, w, h),
 *        text(x, y, s [, color]), totext(), size(), clear(), cell(x, y); cells 0-based)
 *   export(fig, path, {format, width, height, dpi, cols, title}) -> true | nil, msg
 *   render(fig, format, {...}) -> string        format: "svg" | "pdf" | "png"
 *   json(value) -> string    json_decode(string) -> value | nil, msg
 *   hist(samples [, lo, hi, bins]) -> {edges, counts, below, above}
 *        (without lo, hi, bins: a robust range and Freedman-Diaconis bins)
 *   term() -> ok, why   utf8() -> bool   open() -> guard   close()   isopen()   colors()
 *   blit(canvas)   getkey(ms) -> key name | nil   size() -> cols, lines
 *   interrupted()   clear_interrupt()   now()   checktypos(opts, names, fname)
 * A chart spec is a table {type = "lines"|"bars"|"hist"|"heat", title=, xlabel=,
 * ylabel=, log=, ylo=, yhi=, xlo=, xhi=, yspan=, errlabel=, caption=,
 * groups = {names}, series = {{name=, x=, y=, elo=, ehi=, dashed=, faint=, color=}},
 * markers = {{x=, y=, label=}}, notes = {{x=, y0=, y1=, label=}},
 * vlines = {{x=, label=}}, heat = {x=, y=, z = {rows}, zlabel=, log=}}.
 */
#include "lbind.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/plot.h"
#include "plot/term.h"

#define CANVAS_MT "llfc.view.Canvas" /* private: not a public llfc.<Type> */
#define FIGURE_MT "llfc.view.Figure"
#define SCREEN_MT "llfc.Screen"

typedef struct { int n; llfc_chart **charts; } figure;

/* ---- chart specs -> llfc_chart ---------------------------------------------- */
/* numbers of t[field] (a sequence) into an array kept in a userdata on the
 * stack (so a Lua error cannot leak it); returns n (-1: no such table). */
static double *spec_nums(lua_State *L, int t, const char *field, int *n)
{
    lua_getfield(L, t, field);
    int has = lua_istable(L, -1);
    int len = has ? (int)luaL_len(L, -1) : 0;
    double *v = lua_newuserdatauv(L, (size_t)(len > 0 ? len : 1) * sizeof *v, 0);
    for (int i = 0; i < len; i++) {
        lua_geti(L, -2, i + 1);
        int ok;
        double d = lua_tonumberx(L, -1, &ok);
        v[i] = ok ? d : NAN;
        lua_pop(L, 1);
    }
    lua_remove(L, -2);
    *n = has ? len : -1;
    return v;
}

static const char *spec_str(lua_State *L, int t, const char *field)
{
    lua_getfield(L, t, field);
    const char *s = lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1) : "";
    lua_pop(L, 1); /* the string stays anchored in the table */
    return s;
}

static double spec_num(lua_State *L, int t, const char *field, double def)
{
    lua_getfield(L, t, field);
    int ok;
    double d = lua_tonumberx(L, -1, &ok);
    lua_pop(L, 1);
    return ok ? d : def;
}

static int spec_bool(lua_State *L, int t, const char *field)
{
    lua_getfield(L, t, field);
    int b = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return b;
}

static void spec_heat(lua_State *L, int idx, llfc_chart *ch, const char *fname)
{
    int top = lua_gettop(L);
    lua_getfield(L, idx, "heat");
    int h = lua_gettop(L);
    if (!lua_istable(L, h)) luaL_error(L, "%s: a heat map needs heat = {x =, y =, z =}", fname);
    int nx, ny;
    double *x = spec_nums(L, h, "x", &nx), *y = spec_nums(L, h, "y", &ny);
    if (nx < 1 || ny < 1) luaL_error(L, "%s: heat map: x and y must be non-empty lists", fname);
    lua_getfield(L, h, "z");
    int zt = lua_gettop(L);
    if (!lua_istable(L, zt) || luaL_len(L, zt) != ny)
        luaL_error(L, "%s: heat map: z must hold %d rows (one per y) of %d values", fname, ny, nx);
    double *z = lua_newuserdatauv(L, (size_t)nx * ny * sizeof *z, 0);
    for (int j = 0; j < ny; j++) {
        lua_geti(L, zt, j + 1);
        if (!lua_istable(L, -1) || luaL_len(L, -1) != nx)
            luaL_error(L, "%s: heat map: row %d of z must hold %d values", fname, j + 1, nx);
        for (int i = 0; i < nx; i++) {
            lua_geti(L, -1, i + 1);
            int ok;
            double d = lua_tonumberx(L, -1, &ok);
            z[(size_t)j * nx + i] = ok ? d : NAN;
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    if (llfc_chart_heat(ch, nx, ny, x, y, z) != 0 || llfc_chart_settext(&ch->heat.zlabel, spec_str(L, h, "zlabel")) != 0)
        lb_error(L, fname);
    ch->heat.logz = spec_bool(L, h, "log");
    /* contour = a level: its contour line over the map */
    if (lua_getfield(L, h, "contour") != LUA_TNIL) {
        if (!lua_isnumber(L, -1)) luaL_error(L, "%s: heat map: contour must be a number (a level of z)", fname);
        ch->heat.has_contour = 1;
        ch->heat.contour = lua_tonumber(L, -1);
    }
    lua_settop(L, top);
}

/* Build the chart of the spec at idx into *slot (the slot is owned by a
 * figure userdata, so a Lua error part-way leaves nothing behind). */
static void tochart(lua_State *L, int idx, const char *fname, llfc_chart **slot)
{
    idx = lua_absindex(L, idx);
    if (!lua_istable(L, idx)) luaL_error(L, "%s: chart spec must be a table", fname);
    const char *type = spec_str(L, idx, "type");
    int kind = !strcmp(type, "bars") ? LLFC_CHART_BARS : !strcmp(type, "hist") ? LLFC_CHART_HIST
             : !strcmp(type, "heat") ? LLFC_CHART_HEAT : LLFC_CHART_LINES;
    int top = lua_gettop(L);
    if (!(*slot = llfc_chart_new(kind, spec_str(L, idx, "title")))) lb_error(L, fname);
    llfc_chart *ch = *slot;
    if (llfc_chart_labels(ch, spec_str(L, idx, "xlabel"), spec_str(L, idx, "ylabel")) != 0 ||
        llfc_chart_settext(&ch->errlabel, spec_str(L, idx, "errlabel")) != 0 ||
        llfc_chart_settext(&ch->caption, spec_str(L, idx, "caption")) != 0)
        lb_error(L, fname);
    llfc_chart_set_log(ch, spec_bool(L, idx, "log"));
    llfc_chart_yrange(ch, spec_num(L, idx, "ylo", 0), spec_num(L, idx, "yhi", 0));
    ch->xlo = spec_num(L, idx, "xlo", 0), ch->xhi = spec_num(L, idx, "xhi", 0);
    ch->yspan = spec_num(L, idx, "yspan", 0);
    if (!(ch->yspan >= 0) || !isfinite(ch->yspan)) ch->yspan = 0;
    if (kind == LLFC_CHART_HEAT) spec_heat(L, idx, ch, fname);
    lua_getfield(L, idx, "groups");
    if (lua_istable(L, -1)) {
        int n = (int)luaL_len(L, -1);
        const char **names = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *names, 0);
        for (int i = 0; i < n; i++) {
            lua_geti(L, -2, i + 1);
            names[i] = lua_tostring(L, -1) ? lua_tostring(L, -1) : "?";
            lua_insert(L, top + 1); /* keep the strings alive until copied */
        }
        if (llfc_chart_groups(ch, n, names) != 0) lb_error(L, fname);
    }
    lua_settop(L, top);
    lua_getfield(L, idx, "series");
    int ns = lua_istable(L, -1) ? (int)luaL_len(L, -1) : 0;
    if (kind == LLFC_CHART_HEAT) ns = 0;
    for (int i = 0; i < ns; i++) {
        lua_geti(L, top + 1, i + 1);
        int s = lua_gettop(L);
        if (!lua_istable(L, s)) luaL_error(L, "%s: series %d is not a table", fname, i + 1);
        int nx, ny, nlo, nhi;
        double *x = spec_nums(L, s, "x", &nx);
        double *y = spec_nums(L, s, "y", &ny);
        if (ny < 0) ny = 0;
        if (kind == LLFC_CHART_LINES && nx >= 0 && nx != ny)
            luaL_error(L, "%s: series %d has %d x values and %d y values", fname, i + 1, nx, ny);
        if (kind == LLFC_CHART_HIST && nx != ny + 1)
            luaL_error(L, "%s: histogram %d needs %d edges for %d counts, got %d", fname, i + 1, ny + 1, ny, nx < 0 ? 0 : nx);
        int k = llfc_chart_series(ch, spec_str(L, s, "name"), ny, kind == LLFC_CHART_BARS || nx < 0 ? NULL : x, y);
        if (k < 0) lb_error(L, fname);
        double *lo = spec_nums(L, s, "elo", &nlo), *hi = spec_nums(L, s, "ehi", &nhi);
        if (nlo >= 0 || nhi >= 0) {
            if (nlo != ny || nhi != ny)
                luaL_error(L, "%s: series %d needs elo and ehi of %d values each", fname, i + 1, ny);
            if (llfc_chart_errors(ch, k, lo, hi) != 0) lb_error(L, fname);
        }
        ch->series[k].dashed = spec_bool(L, s, "dashed");
        ch->series[k].faint = spec_bool(L, s, "faint");
        int color = (int)spec_num(L, s, "color", 0);
        if (color >= 1 && color <= LLFC_NSERIES_COLORS) ch->series[k].color = color;
        lua_settop(L, top + 1);
    }
    lua_settop(L, top);
    lua_getfield(L, idx, "markers");
    int nm = lua_istable(L, -1) ? (int)luaL_len(L, -1) : 0;
    for (int i = 0; i < nm; i++) {
        lua_geti(L, top + 1, i + 1);
        int t = lua_gettop(L);
        if (lua_istable(L, t) &&
            llfc_chart_marker(ch, spec_num(L, t, "x", NAN), spec_num(L, t, "y", NAN), spec_str(L, t, "label")) != 0)
            lb_error(L, fname);
        lua_pop(L, 1);
    }
    lua_settop(L, top);
    lua_getfield(L, idx, "notes");
    int nn = lua_istable(L, -1) ? (int)luaL_len(L, -1) : 0;
    for (int i = 0; i < nn; i++) {
        lua_geti(L, top + 1, i + 1);
        int t = lua_gettop(L);
        if (lua_istable(L, t) &&
            llfc_chart_note(ch, spec_num(L, t, "x", NAN), spec_num(L, t, "y0", NAN), spec_num(L, t, "y1", NAN), spec_str(L, t, "label")) != 0)
            lb_error(L, fname);
        lua_pop(L, 1);
    }
    lua_settop(L, top);
    lua_getfield(L, idx, "vlines");
    int nv = lua_istable(L, -1) ? (int)luaL_len(L, -1) : 0;
    for (int i = 0; i < nv; i++) {
        lua_geti(L, top + 1, i + 1);
        int t = lua_gettop(L);
        if (lua_istable(L, t) && llfc_chart_vline(ch, spec_num(L, t, "x", NAN), spec_str(L, t, "label")) != 0)
            lb_error(L, fname);
        lua_pop(L, 1);
    }
    lua_settop(L, top);
}

/* ---- Figure userdata ----------------------------------------------------------- */
static figure *checkfigure(lua_State *L, int idx) { return luaL_checkudata(L, idx, FIGURE_MT); }

static int figure_gc(lua_State *L)
{
    figure *f = luaL_checkudata(L, 1, FIGURE_MT);
    for (int i = 0; i < f->n; i++) llfc_chart_free(f->charts[i]);
    free(f->charts);
    f->charts = NULL, f->n = 0;
    return 0;
}

static int figure_new(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    luaL_argcheck(L, n >= 1 && n <= 4096, 1, "between 1 and 4096 charts");
    figure *f = lua_newuserdatauv(L, sizeof *f, 0);
    f->n = 0, f->charts = NULL;
    luaL_setmetatable(L, FIGURE_MT);
    if (!(f->charts = calloc((size_t)n, sizeof *f->charts))) return luaL_error(L, "figure: out of memory");
    f->n = (int)n;
    for (int i = 0; i < n; i++) {
        lua_geti(L, 1, i + 1);
        tochart(L, -1, "figure", &f->charts[i]);
        lua_pop(L, 1);
    }
    return 1;
}

static int figure_n(lua_State *L)
{
    lua_pushinteger(L, checkfigure(L, 1)->n);
    return 1;
}

/* export options: {format =, width =, height =, dpi =, cols =, title =} */
static void export_opts(lua_State *L, int idx, const figure *f, llfc_export_opts *o, const char *fname)
{
    o->format = LLFC_FMT_SVG, o->cols = f->n > 1 ? 2 : 1, o->dpi = 150, o->title = NULL;
    o->width = 6.4, o->height = 4.2;
    if (lua_isnoneornil(L, idx)) return;
    luaL_checktype(L, idx, LUA_TTABLE);
    const char *fmt = lb_optstring(L, idx, "format", NULL, fname);
    if (fmt) {
        if (!strcmp(fmt, "svg")) o->format = LLFC_FMT_SVG;
        else if (!strcmp(fmt, "pdf")) o->format = LLFC_FMT_PDF;
        else if (!strcmp(fmt, "png")) o->format = LLFC_FMT_PNG;
        else luaL_error(L, "%s: unknown format '%s' (svg, pdf or png)", fname, fmt);
    }
    o->cols = (int)lb_optinteger(L, idx, "cols", o->cols, fname);
    if (o->cols < 1) o->cols = 1;
    int rows = (f->n + o->cols - 1) / o->cols;
    int cols = o->cols < f->n ? o->cols : f->n;
    o->width = lb_optnumber(L, idx, "width", 4.2 * cols < 6.4 ? 6.4 : 4.2 * cols, fname);
    o->height = lb_optnumber(L, idx, "height", rows == 1 ? (cols == 1 ? 4.0 : 3.4) : 3.0 * rows, fname);
    o->dpi = lb_optnumber(L, idx, "dpi", 150, fname);
    o->title = lb_optstring(L, idx, "title", NULL, fname);
}

static int l_render(lua_State *L)
{
    figure *f = checkfigure(L, 1);
    const char *fmt = luaL_checkstring(L, 2);
    llfc_export_opts o;
    lua_settop(L, 3);
    export_opts(L, 3, f, &o, "render");
    o.format = !strcmp(fmt, "pdf") ? LLFC_FMT_PDF : !strcmp(fmt, "png") ? LLFC_FMT_PNG : LLFC_FMT_SVG;
    char *out;
    size_t len;
    if (llfc_figure_render(f->charts, f->n, &o, &out, &len) != 0) return lb_error(L, "render");
    lua_pushlstring(L, out, len);
    llfc_free(out);
    return 1;
}

static int l_export(lua_State *L)
{
    figure *f = checkfigure(L, 1);
    const char *path = luaL_checkstring(L, 2);
    llfc_export_opts o;
    lua_settop(L, 3);
    export_opts(L, 3, f, &o, "save");
    if (llfc_figure_export(f->charts, f->n, &o, path) != 0) return lb_fail(L, "save");
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- Canvas userdata ---------------------------------------------------------- */
static llfc_canvas *checkcanvas(lua_State *L, int idx)
{
    llfc_canvas **box = luaL_checkudata(L, idx, CANVAS_MT);
    if (!*box) luaL_argerror(L, idx, "canvas has been freed");
    return *box;
}

static int canvas_new(lua_State *L)
{
    lua_Integer w = luaL_checkinteger(L, 1), h = luaL_checkinteger(L, 2);
    int ascii = lua_toboolean(L, 3);
    lua_Integer colors = luaL_optinteger(L, 4, 0);
    luaL_argcheck(L, w >= 1 && w <= 10000, 1, "width out of range");
    luaL_argcheck(L, h >= 1 && h <= 10000, 2, "height out of range");
    llfc_canvas **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    luaL_setmetatable(L, CANVAS_MT);
    if (!(*box = llfc_canvas_new((int)w, (int)h, ascii))) return lb_error(L, "canvas");
    (*box)->colors = (int)colors;
    return 1;
}

static int canvas_gc(lua_State *L)
{
    llfc_canvas **box = luaL_checkudata(L, 1, CANVAS_MT);
    if (*box) llfc_canvas_free(*box), *box = NULL;
    return 0;
}

/* cv:draw(fig, i, x, y, w, h): chart i (1-based) of a figure */
static int canvas_draw(lua_State *L)
{
    llfc_canvas *c = checkcanvas(L, 1);
    figure *f = checkfigure(L, 2);
    lua_Integer i = luaL_checkinteger(L, 3);
    luaL_argcheck(L, i >= 1 && i <= f->n, 3, "no such chart");
    int x = (int)luaL_optinteger(L, 4, 0), y = (int)luaL_optinteger(L, 5, 0);
    int w = (int)luaL_optinteger(L, 6, c->w - x), h = (int)luaL_optinteger(L, 7, c->h - y);
    llfc_chart_draw(f->charts[i - 1], c, x, y, w, h);
    return 0;
}

static int canvas_text(lua_State *L)
{
    llfc_canvas *c = checkcanvas(L, 1);
    int x = (int)luaL_checkinteger(L, 2), y = (int)luaL_checkinteger(L, 3);
    const char *s = luaL_checkstring(L, 4);
    int color = (int)luaL_optinteger(L, 5, 0);
    luaL_argcheck(L, color >= 0 && color < LLFC_NCOLORS, 5, "colour out of range");
    if (x < 0 || y < 0 || y >= c->h || x >= c->w) { lua_pushinteger(L, 0); return 1; }
    lua_pushinteger(L, llfc_canvas_text(c, x, y, s, color, (int)luaL_optinteger(L, 6, c->w - x)));
    return 1;
}

static int canvas_totext(lua_State *L)
{
    char *t = llfc_canvas_to_text(checkcanvas(L, 1));
    if (!t) return lb_error(L, "totext");
    lua_pushstring(L, t);
    llfc_free(t);
    return 1;
}

static int canvas_size(lua_State *L)
{
    llfc_canvas *c = checkcanvas(L, 1);
    lua_pushinteger(L, c->w);
    lua_pushinteger(L, c->h);
    return 2;
}

static int canvas_clear(lua_State *L) { llfc_canvas_clear(checkcanvas(L, 1)); return 0; }

/* cv:cell(x, y) -> glyph (UTF-8), colour class, fg, bg (256-colour cells; nil otherwise) */
static int canvas_cell(lua_State *L)
{
    llfc_canvas *c = checkcanvas(L, 1);
    lua_Integer x = luaL_checkinteger(L, 2), y = luaL_checkinteger(L, 3);
    luaL_argcheck(L, x >= 0 && x < c->w, 2, "outside the canvas");
    luaL_argcheck(L, y >= 0 && y < c->h, 3, "outside the canvas");
    const llfc_cell *cl = &c->cells[(size_t)y * c->w + x];
    char b[8];
    int n = llfc_utf8_encode(llfc_canvas_glyph(c, (int)x, (int)y), b);
    lua_pushlstring(L, b, (size_t)n);
    lua_pushinteger(L, cl->color);
    if (cl->flags & LLFC_CELL_RGB) {
        lua_pushinteger(L, cl->fg);
        lua_pushinteger(L, cl->bg);
        return 4;
    }
    return 2;
}

/* ---- histograms, files, JSON ---------------------------------------------------- */
static int l_hist(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 4);
    lua_Integer n = luaL_len(L, 1);
    luaL_argcheck(L, n >= 0 && n <= 100000000, 1, "too many samples");
    double *x = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *x, 0);
    for (lua_Integer i = 0; i < n; i++) {
        lua_geti(L, 1, i + 1);
        int ok;
        double d = lua_tonumberx(L, -1, &ok);
        x[i] = ok ? d : NAN;
        lua_pop(L, 1);
    }
    double lo, hi, counts[100], below, above;
    int bins;
    if (!lua_isnoneornil(L, 2)) { /* given bins: count into them */
        lo = luaL_checknumber(L, 2), hi = luaL_checknumber(L, 3);
        lua_Integer b = luaL_checkinteger(L, 4);
        luaL_argcheck(L, lo < hi, 3, "need lo < hi");
        luaL_argcheck(L, b >= 1 && b <= 100, 4, "between 1 and 100 bins");
        bins = (int)b;
    } else {
        int m = llfc_hist_rule(x, (int)n, &lo, &hi, &bins);
        if (m < 0) return lb_error(L, "hist");
        if (m == 0) { lua_pushnil(L); return 1; }
    }
    llfc_hist_count(x, (int)n, lo, hi, bins, counts, &below, &above);
    lua_createtable(L, 0, 4);
    lua_createtable(L, bins + 1, 0);
    for (int k = 0; k <= bins; k++) { lua_pushnumber(L, lo + (hi - lo) * k / bins); lua_rawseti(L, -2, k + 1); }
    lua_setfield(L, -2, "edges");
    lua_createtable(L, bins, 0);
    for (int k = 0; k < bins; k++) { lua_pushinteger(L, (lua_Integer)counts[k]); lua_rawseti(L, -2, k + 1); }
    lua_setfield(L, -2, "counts");
    lua_pushinteger(L, (lua_Integer)below);
    lua_setfield(L, -2, "below");
    lua_pushinteger(L, (lua_Integer)above);
    lua_setfield(L, -2, "above");
    return 1;
}

/* Lua value -> cJSON: a table whose keys are exactly 1..n is an array (an
 * empty table too), any other table an object with its string and number
 * keys (numbers written as strings) in sorted order; NaN and inf become null.
 * First a check that raises on what JSON cannot hold (functions, userdata,
 * nesting deeper than 64: a cycle), then the build, which raises nothing, so
 * no cJSON node can leak. */
static void json_check(lua_State *L, int idx, int depth)
{
    idx = lua_absindex(L, idx);
    int t = lua_type(L, idx);
    if (t == LUA_TNIL || t == LUA_TBOOLEAN || t == LUA_TNUMBER || t == LUA_TSTRING) return;
    if (t != LUA_TTABLE) luaL_error(L, "json: cannot write a %s", luaL_typename(L, idx));
    if (depth > 64) luaL_error(L, "json: tables nested deeper than 64 levels (a cycle?)");
    luaL_checkstack(L, 4, "json");
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int kt = lua_type(L, -2);
        if (kt != LUA_TSTRING && kt != LUA_TNUMBER) luaL_error(L, "json: a table key is a %s", luaL_typename(L, -2));
        json_check(L, -1, depth + 1);
        lua_pop(L, 1);
    }
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static cJSON *json_build(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN: return cJSON_CreateBool(lua_toboolean(L, idx));
    case LUA_TNUMBER: {
        if (lua_isinteger(L, idx)) return cJSON_CreateNumber((double)lua_tointeger(L, idx));
        double d = lua_tonumber(L, idx);
        return isfinite(d) ? cJSON_CreateNumber(d) : cJSON_CreateNull();
    }
    case LUA_TSTRING: return cJSON_CreateString(lua_tostring(L, idx));
    case LUA_TTABLE: break;
    default: return cJSON_CreateNull();
    }
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) { count++; lua_pop(L, 1); }
    if (count == n) {
        cJSON *a = cJSON_CreateArray();
        for (lua_Integer i = 1; a && i <= n; i++) {
            lua_rawgeti(L, idx, i);
            cJSON *v = json_build(L, -1);
            lua_pop(L, 1);
            if (!v) { cJSON_Delete(a); return NULL; }
            cJSON_AddItemToArray(a, v);
        }
        return a;
    }
    /* an object: keys as strings, sorted so that the output is reproducible */
    char **keys = malloc((size_t)count * sizeof *keys);
    cJSON *o = cJSON_CreateObject();
    if (!keys || !o) { free(keys); cJSON_Delete(o); return NULL; }
    int nk = 0, ok = 1;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1); /* a copy: lua_tostring on a number key would confuse lua_next */
        const char *k = lua_tostring(L, -1);
        keys[nk] = k ? strdup(k) : NULL;
        if (!keys[nk]) ok = 0; else nk++;
        lua_pop(L, 1);
    }
    qsort(keys, (size_t)nk, sizeof *keys, cmp_str);
    for (int i = 0; i < nk && ok; i++) {
        lua_pushstring(L, keys[i]);
        lua_rawget(L, idx);
        if (lua_isnil(L, -1)) { /* a number key written as a string */
            lua_pop(L, 1);
            lua_pushnumber(L, strtod(keys[i], NULL));
            if (lua_isinteger(L, -1) || lua_tonumber(L, -1) == (lua_Number)(lua_Integer)lua_tonumber(L, -1)) {
                lua_Integer k = (lua_Integer)lua_tonumber(L, -1);
                lua_pop(L, 1);
                lua_pushinteger(L, k);
            }
            lua_rawget(L, idx);
        }
        cJSON *v = json_build(L, -1);
        lua_pop(L, 1);
        if (!v) ok = 0;
        else cJSON_AddItemToObject(o, keys[i], v);
    }
    for (int i = 0; i < nk; i++) free(keys[i]);
    free(keys);
    if (!ok) { cJSON_Delete(o); return NULL; }
    return o;
}

static int l_json(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    json_check(L, 1, 0);
    cJSON *j = json_build(L, 1);
    char *s = j ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    if (!s) return luaL_error(L, "json: out of memory");
    lua_pushstring(L, s);
    cJSON_free(s);
    return 1;
}

static void push_json(lua_State *L, const cJSON *j, int depth)
{
    luaL_checkstack(L, 4, "json");
    if (cJSON_IsBool(j)) lua_pushboolean(L, cJSON_IsTrue(j));
    else if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (d == floor(d) && fabs(d) < 9007199254740992.0) lua_pushinteger(L, (lua_Integer)d);
        else lua_pushnumber(L, d);
    } else if (cJSON_IsString(j)) lua_pushstring(L, j->valuestring);
    else if (cJSON_IsArray(j) || cJSON_IsObject(j)) {
        if (depth > 200) { lua_pushnil(L); return; }
        int arr = cJSON_IsArray(j), i = 0;
        lua_createtable(L, arr ? cJSON_GetArraySize(j) : 0, arr ? 0 : cJSON_GetArraySize(j));
        for (const cJSON *c = j->child; c; c = c->next) {
            if (!arr) lua_pushstring(L, c->string ? c->string : "");
            if (cJSON_IsNull(c)) lua_pushnumber(L, NAN); /* null: NaN or inf written by json() */
            else push_json(L, c, depth + 1);
            if (arr) lua_rawseti(L, -2, ++i);
            else lua_rawset(L, -3);
        }
    } else lua_pushnil(L);
}

/* json_decode(s) -> value, or nil and a message; errors of the text are environmental */
static int l_json_decode(lua_State *L)
{
    const char *s = luaL_checkstring(L, 1);
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithOpts(s, &end, 1);
    if (!j) {
        lua_pushnil(L);
        lua_pushfstring(L, "not valid JSON near byte %d", (int)((end ? end : s) - s) + 1);
        return 2;
    }
    /* a Lua memory error while pushing would leak j: the tree is small next to the text */
    push_json(L, j, 0);
    cJSON_Delete(j);
    return 1;
}

/* ---- the terminal ------------------------------------------------------------------- */
static int l_term(lua_State *L)
{
    const char *why = llfc_term_why_not();
    lua_pushboolean(L, why == NULL);
    lua_pushstring(L, why ? why : "");
    return 2;
}

static int l_utf8(lua_State *L) { lua_pushboolean(L, llfc_term_utf8()); return 1; }

/* The handle's __gc/__close closes the screen only if it is still the one the
 * handle opened: an old handle collected later must not close a newer view. */
static int screen_gc(lua_State *L)
{
    unsigned *gen = luaL_checkudata(L, 1, SCREEN_MT);
    llfc_term_close_gen(*gen);
    return 0;
}

static int l_open(lua_State *L)
{
    unsigned gen;
    if (llfc_term_open(&gen) != 0) return lb_fail(L, "view");
    unsigned *box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = gen;
    luaL_setmetatable(L, SCREEN_MT);
    return 1;
}

static int l_close(lua_State *L) { llfc_term_close(); return 0; }
static int l_isopen(lua_State *L) { lua_pushboolean(L, llfc_term_isopen()); return 1; }
static int l_colors(lua_State *L) { lua_pushinteger(L, llfc_term_colors()); return 1; }
static int l_blit(lua_State *L) { llfc_term_blit(checkcanvas(L, 1)); return 0; }

static int l_getkey(lua_State *L)
{
    char buf[8];
    const char *k = llfc_term_getkey((int)luaL_optinteger(L, 1, 0), buf);
    if (k) lua_pushstring(L, k); else lua_pushnil(L);
    return 1;
}

static int l_size(lua_State *L)
{
    int c, l;
    llfc_term_size(&c, &l);
    lua_pushinteger(L, c);
    lua_pushinteger(L, l);
    return 2;
}

static int l_interrupted(lua_State *L) { lua_pushboolean(L, llfc_interrupted()); return 1; }
static int l_clear_interrupt(lua_State *L) { llfc_interrupt_clear(); return 0; }
static int l_now(lua_State *L) { lua_pushnumber(L, llfc_now()); return 1; }

/* checktypos(opts, {known names}, fname): lb_checktypos for the Lua side */
static int l_checktypos(lua_State *L)
{
    luaL_checktype(L, 2, LUA_TTABLE);
    const char *fname = luaL_checkstring(L, 3);
    lua_Integer n = luaL_len(L, 2);
    luaL_argcheck(L, n >= 0 && n < 64, 2, "at most 63 names");
    const char *known[64];
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 2, i);
        known[i - 1] = luaL_checkstring(L, -1); /* stays referenced by the table */
        lua_pop(L, 1);
    }
    known[n] = NULL;
    lb_checktypos(L, 1, known, fname);
    return 0;
}

int llfc_open_view(lua_State *L)
{
    static const luaL_Reg canvas_meth[] = {
        {"draw", canvas_draw}, {"text", canvas_text}, {"totext", canvas_totext},
        {"size", canvas_size}, {"clear", canvas_clear}, {"cell", canvas_cell}, {NULL, NULL},
    };
    static const luaL_Reg canvas_mm[] = {{"__gc", canvas_gc}, {"__close", canvas_gc}, {NULL, NULL}};
    static const luaL_Reg figure_meth[] = {{"n", figure_n}, {NULL, NULL}};
    static const luaL_Reg figure_mm[] = {{"__gc", figure_gc}, {"__close", figure_gc}, {NULL, NULL}};
    static const luaL_Reg screen_mm[] = {{"__gc", screen_gc}, {"__close", screen_gc}, {NULL, NULL}};
    static const luaL_Reg prims[] = {
        {"canvas", canvas_new}, {"figure", figure_new}, {"render", l_render}, {"export", l_export},
        {"json", l_json}, {"json_decode", l_json_decode}, {"hist", l_hist},
        {"term", l_term}, {"utf8", l_utf8}, {"open", l_open}, {"close", l_close}, {"isopen", l_isopen},
        {"colors", l_colors}, {"blit", l_blit}, {"getkey", l_getkey}, {"size", l_size},
        {"interrupted", l_interrupted}, {"clear_interrupt", l_clear_interrupt}, {"now", l_now},
        {"checktypos", l_checktypos},
        {NULL, NULL},
    };
    lb_newtype(L, CANVAS_MT, canvas_meth, canvas_mm);
    lb_newtype(L, FIGURE_MT, figure_meth, figure_mm);
    lb_newtype(L, SCREEN_MT, NULL, screen_mm);
    /* the primitives, then the Lua module built on them */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_newtable(L);
    luaL_setfuncs(L, prims, 0);
    lua_setfield(L, -2, "llfc.view.c");
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_getfield(L, -1, "llfc.view");
    lua_remove(L, -2);
    if (!lua_isfunction(L, -1)) { /* no embedded module: primitives only */
        lua_pop(L, 1);
        lua_getfield(L, -1, "llfc.view.c");
        lua_remove(L, -2);
        return 1;
    }
    lua_pushliteral(L, "llfc.view");
    lua_call(L, 1, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "llfc.view");
    lua_remove(L, -2);
    return 1;
}
