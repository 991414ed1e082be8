/* plot.c - the pure canvas (cells, braille dots, text), axis ticks, and
 * charts (lines, grouped bars, histograms) drawn into a canvas rectangle. */
#include "plot/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- canvas ------------------------------------------------------------- */
static const char ascii_dot[LLFC_NSERIES_COLORS + 1] = "**+ox#%";  /* [0] default */
static const char ascii_bar[LLFC_NSERIES_COLORS + 1] = "##=%@+x";

llfc_canvas *llfc_canvas_new(int w, int h, int ascii)
{
    if (w < 1 || h < 1 || w > 10000 || h > 10000) {
        llfc_seterr("canvas: bad size %dx%d", w, h);
        return NULL;
    }
    llfc_canvas *c = llfc_malloc(sizeof *c);
    if (!c) return NULL;
    c->cells = llfc_calloc((size_t)w * h, sizeof *c->cells);
    if (!c->cells) { llfc_free(c); return NULL; }
    c->w = w, c->h = h, c->ascii = ascii != 0;
    return c;
}

void llfc_canvas_free(llfc_canvas *c)
{
    if (!c) return;
    llfc_free(c->cells);
    llfc_free(c);
}

void llfc_canvas_clear(llfc_canvas *c) { memset(c->cells, 0, (size_t)c->w * c->h * sizeof *c->cells); }
int llfc_canvas_dx(const llfc_canvas *c) { return c->ascii ? 1 : 2; }
int llfc_canvas_dy(const llfc_canvas *c) { return c->ascii ? 1 : 4; }

void llfc_canvas_put(llfc_canvas *c, int x, int y, uint32_t ch, int color)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    llfc_cell *cl = &c->cells[(size_t)y * c->w + x];
    cl->ch = ch;
    cl->dots = 0;
    cl->color = (uint8_t)color;
}

/* Decode one UTF-8 codepoint; invalid bytes give U+FFFD and advance by one. */
static uint32_t utf8_next(const unsigned char **ps)
{
    const unsigned char *s = *ps;
    uint32_t cp;
    int len;
    if (s[0] < 0x80) { *ps = s + 1; return s[0]; }
    if ((s[0] & 0xE0) == 0xC0) cp = s[0] & 0x1F, len = 2;
    else if ((s[0] & 0xF0) == 0xE0) cp = s[0] & 0x0F, len = 3;
    else if ((s[0] & 0xF8) == 0xF0) cp = s[0] & 0x07, len = 4;
    else { *ps = s + 1; return 0xFFFD; }
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) { *ps = s + 1; return 0xFFFD; }
        cp = cp << 6 | (s[i] & 0x3F);
    }
    *ps = s + len;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000) || cp < (len == 2 ? 0x80u : len == 3 ? 0x800u : 0x10000u))
        return 0xFFFD;
    return cp;
}

