/* export.c - figures through cairo: one drawing of a grid of charts rendered
 * to SVG, PDF or PNG at a given size and resolution, with real text metrics.
 *
 * Units are points (1/72 inch) on every surface (a PNG is scaled by dpi/72),
 * so a figure looks the same in each format.  The style is meant for papers:
 * one sans-serif face (DejaVu Sans) in a few sizes, the Okabe-Ito palette
 * (distinct under the common colour-vision deficiencies), viridis for heat
 * maps, light grid lines, and margins measured from the text they hold, so
 * no label is clipped.  Axis ranges and ticks come from llfc_chart_frame, as
 * in the terminal.
 */
#include "plot/plot.h"
#include "core/strbuf.h"

#include <cairo.h>
#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FONT "DejaVu Sans"
#define FS_TITLE 10.5
#define FS_LABEL 9.0
#define FS_TICK 8.0
#define FS_LEGEND 8.0
#define FS_NOTE 7.5
#define PAD 6.0

typedef struct { double r, g, b; } rgb;

/* Okabe & Ito (2008): blue, vermillion, bluish green, reddish purple, orange, sky blue */
static const rgb palette[LLFC_NSERIES_COLORS + 1] = {
    {0.20, 0.20, 0.20}, {0.000, 0.447, 0.698}, {0.835, 0.369, 0.000}, {0.000, 0.620, 0.451},
    {0.800, 0.475, 0.655}, {0.902, 0.624, 0.000}, {0.337, 0.706, 0.914},
};
static const rgb C_TEXT = {0.10, 0.10, 0.10}, C_AXIS = {0.25, 0.25, 0.25}, C_GRID = {0.90, 0.90, 0.90},
                 C_NOTE = {0.15, 0.15, 0.15}, C_FAINT = {0.55, 0.55, 0.55};

static void setc(cairo_t *cr, rgb c, double a) { cairo_set_source_rgba(cr, c.r, c.g, c.b, a); }
static rgb series_color(const llfc_series *s) { return palette[s->color >= 0 && s->color <= LLFC_NSERIES_COLORS ? s->color : 0]; }

/* ---- text ------------------------------------------------------------------- */
/* Valid UTF-8 only (cairo rejects the rest): invalid bytes become '?'. */
static void clean_utf8(const char *s, char *out, size_t n)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t k = 0;
    while (*p && k + 5 < n) {
        unsigned char b = *p;
        int len = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 0;
        int ok = len > 0;
        for (int i = 1; ok && i < len; i++) ok = (p[i] & 0xC0) == 0x80;
        if (ok && len > 1) {
            uint32_t cp = b & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
            for (int i = 1; i < len; i++) cp = cp << 6 | (p[i] & 0x3F);
            ok = cp <= 0x10FFFF && !(cp >= 0xD800 && cp < 0xE000) && cp >= (len == 2 ? 0x80u : len == 3 ? 0x800u : 0x10000u);
        }
        if (!ok) { out[k++] = '?'; p++; continue; }
        if (len == 1 && (b < 0x20 || b == 0x7F)) { out[k++] = ' '; p++; continue; }
        memcpy(out + k, p, (size_t)len);
        k += len, p += len;
    }
    out[k] = 0;
}

