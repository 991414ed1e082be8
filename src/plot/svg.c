/* svg.c - charts as a standalone SVG document (the same chart model that
 * plot.c draws into a terminal canvas), and atomic file writing. */
#include "plot/plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *palette[LLFC_NSERIES_COLORS + 1] = {
    "#333333", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
};
#define NOTE_COLOR "#b8860b"
#define AXIS_COLOR "#444444"
#define GRID_COLOR "#e4e4e4"

/* XML text: escape markup characters, drop control characters, replace
 * invalid UTF-8 with '?', so the document always parses. */
static void xml_text(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        unsigned char b = *p;
        if (b == '&') fputs("&amp;", f), p++;
        else if (b == '<') fputs("&lt;", f), p++;
        else if (b == '>') fputs("&gt;", f), p++;
        else if (b == '"') fputs("&quot;", f), p++;
        else if (b == '\'') fputs("&apos;", f), p++;
        else if (b < 0x20 || b == 0x7F) fputc(b == '\t' ? ' ' : '?', f), p++;
        else if (b < 0x80) fputc(b, f), p++;
        else {
            int len = (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 0;
            int ok = len > 0;
            for (int i = 1; ok && i < len; i++) ok = (p[i] & 0xC0) == 0x80;
            if (ok) {
                uint32_t cp = b & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
                for (int i = 1; i < len; i++) cp = cp << 6 | (p[i] & 0x3F);
                ok = cp <= 0x10FFFF && !(cp >= 0xD800 && cp < 0xE000) &&
                     cp >= (len == 2 ? 0x80u : len == 3 ? 0x800u : 0x10000u) && cp != 0xFFFE && cp != 0xFFFF;
            }
            if (ok) fwrite(p, 1, (size_t)len, f), p += len;
            else fputc('?', f), p++;
        }
    }
}

static void text(FILE *f, double x, double y, const char *anchor, const char *fill, int size, int bold, const char *s)
{
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" fill=\"%s\" font-size=\"%d\"%s>", x, y,
            anchor, fill, size, bold ? " font-weight=\"bold\"" : "");
    xml_text(f, s);
    fputs("</text>\n", f);
}

typedef struct { double x0, y0, w, h; llfc_frame f; } area;

static double sx(const area *a, double v) { return a->x0 + (v - a->f.xlo) / (a->f.xhi - a->f.xlo) * a->w; }

static double sy(const area *a, double v)
{
    double fr;
    if (a->f.logy) {
        if (!(v > 0)) return NAN;
        fr = (log10(v) - log10(a->f.ylo)) / (log10(a->f.yhi) - log10(a->f.ylo));
    } else fr = (v - a->f.ylo) / (a->f.yhi - a->f.ylo);
    if (!isfinite(fr)) return NAN;
    if (fr < -1) fr = -1;
    if (fr > 2) fr = 2;
    return a->y0 + a->h - fr * a->h;
}

