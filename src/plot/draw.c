/* draw.c - charts (lines, grouped bars, histograms, heat maps) drawn into a
 * rectangle of a terminal canvas. */
#include "plot/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char ascii_dot[LLFC_NSERIES_COLORS + 1] = "**+ox#%";  /* [0] default */
static const char ascii_bar[LLFC_NSERIES_COLORS + 1] = "##=%@+x";
/* heat maps without 256 colours: a ramp of characters, light to dense */
static const char ascii_ramp[] = " .:-=+*#%@";
static const uint32_t block_ramp[] = {' ', 0x2591u, 0x2592u, 0x2593u, 0x2588u};

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

static void draw_series_line(const llfc_series *s, plotctx *p)
{
    int color = s->faint ? LLFC_COLOR_AXIS : s->color;
    int have = 0, lx = 0, ly = 0;
    for (int k = 0; k < s->n; k++) {
        double fx = xfrac(p, s->x[k]), fy = yfrac(p, s->y[k]);
        if (fx != fx || fy != fy) { have = 0; continue; } /* NaN: a gap */
        int X = xdot(p, fx), Y = ydot(p, fy);
        if (have) plot_line(p, lx, ly, X, Y, color, s->dashed);
        else plot_dot(p, X, Y, color);
        have = 1, lx = X, ly = Y;
        if (s->elo && s->ehi) { /* the error bar: a vertical line of dots */
            double f0 = yfrac(p, s->elo[k]), f1 = yfrac(p, s->ehi[k]);
            if (f0 == f0 && f1 == f1) plot_line(p, X, ydot(p, f0), X, ydot(p, f1), color, 0);
        }
    }
}

static void draw_lines(const llfc_chart *ch, plotctx *p)
{
    /* faint series (raw data behind a smoothed curve) first: the others draw over them */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < ch->nseries; i++)
            if ((ch->series[i].faint != 0) == (pass == 0)) draw_series_line(&ch->series[i], p);
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
            /* the error bar: from the bar's top row up to the upper end, in the bar's middle */
            if (s->elo && s->ehi) {
                double f1 = yfrac(p, s->ehi[g]);
                if (f1 == f1 && f1 > fr) {
                    if (f1 > 1) f1 = 1;
                    int X = x0 + i * bw + (bw - 1) / 2, top = ycell(p, f1), from = ycell(p, fr) - 1;
                    for (int r = from; r >= top && r >= p->py; r--)
                        llfc_canvas_put(p->c, X, r, r == top ? (p->c->ascii ? 'T' : 0x252Cu) : (p->c->ascii ? '|' : 0x2502u),
                                        LLFC_COLOR_AXIS);
                }
            }
        }
    }
}

/* Heat map: each cell shows two grid pixels as a half block (upper pixel in
 * the foreground colour, lower in the background) in 256 colours, or, on a
 * canvas without them, one pixel as a character of a ramp. */
static double heat_at(const llfc_chart *ch, const llfc_frame *f, double fx, double fy)
{
    const llfc_heat *h = &ch->heat;
    if (h->nx < 1) return NAN;
    double xv = f->xlo + fx * (f->xhi - f->xlo), yv = f->ylo + fy * (f->yhi - f->ylo);
    int i = 0, j = 0;
    for (int k = 1; k < h->nx; k++) if (fabs(h->x[k] - xv) < fabs(h->x[i] - xv)) i = k;
    for (int k = 1; k < h->ny; k++) if (fabs(h->y[k] - yv) < fabs(h->y[j] - yv)) j = k;
    double z = h->z[(size_t)j * h->nx + i];
    if (!isfinite(z) || (h->logz && !(z > 0))) return NAN;
    if (h->logz) return (log10(z) - log10(f->zlo)) / (log10(f->zhi) - log10(f->zlo));
    return (z - f->zlo) / (f->zhi - f->zlo);
}

/* the colour of a contour line in 256 colours (white) and its character otherwise */
#define CONTOUR_XTERM 231
#define CONTOUR_CHAR '~'