static void font(cairo_t *cr, double size, int bold)
{
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

static double text_w(cairo_t *cr, const char *s)
{
    char b[512];
    cairo_text_extents_t e;
    clean_utf8(s, b, sizeof b);
    cairo_text_extents(cr, b, &e);
    return e.x_advance;
}

/* Draw s with its anchor at (x, y): ha 0 left, 0.5 centre, 1 right; va 0 baseline,
 * 0.5 middle (of the capitals), 1 top.  angle in degrees, counterclockwise. */
static void text_at(cairo_t *cr, double x, double y, const char *s, double ha, double va, double angle)
{
    char b[512];
    clean_utf8(s, b, sizeof b);
    if (!*b) return;
    cairo_text_extents_t e;
    cairo_font_extents_t fe;
    cairo_text_extents(cr, b, &e);
    cairo_font_extents(cr, &fe);
    double cap = fe.ascent * 0.72;
    cairo_save(cr);
    cairo_translate(cr, x, y);
    if (angle != 0) cairo_rotate(cr, -angle * M_PI / 180);
    cairo_move_to(cr, -ha * e.x_advance, va == 0 ? 0 : va == 1 ? fe.ascent * 0.8 : cap / 2);
    cairo_show_text(cr, b);
    cairo_restore(cr);
}

/* ---- one chart in a panel ------------------------------------------------------- */
typedef struct {
    cairo_t *cr;
    llfc_frame f;
    double x0, y0, w, h;    /* plot area */
} area;

static double X(const area *a, double v) { return a->x0 + (v - a->f.xlo) / (a->f.xhi - a->f.xlo) * a->w; }

static double Yf(const area *a, double v)
{
    double fr;
    if (!isfinite(v)) return NAN;
    if (a->f.logy) {
        if (!(v > 0)) return NAN;
        fr = (log10(v) - log10(a->f.ylo)) / (log10(a->f.yhi) - log10(a->f.ylo));
    } else fr = (v - a->f.ylo) / (a->f.yhi - a->f.ylo);
    if (!isfinite(fr)) return NAN;
    if (fr < -2) fr = -2;
    if (fr > 3) fr = 3;
    return a->y0 + a->h - fr * a->h;
}

typedef struct { const char *name; int kind; rgb c; int dashed; } legend_item; /* kind: 0 line, 1 box, 2 error bar */

static int legend_items(const llfc_chart *ch, legend_item *it, int max)
{
    int n = 0;
    for (int i = 0; i < ch->nseries && n < max - 1; i++) {
        const llfc_series *s = &ch->series[i];
        if (s->faint || !*s->name) continue;
        it[n++] = (legend_item){s->name, ch->kind == LLFC_CHART_LINES ? 0 : 1, series_color(s), s->dashed};
    }
    if (ch->errlabel && *ch->errlabel) it[n++] = (legend_item){ch->errlabel, 2, C_AXIS, 0};
    return n;
}

#define SWATCH 14.0
/* Lay the legend out in rows of at most width w; returns the number of rows
 * (and, when draw is set, draws it with its first row's middle at y). */
static int legend(cairo_t *cr, const legend_item *it, int n, double x, double y, double w, int draw)
{
    font(cr, FS_LEGEND, 0);
    int rows = n > 0;
    double cx = x, lh = FS_LEGEND * 1.45;
    for (int i = 0; i < n; i++) {
        double iw = SWATCH + 4 + text_w(cr, it[i].name) + 12;
        if (cx > x && cx + iw - 12 > x + w) cx = x, rows++;
        if (draw) {
            double yy = y + (rows - 1) * lh;
            setc(cr, it[i].c, 1);
            if (it[i].kind == 0) {
                cairo_set_line_width(cr, 1.6);
                if (it[i].dashed) cairo_set_dash(cr, (double[]){4, 2.5}, 2, 0);
                cairo_move_to(cr, cx, yy), cairo_line_to(cr, cx + SWATCH, yy), cairo_stroke(cr);
                cairo_set_dash(cr, NULL, 0, 0);
            } else if (it[i].kind == 1) {
                cairo_rectangle(cr, cx + 2, yy - 4, SWATCH - 4, 8), cairo_fill(cr);
            } else {
                double m = cx + SWATCH / 2;
                cairo_set_line_width(cr, 0.9);
                cairo_move_to(cr, m, yy - 4.5), cairo_line_to(cr, m, yy + 4.5);
                cairo_move_to(cr, m - 2.5, yy - 4.5), cairo_line_to(cr, m + 2.5, yy - 4.5);
                cairo_move_to(cr, m - 2.5, yy + 4.5), cairo_line_to(cr, m + 2.5, yy + 4.5);
                cairo_stroke(cr);
            }
            setc(cr, C_TEXT, 1);
            text_at(cr, cx + SWATCH + 4, yy, it[i].name, 0, 0.5, 0);
        }
        cx += iw;
    }
    return rows;
}

static void errbar(cairo_t *cr, double x, double ylo, double yhi, double cap)
{
    if (ylo != ylo || yhi != yhi) return;
    cairo_move_to(cr, x, ylo), cairo_line_to(cr, x, yhi);
    cairo_move_to(cr, x - cap, ylo), cairo_line_to(cr, x + cap, ylo);
    cairo_move_to(cr, x - cap, yhi), cairo_line_to(cr, x + cap, yhi);
    cairo_stroke(cr);
}

static void draw_lines(const llfc_chart *ch, area *a)
{
    cairo_t *cr = a->cr;
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < ch->nseries; i++) {
            const llfc_series *s = &ch->series[i];
            if ((s->faint != 0) != (pass == 0)) continue;
            rgb c = series_color(s);
            setc(cr, c, s->faint ? 0.28 : 1);
            cairo_set_line_width(cr, s->faint ? 0.7 : 1.6);
            if (s->dashed) cairo_set_dash(cr, (double[]){4, 2.5}, 2, 0);
            int open = 0, npts = 0;
            for (int k = 0; k < s->n; k++) {
                double px = isfinite(s->x[k]) ? X(a, s->x[k]) : NAN, py = Yf(a, s->y[k]);
                if (px != px || py != py) { if (open) cairo_stroke(cr); open = 0; continue; }
                if (!open) cairo_move_to(cr, px, py), open = 1;
                else cairo_line_to(cr, px, py);
                npts++;
            }
            if (open) cairo_stroke(cr);
            cairo_set_dash(cr, NULL, 0, 0);
            /* points: markers on short series (and on lone points) */
            if (!s->faint && !s->dashed)
                for (int k = 0; k < s->n; k++) {
                    double px = isfinite(s->x[k]) ? X(a, s->x[k]) : NAN, py = Yf(a, s->y[k]);
                    if (px != px || py != py) continue;
                    int lone = (k == 0 || Yf(a, s->y[k - 1]) != Yf(a, s->y[k - 1])) &&
                               (k + 1 >= s->n || Yf(a, s->y[k + 1]) != Yf(a, s->y[k + 1]));
                    if (s->n <= 30 || lone) cairo_new_path(cr), cairo_arc(cr, px, py, 1.9, 0, 2 * M_PI), cairo_fill(cr);
                }
            if (s->elo && s->ehi) {
                setc(cr, c, s->faint ? 0.28 : 0.9);
                cairo_set_line_width(cr, 0.9);
                for (int k = 0; k < s->n; k++)
                    if (isfinite(s->x[k]) && isfinite(s->y[k])) errbar(cr, X(a, s->x[k]), Yf(a, s->elo[k]), Yf(a, s->ehi[k]), 2.5);
            }
        }
}

