/* plot.h - figures: one description of a chart, drawn into a terminal canvas
 * (canvas.c, draw.c) or through cairo as SVG, PDF or PNG (export.c).
 *
 * No ncurses and no Lua here (the terminal is term.h).  A canvas is a grid of
 * cells, each holding one codepoint (or a set of braille dots), a colour
 * class and, for heat maps, a pair of 256-colour indices; the terminal view
 * copies it to the screen, the tests compare it as text.  Line plots use
 * braille (2x4 dots a cell) unless the canvas is ASCII (1 dot a cell, one
 * glyph per series so series stay apart without colour).
 *
 * A chart holds the data (series with optional error bars, bar groups or
 * categories, markers, notes, vertical lines, a heat-map grid) and is drawn
 * by llfc_chart_draw (const: drawing never changes data) into any rectangle
 * of a canvas, or by llfc_figure_export into a file.  Both renderers take the
 * axis ranges from llfc_chart_frame, so a figure shows the same ranges and
 * ticks in the terminal and on paper.
 */
#ifndef LLFC_PLOT_H
#define LLFC_PLOT_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "core/stats.h"

/* ---- colours: classes, mapped to terminal pairs / export colours ---------- */
enum {
    LLFC_COLOR_DEFAULT = 0,
    /* 1..LLFC_NSERIES_COLORS: series palette (Okabe-Ito in exports) */
    LLFC_NSERIES_COLORS = 6,
    LLFC_COLOR_AXIS = 7,   /* axes, ticks, faint series: dim */
    LLFC_COLOR_NOTE = 8,   /* annotations, markers: highlight */
    LLFC_COLOR_TITLE = 9,  /* titles: bold */
    LLFC_COLOR_STATUS = 10, /* status and help lines: reverse video */
    LLFC_NCOLORS = 11
};

/* ---- the canvas ---------------------------------------------------------- */
enum { LLFC_CELL_RGB = 1 }; /* cell flag: fg/bg are xterm 256-colour indices */

typedef struct {
    uint32_t ch;    /* codepoint, 0 = empty (or braille dots below) */
    uint8_t dots;   /* braille dot bits (used when ch == 0) */
    uint8_t color;  /* colour class */
    uint8_t flags;  /* LLFC_CELL_RGB */
    uint8_t fg, bg; /* 256-colour indices when flags & LLFC_CELL_RGB */
} llfc_cell;

typedef struct {
    int w, h;       /* cells */
    int ascii;      /* 1: ASCII only, 1x1 dot per cell; 0: UTF-8 braille 2x4 */
    int colors;     /* 256: heat maps as half-block cells in 256 colours; else a character ramp */
    llfc_cell *cells;
} llfc_canvas;

llfc_canvas *llfc_canvas_new(int w, int h, int ascii);
void llfc_canvas_free(llfc_canvas *c);
void llfc_canvas_clear(llfc_canvas *c);
/* Dots per cell: 2x4 (braille) or 1x1 (ASCII). */
int llfc_canvas_dx(const llfc_canvas *c);
int llfc_canvas_dy(const llfc_canvas *c);
/* Set one cell (clipped). */
void llfc_canvas_put(llfc_canvas *c, int x, int y, uint32_t ch, int color);
/* Set one cell to a codepoint in 256-colour fg/bg (clipped). */
void llfc_canvas_put_rgb(llfc_canvas *c, int x, int y, uint32_t ch, int fg, int bg);
/* Write UTF-8 text at (x, y), at most maxw cells (maxw < 0: to the edge).
 * On an ASCII canvas non-ASCII characters become '?' (alpha becomes 'a',
 * the plus-minus sign "+-").  Returns the number of cells written. */
