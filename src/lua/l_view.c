/* l_view.c - Lua binding of the view module: charts and canvases from the
 * pure plot core, SVG export, and the terminal (ncurses lives here only).
 *
 * The public view functions (view.plot, view.save, view.begin/update/finish,
 * view.live) are written in Lua (lua/llfc/view.lua); this file gives them
 * the primitives as the private table package.loaded["llfc.view.c"]:
 *   canvas(w, h, ascii) -> Canvas   (methods draw(spec, x, y, w, h), text(x, y, s [, color]),
 *                                    totext(), size(), clear(); cells 0-based)
 *   svg({spec, ...}, cols, pw, ph) -> string      write(path, string) -> true | nil, msg
 *   term() -> ok, why   utf8() -> bool   open() -> guard   close()   isopen()
 *   blit(canvas)   getkey(ms) -> key name | nil   size() -> cols, lines
 *   interrupted()   clear_interrupt()   now()
 * A chart spec is a table {type = "lines"|"bars"|"hist", title=, xlabel=,
 * ylabel=, log=, ylo=, yhi=, groups = {names}, series = {{name=, x=, y=,
 * dashed=, color=}}, markers = {{x=, y=, label=}}, notes = {{x=, y0=, y1=, label=}}}.
 */
#define NCURSES_WIDECHAR 1
#include "lbind.h"

#include <curses.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "plot/plot.h"

#define CANVAS_MT "llfc.view.Canvas" /* private: not a public llfc.<Type> */
#define CHART_MT "llfc.ChartBox"
#define SCREEN_MT "llfc.Screen"

/* ---- chart specs -> llfc_chart ---------------------------------------------- */
static int chartbox_gc(lua_State *L)
{
    llfc_chart **box = lua_touserdata(L, 1);
    if (box && *box) llfc_chart_free(*box), *box = NULL;
    return 0;
}

/* numbers of t[field] (a sequence) into a malloc'd array kept in a box on the
 * stack (so a Lua error cannot leak it); returns n and leaves the box pushed. */