int llfc_utf8_encode(uint32_t cp, char *b)
{
    if (cp < 0x80) { b[0] = (char)cp; return 1; }
    if (cp < 0x800) { b[0] = (char)(0xC0 | cp >> 6); b[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        b[0] = (char)(0xE0 | cp >> 12); b[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    b[0] = (char)(0xF0 | cp >> 18); b[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    b[2] = (char)(0x80 | (cp >> 6 & 0x3F)); b[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

int llfc_text_width(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    int n = 0;
    while (*p) { utf8_next(&p); n++; }
    return n;
}

int llfc_canvas_text(llfc_canvas *c, int x, int y, const char *s, int color, int maxw)
{
    const unsigned char *p = (const unsigned char *)s;
    int n = 0;
    if (maxw < 0) maxw = c->w - x;
    while (*p && n < maxw) {
        uint32_t cp = utf8_next(&p);
        if (cp < 0x20 || cp == 0x7F) cp = '?';
        if (c->ascii && cp >= 0x80) cp = cp == 0x3B1 ? 'a' : '?';
        llfc_canvas_put(c, x + n, y, cp, color);
        n++;
    }
    return n;
}

/* Braille dot bits by (column, row) in the 2x4 cell. */
static const uint8_t braille_bit[4][2] = {{0x01, 0x08}, {0x02, 0x10}, {0x04, 0x20}, {0x40, 0x80}};

void llfc_canvas_dot(llfc_canvas *c, int px, int py, int color)
{
    int dx = llfc_canvas_dx(c), dy = llfc_canvas_dy(c);
    if (px < 0 || py < 0 || px >= c->w * dx || py >= c->h * dy) return;
    llfc_cell *cl = &c->cells[(size_t)(py / dy) * c->w + px / dx];
    if (c->ascii) {
        int k = color >= 1 && color <= LLFC_NSERIES_COLORS ? color : 0;
        cl->ch = (uint32_t)ascii_dot[k];
        cl->dots = 0;
    } else {
        if (cl->ch) cl->ch = 0, cl->dots = 0; /* dots replace text */
        cl->dots |= braille_bit[py % 4][px % 2];
    }
    cl->color = (uint8_t)color;
}

void llfc_canvas_line(llfc_canvas *c, int x0, int y0, int x1, int y1, int color, int dashed)
{
    int adx = abs(x1 - x0), ady = abs(y1 - y0);
    int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = adx - ady, k = 0;
    /* clip absurd lengths (points far outside) */
    if (adx > 100000 || ady > 100000) return;
    for (;;) {
        if (!dashed || (k / 2) % 2 == 0) llfc_canvas_dot(c, x0, y0, color);
        k++;
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 > -ady) { err -= ady; x0 += sx; }
        if (e2 < adx) { err += adx; y0 += sy; }
    }
}

uint32_t llfc_canvas_glyph(const llfc_canvas *c, int x, int y)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return ' ';
    const llfc_cell *cl = &c->cells[(size_t)y * c->w + x];
    if (cl->ch) return cl->ch;
    if (cl->dots) return 0x2800u + cl->dots;
    return ' ';
}

char *llfc_canvas_to_text(const llfc_canvas *c)
{
    size_t cap = (size_t)c->h * ((size_t)c->w * 4 + 1) + 1;
    char *out = llfc_malloc(cap), *p = out;
    if (!out) return NULL;
    for (int y = 0; y < c->h; y++) {
        char *line = p, *end = p;
        for (int x = 0; x < c->w; x++) {
            uint32_t g = llfc_canvas_glyph(c, x, y);
            p += llfc_utf8_encode(g, p);
            if (g != ' ') end = p;
        }
        (void)line;
        p = end;
        *p++ = '\n';
    }
    *p = 0;
    return out;
}

/* ---- ticks ----------------------------------------------------------------- */
int llfc_ticks(double lo, double hi, int maxn, int log, double *t, double *step)
{
    int n = 0;
    if (maxn < 2) maxn = 2;
    if (maxn > 64) maxn = 64;
    if (!(lo <= hi) || !isfinite(lo) || !isfinite(hi)) { *step = 1; return 0; }
    if (log) {
        if (lo <= 0) lo = hi > 0 ? hi * 1e-6 : 1e-300;
        int e0 = (int)ceil(log10(lo) - 1e-9), e1 = (int)floor(log10(hi) + 1e-9);
        int every = 1;
        while ((e1 - e0) / every + 1 > maxn) every++;
        for (int e = e0; e <= e1 && n < 64; e += every) t[n++] = pow(10.0, e);
        *step = every;
        return n;
    }
    if (hi == lo) { t[0] = lo; *step = lo != 0 ? fabs(lo) : 1; return 1; }
    double raw = (hi - lo) / (maxn - 1);
    if (!isfinite(raw)) raw = hi / (maxn - 1) - lo / (maxn - 1);
    double mag = pow(10.0, floor(log10(raw)));
    double norm = raw / mag * (1 - 1e-6); /* 2.0000001 is 2 */
    double nice = norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10;
    double s = nice * mag;
    double k0 = ceil(lo / s - 1e-9);
    for (double k = k0; n < 64; k++) {
        double v = k * s;
        if (v > hi + s * 1e-9) break;
        if (fabs(v) < s * 1e-9) v = 0;
        t[n++] = v;
    }
    *step = s;
    return n;
}

/* Shorten "1.5e+12" to "1.5e12" and "1e-05" to "1e-5". */
static void compact_exp(char *b)
{
    char *e = strchr(b, 'e');
    if (!e) return;
    char *src = e + 1, *dst = e + 1;
    if (*src == '+') src++;
    else if (*src == '-') *dst++ = *src++;
    while (*src == '0' && src[1]) src++;
    memmove(dst, src, strlen(src) + 1);
}

void llfc_tick_label(double v, double step, int log, char *b, size_t n)
{
    if (v == 0) { snprintf(b, n, "0"); return; }
    if (log) { snprintf(b, n, "%g", v); compact_exp(b); return; }
    double av = fabs(v);
    if (av < 1e6 && step >= 1e-4 && av >= 1e-4) {
        int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
        snprintf(b, n, "%.*f", dec, v);
        return;
    }
    int p = (int)floor(log10(av)) - (int)floor(log10(step) + 1e-9) + 1;
    if (p < 1) p = 1;
    if (p > 15) p = 15;
    snprintf(b, n, "%.*g", p, v);
    compact_exp(b);
}

void llfc_num_label(double v, char *b, size_t n)
{
    if (v != v) { snprintf(b, n, "nan"); return; }
    snprintf(b, n, "%.3g", v);
    compact_exp(b);
}

/* ---- charts: data --------------------------------------------------------- */
static char *dupstr(const char *s)
{
    if (!s) s = "";
    size_t n = strlen(s) + 1;
    char *d = llfc_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

llfc_chart *llfc_chart_new(int kind, const char *title)
{
    if (kind < LLFC_CHART_LINES || kind > LLFC_CHART_HIST) {
        llfc_seterr("chart: unknown kind %d", kind);
        return NULL;
    }
    llfc_chart *ch = llfc_calloc(1, sizeof *ch);
    if (!ch) return NULL;
    ch->kind = kind;
    ch->ylo = ch->yhi = 0;
    if (!(ch->title = dupstr(title)) || !(ch->xlabel = dupstr("")) || !(ch->ylabel = dupstr(""))) {
        llfc_chart_free(ch);
        return NULL;
    }
    return ch;
}

void llfc_chart_free(llfc_chart *ch)
{
    if (!ch) return;
    for (int i = 0; i < ch->nseries; i++) {
        llfc_free(ch->series[i].name);
        llfc_free(ch->series[i].x);
        llfc_free(ch->series[i].y);
    }
    llfc_free(ch->series);
    for (int i = 0; i < ch->ngroups; i++) llfc_free(ch->groups[i]);
    llfc_free(ch->groups);
    for (int i = 0; i < ch->nmarkers; i++) llfc_free(ch->markers[i].label);
    llfc_free(ch->markers);
    for (int i = 0; i < ch->nnotes; i++) llfc_free(ch->notes[i].label);
    llfc_free(ch->notes);
    llfc_free(ch->title);
    llfc_free(ch->xlabel);
    llfc_free(ch->ylabel);
    llfc_free(ch);
}

int llfc_chart_labels(llfc_chart *ch, const char *xlabel, const char *ylabel)
{
    char *x = dupstr(xlabel), *y = dupstr(ylabel);
    if (!x || !y) { llfc_free(x); llfc_free(y); return -1; }
    llfc_free(ch->xlabel); llfc_free(ch->ylabel);
    ch->xlabel = x, ch->ylabel = y;
    return 0;
}

static double *dupnums(const double *v, int n)
{
    double *d = llfc_mallocarray(n > 0 ? (size_t)n : 1, sizeof *d);
    if (d && n > 0) memcpy(d, v, (size_t)n * sizeof *d);
    return d;
}

int llfc_chart_series(llfc_chart *ch, const char *name, int n, const double *x, const double *y)
{
    if (n < 0) return llfc_seterr("chart: negative series length %d", n);
    if (ch->kind == LLFC_CHART_LINES && !x && n > 0) return llfc_seterr("chart: a line series needs x values");
    if (ch->kind == LLFC_CHART_HIST && !x) return llfc_seterr("chart: a histogram needs bin edges");
    llfc_series *s = realloc(ch->series, (size_t)(ch->nseries + 1) * sizeof *s);
    if (!s) return llfc_seterr("out of memory (series)");
    ch->series = s;
    s = &ch->series[ch->nseries];
    memset(s, 0, sizeof *s);
    int nx = ch->kind == LLFC_CHART_HIST ? n + 1 : n;
    s->name = dupstr(name);
    s->y = dupnums(y, n);
    s->x = x ? dupnums(x, nx) : NULL;
    if (!s->name || !s->y || (x && !s->x)) {
        llfc_free(s->name); llfc_free(s->y); llfc_free(s->x);
        return -1;
    }
    s->n = n;
    s->color = ch->nseries % LLFC_NSERIES_COLORS + 1;
    return ch->nseries++;
}

int llfc_chart_groups(llfc_chart *ch, int n, const char *const *names)
{
    char **g = llfc_calloc(n > 0 ? (size_t)n : 1, sizeof *g);
    if (!g) return -1;
    for (int i = 0; i < n; i++)
        if (!(g[i] = dupstr(names[i]))) {
            for (int j = 0; j < i; j++) llfc_free(g[j]);
            llfc_free(g);
            return -1;
        }
    for (int i = 0; i < ch->ngroups; i++) llfc_free(ch->groups[i]);
    llfc_free(ch->groups);
    ch->groups = g, ch->ngroups = n;
    return 0;
}

int llfc_chart_marker(llfc_chart *ch, double x, double y, const char *label)
{
    llfc_marker *m = realloc(ch->markers, (size_t)(ch->nmarkers + 1) * sizeof *m);
    if (!m) return llfc_seterr("out of memory (marker)");
    ch->markers = m;
    if (!(m[ch->nmarkers].label = dupstr(label))) return -1;
    m[ch->nmarkers].x = x, m[ch->nmarkers].y = y;
    ch->nmarkers++;
    return 0;
}

int llfc_chart_note(llfc_chart *ch, double x, double y0, double y1, const char *label)
{
    llfc_note *m = realloc(ch->notes, (size_t)(ch->nnotes + 1) * sizeof *m);
    if (!m) return llfc_seterr("out of memory (note)");
    ch->notes = m;
    if (!(m[ch->nnotes].label = dupstr(label))) return -1;
    m[ch->nnotes].x = x, m[ch->nnotes].y0 = y0, m[ch->nnotes].y1 = y1;
    ch->nnotes++;
    return 0;
}

void llfc_chart_set_log(llfc_chart *ch, int on) { ch->logy = on != 0; }
void llfc_chart_yrange(llfc_chart *ch, double lo, double hi) { ch->ylo = lo, ch->yhi = hi; }

/* ---- charts: ranges ---------------------------------------------------------- */
typedef struct { double lo, hi; int any; } range;

static void grow(range *r, double v)
{
    if (!isfinite(v)) return;
    if (!r->any) r->lo = r->hi = v, r->any = 1;
    else { if (v < r->lo) r->lo = v; if (v > r->hi) r->hi = v; }
}

static void widen(range *r, int log)
{
    if (!r->any) { r->lo = log ? 0.1 : 0, r->hi = 1; return; }
    if (r->lo < r->hi) return;
    if (log) { r->lo /= 10; r->hi *= 10; return; }
    double d = r->lo != 0 ? fabs(r->lo) * 0.1 : 1;
    r->lo -= d, r->hi += d;
}

void llfc_chart_frame(const llfc_chart *ch, int yticks, llfc_frame *f)
{
    range x = {0, 0, 0}, y = {0, 0, 0};
    int log = ch->logy;
    for (int i = 0; i < ch->nseries; i++) {
        const llfc_series *s = &ch->series[i];
        for (int k = 0; k < s->n; k++) {
            double v = s->y[k];
            if (log && !(v > 0)) continue;
            if (ch->kind == LLFC_CHART_LINES) {
                if (!isfinite(s->x[k]) || !isfinite(v)) continue;
                grow(&x, s->x[k]);
            }
            grow(&y, v);
        }
        if (ch->kind == LLFC_CHART_HIST)
            for (int k = 0; k <= s->n; k++) grow(&x, s->x[k]);
    }
    if (ch->kind == LLFC_CHART_LINES) {
        for (int i = 0; i < ch->nmarkers; i++)
            if (isfinite(ch->markers[i].y) && (!log || ch->markers[i].y > 0)) grow(&x, ch->markers[i].x), grow(&y, ch->markers[i].y);
        for (int i = 0; i < ch->nnotes; i++) {
            grow(&x, ch->notes[i].x);
            if (!log || ch->notes[i].y0 > 0) grow(&y, ch->notes[i].y0);
            if (!log || ch->notes[i].y1 > 0) grow(&y, ch->notes[i].y1);
        }
    }
    if (ch->kind != LLFC_CHART_LINES && !log) grow(&y, 0); /* bars start at zero */
    if (ch->ylo < ch->yhi && (!log || ch->ylo > 0)) {
        if (!y.any || y.lo >= ch->ylo) y.lo = ch->ylo;
        if (!y.any || y.hi <= ch->yhi) y.hi = ch->yhi;
        y.any = 1;
    }
    if (ch->kind == LLFC_CHART_BARS) x.lo = 0, x.hi = ch->ngroups, x.any = 1;
    widen(&x, 0);
    widen(&y, log);
    /* round y out to ticks */
    if (log) {
        y.lo = pow(10.0, floor(log10(y.lo) + 1e-9));
        y.hi = pow(10.0, ceil(log10(y.hi) - 1e-9));
        if (y.lo >= y.hi) y.hi = y.lo * 10;
    } else {
        /* rounding out can change the step: repeat until the ends are ticks */
        double t[64], step, last = 0;
        for (int it = 0; it < 4; it++) {
            llfc_ticks(y.lo, y.hi, yticks, 0, t, &step);
            if (step == last) break;
            double lo = floor(y.lo / step + 1e-9) * step, hi = ceil(y.hi / step - 1e-9) * step;
            if (isfinite(lo) && isfinite(hi) && lo < hi) y.lo = lo, y.hi = hi;
            last = step;
        }
    }
    f->xlo = x.lo, f->xhi = x.hi, f->ylo = y.lo, f->yhi = y.hi, f->logy = log;
}

/* ---- charts: drawing ------------------------------------------------------------ */
typedef struct {
    llfc_canvas *c;
    llfc_frame f;
    int px, py, pw, ph;     /* plot area in cells */
    int dx, dy;
} plotctx;

/* fraction of the y axis for value v (NaN if not drawable) */
static double yfrac(const plotctx *p, double v)
{
    if (!isfinite(v)) return NAN;
    if (p->f.logy) {
        if (!(v > 0)) return NAN;
        return (log10(v) - log10(p->f.ylo)) / (log10(p->f.yhi) - log10(p->f.ylo));
    }
    return (v - p->f.ylo) / (p->f.yhi - p->f.ylo);
}

static double xfrac(const plotctx *p, double v)
{
    if (!isfinite(v)) return NAN;
    return (v - p->f.xlo) / (p->f.xhi - p->f.xlo);
}

/* dot coordinates; far outside values are clamped to a margin */
static int xdot(const plotctx *p, double fr)
{
    double W = p->pw * p->dx - 1;
    double v = fr * W;
    if (v < -W) v = -W;
    if (v > 2 * W) v = 2 * W;
    return p->px * p->dx + (int)lround(v);
}

static int ydot(const plotctx *p, double fr)
{
    double H = p->ph * p->dy - 1;
    double v = H - fr * H;
    if (v < -H) v = -H;
    if (v > 2 * H) v = 2 * H;
    return p->py * p->dy + (int)lround(v);
}

static int ycell(const plotctx *p, double fr) { return p->py + (int)lround((1 - fr) * (p->ph - 1)); }
static int xcell(const plotctx *p, double fr) { return p->px + (int)lround(fr * (p->pw - 1)); }

/* Clip dots to the plot area: draw on a scratch canvas is overkill; instead
 * lines are drawn point by point and dots outside the area are dropped. */
static void plot_dot(plotctx *p, int x, int y, int color)
{
    if (x < p->px * p->dx || x >= (p->px + p->pw) * p->dx) return;
    if (y < p->py * p->dy || y >= (p->py + p->ph) * p->dy) return;
    llfc_canvas_dot(p->c, x, y, color);
}

static void plot_line(plotctx *p, int x0, int y0, int x1, int y1, int color, int dashed)
{
    int adx = abs(x1 - x0), ady = abs(y1 - y0);
    int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = adx - ady, k = 0;
    for (;;) {
        if (!dashed || (k / 2) % 2 == 0) plot_dot(p, x0, y0, color);
        k++;
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 > -ady) { err -= ady; x0 += sx; }
        if (e2 < adx) { err += adx; y0 += sy; }
    }
}

static void draw_lines(const llfc_chart *ch, plotctx *p)
{
    for (int i = 0; i < ch->nseries; i++) {
        const llfc_series *s = &ch->series[i];
        int have = 0, lx = 0, ly = 0;
        for (int k = 0; k < s->n; k++) {
            double fx = xfrac(p, s->x[k]), fy = yfrac(p, s->y[k]);
            if (fx != fx || fy != fy) { have = 0; continue; } /* NaN: a gap */
            int X = xdot(p, fx), Y = ydot(p, fy);
            if (have) plot_line(p, lx, ly, X, Y, s->color, s->dashed);
            else plot_dot(p, X, Y, s->color);
            have = 1, lx = X, ly = Y;
        }
    }
}

/* Height of a bar in eighths of a cell from the bottom edge of the plot, so
 * that its top lands on the row of its value (row centres are tick values:
 * the bottom row's centre is the axis minimum). */
static int bar_eighths(const plotctx *p, double fr)
{
    if (!(fr > 0)) return 0;
    if (fr > 1) fr = 1;
    return (int)lround((fr * (p->ph - 1) + 0.5) * 8);
}

static void draw_bars(const llfc_chart *ch, plotctx *p)
{
    int ng = ch->ngroups > 0 ? ch->ngroups : 1, ns = ch->nseries;
    if (ns == 0) return;
    int gw = p->pw / ng;
    if (gw < 1) gw = 1;
    int bw = (gw - 1) / ns;
    if (bw < 1) bw = 1;
    if (bw > 6) bw = 6;
    for (int g = 0; g < ng; g++) {
        int x0 = p->px + g * gw + (gw - bw * ns) / 2;
        if (x0 < p->px + g * gw) x0 = p->px + g * gw;
        for (int i = 0; i < ns; i++) {
            const llfc_series *s = &ch->series[i];
            if (g >= s->n) continue;
            double fr = yfrac(p, s->y[g]);
            if (fr != fr) continue;
            if (fr > 1) fr = 1;
            int eighths = bar_eighths(p, fr);
            for (int k = 0; k < bw; k++) {
                int X = x0 + i * bw + k;
                if (X >= p->px + p->pw) break;
                for (int r = 0; r < p->ph && eighths - r * 8 > 0; r++) {
                    int e = eighths - r * 8;
                    uint32_t glyph;
                    if (p->c->ascii) glyph = e >= 2 ? (uint32_t)ascii_bar[s->color] : 0;
                    else glyph = e >= 8 ? 0x2588u : 0x2580u + (uint32_t)e;
                    if (glyph) llfc_canvas_put(p->c, X, p->py + p->ph - 1 - r, glyph, s->color);
                }
                /* a non-zero value always shows at least a sliver */
                if (eighths == 0 && fr > 0)
                    llfc_canvas_put(p->c, X, p->py + p->ph - 1, p->c->ascii ? '_' : 0x2581u, s->color);
            }
        }
    }
}

static void draw_hist(const llfc_chart *ch, plotctx *p)
{
    for (int i = 0; i < ch->nseries; i++) {
        const llfc_series *s = &ch->series[i];
        for (int col = 0; col < p->pw; col++) {
            double xv = p->f.xlo + (col + 0.5) / p->pw * (p->f.xhi - p->f.xlo);
            int bin = -1;
            for (int k = 0; k < s->n; k++)
                if (xv >= s->x[k] && xv < s->x[k + 1]) { bin = k; break; }
            if (bin < 0 || !isfinite(s->y[bin])) continue;
            double fr = yfrac(p, s->y[bin]);
            if (fr != fr || fr <= 0) continue;
            if (fr > 1) fr = 1;
            int eighths = bar_eighths(p, fr);
            for (int r = 0; r < p->ph && eighths - r * 8 > 0; r++) {
                int e = eighths - r * 8;
                uint32_t glyph;
                if (p->c->ascii) glyph = e >= 2 ? (uint32_t)ascii_bar[s->color] : (r == 0 ? '_' : 0);
                else glyph = e >= 8 ? 0x2588u : 0x2580u + (uint32_t)e;
                if (glyph) llfc_canvas_put(p->c, p->px + col, p->py + p->ph - 1 - r, glyph, s->color);
            }
        }
    }
}

/* Text inside the plot area, right of (x, y) if it fits, else left of it. */
static void plot_label(plotctx *p, int x, int y, const char *s, int color)
{
    int w = llfc_text_width(s);
    int X = x + 1;
    if (X + w > p->px + p->pw) X = x - w;
    if (X < p->px) X = p->px;
    llfc_canvas_text(p->c, X, y, s, color, p->px + p->pw - X);
}

static void draw_notes(const llfc_chart *ch, plotctx *p)
{
    for (int i = 0; i < ch->nnotes; i++) {
        const llfc_note *n = &ch->notes[i];
        double fx = xfrac(p, n->x), f0 = yfrac(p, n->y0), f1 = yfrac(p, n->y1);
        if (fx != fx || f0 != f0 || f1 != f1) continue;
        int X = xcell(p, fx), a = ycell(p, f0), b = ycell(p, f1);
        if (a > b) { int t = a; a = b; b = t; }
        for (int y = a; y <= b; y++)
            if (y >= p->py && y < p->py + p->ph) llfc_canvas_put(p->c, X, y, p->c->ascii ? ':' : 0x2506u, LLFC_COLOR_NOTE);
    }
}

static void draw_markers(const llfc_chart *ch, plotctx *p)
{
    for (int i = 0; i < ch->nmarkers; i++) {
        const llfc_marker *m = &ch->markers[i];
        double fx = xfrac(p, m->x), fy = yfrac(p, m->y);
        if (fx != fx || fy != fy || fx < -1e-9 || fx > 1 + 1e-9 || fy < -1e-9 || fy > 1 + 1e-9) continue;
        int X = xcell(p, fx), Y = ycell(p, fy);
        llfc_canvas_put(p->c, X, Y, p->c->ascii ? '@' : 0x25CFu, LLFC_COLOR_NOTE);
        if (m->label && *m->label) plot_label(p, X, Y, m->label, LLFC_COLOR_NOTE);
    }
}

/* The legend on one row: "-- name  -- name" starting at x, at most w cells. */
static void draw_legend(const llfc_chart *ch, llfc_canvas *c, int x, int y, int w)
{
    int total = 0;
    for (int i = 0; i < ch->nseries; i++) total += 3 + llfc_text_width(ch->series[i].name) + 2;
    int X = total - 2 < w ? x + w - (total - 2) : x;
    for (int i = 0; i < ch->nseries && X < x + w; i++) {
        const llfc_series *s = &ch->series[i];
        uint32_t g;
        if (ch->kind == LLFC_CHART_LINES) g = c->ascii ? (uint32_t)ascii_dot[s->color] : (s->dashed ? 0x2504u : 0x2501u);
        else g = c->ascii ? (uint32_t)ascii_bar[s->color] : 0x2588u;
        if (X + 2 > x + w) break;
        llfc_canvas_put(c, X, y, g, s->color);
        llfc_canvas_put(c, X + 1, y, g, s->color);
        X += 3;
        X += llfc_canvas_text(c, X, y, s->name, s->color, x + w - X) + 2;
    }
}

void llfc_chart_draw(const llfc_chart *ch, llfc_canvas *c, int x, int y, int w, int h)
{
    if (x < 0) w += x, x = 0;
    if (y < 0) h += y, y = 0;
    if (x + w > c->w) w = c->w - x;
    if (y + h > c->h) h = c->h - y;
    if (w <= 0 || h <= 0) return;
    int title_w = llfc_text_width(ch->title);
    llfc_canvas_text(c, x + (title_w < w ? (w - title_w) / 2 : 0), y, ch->title, LLFC_COLOR_TITLE, w);
    /* rows: title, legend/ylabel, plot..., axis, tick labels, xlabel */
    /* bars whose names will not fit get numbers and a key on the xlabel row */
    int numbered = 0;
    if (ch->kind == LLFC_CHART_BARS && ch->ngroups > 1) {
        int room = (w - 8) / ch->ngroups - 1;
        for (int g = 0; g < ch->ngroups; g++)
            if (llfc_text_width(ch->groups[g]) > (room > 1 ? room : 1)) numbered = 1;
    }
    int has_xlabel = ((ch->xlabel && *ch->xlabel) || numbered) && h >= 9;
    int top = y + 1 + (h >= 6 ? 1 : 0);
    int bottom = y + h - 2 - has_xlabel; /* axis row */
    int ph = bottom - top;
    if (ph < 2 || w < 12) return;
    int yt = ph / 2 + 1;
    if (yt > 8) yt = 8;
    llfc_frame f;
    llfc_chart_frame(ch, yt, &f);
    double ticks[64], step;
    int nt = llfc_ticks(f.ylo, f.yhi, yt, f.logy, ticks, &step);
    char lab[64];
    int lw = 1;
    for (int i = 0; i < nt; i++) {
        llfc_tick_label(ticks[i], step, f.logy, lab, sizeof lab);
        int k = llfc_text_width(lab);
        if (k > lw) lw = k;
    }
    if (lw > w / 3) lw = w / 3;
    plotctx p = {c, f, x + lw + 1, top, w - lw - 2, ph, llfc_canvas_dx(c), llfc_canvas_dy(c)};
    if (p.pw < 4) return;
    int A = LLFC_COLOR_AXIS;
    /* legend and y label */
    if (top > y + 1) {
        int yl = 0;
        if (ch->ylabel && *ch->ylabel) yl = llfc_canvas_text(c, x, y + 1, ch->ylabel, A, w / 3) + 2;
        if (ch->nseries > 1 || (ch->nseries == 1 && *ch->series[0].name)) draw_legend(ch, c, x + yl, y + 1, w - yl);
    }
    /* y axis with ticks */
    for (int r = top; r < bottom; r++) llfc_canvas_put(c, p.px - 1, r, c->ascii ? '|' : 0x2502u, A);
    int last_row = -10;
    for (int i = nt - 1; i >= 0; i--) {
        double fr = yfrac(&p, ticks[i]);
        if (fr != fr) continue;
        int r = ycell(&p, fr);
        if (r < top || r >= bottom || r == last_row) continue;
        llfc_tick_label(ticks[i], step, f.logy, lab, sizeof lab);
        int k = llfc_text_width(lab);
        llfc_canvas_text(c, x + (lw > k ? lw - k : 0), r, lab, A, lw);
        llfc_canvas_put(c, p.px - 1, r, c->ascii ? '+' : 0x2524u, A);
        last_row = r;
    }
    /* x axis */
    llfc_canvas_put(c, p.px - 1, bottom, c->ascii ? '+' : 0x2514u, A);
    for (int k = 0; k < p.pw; k++) llfc_canvas_put(c, p.px + k, bottom, c->ascii ? '-' : 0x2500u, A);
    if (ch->kind == LLFC_CHART_BARS) {
        int ng = ch->ngroups > 0 ? ch->ngroups : 1, gw = p.pw / ng;
        if (gw < 1) gw = 1;
        int endcol = -1, room = gw > 1 ? gw - 1 : 1;
        /* Names that do not fit (ResNet's "layer2.1.relu1") would all be cut to
         * the same first letters: number the bars instead and name the ends. */
        for (int g = 0; g < ch->ngroups; g++) {
            char num[16];
            const char *name = ch->groups[g];
            if (numbered) snprintf(num, sizeof num, "%d", g + 1), name = num;
            int k = llfc_text_width(name);
            if (k > room) k = room;
            int X = p.px + g * gw + (gw - k) / 2;
            if (X <= endcol) continue;
            endcol = X + llfc_canvas_text(c, X, bottom + 1, name, A, k) - 1;
        }
    } else {
        double xt[64], xstep;
        int nx = llfc_ticks(f.xlo, f.xhi, p.pw / 8 + 1 < 11 ? p.pw / 8 + 1 : 11, 0, xt, &xstep);
        int endcol = x - 1;
        for (int i = 0; i < nx; i++) {
            double fr = xfrac(&p, xt[i]);
            int X = xcell(&p, fr);
            llfc_tick_label(xt[i], xstep, 0, lab, sizeof lab);
            int k = llfc_text_width(lab), L = X - k / 2;
            if (L + k > x + w) L = x + w - k;
            if (L <= endcol + 1) continue;
            llfc_canvas_put(c, X, bottom, c->ascii ? '+' : 0x252Cu, A);
            llfc_canvas_text(c, L, bottom + 1, lab, A, k);
            endcol = L + k - 1;
        }
    }
    if (has_xlabel) {
        char key[200];
        const char *xl = ch->xlabel ? ch->xlabel : "";
        if (numbered) {
            snprintf(key, sizeof key, "%s%s1 = %s ... %d = %s", xl, *xl ? ": " : "", ch->groups[0], ch->ngroups,
                     ch->groups[ch->ngroups - 1]);
            xl = key;
        }
        int k = llfc_text_width(xl);
        llfc_canvas_text(c, p.px + (k < p.pw ? (p.pw - k) / 2 : 0), bottom + 2, xl, A, w - lw - 1);
    }
    /* data */
    draw_notes(ch, &p);
    if (ch->kind == LLFC_CHART_LINES) draw_lines(ch, &p);
    else if (ch->kind == LLFC_CHART_BARS) draw_bars(ch, &p);
    else draw_hist(ch, &p);
    draw_markers(ch, &p);
    /* note labels again on top of data */
    for (int i = 0; i < ch->nnotes; i++) {
        const llfc_note *n = &ch->notes[i];
        double fx = xfrac(&p, n->x), f0 = yfrac(&p, n->y0), f1 = yfrac(&p, n->y1);
        if (fx != fx || f0 != f0 || f1 != f1 || !n->label || !*n->label) continue;
        int X = xcell(&p, fx), a = ycell(&p, f0), b = ycell(&p, f1);
        if (b < a) a = b;
        plot_label(&p, X - 1, a > p.py ? a - 1 : a, n->label, LLFC_COLOR_NOTE);
    }
}
