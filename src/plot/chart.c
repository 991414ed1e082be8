/* chart.c - the chart model (data, copied in), axis ticks, the axis frame both
 * renderers use, histogram rules, and the colour scale of heat maps. */
#include "plot/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if (kind < LLFC_CHART_LINES || kind > LLFC_CHART_HEAT) {
        llfc_seterr("chart: unknown kind %d", kind);
        return NULL;
    }
    llfc_chart *ch = llfc_calloc(1, sizeof *ch);
    if (!ch) return NULL;
    ch->kind = kind;
    if (!(ch->title = dupstr(title)) || !(ch->xlabel = dupstr("")) || !(ch->ylabel = dupstr("")) ||
        !(ch->errlabel = dupstr("")) || !(ch->caption = dupstr("")) || !(ch->heat.zlabel = dupstr(""))) {
        llfc_chart_free(ch);
        return NULL;
    }
    return ch;
}

void llfc_chart_free(llfc_chart *ch)
{
    if (!ch) return;
    for (int i = 0; i < ch->nseries; i++) {
        llfc_series *s = &ch->series[i];
        llfc_free(s->name), llfc_free(s->x), llfc_free(s->y), llfc_free(s->elo), llfc_free(s->ehi);
    }
    llfc_free(ch->series);
    for (int i = 0; i < ch->ngroups; i++) llfc_free(ch->groups[i]);
    llfc_free(ch->groups);
    for (int i = 0; i < ch->nmarkers; i++) llfc_free(ch->markers[i].label);
    llfc_free(ch->markers);
    for (int i = 0; i < ch->nnotes; i++) llfc_free(ch->notes[i].label);
    llfc_free(ch->notes);
    for (int i = 0; i < ch->nvlines; i++) llfc_free(ch->vlines[i].label);
    llfc_free(ch->vlines);
    llfc_free(ch->heat.x), llfc_free(ch->heat.y), llfc_free(ch->heat.z), llfc_free(ch->heat.zlabel);
    llfc_free(ch->title), llfc_free(ch->xlabel), llfc_free(ch->ylabel);
    llfc_free(ch->errlabel), llfc_free(ch->caption);
    llfc_free(ch);
}

int llfc_chart_settext(char **field, const char *s)
{
    char *d = dupstr(s);
    if (!d) return -1;
    llfc_free(*field);
    *field = d;
    return 0;
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
    if (d && v && n > 0) memcpy(d, v, (size_t)n * sizeof *d);
    return d;
}

int llfc_chart_series(llfc_chart *ch, const char *name, int n, const double *x, const double *y)
{
    if (n < 0) return llfc_seterr("chart: negative series length %d", n);
    if (ch->kind == LLFC_CHART_HIST && !x) return llfc_seterr("chart: a histogram needs bin edges");
    if (ch->kind == LLFC_CHART_HEAT) return llfc_seterr("chart: a heat map has no series");
    llfc_series *s = realloc(ch->series, (size_t)(ch->nseries + 1) * sizeof *s);
    if (!s) return llfc_seterr("out of memory (series)");
    ch->series = s;
    s = &ch->series[ch->nseries];
    memset(s, 0, sizeof *s);
    int nx = ch->kind == LLFC_CHART_HIST ? n + 1 : n;
    if (ch->kind == LLFC_CHART_BARS) x = NULL;
    s->name = dupstr(name);
    s->y = dupnums(y, n);
    if (x) s->x = dupnums(x, nx);
    else if (ch->kind == LLFC_CHART_LINES && (s->x = dupnums(NULL, n)))
        for (int k = 0; k < n; k++) s->x[k] = k + 1; /* categories 1..n */
    if (!s->name || !s->y || (ch->kind != LLFC_CHART_BARS && !s->x)) {
        llfc_free(s->name); llfc_free(s->y); llfc_free(s->x);
        return -1;
    }
    s->n = n;
    s->color = ch->nseries % LLFC_NSERIES_COLORS + 1;
    return ch->nseries++;
}