static void chart_svg(FILE *f, const llfc_chart *ch, double ox, double oy, double pw, double ph)
{
    area a;
    a.x0 = ox + 64, a.y0 = oy + 52, a.w = pw - 64 - 24, a.h = ph - 52 - 48;
    if (a.w < 10) a.w = 10;
    if (a.h < 10) a.h = 10;
    llfc_chart_frame(ch, 6, &a.f);
    fprintf(f, "<g>\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"white\"/>\n", ox, oy, pw, ph);
    text(f, ox + pw / 2, oy + 20, "middle", "#000000", 15, 1, ch->title);
    /* y grid, ticks, labels */
    double t[64], step;
    char lab[64];
    int nt = llfc_ticks(a.f.ylo, a.f.yhi, 6, a.f.logy, t, &step);
    for (int i = 0; i < nt; i++) {
        double Y = sy(&a, t[i]);
        if (Y != Y) continue;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n", a.x0, Y, a.x0 + a.w, Y, GRID_COLOR);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n", a.x0 - 4, Y, a.x0, Y, AXIS_COLOR);
        llfc_tick_label(t[i], step, a.f.logy, lab, sizeof lab);
        text(f, a.x0 - 7, Y + 4, "end", AXIS_COLOR, 11, 0, lab);
    }
    /* x ticks */
    int numbered = 0; /* bar names too wide for their bars: numbers and a key, as on the terminal */
    if (ch->kind == LLFC_CHART_BARS) {
        double gw = a.w / (ch->ngroups > 0 ? ch->ngroups : 1);
        for (int g = 0; g < ch->ngroups; g++)
            if (ch->ngroups > 1 && 6.5 * (double)llfc_text_width(ch->groups[g]) > gw - 2) numbered = 1;
        for (int g = 0; g < ch->ngroups; g++) {
            char num[16];
            snprintf(num, sizeof num, "%d", g + 1);
            text(f, a.x0 + (g + 0.5) * gw, a.y0 + a.h + 16, "middle", AXIS_COLOR, 11, 0, numbered ? num : ch->groups[g]);
        }
    } else {
        double xt[64], xs;
        int nx = llfc_ticks(a.f.xlo, a.f.xhi, 9, 0, xt, &xs);
        for (int i = 0; i < nx; i++) {
            double X = sx(&a, xt[i]);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n", X, a.y0 + a.h, X, a.y0 + a.h + 4, AXIS_COLOR);
            llfc_tick_label(xt[i], xs, 0, lab, sizeof lab);
            text(f, X, a.y0 + a.h + 16, "middle", AXIS_COLOR, 11, 0, lab);
        }
    }
    if (numbered) {
        char key[200];
        const char *xl = ch->xlabel ? ch->xlabel : "";
        snprintf(key, sizeof key, "%s%s1 = %s ... %d = %s", xl, *xl ? ": " : "", ch->groups[0], ch->ngroups,
                 ch->groups[ch->ngroups - 1]);
        text(f, a.x0 + a.w / 2, a.y0 + a.h + 36, "middle", "#000000", 12, 0, key);
    } else if (ch->xlabel && *ch->xlabel)
        text(f, a.x0 + a.w / 2, a.y0 + a.h + 36, "middle", "#000000", 12, 0, ch->xlabel);
    if (ch->ylabel && *ch->ylabel) text(f, ox + 8, oy + 40, "start", "#000000", 12, 0, ch->ylabel);
    /* data, clipped to the plot area */
    static int clip_id = 0;
    int id = ++clip_id;
    fprintf(f, "<clipPath id=\"c%d\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/></clipPath>\n<g clip-path=\"url(#c%d)\">\n",
            id, a.x0, a.y0 - 1, a.w + 1, a.h + 2, id);
    for (int i = 0; i < ch->nnotes; i++) {
        const llfc_note *n = &ch->notes[i];
        double X = sx(&a, n->x), Y0 = sy(&a, n->y0), Y1 = sy(&a, n->y1);
        if (!isfinite(X) || Y0 != Y0 || Y1 != Y1) continue;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>\n",
                X, Y0, X, Y1, NOTE_COLOR);
    }
    int ns = ch->nseries;
    for (int i = 0; i < ns; i++) {
        const llfc_series *s = &ch->series[i];
        const char *col = palette[s->color % (LLFC_NSERIES_COLORS + 1)];
        if (ch->kind == LLFC_CHART_LINES) {
            int open = 0, npts = 0;
            for (int k = 0; k <= s->n; k++) {
                double X = k < s->n && isfinite(s->x[k]) ? sx(&a, s->x[k]) : NAN;
                double Y = k < s->n ? sy(&a, s->y[k]) : NAN;
                if (X != X || Y != Y) {
                    if (open) {
                        fputs("\"/>\n", f);
                        open = 0;
                    }
                    continue;
                }
                if (!open) {
                    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", col,
                            s->dashed ? " stroke-dasharray=\"6 4\"" : "");
                    open = 1, npts = 0;
                }
                fprintf(f, "%s%.2f,%.2f", npts++ ? " " : "", X, Y);
                /* a lone point would be invisible as a polyline */
                int next_ok = k + 1 < s->n && isfinite(s->x[k + 1]) && sy(&a, s->y[k + 1]) == sy(&a, s->y[k + 1]);
                if (npts == 1 && !next_ok)
                    fprintf(f, "\"/>\n<circle cx=\"%.2f\" cy=\"%.2f\" r=\"2.5\" fill=\"%s\"/>\n", X, Y, col), open = 0;
            }
        } else if (ch->kind == LLFC_CHART_BARS) {
            int ng = ch->ngroups > 0 ? ch->ngroups : 1;
            double gw = a.w / ng, bw = gw * 0.8 / ns;
            double base = a.f.logy ? a.y0 + a.h : sy(&a, 0);
            for (int g = 0; g < ng && g < s->n; g++) {
                double Y = sy(&a, s->y[g]);
                if (Y != Y) continue;
                double X = a.x0 + g * gw + gw * 0.1 + i * bw;
                double top = Y < base ? Y : base, hgt = fabs(base - Y);
                fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"/>\n", X, top, bw * 0.92, hgt, col);
            }
        } else {
            double base = a.f.logy ? a.y0 + a.h : sy(&a, 0);
            for (int k = 0; k < s->n; k++) {
                double Y = sy(&a, s->y[k]), X0 = sx(&a, s->x[k]), X1 = sx(&a, s->x[k + 1]);
                if (Y != Y || !isfinite(X0) || !isfinite(X1)) continue;
                fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\" fill-opacity=\"0.75\" stroke=\"white\" stroke-width=\"0.5\"/>\n",
                        X0, Y < base ? Y : base, fabs(X1 - X0), fabs(base - Y), col);
            }
        }
    }
    for (int i = 0; i < ch->nmarkers; i++) {
        const llfc_marker *m = &ch->markers[i];
        double X = sx(&a, m->x), Y = sy(&a, m->y);
        if (!isfinite(X) || Y != Y) continue;
        fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"4\" fill=\"%s\"/>\n", X, Y, NOTE_COLOR);
    }
    fputs("</g>\n", f);
    /* labels of markers and notes, unclipped */
    for (int i = 0; i < ch->nmarkers; i++) {
        const llfc_marker *m = &ch->markers[i];
        double X = sx(&a, m->x), Y = sy(&a, m->y);
        if (!isfinite(X) || Y != Y || !*m->label) continue;
        int right = X < a.x0 + a.w / 2;
        text(f, X + (right ? 7 : -7), Y - 6, right ? "start" : "end", NOTE_COLOR, 11, 0, m->label);
    }
    for (int i = 0; i < ch->nnotes; i++) {
        const llfc_note *n = &ch->notes[i];
        double X = sx(&a, n->x), Y0 = sy(&a, n->y0), Y1 = sy(&a, n->y1);
        if (!isfinite(X) || Y0 != Y0 || Y1 != Y1 || !*n->label) continue;
        int right = X < a.x0 + a.w * 0.6;
        text(f, X + (right ? 5 : -5), (Y0 < Y1 ? Y0 : Y1) - 5, right ? "start" : "end", NOTE_COLOR, 11, 0, n->label);
    }
    /* axes */
    fprintf(f, "<path d=\"M%.1f %.1f V%.1f H%.1f\" fill=\"none\" stroke=\"%s\"/>\n", a.x0, a.y0, a.y0 + a.h, a.x0 + a.w, AXIS_COLOR);
    /* legend, one row under the title, right-aligned */
    if (ns > 1 || (ns == 1 && *ch->series[0].name)) {
        double X = a.x0 + a.w, Y = oy + 40;
        for (int i = ns - 1; i >= 0; i--) {
            const llfc_series *s = &ch->series[i];
            double tw = 7.0 * llfc_text_width(s->name) + 6;
            X -= tw;
            text(f, X, Y, "start", "#000000", 12, 0, s->name);
            X -= 22;
            const char *col = palette[s->color % (LLFC_NSERIES_COLORS + 1)];
            if (ch->kind == LLFC_CHART_LINES)
                fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"%s/>\n", X, Y - 4, X + 18, Y - 4,
                        col, s->dashed ? " stroke-dasharray=\"6 4\"" : "");
            else fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\" fill=\"%s\"/>\n", X + 2, Y - 10, col);
            X -= 12;
        }
    }
    fputs("</g>\n", f);
}

char *llfc_svg_charts(llfc_chart *const *charts, int n, int cols, int pw, int ph)
{
    if (n < 1) { llfc_seterr("svg: no charts"); return NULL; }
    if (cols < 1) cols = 1;
    if (cols > n) cols = n;
    if (pw < 120) pw = 120;
    if (ph < 100) ph = 100;
    int rows = (n + cols - 1) / cols;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) { llfc_seterr("svg: %s", strerror(errno)); return NULL; }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
            cols * pw, rows * ph, cols * pw, rows * ph);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    for (int i = 0; i < n; i++) chart_svg(f, charts[i], (i % cols) * pw, (i / cols) * ph, pw, ph);
    fputs("</svg>\n", f);
    if (fclose(f) != 0) { free(buf); llfc_seterr("svg: write failed"); return NULL; }
    return buf;
}