static void draw_bars(const llfc_chart *ch, area *a)
{
    cairo_t *cr = a->cr;
    int ng = ch->ngroups > 0 ? ch->ngroups : 1, ns = ch->nseries;
    if (ns == 0) return;
    double gw = a->w / ng, bw = gw * 0.8 / ns;
    double base = a->f.logy ? a->y0 + a->h : Yf(a, 0);
    for (int i = 0; i < ns; i++) {
        const llfc_series *s = &ch->series[i];
        rgb c = series_color(s);
        for (int g = 0; g < ng && g < s->n; g++) {
            double yv = Yf(a, s->y[g]);
            if (yv != yv) continue;
            double x = a->x0 + g * gw + gw * 0.1 + i * bw;
            setc(cr, c, 1);
            cairo_rectangle(cr, x + bw * 0.06, fmin(yv, base), bw * 0.88, fabs(base - yv));
            cairo_fill(cr);
            if (s->elo && s->ehi) {
                setc(cr, C_TEXT, 0.85);
                cairo_set_line_width(cr, 0.8);
                errbar(cr, x + bw / 2, Yf(a, s->elo[g]), Yf(a, s->ehi[g]), fmin(bw * 0.25, 3));
            }
        }
    }
}

static void draw_hist(const llfc_chart *ch, area *a)
{
    cairo_t *cr = a->cr;
    double base = a->f.logy ? a->y0 + a->h : Yf(a, 0);
    int many = ch->nseries > 1;
    for (int i = 0; i < ch->nseries; i++) {
        const llfc_series *s = &ch->series[i];
        rgb c = series_color(s);
        for (int k = 0; k < s->n; k++) {
            double yv = Yf(a, s->y[k]), x0 = X(a, s->x[k]), x1 = X(a, s->x[k + 1]);
            if (yv != yv || !isfinite(x0) || !isfinite(x1) || yv >= base) continue;
            cairo_rectangle(cr, x0, yv, x1 - x0, base - yv);
            setc(cr, c, many ? 0.22 : 0.8);
            cairo_fill_preserve(cr);
            cairo_set_source_rgb(cr, 1, 1, 1);
            cairo_set_line_width(cr, many ? 0 : 0.4);
            if (many) cairo_new_path(cr); else cairo_stroke(cr);
        }
        if (!many) continue;
        /* overlaid histograms: each one's outline as a step line */
        setc(cr, c, 1);
        cairo_set_line_width(cr, 1.3);
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_MITER);
        int open = 0;
        for (int k = 0; k < s->n; k++) {
            double yv = Yf(a, s->y[k]), x0 = X(a, s->x[k]), x1 = X(a, s->x[k + 1]);
            if (yv != yv) yv = base;
            if (yv > base) yv = base;
            if (!isfinite(x0) || !isfinite(x1)) continue;
            if (!open) cairo_move_to(cr, x0, base), open = 1;
            cairo_line_to(cr, x0, yv), cairo_line_to(cr, x1, yv);
            if (k == s->n - 1) cairo_line_to(cr, x1, base);
        }
        if (open) cairo_stroke(cr);
    }
}

static double heat_t(const llfc_chart *ch, const llfc_frame *f, double z)
{
    if (!isfinite(z)) return NAN;
    if (ch->heat.logz) {
        if (!(z > 0)) return NAN;
        return (log10(z) - log10(f->zlo)) / (log10(f->zhi) - log10(f->zlo));
    }
    return (z - f->zlo) / (f->zhi - f->zlo);
}

static double cell_edge(const double *c, int n, int i)
{
    if (n == 1) return c[0] + (i == 0 ? -0.5 : 0.5);
    if (i == 0) return c[0] - (c[1] - c[0]) / 2;
    if (i == n) return c[n - 1] + (c[n - 1] - c[n - 2]) / 2;
    return (c[i - 1] + c[i]) / 2;
}

/* The contour line z = level through the cell centres, by marching squares
 * (each square of four centres crossed on two or four edges; a crossing
 * linearly interpolated), in white. */
