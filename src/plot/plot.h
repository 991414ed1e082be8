/* plot.h - pure plotting: an in-memory canvas of cells and charts drawn into it.
 *
 * No ncurses and no Lua here.  A canvas is a grid of cells, each holding one
 * codepoint (or a set of braille dots) and a colour index; the terminal view
 * copies it to the screen, the tests compare it as text.  Line plots use
 * braille (2x4 dots a cell) unless the canvas is ASCII (1 dot a cell, one
 * glyph per series so series stay apart without colour).
 *
 * A chart holds the data (series, bar groups, markers, notes) and is drawn
 * by llfc_chart_draw (const: drawing never changes data) into any rectangle
 * of a canvas, or written as SVG by llfc_svg_charts (svg.c).  Updating data
 * and drawing are separate steps, so a live view can add points and redraw.
 */
#ifndef LLFC_PLOT_H
#define LLFC_PLOT_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---- colours: indices, mapped to terminal pairs / SVG colours ------------ */
enum {
    LLFC_COLOR_DEFAULT = 0,
    /* 1..LLFC_NSERIES_COLORS: series palette */
    LLFC_NSERIES_COLORS = 6,
    LLFC_COLOR_AXIS = 7,   /* axes, ticks: dim */
    LLFC_COLOR_NOTE = 8,   /* annotations, markers: highlight */
    LLFC_COLOR_TITLE = 9,  /* titles: bold */
    LLFC_COLOR_STATUS = 10, /* status and help lines: reverse video */
    LLFC_NCOLORS = 11
};

/* ---- the canvas ---------------------------------------------------------- */
typedef struct {
    uint32_t ch;    /* codepoint, 0 = empty (or braille dots below) */
    uint8_t dots;   /* braille dot bits (used when ch == 0) */
    uint8_t color;
} llfc_cell;

typedef struct {
    int w, h;       /* cells */
    int ascii;      /* 1: ASCII only, 1x1 dot per cell; 0: UTF-8 braille 2x4 */
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
/* Write UTF-8 text at (x, y), at most maxw cells (maxw < 0: to the edge).
 * On an ASCII canvas non-ASCII characters become '?' (alpha becomes 'a').
 * Returns the number of cells written. */
int llfc_canvas_text(llfc_canvas *c, int x, int y, const char *utf8, int color, int maxw);
/* Display width of UTF-8 text in cells (one per codepoint). */
int llfc_text_width(const char *utf8);
/* Set one dot in dot coordinates (px in [0, w*dx), py in [0, h*dy), y down).
 * glyph is used on ASCII canvases (0: the series glyph of `color`). */
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

/* ---- charts ---------------------------------------------------------------- */
enum { LLFC_CHART_LINES = 0, LLFC_CHART_BARS = 1, LLFC_CHART_HIST = 2 };

typedef struct {
    char *name;
    int n;
    double *x, *y;  /* lines: n points (x, y); bars: y[n], one per group, x NULL;
                       hist: x = n + 1 ascending bin edges, y = n counts */
    int color;      /* 1..LLFC_NSERIES_COLORS */
    int dashed;
} llfc_series;

typedef struct { double x, y; char *label; } llfc_marker;       /* a marked point */
typedef struct { double x, y0, y1; char *label; } llfc_note;     /* a vertical annotation */

typedef struct {
    int kind, logy;
    char *title, *xlabel, *ylabel;
    int nseries;
    llfc_series *series;
    int ngroups;            /* bars: one group per category (layer) */
    char **groups;
    int nmarkers;
    llfc_marker *markers;
    int nnotes;
    llfc_note *notes;
    double ylo, yhi;        /* fixed y range when ylo < yhi (else automatic) */
} llfc_chart;

/* A computed axis frame (shared by the canvas and SVG renderers). */
typedef struct {
    double xlo, xhi, ylo, yhi;  /* data ranges (y: values, also on log axes) */
    int logy;
} llfc_frame;

llfc_chart *llfc_chart_new(int kind, const char *title);
void llfc_chart_free(llfc_chart *ch);
int llfc_chart_labels(llfc_chart *ch, const char *xlabel, const char *ylabel);
/* Add a series (copies the data); returns its index, or -1.  x may be NULL
 * for bars.  Colours are given in order unless set afterwards. */
int llfc_chart_series(llfc_chart *ch, const char *name, int n, const double *x, const double *y);
int llfc_chart_groups(llfc_chart *ch, int n, const char *const *names);
int llfc_chart_marker(llfc_chart *ch, double x, double y, const char *label);
int llfc_chart_note(llfc_chart *ch, double x, double y0, double y1, const char *label);
void llfc_chart_set_log(llfc_chart *ch, int on);
void llfc_chart_yrange(llfc_chart *ch, double lo, double hi);
/* The axis ranges the chart will use (NaN/inf skipped, degenerate ranges widened,
 * y rounded out to ticks).  yticks is the wanted number of y ticks. */
void llfc_chart_frame(const llfc_chart *ch, int yticks, llfc_frame *f);
/* Draw into the rectangle (x, y, w, h) of c: title, legend, axes, data.
 * Too small a rectangle gets just the title. */
void llfc_chart_draw(const llfc_chart *ch, llfc_canvas *c, int x, int y, int w, int h);

/* ---- export (svg.c) -------------------------------------------------------- */
/* A standalone SVG document with n charts in a grid of `cols` columns, each
 * panel pw x ph pixels.  Malloc'd string (llfc_free), NULL on failure. */
char *llfc_svg_charts(llfc_chart *const *charts, int n, int cols, int pw, int ph);
/* Files are written with llfc_write_file_atomic (core.h). */

#endif