int llfc_chart_errors(llfc_chart *ch, int k, const double *lo, const double *hi)
{
    if (k < 0 || k >= ch->nseries) return llfc_seterr("chart: no series %d", k + 1);
    llfc_series *s = &ch->series[k];
    double *l = dupnums(lo, s->n), *h = dupnums(hi, s->n);
    if (!l || !h) { llfc_free(l); llfc_free(h); return -1; }
    llfc_free(s->elo), llfc_free(s->ehi);
    s->elo = l, s->ehi = h;
    return 0;
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

int llfc_chart_vline(llfc_chart *ch, double x, const char *label)
{
    llfc_vline *v = realloc(ch->vlines, (size_t)(ch->nvlines + 1) * sizeof *v);
    if (!v) return llfc_seterr("out of memory (vline)");
    ch->vlines = v;
    if (!(v[ch->nvlines].label = dupstr(label))) return -1;
    v[ch->nvlines].x = x;
    ch->nvlines++;
    return 0;
}

int llfc_chart_heat(llfc_chart *ch, int nx, int ny, const double *x, const double *y, const double *z)
{
    if (ch->kind != LLFC_CHART_HEAT) return llfc_seterr("chart: not a heat map");
    if (nx < 1 || ny < 1 || nx > 100000 || ny > 100000 || (double)nx * ny > 4e7)
        return llfc_seterr("heat map: bad grid size %dx%d", nx, ny);
    for (int i = 1; i < nx; i++)
        if (!(x[i] > x[i - 1])) return llfc_seterr("heat map: x must ascend (x[%d] = %g after %g)", i + 1, x[i], x[i - 1]);
    for (int j = 1; j < ny; j++)
        if (!(y[j] > y[j - 1])) return llfc_seterr("heat map: y must ascend (y[%d] = %g after %g)", j + 1, y[j], y[j - 1]);
    for (int i = 0; i < nx; i++)
        if (!isfinite(x[i])) return llfc_seterr("heat map: x[%d] is not finite", i + 1);
    for (int j = 0; j < ny; j++)
        if (!isfinite(y[j])) return llfc_seterr("heat map: y[%d] is not finite", j + 1);
    double *dx = dupnums(x, nx), *dy = dupnums(y, ny), *dz = dupnums(z, nx * ny);
    if (!dx || !dy || !dz) { llfc_free(dx), llfc_free(dy), llfc_free(dz); return -1; }
    llfc_free(ch->heat.x), llfc_free(ch->heat.y), llfc_free(ch->heat.z);
    ch->heat.x = dx, ch->heat.y = dy, ch->heat.z = dz, ch->heat.nx = nx, ch->heat.ny = ny;
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

/* A heat cell's edges: halfway to the neighbours (a lone cell is 1 wide). */
static double heat_edge(const double *c, int n, int i)
{
    if (n == 1) return c[0] + (i == 0 ? -0.5 : 0.5);
    if (i == 0) return c[0] - (c[1] - c[0]) / 2;
    if (i == n) return c[n - 1] + (c[n - 1] - c[n - 2]) / 2;
    return (c[i - 1] + c[i]) / 2;
}

static void heat_frame(const llfc_chart *ch, llfc_frame *f)
{
    const llfc_heat *h = &ch->heat;
    range z = {0, 0, 0};
    if (h->nx > 0) {
        f->xlo = heat_edge(h->x, h->nx, 0), f->xhi = heat_edge(h->x, h->nx, h->nx);
        f->ylo = heat_edge(h->y, h->ny, 0), f->yhi = heat_edge(h->y, h->ny, h->ny);
        for (int k = 0; k < h->nx * h->ny; k++)
            if (!h->logz || h->z[k] > 0) grow(&z, h->z[k]);
    } else f->xlo = 0, f->xhi = 1, f->ylo = 0, f->yhi = 1;
    if (ch->xlo < ch->xhi) f->xlo = ch->xlo, f->xhi = ch->xhi;
    if (ch->ylo < ch->yhi) f->ylo = ch->ylo, f->yhi = ch->yhi;
    widen(&z, h->logz);
    f->zlo = z.lo, f->zhi = z.hi, f->logy = 0;
}

void llfc_chart_frame(const llfc_chart *ch, int yticks, llfc_frame *f)
{
    range x = {0, 0, 0}, y = {0, 0, 0};
    int log = ch->logy;
    f->zlo = f->zhi = 0;
    if (ch->kind == LLFC_CHART_HEAT) { heat_frame(ch, f); return; }
    for (int i = 0; i < ch->nseries; i++) {
        const llfc_series *s = &ch->series[i];
        for (int k = 0; k < s->n; k++) {
            double v = s->y[k];
            if (ch->kind == LLFC_CHART_LINES) {
                if (!isfinite(s->x[k]) || !isfinite(v)) continue;
                if (ch->xlo < ch->xhi && (s->x[k] < ch->xlo || s->x[k] > ch->xhi)) continue;
                grow(&x, s->x[k]);
            }
            if (!log || v > 0) grow(&y, v);
            if (s->elo && s->ehi && isfinite(v)) {
                /* bars start at zero: an error bar of a positive bar does not pull the axis below it */
                double lo = ch->kind == LLFC_CHART_BARS && v >= 0 && s->elo[k] < 0 ? 0 : s->elo[k];
                if (!log || lo > 0) grow(&y, lo);
                if (!log || s->ehi[k] > 0) grow(&y, s->ehi[k]);
            }
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
    /* the floor of the y span: a small difference is drawn small */
    if (!log && y.any && ch->yspan > 0 && y.hi - y.lo < ch->yspan) {
        double mid = (y.lo + y.hi) / 2, lo = mid - ch->yspan / 2, hi = mid + ch->yspan / 2;
        if (y.lo >= 0 && lo < 0) lo = 0, hi = ch->yspan; /* non-negative data stay above zero */
        y.lo = lo, y.hi = hi;
    }
    if (ch->ylo < ch->yhi && (!log || ch->ylo > 0)) y.lo = ch->ylo, y.hi = ch->yhi, y.any = 1;
    int fixed_y = ch->ylo < ch->yhi && (!log || ch->ylo > 0);
    if (ch->kind == LLFC_CHART_BARS) x.lo = 0, x.hi = ch->ngroups, x.any = 1;
    else if (ch->kind == LLFC_CHART_LINES && ch->ngroups > 0) x.lo = 0.5, x.hi = ch->ngroups + 0.5, x.any = 1;
    if (ch->xlo < ch->xhi && ch->kind != LLFC_CHART_BARS) x.lo = ch->xlo, x.hi = ch->xhi, x.any = 1;
    widen(&x, 0);
    widen(&y, log);
    /* round y out to ticks (a fixed range is kept as given) */
    if (fixed_y) {
    } else if (log) {
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

/* ---- colour scale ---------------------------------------------------------------- */
/* Viridis (matplotlib's default map, by van der Walt and Smith) at t = 0, 0.1, ..., 1. */
static const double viridis[11][3] = {
    {0.267, 0.005, 0.329}, {0.283, 0.141, 0.458}, {0.254, 0.265, 0.530}, {0.207, 0.372, 0.553},
    {0.164, 0.471, 0.558}, {0.128, 0.567, 0.551}, {0.135, 0.659, 0.518}, {0.267, 0.749, 0.441},
    {0.478, 0.821, 0.318}, {0.741, 0.873, 0.150}, {0.993, 0.906, 0.144},
};

void llfc_colormap(double t, double rgb[3])
{
    if (!(t >= 0)) t = 0;
    if (t > 1) t = 1;
    double u = t * 10;
    int i = (int)u;
    if (i >= 10) i = 9;
    double a = u - i;
    for (int k = 0; k < 3; k++) rgb[k] = viridis[i][k] * (1 - a) + viridis[i + 1][k] * a;
}

int llfc_xterm256(const double rgb[3])
{
    static const int lv[6] = {0, 95, 135, 175, 215, 255};
    int q[3], best = 16;
    double bd = 1e30;
    for (int k = 0; k < 3; k++) {
        double v = rgb[k] * 255, d = 1e30;
        for (int j = 0; j < 6; j++)
            if (fabs(v - lv[j]) < d) d = fabs(v - lv[j]), q[k] = j;
    }
    double e = 0;
    for (int k = 0; k < 3; k++) e += (rgb[k] * 255 - lv[q[k]]) * (rgb[k] * 255 - lv[q[k]]);
    best = 16 + 36 * q[0] + 6 * q[1] + q[2], bd = e;
    for (int g = 0; g < 24; g++) { /* the grey ramp 232..255 */
        double v = 8 + 10 * g, d = 0;
        for (int k = 0; k < 3; k++) d += (rgb[k] * 255 - v) * (rgb[k] * 255 - v);
        if (d < bd) bd = d, best = 232 + g;
    }
    return best;
}

/* ---- histograms ------------------------------------------------------------------------ */
void llfc_hist_count(const double *x, int n, double lo, double hi, int bins, double *counts, double *below,
                     double *above)
{
    for (int k = 0; k < bins; k++) counts[k] = 0;
    *below = *above = 0;
    if (bins < 1 || !(hi > lo)) return;
    for (int i = 0; i < n; i++) {
        double v = x[i];
        if (v != v) continue;
        if (v < lo) { ++*below; continue; }
        if (v > hi) { ++*above; continue; }
        int k = (int)((v - lo) / (hi - lo) * bins);
        if (k >= bins) k = bins - 1;
        if (k < 0) k = 0;
        counts[k]++;
    }
}