static void draw_contour(const llfc_heat *h, area *a)
{
    cairo_t *cr = a->cr;
    double lv = h->contour;
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_set_line_width(cr, 1.5);
    for (int j = 0; j + 1 < h->ny; j++)
        for (int i = 0; i + 1 < h->nx; i++) {
            /* corners counter-clockwise from (i, j); edge e joins corner e and e + 1 */
            int ci[4] = {i, i + 1, i + 1, i}, cj[4] = {j, j, j + 1, j + 1};
            double z[4], px[4], py[4];
            int n = 0, ok = 1;
            for (int k = 0; k < 4; k++) {
                z[k] = h->z[(size_t)cj[k] * h->nx + ci[k]];
                ok &= isfinite(z[k]);
            }
            if (!ok) continue;
            for (int e = 0; e < 4; e++) {
                double za = z[e], zb = z[(e + 1) % 4];
                if ((za < lv) == (zb < lv)) continue;
                double f = (lv - za) / (zb - za);
                double xa = h->x[ci[e]], xb = h->x[ci[(e + 1) % 4]], ya = h->y[cj[e]], yb = h->y[cj[(e + 1) % 4]];
                px[n] = X(a, xa + f * (xb - xa)), py[n] = Yf(a, ya + f * (yb - ya));
                n++;
            }
            for (int k = 0; k + 1 < n; k += 2) {
                cairo_move_to(cr, px[k], py[k]);
                cairo_line_to(cr, px[k + 1], py[k + 1]);
            }
        }
    cairo_stroke(cr);
}

static void draw_heat(const llfc_chart *ch, area *a)
{
    cairo_t *cr = a->cr;
    const llfc_heat *h = &ch->heat;
    double rgbv[3];
    cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE); /* no seams between cells */
    for (int j = 0; j < h->ny; j++) {
        double y0 = Yf(a, cell_edge(h->y, h->ny, j)), y1 = Yf(a, cell_edge(h->y, h->ny, j + 1));
        for (int i = 0; i < h->nx; i++) {
            double t = heat_t(ch, &a->f, h->z[(size_t)j * h->nx + i]);
            if (t != t) continue;
            double x0 = X(a, cell_edge(h->x, h->nx, i)), x1 = X(a, cell_edge(h->x, h->nx, i + 1));
            llfc_colormap(t, rgbv);
            cairo_set_source_rgb(cr, rgbv[0], rgbv[1], rgbv[2]);
            cairo_rectangle(cr, x0, y1, x1 - x0 + 0.3, y0 - y1 + 0.3);
            cairo_fill(cr);
        }
    }
    cairo_set_antialias(cr, CAIRO_ANTIALIAS_DEFAULT);
    if (h->has_contour) draw_contour(h, a);
}

#define CBAR_W 9.0
static double colorbar_width(cairo_t *cr, const llfc_chart *ch, const llfc_frame *f)
{
    double t[64], step;
    char lab[64];
    font(cr, FS_TICK, 0);
    int nt = llfc_ticks(f->zlo, f->zhi, 6, ch->heat.logz, t, &step);
    double lw = 0;
    for (int i = 0; i < nt; i++) {
        llfc_tick_label(t[i], step, ch->heat.logz, lab, sizeof lab);
        lw = fmax(lw, text_w(cr, lab));
    }
    return 10 + CBAR_W + 3 + lw + (ch->heat.zlabel && *ch->heat.zlabel ? 4 + FS_LABEL * 1.3 : 0);
}

static void draw_colorbar(cairo_t *cr, const llfc_chart *ch, const area *a)
{
    const llfc_frame *f = &a->f;
    double x = a->x0 + a->w + 10, y0 = a->y0, h = a->h, rgbv[3];
    for (int k = 0; k < 128; k++) {
        llfc_colormap((k + 0.5) / 128, rgbv);
        cairo_set_source_rgb(cr, rgbv[0], rgbv[1], rgbv[2]);
        cairo_rectangle(cr, x, y0 + h - (k + 1) * h / 128, CBAR_W, h / 128 + 0.4);
        cairo_fill(cr);
    }
    setc(cr, C_AXIS, 1);
    cairo_set_line_width(cr, 0.6);
    cairo_rectangle(cr, x, y0, CBAR_W, h), cairo_stroke(cr);
    double t[64], step;
    char lab[64];
    font(cr, FS_TICK, 0);
    int nt = llfc_ticks(f->zlo, f->zhi, 6, ch->heat.logz, t, &step);
    double lw = 0;
    for (int i = 0; i < nt; i++) {
        double fr = heat_t(ch, f, t[i]);
        if (fr != fr || fr < -1e-9 || fr > 1 + 1e-9) continue;
        double yy = y0 + h - fr * h;
        cairo_move_to(cr, x + CBAR_W, yy), cairo_line_to(cr, x + CBAR_W + 2.5, yy), cairo_stroke(cr);
        llfc_tick_label(t[i], step, ch->heat.logz, lab, sizeof lab);
        text_at(cr, x + CBAR_W + 3.5, yy, lab, 0, 0.5, 0);
        lw = fmax(lw, text_w(cr, lab));
    }
    if (ch->heat.zlabel && *ch->heat.zlabel) {
        font(cr, FS_LABEL, 0);
        setc(cr, C_TEXT, 1);
        text_at(cr, x + CBAR_W + 3.5 + lw + 4 + FS_LABEL, y0 + h / 2, ch->heat.zlabel, 0.5, 0, 90);
    }
}