/* A cell of two pixels; cu, cl: the upper / lower pixel is on the contour. */
static void heat_cell_c(llfc_canvas *c, int x, int y, double t_up, double t_lo, int cu, int cl)
{
    if (c->colors >= 256 && !c->ascii) {
        double rgb[3];
        int fg = -1, bg = -1;
        if (t_up == t_up) llfc_colormap(t_up, rgb), fg = llfc_xterm256(rgb);
        if (t_lo == t_lo) llfc_colormap(t_lo, rgb), bg = llfc_xterm256(rgb);
        if (cu) fg = CONTOUR_XTERM;
        if (cl) bg = CONTOUR_XTERM;
        if (fg < 0 && bg < 0) return;
        if (fg < 0) llfc_canvas_put_rgb(c, x, y, 0x2584u, bg, bg); /* lower half only: a lower block */
        else llfc_canvas_put_rgb(c, x, y, 0x2580u, fg, bg < 0 ? fg : bg);
        return;
    }
    if (cu || cl) { llfc_canvas_put(c, x, y, CONTOUR_CHAR, LLFC_COLOR_DEFAULT); return; }
    double t = t_up == t_up && t_lo == t_lo ? (t_up + t_lo) / 2 : t_up == t_up ? t_up : t_lo;
    if (t != t) return;
    if (c->ascii) {
        int k = (int)lround(t * (sizeof ascii_ramp - 2));
        llfc_canvas_put(c, x, y, (uint32_t)ascii_ramp[k], LLFC_COLOR_DEFAULT);
    } else {
        int k = (int)lround(t * 4);
        llfc_canvas_put(c, x, y, block_ramp[k], LLFC_COLOR_DEFAULT);
    }
}

static void heat_cell(llfc_canvas *c, int x, int y, double t_up, double t_lo)
{
    heat_cell_c(c, x, y, t_up, t_lo, 0, 0);
}

/* Do a and b (colour-scale positions) lie on two sides of the level tl? */
static int crosses(double a, double b, double tl)
{
    return a == a && b == b && ((a < tl && b >= tl) || (a >= tl && b < tl));
}

static void draw_heat(const llfc_chart *ch, plotctx *p)
{
    const llfc_heat *h = &ch->heat;
    double tl = NAN; /* the contour level on the colour scale */
    if (h->has_contour) {
        if (!h->logz) tl = (h->contour - p->f.zlo) / (p->f.zhi - p->f.zlo);
        else if (h->contour > 0) tl = (log10(h->contour) - log10(p->f.zlo)) / (log10(p->f.zhi) - log10(p->f.zlo));
    }
    for (int r = 0; r < p->ph; r++)
        for (int col = 0; col < p->pw; col++) {
            double fx = (col + 0.5) / p->pw, fx1 = (col + 1.5) / p->pw;
            double fup = 1 - (r + 0.25) / p->ph, flo = 1 - (r + 0.75) / p->ph, fnext = 1 - (r + 1.25) / p->ph;
            double up = heat_at(ch, &p->f, fx, fup), lo = heat_at(ch, &p->f, fx, flo);
            int cu = 0, cl = 0;
            if (tl == tl) { /* a pixel whose right or lower neighbour is on the other side of the level */
                cu = crosses(up, lo, tl) || (col + 1 < p->pw && crosses(up, heat_at(ch, &p->f, fx1, fup), tl));
                cl = (r + 1 < p->ph && crosses(lo, heat_at(ch, &p->f, fx, fnext), tl)) ||
                     (col + 1 < p->pw && crosses(lo, heat_at(ch, &p->f, fx1, flo), tl));
            }
            heat_cell_c(p->c, p->px + col, p->py + r, up, lo, cu, cl);
        }
}