int llfc_canvas_text(llfc_canvas *c, int x, int y, const char *utf8, int color, int maxw);
/* Display width of UTF-8 text in cells (one per codepoint). */
int llfc_text_width(const char *utf8);
/* Set one dot in dot coordinates (px in [0, w*dx), py in [0, h*dy), y down). */
void llfc_canvas_dot(llfc_canvas *c, int px, int py, int color);
/* A straight line of dots (Bresenham); dashed = 1 leaves every other pair out. */
void llfc_canvas_line(llfc_canvas *c, int px0, int py0, int px1, int py1, int color, int dashed);
/* The codepoint shown at (x, y): ch, else the braille pattern, else ' '. */
uint32_t llfc_canvas_glyph(const llfc_canvas *c, int x, int y);
/* The canvas as UTF-8 text: one line per row, trailing blanks trimmed, each
 * line ended by '\n'.  Malloc'd (free with llfc_free); NULL on no memory. */
char *llfc_canvas_to_text(const llfc_canvas *c);
/* Encode one codepoint as UTF-8 into buf (>= 5 bytes); returns length. */
int llfc_utf8_encode(uint32_t cp, char *buf);

/* ---- axis ticks ------------------------------------------------------------ */
/* Nice tick values (1, 2, 5 x 10^k) inside [lo, hi], at most maxn of them;
 * returns the count and the step.  Log axes: powers of ten (lo, hi > 0). */
int llfc_ticks(double lo, double hi, int maxn, int log, double *ticks, double *step);
/* A short label for tick value v on an axis with the given step
 * ("0.25", "1.5e12", "1e-5"). */
void llfc_tick_label(double v, double step, int log, char *buf, size_t n);
/* A compact number for labels/annotations: 3 significant digits. */
void llfc_num_label(double v, char *buf, size_t n);

/* ---- colour scale (heat maps) ---------------------------------------------- */
/* Viridis (perceptually uniform, colour-blind safe) at t in [0, 1]: rgb in [0, 1]. */
void llfc_colormap(double t, double rgb[3]);
/* The nearest xterm 256-colour index (the 6x6x6 cube and the grey ramp). */
int llfc_xterm256(const double rgb[3]);

/* ---- histograms from samples ------------------------------------------------- */
/* (the range and bin rule: llfc_hist_rule, core/stats.h) */
/* Count x into bins equal bins over [lo, hi) (the last bin includes hi);
 * values outside go to *below / *above, NaN is ignored. */
void llfc_hist_count(const double *x, int n, double lo, double hi, int bins, double *counts,
                     double *below, double *above);

/* ---- charts ---------------------------------------------------------------- */
enum { LLFC_CHART_LINES = 0, LLFC_CHART_BARS = 1, LLFC_CHART_HIST = 2, LLFC_CHART_HEAT = 3 };

typedef struct {
    char *name;
    int n;
    double *x, *y;  /* lines: n points (x, y) (x NULL with categories: 1..n);
                       bars: y[n], one per group, x NULL;
                       hist: x = n + 1 ascending bin edges, y = n counts */
    double *elo, *ehi; /* error bars: the lower and upper ends (absolute y), or NULL */
    int color;      /* 1..LLFC_NSERIES_COLORS */
    int dashed;
    int faint;      /* drawn thin and light behind the others, not in the legend */
} llfc_series;

typedef struct { double x, y; char *label; } llfc_marker;       /* a marked point */
typedef struct { double x, y0, y1; char *label; } llfc_note;     /* a vertical annotation */
typedef struct { double x; char *label; } llfc_vline;            /* a full-height guide (epochs) */

typedef struct {
    int nx, ny;             /* grid; z[j * nx + i] at (x[i], y[j]), row 0 at the bottom */
    double *x, *y, *z;      /* cell centres, ascending; NaN z is drawn blank */
    char *zlabel;           /* the colour bar's label */
    int logz;
    int has_contour;        /* draw the contour line of z = contour */
    double contour;
} llfc_heat;