static void draw_markers(const llfc_chart *ch, area *a)
{
    cairo_t *cr = a->cr;
    font(cr, FS_NOTE, 0);
    for (int i = 0; i < ch->nmarkers; i++) {
        const llfc_marker *m = &ch->markers[i];
        double x = X(a, m->x), y = Yf(a, m->y);
        if (!isfinite(x) || y != y) continue;
        cairo_new_path(cr);
        cairo_arc(cr, x, y, 3.2, 0, 2 * M_PI);
        setc(cr, C_NOTE, 1);
        cairo_fill_preserve(cr);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_set_line_width(cr, 0.8);
        cairo_stroke(cr);
        if (m->label && *m->label) {
            int right = x < a->x0 + a->w / 2;
            setc(cr, C_NOTE, 1);
            text_at(cr, x + (right ? 5 : -5), y - 5, m->label, right ? 0 : 1, 0, 0);
        }
    }
}

static void draw_notes(const llfc_chart *ch, area *a, int labels)
{
    cairo_t *cr = a->cr;
    font(cr, FS_NOTE, 0);
    for (int i = 0; i < ch->nnotes; i++) {
        const llfc_note *n = &ch->notes[i];
        double x = X(a, n->x), y0 = Yf(a, n->y0), y1 = Yf(a, n->y1);
        if (!isfinite(x) || y0 != y0 || y1 != y1) continue;
        setc(cr, C_NOTE, 1);
        if (!labels) {
            cairo_set_line_width(cr, 1.1);
            cairo_set_dash(cr, (double[]){2, 1.5}, 2, 0);
            cairo_move_to(cr, x, y0), cairo_line_to(cr, x, y1), cairo_stroke(cr);
            cairo_set_dash(cr, NULL, 0, 0);
            cairo_set_line_width(cr, 0.8);
            cairo_move_to(cr, x - 2.5, y0), cairo_line_to(cr, x + 2.5, y0);
            cairo_move_to(cr, x - 2.5, y1), cairo_line_to(cr, x + 2.5, y1), cairo_stroke(cr);
        } else if (n->label && *n->label) {
            int right = x < a->x0 + a->w * 0.6;
            text_at(cr, x + (right ? 4 : -4), fmin(y0, y1) - 4, n->label, right ? 0 : 1, 0, 0);
        }
    }
}

static void draw_vlines(const llfc_chart *ch, area *a)
{
    cairo_t *cr = a->cr;
    font(cr, FS_NOTE, 0);
    for (int i = 0; i < ch->nvlines; i++) {
        double x = X(a, ch->vlines[i].x);
        if (!isfinite(x) || x < a->x0 - 0.01 || x > a->x0 + a->w + 0.01) continue;
        setc(cr, C_FAINT, 0.6);
        cairo_set_line_width(cr, 0.5);
        cairo_set_dash(cr, (double[]){1.5, 1.5}, 2, 0);
        cairo_move_to(cr, x, a->y0), cairo_line_to(cr, x, a->y0 + a->h), cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
        if (ch->vlines[i].label && *ch->vlines[i].label) {
            setc(cr, C_FAINT, 1);
            text_at(cr, x + 2, a->y0 + 2, ch->vlines[i].label, 0, 1, 0);
        }
    }
}

/* The category labels of the x axis: straight when they fit, turned 40 degrees
 * when they do not, numbered with a key when even that is too dense. */
typedef struct { int mode; double maxw; } catlab; /* mode 0 straight, 1 turned, 2 numbered */

static catlab cat_layout(cairo_t *cr, const llfc_chart *ch, double plot_w)
{
    catlab c = {0, 0};
    font(cr, FS_TICK, 0);
    for (int g = 0; g < ch->ngroups; g++) c.maxw = fmax(c.maxw, text_w(cr, ch->groups[g]));
    double slot = plot_w / (ch->ngroups > 0 ? ch->ngroups : 1);
    if (c.maxw + 3 <= slot) c.mode = 0;
    else if (FS_TICK * 1.35 <= slot && c.maxw < 110) c.mode = 1;
    else c.mode = 2;
    return c;
}