/* The colour bar: a column of the scale at x, from the top of the plot to its bottom, with the ends labelled. */
static void draw_colorbar(const llfc_chart *ch, plotctx *p, int x, int w)
{
    char lab[64];
    for (int r = 0; r < p->ph; r++) {
        double t_up = 1 - (r + 0.25) / p->ph, t_lo = 1 - (r + 0.75) / p->ph;
        heat_cell(p->c, x, p->py + r, t_up, t_lo);
        heat_cell(p->c, x + 1, p->py + r, t_up, t_lo);
    }
    double hi = p->f.zhi, lo = p->f.zlo;
    llfc_num_label(hi, lab, sizeof lab);
    llfc_canvas_text(p->c, x + 3, p->py, lab, LLFC_COLOR_AXIS, w - 3);
    llfc_num_label(lo, lab, sizeof lab);
    llfc_canvas_text(p->c, x + 3, p->py + p->ph - 1, lab, LLFC_COLOR_AXIS, w - 3);
    if (ch->heat.zlabel && *ch->heat.zlabel && p->ph > 2)
        llfc_canvas_text(p->c, x + 3, p->py + p->ph / 2, ch->heat.zlabel, LLFC_COLOR_AXIS, w - 3);
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

static void draw_vlines(const llfc_chart *ch, plotctx *p)
{
    for (int i = 0; i < ch->nvlines; i++) {
        double fx = xfrac(p, ch->vlines[i].x);
        if (fx != fx || fx < -1e-9 || fx > 1 + 1e-9) continue;
        int X = xcell(p, fx);
        for (int y = p->py; y < p->py + p->ph; y++)
            if (llfc_canvas_glyph(p->c, X, y) == ' ') llfc_canvas_put(p->c, X, y, p->c->ascii ? ':' : 0x2575u, LLFC_COLOR_AXIS);
        if (ch->vlines[i].label && *ch->vlines[i].label) plot_label(p, X, p->py, ch->vlines[i].label, LLFC_COLOR_AXIS);
    }
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

/* Cells text takes on this canvas (an ASCII canvas writes the plus-minus sign as "+-"). */
static int cells_of(const llfc_canvas *c, const char *s)
{
    int n = llfc_text_width(s);
    if (c->ascii)
        for (const char *p = s; (p = strstr(p, "\xc2\xb1")); p += 2) n++;
    return n;
}

/* The legend on one row: "-- name  -- name" starting at x, at most w cells. */
static void draw_legend(const llfc_chart *ch, llfc_canvas *c, int x, int y, int w)
{
    int total = 0;
    for (int i = 0; i < ch->nseries; i++)
        if (!ch->series[i].faint && *ch->series[i].name) total += 3 + cells_of(c, ch->series[i].name) + 2;
    if (ch->errlabel && *ch->errlabel) total += 2 + cells_of(c, ch->errlabel) + 2;
    int X = total - 2 < w ? x + w - (total - 2) : x;
    for (int i = 0; i < ch->nseries && X < x + w; i++) {
        const llfc_series *s = &ch->series[i];
        if (s->faint || !*s->name) continue;
        uint32_t g;
        if (ch->kind == LLFC_CHART_LINES) g = c->ascii ? (uint32_t)ascii_dot[s->color] : (s->dashed ? 0x2504u : 0x2501u);
        else g = c->ascii ? (uint32_t)ascii_bar[s->color] : 0x2588u;
        if (X + 2 > x + w) break;
        llfc_canvas_put(c, X, y, g, s->color);
        llfc_canvas_put(c, X + 1, y, g, s->color);
        X += 3;
        X += llfc_canvas_text(c, X, y, s->name, s->color, x + w - X) + 2;
    }
    if (ch->errlabel && *ch->errlabel && X + 2 < x + w) {
        llfc_canvas_put(c, X, y, c->ascii ? 'I' : 0x2502u, LLFC_COLOR_AXIS);
        X += 2;
        llfc_canvas_text(c, X, y, ch->errlabel, LLFC_COLOR_AXIS, x + w - X);
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
    /* rows: title, legend/ylabel, plot..., axis, tick labels, xlabel, caption */
    /* categories (bars, or a categorical line axis) whose names will not fit
     * get numbers and a key on the xlabel row */
    int cats = ch->ngroups > 0 && (ch->kind == LLFC_CHART_BARS || ch->kind == LLFC_CHART_LINES);
    int numbered = 0;
    if (cats && ch->ngroups > 1) {
        int room = (w - 8) / ch->ngroups - 1;
        for (int g = 0; g < ch->ngroups; g++)
            if (llfc_text_width(ch->groups[g]) > (room > 1 ? room : 1)) numbered = 1;
    }
    int has_xlabel = ((ch->xlabel && *ch->xlabel) || numbered) && h >= 9;
    int has_caption = ch->caption && *ch->caption && h >= 12;
    int top = y + 1 + (h >= 6 ? 1 : 0);
    int bottom = y + h - 2 - has_xlabel - has_caption; /* axis row */
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
    /* heat maps: the colour bar and its labels on the right */
    int cbw = 0;
    if (ch->kind == LLFC_CHART_HEAT) {
        char a[64], b[64];
        llfc_num_label(f.zlo, a, sizeof a), llfc_num_label(f.zhi, b, sizeof b);
        int k = llfc_text_width(a) > llfc_text_width(b) ? llfc_text_width(a) : llfc_text_width(b);
        if (ch->heat.zlabel && llfc_text_width(ch->heat.zlabel) > k) k = llfc_text_width(ch->heat.zlabel);
        cbw = 2 + 3 + (k < 10 ? k : 10);
    }
    plotctx p = {c, f, x + lw + 1, top, w - lw - 2 - cbw, ph, llfc_canvas_dx(c), llfc_canvas_dy(c)};
    if (p.pw < 4) return;
    int A = LLFC_COLOR_AXIS;
    /* legend and y label */
    if (top > y + 1) {
        int yl = 0;
        if (ch->ylabel && *ch->ylabel) yl = llfc_canvas_text(c, x, y + 1, ch->ylabel, A, w / 3) + 2;
        draw_legend(ch, c, x + yl, y + 1, w - yl);
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
    if (cats) {
        int ng = ch->ngroups, gw = p.pw / ng;
        if (gw < 1) gw = 1;
        int endcol = -1, room = gw > 1 ? gw - 1 : 1;
        /* Names that do not fit (ResNet's "layer2.1.relu1") would all be cut to
         * the same first letters: number them instead and name the ends. */
        for (int g = 0; g < ch->ngroups; g++) {
            char num[16];
            const char *name = ch->groups[g];
            if (numbered) snprintf(num, sizeof num, "%d", g + 1), name = num;
            int k = llfc_text_width(name);
            if (k > room) k = room;
            int centre = xcell(&p, xfrac(&p, g + 1));
            int X = ch->kind == LLFC_CHART_BARS ? p.px + g * gw + (gw - k) / 2 : centre - k / 2;
            if (X < p.px) X = p.px;
            if (X <= endcol) continue;
            if (ch->kind == LLFC_CHART_LINES) llfc_canvas_put(c, centre, bottom, c->ascii ? '+' : 0x252Cu, A);
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
    if (has_caption) {
        int k = llfc_text_width(ch->caption);
        llfc_canvas_text(c, p.px + (k < p.pw ? (p.pw - k) / 2 : 0), bottom + 2 + has_xlabel, ch->caption, A, w - lw - 1);
    }
    /* data */
    if (ch->kind == LLFC_CHART_HEAT) {
        draw_heat(ch, &p);
        draw_colorbar(ch, &p, p.px + p.pw + 2, cbw - 2);
    }
    draw_vlines(ch, &p);
    draw_notes(ch, &p);
    if (ch->kind == LLFC_CHART_LINES) draw_lines(ch, &p);
    else if (ch->kind == LLFC_CHART_BARS) draw_bars(ch, &p);
    else if (ch->kind == LLFC_CHART_HIST) draw_hist(ch, &p);
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