static double *spec_nums(lua_State *L, int t, const char *field, int *n)
{
    lua_getfield(L, t, field);
    int len = lua_istable(L, -1) ? (int)luaL_len(L, -1) : 0;
    double *v = lua_newuserdatauv(L, (size_t)(len > 0 ? len : 1) * sizeof *v, 0);
    for (int i = 0; i < len; i++) {
        lua_geti(L, -2, i + 1);
        int ok;
        double d = lua_tonumberx(L, -1, &ok);
        v[i] = ok ? d : NAN;
        lua_pop(L, 1);
    }
    lua_remove(L, -2);
    *n = len;
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

/* Build the chart for the spec at idx; it is owned by a box pushed on the stack. */
static llfc_chart *tochart(lua_State *L, int idx, const char *fname)
{
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    const char *type = spec_str(L, idx, "type");
    int kind = !strcmp(type, "lines") ? LLFC_CHART_LINES : !strcmp(type, "bars") ? LLFC_CHART_BARS
             : !strcmp(type, "hist") ? LLFC_CHART_HIST : -1;
    if (kind < 0) luaL_error(L, "%s: chart type must be 'lines', 'bars' or 'hist', got '%s'", fname, type);
    llfc_chart **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    if (luaL_newmetatable(L, CHART_MT)) {
        lua_pushcfunction(L, chartbox_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    int top = lua_gettop(L);
    if (!(*box = llfc_chart_new(kind, spec_str(L, idx, "title")))) lb_error(L, fname);
    llfc_chart *ch = *box;
    if (llfc_chart_labels(ch, spec_str(L, idx, "xlabel"), spec_str(L, idx, "ylabel")) != 0) lb_error(L, fname);
    lua_getfield(L, idx, "log");
    llfc_chart_set_log(ch, lua_toboolean(L, -1));
    lua_pop(L, 1);
    llfc_chart_yrange(ch, spec_num(L, idx, "ylo", 0), spec_num(L, idx, "yhi", 0));
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
    for (int i = 0; i < ns; i++) {
        lua_geti(L, top + 1, i + 1);
        int s = lua_gettop(L);
        if (!lua_istable(L, s)) luaL_error(L, "%s: series %d is not a table", fname, i + 1);
        int nx, ny;
        double *x = spec_nums(L, s, "x", &nx);
        double *y = spec_nums(L, s, "y", &ny);
        lua_getfield(L, s, "x");
        int hasx = lua_istable(L, -1);
        lua_pop(L, 1);
        if (kind == LLFC_CHART_LINES && hasx && nx != ny)
            luaL_error(L, "%s: series %d has %d x values and %d y values", fname, i + 1, nx, ny);
        if (kind == LLFC_CHART_HIST && nx != ny + 1)
            luaL_error(L, "%s: histogram %d needs %d edges for %d counts, got %d", fname, i + 1, ny + 1, ny, nx);
        if (kind == LLFC_CHART_LINES && !hasx) { /* x = 1..n (x held room for one value only) */
            x = lua_newuserdatauv(L, (size_t)(ny > 0 ? ny : 1) * sizeof *x, 0);
            for (int k = 0; k < ny; k++) x[k] = k + 1;
            hasx = 1;
        }
        int k = llfc_chart_series(ch, spec_str(L, s, "name"), ny, kind == LLFC_CHART_BARS ? NULL : x, y);
        if (k < 0) lb_error(L, fname);
        lua_getfield(L, s, "dashed");
        ch->series[k].dashed = lua_toboolean(L, -1);
        lua_pop(L, 1);
        int color = (int)spec_num(L, s, "color", 0);
        if (color >= 1 && color <= LLFC_NSERIES_COLORS) ch->series[k].color = color;
        lua_settop(L, top + 1);
    }
    lua_settop(L, top);
    lua_getfield(L, idx, "markers");
    int nm = lua_istable(L, -1) ? (int)luaL_len(L, -1) : 0;
    for (int i = 0; i < nm; i++) {
        lua_geti(L, top + 1, i + 1);
        if (lua_istable(L, -1) &&
            llfc_chart_marker(ch, spec_num(L, -1, "x", NAN), spec_num(L, -1, "y", NAN), spec_str(L, lua_gettop(L), "label")) != 0)
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
    return ch;
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
    luaL_argcheck(L, w >= 1 && w <= 10000, 1, "width out of range");
    luaL_argcheck(L, h >= 1 && h <= 10000, 2, "height out of range");
    llfc_canvas **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    luaL_setmetatable(L, CANVAS_MT);
    if (!(*box = llfc_canvas_new((int)w, (int)h, ascii))) return lb_error(L, "canvas");
    return 1;
}

static int canvas_gc(lua_State *L)
{
    llfc_canvas **box = luaL_checkudata(L, 1, CANVAS_MT);
    if (*box) llfc_canvas_free(*box), *box = NULL;
    return 0;
}

static int canvas_draw(lua_State *L)
{
    llfc_canvas *c = checkcanvas(L, 1);
    int x = (int)luaL_optinteger(L, 3, 0), y = (int)luaL_optinteger(L, 4, 0);
    int w = (int)luaL_optinteger(L, 5, c->w - x), h = (int)luaL_optinteger(L, 6, c->h - y);
    lua_settop(L, 2);
    llfc_chart *ch = tochart(L, 2, "draw");
    llfc_chart_draw(ch, c, x, y, w, h);
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

/* ---- SVG and files ---------------------------------------------------------------- */
static int l_svg(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int n = (int)luaL_len(L, 1);
    luaL_argcheck(L, n >= 1, 1, "no charts");
    int cols = (int)luaL_optinteger(L, 2, 1), pw = (int)luaL_optinteger(L, 3, 640), ph = (int)luaL_optinteger(L, 4, 400);
    lua_settop(L, 4);
    luaL_checkstack(L, n + 10, "svg: too many charts");
    llfc_chart **charts = lua_newuserdatauv(L, (size_t)n * sizeof *charts, 0);
    for (int i = 0; i < n; i++) {
        lua_geti(L, 1, i + 1);
        charts[i] = tochart(L, -1, "svg"); /* its box stays on the stack */
    }
    char *s = llfc_svg_charts(charts, n, cols, pw, ph);
    if (!s) return lb_error(L, "svg");
    lua_pushstring(L, s);
    free(s);
    return 1;
}

/* ---- the terminal ------------------------------------------------------------------- */
static SCREEN *screen;
static unsigned screen_gen; /* bumped on every close: a box only closes its own screen */
static struct sigaction old_sigint, old_sigwinch;
static int atexit_done, colors_on;

static void on_sigint(int sig)
{
    (void)sig;
    llfc_interrupt_flag = 1;
}

/* Resizes: ncurses installs its own SIGWINCH handler only once per process
 * and only if none is set -- and the REPL has one for Readline -- so the view
 * catches the signal itself and resizes the screen when it next reads a key. */
static volatile sig_atomic_t winched, resized;
static void on_sigwinch(int sig)
{
    (void)sig;
    winched = resized = 1;
}

static int take_resize(void)
{
    struct winsize ws;
    if (!winched) return 0;
    winched = 0;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
        resizeterm(ws.ws_row, ws.ws_col);
    return 1;
}

static void screen_close(void)
{
    if (!screen) return;
    endwin();
    delscreen(screen);
    screen = NULL;
    screen_gen++;
    sigaction(SIGINT, &old_sigint, NULL);
    sigaction(SIGWINCH, &old_sigwinch, NULL);
    fflush(stdout);
    /* pass on a resize the REPL's handler missed (Readline's line width) */
    if (resized) resized = 0, raise(SIGWINCH);
}

static int l_term(lua_State *L)
{
    const char *why = NULL, *term = getenv("TERM"), *ci = getenv("CI"), *force = getenv("LLFC_VIEW");
    if (force && !strcmp(force, "text")) why = "LLFC_VIEW=text";
    else if (ci && *ci && strcmp(ci, "0") && strcmp(ci, "false")) why = "CI is set";
    else if (!term || !*term || !strcmp(term, "dumb")) why = "no terminal type (TERM)";
    else if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) why = "not a terminal";
    lua_pushboolean(L, why == NULL);
    lua_pushstring(L, why ? why : "");
    return 2;
}

static int l_utf8(lua_State *L)
{
    /* LC_CTYPE only: LC_NUMERIC must stay "C" for Lua's number syntax. */
    setlocale(LC_CTYPE, "");
    const char *cs = nl_langinfo(CODESET);
    lua_pushboolean(L, cs && (!strcmp(cs, "UTF-8") || !strcmp(cs, "utf8")));
    return 1;
}

/* The handle's __gc/__close closes the screen only if it is still the one the
 * handle opened: an old handle collected later must not close a newer view. */
static int screen_gc(lua_State *L)
{
    unsigned *gen = luaL_checkudata(L, 1, SCREEN_MT);
    if (*gen == screen_gen) screen_close();
    return 0;
}

static int l_open(lua_State *L)
{
    if (!screen) {
        setlocale(LC_CTYPE, "");
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigint; /* no SA_RESTART: getch returns on Ctrl-C */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_sigint);
        /* ours while the screen is open; the REPL's comes back in screen_close */
        sa.sa_handler = on_sigwinch;
        winched = resized = 0;
        sigaction(SIGWINCH, &sa, &old_sigwinch);
        fflush(stdout);
        screen = newterm(NULL, stdout, stdin);
        if (!screen) {
            sigaction(SIGINT, &old_sigint, NULL);
            sigaction(SIGWINCH, &old_sigwinch, NULL);
            lua_pushnil(L);
            lua_pushstring(L, "view: cannot open the terminal");
            return 2;
        }
        if (!atexit_done) atexit(screen_close), atexit_done = 1;
        set_term(screen);
        cbreak();
        noecho();
        nonl();
        keypad(stdscr, TRUE);
        set_escdelay(25);
        curs_set(0);
        colors_on = 0;
        if (has_colors() && start_color() == OK) {
            use_default_colors();
            static const short pal[] = {COLOR_CYAN, COLOR_RED, COLOR_GREEN, COLOR_MAGENTA, COLOR_YELLOW, COLOR_BLUE};
            for (int i = 0; i < 6; i++) init_pair((short)(i + 1), pal[i], -1);
            init_pair(LLFC_COLOR_NOTE, COLOR_YELLOW, -1);
            colors_on = 1;
        }
    }
    unsigned *box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = screen_gen;
    if (luaL_newmetatable(L, SCREEN_MT)) {
        lua_pushcfunction(L, screen_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, screen_gc);
        lua_setfield(L, -2, "__close");
    }
    lua_setmetatable(L, -2);
    return 1;
}

static int l_close(lua_State *L) { screen_close(); return 0; }
static int l_isopen(lua_State *L) { lua_pushboolean(L, screen != NULL); return 1; }

static int l_blit(lua_State *L)
{
    llfc_canvas *c = checkcanvas(L, 1);
    if (!screen) return 0;
    erase();
    int rows = LINES < c->h ? LINES : c->h, cols = COLS < c->w ? COLS : c->w;
    for (int y = 0; y < rows; y++)
        for (int x = 0; x < cols; x++) {
            const llfc_cell *cl = &c->cells[(size_t)y * c->w + x];
            uint32_t g = llfc_canvas_glyph(c, x, y);
            if (g == ' ' && cl->color != LLFC_COLOR_STATUS) continue;
            attr_t attr = A_NORMAL;
            short pair = 0;
            int k = cl->color;
            if (k >= 1 && k <= LLFC_NSERIES_COLORS) pair = colors_on ? (short)k : 0;
            else if (k == LLFC_COLOR_AXIS) attr = A_DIM;
            else if (k == LLFC_COLOR_NOTE) attr = A_BOLD, pair = colors_on ? LLFC_COLOR_NOTE : 0;
            else if (k == LLFC_COLOR_TITLE) attr = A_BOLD;
            else if (k == LLFC_COLOR_STATUS) attr = A_REVERSE;
            if (y == LINES - 1 && x == COLS - 1) continue; /* writing there scrolls */
            if (c->ascii || g < 0x80) {
                mvaddch(y, x, (chtype)(g < 0x80 ? g : '?') | attr | COLOR_PAIR(pair));
            } else {
                wchar_t wc[2] = {(wchar_t)g, 0};
                cchar_t cc;
                setcchar(&cc, wc, attr, pair, NULL);
                mvadd_wch(y, x, &cc);
            }
        }
    refresh();
    return 0;
}

static int l_getkey(lua_State *L)
{
    int ms = (int)luaL_optinteger(L, 1, 0);
    if (llfc_interrupted()) { lua_pushliteral(L, "interrupt"); return 1; }
    if (!screen) { lua_pushnil(L); return 1; }
    if (take_resize()) { lua_pushliteral(L, "resize"); return 1; }
    timeout(ms < 0 ? -1 : ms);
    int ch = getch();
    if (ch == ERR && take_resize()) ch = KEY_RESIZE; /* the signal ended the wait */
    const char *name = NULL;
    char buf[8];
    switch (ch) {
    case ERR: name = llfc_interrupted() ? "interrupt" : NULL; break;
    case KEY_RESIZE: name = "resize"; break;
    case '\t': name = "tab"; break;
    case KEY_BTAB: name = "btab"; break;
    case KEY_LEFT: name = "left"; break;
    case KEY_RIGHT: name = "right"; break;
    case KEY_UP: name = "up"; break;
    case KEY_DOWN: name = "down"; break;
    case KEY_NPAGE: name = "pagedown"; break;
    case KEY_PPAGE: name = "pageup"; break;
    case 27: name = "escape"; break;
    case 3: name = "interrupt"; break;
    case '\r': case '\n': case KEY_ENTER: name = "enter"; break;
    default:
        if (ch > 0 && ch < 127) { buf[0] = (char)ch, buf[1] = 0; name = buf; }
        else name = "other";
    }
    if (name) lua_pushstring(L, name); else lua_pushnil(L);
    return 1;
}

static int l_size(lua_State *L)
{
    if (screen) {
        lua_pushinteger(L, COLS);
        lua_pushinteger(L, LINES);
    } else {
        const char *c = getenv("COLUMNS"), *l = getenv("LINES");
        lua_pushinteger(L, c && atoi(c) > 0 ? atoi(c) : 80);
        lua_pushinteger(L, l && atoi(l) > 0 ? atoi(l) : 24);
    }
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
        {"size", canvas_size}, {"clear", canvas_clear}, {NULL, NULL},
    };
    static const luaL_Reg canvas_mm[] = {{"__gc", canvas_gc}, {"__close", canvas_gc}, {NULL, NULL}};
    static const luaL_Reg prims[] = {
        {"canvas", canvas_new}, {"svg", l_svg}, {"term", l_term},
        {"utf8", l_utf8}, {"open", l_open}, {"close", l_close}, {"isopen", l_isopen},
        {"blit", l_blit}, {"getkey", l_getkey}, {"size", l_size},
        {"interrupted", l_interrupted}, {"clear_interrupt", l_clear_interrupt}, {"now", l_now},
        {"checktypos", l_checktypos},
        {NULL, NULL},
    };
    lb_newtype(L, CANVAS_MT, canvas_meth, canvas_mm);
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