static void chart_panel(cairo_t *cr, const llfc_chart *ch, double ox, double oy, double pw, double ph)
{
    area a;
    memset(&a, 0, sizeof a);
    a.cr = cr;
    llfc_chart_frame(ch, 6, &a.f);
    int cats = ch->ngroups > 0 && (ch->kind == LLFC_CHART_BARS || ch->kind == LLFC_CHART_LINES);
    legend_item items[64];
    int nit = legend_items(ch, items, 64);
    /* y tick labels */
    double yt[64], ystep;
    char lab[64];
    int nyt = llfc_ticks(a.f.ylo, a.f.yhi, 6, a.f.logy, yt, &ystep);
    font(cr, FS_TICK, 0);
    double ylw = 0;
    for (int i = 0; i < nyt; i++) {
        llfc_tick_label(yt[i], ystep, a.f.logy, lab, sizeof lab);
        ylw = fmax(ylw, text_w(cr, lab));
    }
    /* margins from the text they hold */
    double top = PAD, left = PAD, right = PAD + 4, bottom = PAD;
    if (ch->title && *ch->title) top += FS_TITLE * 1.25 + 3;
    double left_text = (ch->ylabel && *ch->ylabel ? FS_LABEL * 1.25 + 3 : 0) + ylw + 3 + 3;
    left += left_text;
    if (ch->kind == LLFC_CHART_HEAT) right += colorbar_width(cr, ch, &a.f);
    double plot_w = pw - left - right;
    int lrows = nit ? legend(cr, items, nit, 0, 0, plot_w, 0) : 0;
    top += lrows * FS_LEGEND * 1.45 + (lrows ? 3 : 0);
    catlab cl = {0, 0};
    if (cats) cl = cat_layout(cr, ch, plot_w);
    bottom += 3 + 2 + (cl.mode == 1 ? cl.maxw * sin(40 * M_PI / 180) + FS_TICK : FS_TICK * 1.2);
    const char *xl = ch->xlabel ? ch->xlabel : "";
    char key[400];
    if (cats && cl.mode == 2 && ch->ngroups > 0) {
        snprintf(key, sizeof key, "%s%s1 = %s, ..., %d = %s", xl, *xl ? ": " : "", ch->groups[0], ch->ngroups,
                 ch->groups[ch->ngroups - 1]);
        xl = key;
    }
    if (*xl) bottom += FS_LABEL * 1.3 + 2;
    if (ch->caption && *ch->caption) bottom += FS_NOTE * 1.3 + 2;
    /* turned labels reach left of their tick: keep the first inside the panel */
    if (cl.mode == 1) {
        double need = cl.maxw * cos(40 * M_PI / 180) - plot_w / ch->ngroups / 2;
        if (need > left - PAD) left = PAD + need, plot_w = pw - left - right;
    }
    a.x0 = ox + left, a.y0 = oy + top, a.w = plot_w, a.h = ph - top - bottom;
    if (a.w < 10) a.w = 10;
    if (a.h < 10) a.h = 10;
    /* title */
    if (ch->title && *ch->title) {
        font(cr, FS_TITLE, 1);
        setc(cr, C_TEXT, 1);
        double tw = text_w(cr, ch->title), cx = a.x0 + a.w / 2;
        /* centred over the plot, moved in if it would leave the panel */
        if (cx - tw / 2 < ox + PAD) cx = ox + PAD + tw / 2;
        if (cx + tw / 2 > ox + pw - PAD) cx = ox + pw - PAD - tw / 2;
        if (tw > pw - 2 * PAD) { /* too long: shrink to fit */
            cairo_set_font_size(cr, FS_TITLE * (pw - 2 * PAD) / tw);
            cx = ox + pw / 2;
        }
        text_at(cr, cx, oy + PAD, ch->title, 0.5, 1, 0);
    }
    if (nit) legend(cr, items, nit, a.x0, oy + top - lrows * FS_LEGEND * 1.45 - 3 + FS_LEGEND * 0.7, a.w, 1);
    /* grid and y ticks */
    font(cr, FS_TICK, 0);
    cairo_set_line_width(cr, 0.5);
    for (int i = 0; i < nyt; i++) {
        double y = Yf(&a, yt[i]);
        if (y != y || y < a.y0 - 0.01 || y > a.y0 + a.h + 0.01) continue;
        if (ch->kind != LLFC_CHART_HEAT) {
            setc(cr, C_GRID, 1);
            cairo_move_to(cr, a.x0, y), cairo_line_to(cr, a.x0 + a.w, y), cairo_stroke(cr);
        }
        setc(cr, C_AXIS, 1);
        cairo_move_to(cr, a.x0 - 3, y), cairo_line_to(cr, a.x0, y), cairo_stroke(cr);
        llfc_tick_label(yt[i], ystep, a.f.logy, lab, sizeof lab);
        setc(cr, C_TEXT, 1);
        text_at(cr, a.x0 - 5, y, lab, 1, 0.5, 0);
    }
    /* x ticks */
    double xlab_y = a.y0 + a.h + 5;
    if (cats) {
        double slot = a.w / ch->ngroups;
        for (int g = 0; g < ch->ngroups; g++) {
            double cx = ch->kind == LLFC_CHART_BARS ? a.x0 + (g + 0.5) * slot : X(&a, g + 1);
            char num[16];
            snprintf(num, sizeof num, "%d", g + 1);
            setc(cr, C_AXIS, 1);
            cairo_move_to(cr, cx, a.y0 + a.h), cairo_line_to(cr, cx, a.y0 + a.h + 3), cairo_stroke(cr);
            setc(cr, C_TEXT, 1);
            if (cl.mode == 0) text_at(cr, cx, xlab_y, ch->groups[g], 0.5, 1, 0);
            else if (cl.mode == 1) text_at(cr, cx + 2, xlab_y + 2, ch->groups[g], 1, 1, 40);
            else text_at(cr, cx, xlab_y, num, 0.5, 1, 0);
        }
    } else {
        double xt[64], xs;
        double maxn = a.w / 45;
        int nx = llfc_ticks(a.f.xlo, a.f.xhi, maxn < 2 ? 2 : maxn > 11 ? 11 : (int)maxn, 0, xt, &xs);
        for (int i = 0; i < nx; i++) {
            double x = X(&a, xt[i]);
            if (x < a.x0 - 0.01 || x > a.x0 + a.w + 0.01) continue;
            if (ch->kind == LLFC_CHART_LINES) {
                setc(cr, C_GRID, 1);
                cairo_move_to(cr, x, a.y0), cairo_line_to(cr, x, a.y0 + a.h), cairo_stroke(cr);
            }
            setc(cr, C_AXIS, 1);
            cairo_move_to(cr, x, a.y0 + a.h), cairo_line_to(cr, x, a.y0 + a.h + 3), cairo_stroke(cr);
            llfc_tick_label(xt[i], xs, 0, lab, sizeof lab);
            setc(cr, C_TEXT, 1);
            text_at(cr, x, xlab_y, lab, 0.5, 1, 0);
        }
    }
    double below = a.y0 + a.h + 3 + 2 + (cl.mode == 1 ? cl.maxw * sin(40 * M_PI / 180) + FS_TICK : FS_TICK * 1.2);
    if (*xl) {
        font(cr, FS_LABEL, 0);
        setc(cr, C_TEXT, 1);
        double tw = text_w(cr, xl);
        if (tw > pw - 2 * PAD) cairo_set_font_size(cr, FS_LABEL * (pw - 2 * PAD) / tw), tw = pw - 2 * PAD;
        double cx = a.x0 + a.w / 2;
        if (cx - tw / 2 < ox + PAD) cx = ox + PAD + tw / 2;
        if (cx + tw / 2 > ox + pw - PAD) cx = ox + pw - PAD - tw / 2;
        text_at(cr, cx, below + 2, xl, 0.5, 1, 0);
        below += FS_LABEL * 1.3 + 2;
    }
    if (ch->caption && *ch->caption) {
        font(cr, FS_NOTE, 0);
        setc(cr, C_FAINT, 1);
        double tw = text_w(cr, ch->caption);
        if (tw > pw - 2 * PAD) cairo_set_font_size(cr, FS_NOTE * (pw - 2 * PAD) / tw);
        text_at(cr, ox + pw / 2, below + 2, ch->caption, 0.5, 1, 0);
    }
    if (ch->ylabel && *ch->ylabel) {
        font(cr, FS_LABEL, 0);
        setc(cr, C_TEXT, 1);
        double tw = text_w(cr, ch->ylabel);
        if (tw > a.h + top) cairo_set_font_size(cr, FS_LABEL * (a.h + top) / tw);
        text_at(cr, a.x0 - left_text + FS_LABEL * 0.95, a.y0 + a.h / 2, ch->ylabel, 0.5, 0, 90);
    }
    /* data, clipped to the plot area */
    cairo_save(cr);
    cairo_rectangle(cr, a.x0 - 0.5, a.y0 - 3, a.w + 1, a.h + 3.5);
    cairo_clip(cr);
    draw_vlines(ch, &a);
    if (ch->kind == LLFC_CHART_HEAT) draw_heat(ch, &a);
    draw_notes(ch, &a, 0);
    if (ch->kind == LLFC_CHART_LINES) draw_lines(ch, &a);
    else if (ch->kind == LLFC_CHART_BARS) draw_bars(ch, &a);
    else if (ch->kind == LLFC_CHART_HIST) draw_hist(ch, &a);
    cairo_restore(cr);
    draw_markers(ch, &a);
    draw_notes(ch, &a, 1);
    /* axes */
    setc(cr, C_AXIS, 1);
    cairo_set_line_width(cr, 0.8);
    cairo_move_to(cr, a.x0, a.y0), cairo_line_to(cr, a.x0, a.y0 + a.h), cairo_line_to(cr, a.x0 + a.w, a.y0 + a.h);
    if (ch->kind == LLFC_CHART_HEAT) cairo_line_to(cr, a.x0 + a.w, a.y0), cairo_close_path(cr);
    cairo_stroke(cr);
    if (ch->kind == LLFC_CHART_HEAT) draw_colorbar(cr, ch, &a);
}