typedef struct {
    int kind, logy;
    char *title, *xlabel, *ylabel;
    char *errlabel;         /* what the error bars are ("+-1 SD over samples"); shown in the legend */
    char *caption;          /* one line under the x axis (e.g. counts outside a histogram's range) */
    int nseries;
    llfc_series *series;
    int ngroups;            /* bars: one group per category; lines: categorical x axis */
    char **groups;
    int nmarkers;
    llfc_marker *markers;
    int nnotes;
    llfc_note *notes;
    int nvlines;
    llfc_vline *vlines;
    llfc_heat heat;         /* LLFC_CHART_HEAT */
    double ylo, yhi;        /* fixed y range when ylo < yhi (else automatic) */
    double xlo, xhi;        /* fixed x range when xlo < xhi */
    double yspan;           /* automatic y ranges span at least this much (0: no floor) */
} llfc_chart;

/* A computed axis frame (shared by the canvas and the exports). */
typedef struct {
    double xlo, xhi, ylo, yhi;  /* data ranges (y: values, also on log axes) */
    int logy;
    double zlo, zhi;            /* heat maps: the colour scale's range */
} llfc_frame;

llfc_chart *llfc_chart_new(int kind, const char *title);
void llfc_chart_free(llfc_chart *ch);
int llfc_chart_labels(llfc_chart *ch, const char *xlabel, const char *ylabel);
/* Set a text field (title, errlabel, caption, heat zlabel): replaces the old value. */
int llfc_chart_settext(char **field, const char *s);
/* Add a series (copies the data); returns its index, or -1.  x may be NULL
 * for bars and categorical lines.  Colours are given in order unless set afterwards. */
int llfc_chart_series(llfc_chart *ch, const char *name, int n, const double *x, const double *y);
/* Error bars of series k: lower and upper ends (copied); n must be the series' n. */
int llfc_chart_errors(llfc_chart *ch, int k, const double *lo, const double *hi);
int llfc_chart_groups(llfc_chart *ch, int n, const char *const *names);
int llfc_chart_marker(llfc_chart *ch, double x, double y, const char *label);
int llfc_chart_note(llfc_chart *ch, double x, double y0, double y1, const char *label);
int llfc_chart_vline(llfc_chart *ch, double x, const char *label);
/* The heat map grid (copied): x[nx], y[ny] ascending, z[ny * nx]. */
int llfc_chart_heat(llfc_chart *ch, int nx, int ny, const double *x, const double *y, const double *z);
void llfc_chart_set_log(llfc_chart *ch, int on);
void llfc_chart_yrange(llfc_chart *ch, double lo, double hi);
/* The axis ranges the chart will use (NaN/inf skipped, degenerate ranges widened,
 * the y span at least yspan, y rounded out to ticks).  yticks is the wanted
 * number of y ticks. */
void llfc_chart_frame(const llfc_chart *ch, int yticks, llfc_frame *f);
/* Draw into the rectangle (x, y, w, h) of c: title, legend, axes, data.
 * Too small a rectangle gets just the title. */
void llfc_chart_draw(const llfc_chart *ch, llfc_canvas *c, int x, int y, int w, int h);

/* ---- export (export.c, through cairo) ---------------------------------------- */
enum { LLFC_FMT_SVG = 0, LLFC_FMT_PDF = 1, LLFC_FMT_PNG = 2 };

typedef struct {
    int format;             /* LLFC_FMT_* */
    double width, height;   /* the whole figure in inches */
    double dpi;             /* PNG pixels per inch */
    int cols;               /* charts per row */
    const char *title;      /* over the whole figure (NULL: none) */
} llfc_export_opts;

/* The format of a file name's extension (".svg", ".pdf", ".png", any case), or -1. */
int llfc_export_format(const char *path);
/* Render n charts in a grid of opts->cols columns to memory: *out is malloc'd
 * (llfc_free), *len its length.  Returns 0, or -1 with the error set. */
int llfc_figure_render(llfc_chart *const *charts, int n, const llfc_export_opts *o, char **out, size_t *len);
/* The same written to path atomically (temporary file + rename). */
int llfc_figure_export(llfc_chart *const *charts, int n, const llfc_export_opts *o, const char *path);

#endif