/* ---- the figure ------------------------------------------------------------------ */
int llfc_export_format(const char *path)
{
    const char *dot = path ? strrchr(path, '.') : NULL;
    if (!dot) return -1;
    if (!strcasecmp(dot, ".svg")) return LLFC_FMT_SVG;
    if (!strcasecmp(dot, ".pdf")) return LLFC_FMT_PDF;
    if (!strcasecmp(dot, ".png")) return LLFC_FMT_PNG;
    return -1;
}

/* cairo writes the file into a string builder */
static cairo_status_t mem_write(void *ud, const unsigned char *data, unsigned int n)
{
    llfc_strbuf *b = ud;
    llfc_strbuf_append(b, (const char *)data, n);
    return b->oom ? CAIRO_STATUS_WRITE_ERROR : CAIRO_STATUS_SUCCESS;
}

static void draw_figure(cairo_t *cr, llfc_chart *const *charts, int n, const llfc_export_opts *o, double W, double H)
{
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    double head = 0;
    if (o->title && *o->title) {
        font(cr, FS_TITLE + 1.5, 1);
        setc(cr, C_TEXT, 1);
        double tw = text_w(cr, o->title);
        if (tw > W - 2 * PAD) cairo_set_font_size(cr, (FS_TITLE + 1.5) * (W - 2 * PAD) / tw);
        text_at(cr, W / 2, PAD, o->title, 0.5, 1, 0);
        head = PAD + (FS_TITLE + 1.5) * 1.3;
    }
    int cols = o->cols < 1 ? 1 : o->cols > n ? n : o->cols;
    int rows = (n + cols - 1) / cols;
    double pw = W / cols, ph = (H - head) / rows;
    for (int i = 0; i < n; i++) chart_panel(cr, charts[i], (i % cols) * pw, head + (i / cols) * ph, pw, ph);
}

int llfc_figure_render(llfc_chart *const *charts, int n, const llfc_export_opts *o, char **out, size_t *len)
{
    *out = NULL, *len = 0;
    if (n < 1) return llfc_seterr("figure: no charts");
    if (!(o->width >= 1 && o->width <= 100 && o->height >= 1 && o->height <= 100))
        return llfc_seterr("figure: size %gx%g inches out of range (1 to 100)", o->width, o->height);
    if (o->format == LLFC_FMT_PNG && !(o->dpi >= 10 && o->dpi <= 2400))
        return llfc_seterr("figure: dpi %g out of range (10 to 2400)", o->dpi);
    if (o->format == LLFC_FMT_PNG && o->width * o->dpi * o->height * o->dpi > 1e8)
        return llfc_seterr("figure: %.0fx%.0f pixels is too large", o->width * o->dpi, o->height * o->dpi);
    double W = o->width * 72, H = o->height * 72;
    llfc_strbuf b = LLFC_STRBUF_INIT;
    cairo_surface_t *s;
    if (o->format == LLFC_FMT_SVG) s = cairo_svg_surface_create_for_stream(mem_write, &b, W, H);
    else if (o->format == LLFC_FMT_PDF) {
        s = cairo_pdf_surface_create_for_stream(mem_write, &b, W, H);
        if (cairo_surface_status(s) == CAIRO_STATUS_SUCCESS) {
            cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATOR, "llfc");
            if (o->title && *o->title) cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_TITLE, o->title);
            else if (*charts[0]->title) cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_TITLE, charts[0]->title);
        }
    } else if (o->format == LLFC_FMT_PNG)
        s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)lround(o->width * o->dpi), (int)lround(o->height * o->dpi));
    else return llfc_seterr("figure: unknown format %d", o->format);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        llfc_seterr("figure: %s", cairo_status_to_string(cairo_surface_status(s)));
        cairo_surface_destroy(s);
        llfc_strbuf_free(&b);
        return -1;
    }
    cairo_t *cr = cairo_create(s);
    if (o->format == LLFC_FMT_PNG) cairo_scale(cr, o->dpi / 72, o->dpi / 72);
    draw_figure(cr, charts, n, o, W, H);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    /* an image surface is written out before it is finished (finishing ends its use) */
    if (st == CAIRO_STATUS_SUCCESS && o->format == LLFC_FMT_PNG) cairo_surface_flush(s), st = cairo_surface_write_to_png_stream(s, mem_write, &b);
    cairo_surface_finish(s);
    if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_status(s);
    cairo_surface_destroy(s);
    if (st != CAIRO_STATUS_SUCCESS || b.oom) {
        int oom = b.oom;
        llfc_strbuf_free(&b);
        return llfc_seterr("figure: %s", oom ? "out of memory" : cairo_status_to_string(st));
    }
    /* NUL-terminated, to be freed with free() (llfc_free), as the header promises */
    if (!(*out = llfc_strbuf_take(&b, len))) return -1;
    return 0;
}

int llfc_figure_export(llfc_chart *const *charts, int n, const llfc_export_opts *o, const char *path)
{
    char *data;
    size_t len;
    if (llfc_figure_render(charts, n, o, &data, &len) != 0) return -1;
    int rc = llfc_write_file_atomic(path, data, len);
    llfc_free(data);
    return rc;
}
