/* test_plot.c - the pure canvas and charts, compared as text. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "plot/plot.h"

/* Render a chart into a fresh w x h canvas and return its text (malloc'd). */
static char *render(const llfc_chart *ch, int w, int h, int ascii)
{
    llfc_canvas *c = llfc_canvas_new(w, h, ascii);
    llfc_chart_draw(ch, c, 0, 0, w, h);
    char *t = llfc_canvas_to_text(c);
    llfc_canvas_free(c);
    return t;
}

static int same_text(const char *got, const char *want, const char *name)
{
    if (!strcmp(got, want)) return 1;
    printf("# %s: got\n%s# expected\n%s", name, got, want);
    return 0;
}

static int count_str(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* the text of row r (0-based) of a rendering, into buf */
static void row_of(const char *t, int r, char *buf, size_t n)
{
    for (int i = 0; i < r && t; i++) { t = strchr(t, '\n'); if (t) t++; }
    buf[0] = 0;
    if (!t) return;
    const char *e = strchr(t, '\n');
    size_t k = e ? (size_t)(e - t) : strlen(t);
    if (k >= n) k = n - 1;
    memcpy(buf, t, k);
    buf[k] = 0;
}

static int only_ascii(const char *s)
{
    for (; *s; s++) if ((unsigned char)*s >= 0x80) return 0;
    return 1;
}

static void test_canvas(void)
{
    llfc_canvas *c = llfc_canvas_new(4, 2, 0);
    llfc_canvas_dot(c, 0, 0, 1);
    CHECK(llfc_canvas_glyph(c, 0, 0) == 0x2801, "braille: top-left dot is U+2801");
    llfc_canvas_dot(c, 1, 3, 1);
    CHECK(llfc_canvas_glyph(c, 0, 0) == 0x2881, "braille: bottom-right dot adds 0x80");
    for (int y = 0; y < 4; y++) for (int x = 2; x < 4; x++) llfc_canvas_dot(c, x, y, 1);
    CHECK(llfc_canvas_glyph(c, 1, 0) == 0x28FF, "braille: eight dots are U+28FF");
    llfc_canvas_dot(c, 99, 0, 1); llfc_canvas_dot(c, -1, 0, 1);
    CHECK(llfc_canvas_glyph(c, 3, 0) == ' ', "dots outside the canvas are clipped");
    llfc_canvas_clear(c);
    llfc_canvas_line(c, 0, 0, 7, 7, 1, 0);
    char *t = llfc_canvas_to_text(c);
    /* (0,0),(1,1) -> 0x11; (2,2),(3,3) -> 0x04|0x80 = 0x84; repeated one row down */
    CHECK(same_text(t, "\u2811\u2884\n  \u2811\u2884\n", "diagonal"), "braille diagonal line, 8x8 dots");
    llfc_free(t);
    llfc_canvas_free(c);

    c = llfc_canvas_new(6, 3, 1);
    llfc_canvas_line(c, 0, 1, 5, 1, 2, 0);
    llfc_canvas_text(c, 1, 0, "α=1", 0, -1);
    t = llfc_canvas_to_text(c);
    CHECK(same_text(t, " a=1\n++++++\n\n", "ascii"), "ASCII canvas: series glyph, alpha as 'a', trailing blanks trimmed");
    llfc_free(t);
    CHECK(llfc_canvas_text(c, 4, 2, "abcdef", 0, -1) == 2, "text is clipped at the right edge");
    llfc_canvas_free(c);
    CHECK(llfc_canvas_new(0, 5, 0) == NULL && strstr(llfc_errmsg(), "0x5"), "a 0x5 canvas is refused with its size");
    CHECK(llfc_text_width("α=0.5") == 5, "text width counts codepoints");
}

static void test_ticks(void)
{
    double t[64], step;
    char b[64];
    int n = llfc_ticks(0, 1, 6, 0, t, &step);
    CHECK(n == 6 && fabs(step - 0.2) < 1e-12 && t[0] == 0 && fabs(t[5] - 1) < 1e-12, "ticks of [0, 1]: 0, 0.2, ..., 1");
    n = llfc_ticks(0.013, 0.087, 5, 0, t, &step);
    CHECK(n == 4 && fabs(step - 0.02) < 1e-12 && fabs(t[0] - 0.02) < 1e-12, "ticks inside [0.013, 0.087] by 0.02");
    llfc_tick_label(0.25, 0.05, 0, b, sizeof b);
    CHECK(!strcmp(b, "0.25"), "label 0.25 (got %s)", b);
    llfc_tick_label(-0.0, 0.5, 0, b, sizeof b);
    CHECK(!strcmp(b, "0"), "label of zero is 0 (got %s)", b);
    n = llfc_ticks(0, 3e12, 5, 0, t, &step);
    llfc_tick_label(t[1], step, 0, b, sizeof b);
    CHECK(step == 1e12 && !strcmp(b, "1e12"), "huge range: step 1e12, label %s", b);
    n = llfc_ticks(1e-12, 5e-12, 5, 0, t, &step);
    llfc_tick_label(t[1], step, 0, b, sizeof b);
    CHECK(n == 5 && !strcmp(b, "2e-12"), "tiny range: %d ticks, label %s", n, b);
    n = llfc_ticks(1, 1 + 1e-9, 6, 0, t, &step);
    llfc_tick_label(t[1], step, 0, b, sizeof b);
    CHECK(n == 6 && !strcmp(b, "1.0000000002"), "tiny range around 1: label %s", b);
    n = llfc_ticks(1e-3, 10, 8, 1, t, &step);
    CHECK(n == 5 && fabs(t[0] - 1e-3) < 1e-15 && t[4] == 10, "log ticks: powers of ten 1e-3 .. 10");
    llfc_tick_label(1e-5, 1, 1, b, sizeof b);
    CHECK(!strcmp(b, "1e-5"), "log label 1e-5 (got %s)", b);
    n = llfc_ticks(1e-9, 1e9, 5, 1, t, &step);
    CHECK(n <= 5 && n >= 3, "log ticks thinned to at most 5 (%d)", n);
    llfc_num_label(0.123456, b, sizeof b);
    CHECK(!strcmp(b, "0.123"), "number label 0.123");
}

static void test_line_chart(void)
{
    /* y = x on [0, 1]: a straight diagonal */
    double x[2] = {0, 1}, y[2] = {0, 1};
    llfc_chart *ch = llfc_chart_new(LLFC_CHART_LINES, "line");
    llfc_chart_series(ch, "", 2, x, y);
    char *t = render(ch, 24, 9, 1);
    const char *want =
        "          line\n"
        "\n"
        "1.0+                ***\n"
        "   |            ****\n"
        "0.5+       *****\n"
        "   |   ****\n"
        "  0+***\n"
        "   ++--------+--------+\n"
        "    0       0.5      1.0\n";
    CHECK(same_text(t, want, "straight line"), "straight line y = x (ASCII)");
    llfc_free(t);
    t = render(ch, 24, 9, 0);
    CHECK(count_str(t, "\u2524") >= 3 && !only_ascii(t) && !strchr(t, '*'), "same line in braille uses box drawing and braille");
    llfc_free(t);
    llfc_chart_free(ch);

    /* a step: flat at 0, jump at 0.5, flat at 1 */
    double sx[4] = {0, 0.5, 0.5, 1}, sy[4] = {0, 0, 1, 1};
    ch = llfc_chart_new(LLFC_CHART_LINES, "step");
    llfc_chart_series(ch, "", 4, sx, sy);
    t = render(ch, 24, 9, 1);
    want =
        "          step\n"
        "\n"
        "1.0+         **********\n"
        "   |         *\n"
        "0.5+         *\n"
        "   |         *\n"
        "  0+**********\n"
        "   ++--------+--------+\n"
        "    0       0.5      1.0\n";
    CHECK(same_text(t, want, "step"), "step function (ASCII)");
    llfc_free(t);
    llfc_chart_free(ch);
}

static void test_gaps_and_degenerate(void)
{
    /* NaN splits the line: no dots in the middle columns */
    double x[5] = {0, 1, 2, 3, 4}, y[5] = {1, 1, NAN, 1, 1};
    llfc_chart *ch = llfc_chart_new(LLFC_CHART_LINES, "");
    llfc_chart_series(ch, "", 5, x, y);
    llfc_chart_yrange(ch, 0, 2);
    char *t = render(ch, 30, 9, 1);
    char row[256];
    int found = -1;
    for (int r = 0; r < 9 && found < 0; r++) {
        row_of(t, r, row, sizeof row);
        if (strchr(row, '*')) found = r;
    }
    row_of(t, found, row, sizeof row);
    /* plot columns 2..28 (27 cells) map x 0..4: x = 1 is column 9, x = 3 column 22 */
    int gap = 1;
    for (int k = 10; k <= 21; k++) if (row[k] == '*') gap = 0;
    CHECK(found >= 0 && row[2] == '*' && row[9] == '*' && row[22] == '*' && row[28] == '*' && gap,
          "NaN leaves a gap between x = 1 and x = 3 ('%s')", row);
    llfc_free(t);
    llfc_chart_free(ch);

    /* constant series: one flat row in the middle of a widened axis */
    double cy[3] = {3, 3, 3}, cx[3] = {0, 1, 2};
    ch = llfc_chart_new(LLFC_CHART_LINES, "");
    llfc_chart_series(ch, "", 3, cx, cy);
    llfc_frame f;
    llfc_chart_frame(ch, 5, &f);
    CHECK(f.ylo < 3 && f.yhi > 3 && f.yhi - f.ylo < 2, "constant 3: y axis widened around it [%g, %g]", f.ylo, f.yhi);
    t = render(ch, 30, 12, 1);
    int rows_with = 0;
    for (int r = 0; r < 12; r++) { row_of(t, r, row, sizeof row); if (strchr(row, '*')) rows_with++; }
    CHECK(rows_with == 1 && strstr(t, "3.0"), "constant series is one flat row, axis labelled 3.0");
    llfc_free(t);
    llfc_chart_free(ch);

    /* one point */
    double px[1] = {0.5}, py[1] = {2};
    ch = llfc_chart_new(LLFC_CHART_LINES, "");
    llfc_chart_series(ch, "", 1, px, py);
    llfc_chart_frame(ch, 5, &f);
    CHECK(f.xlo < 0.5 && f.xhi > 0.5 && f.ylo < 2 && f.yhi > 2, "one point: both axes widened around it");
    t = render(ch, 30, 12, 1);
    CHECK(count_str(t, "*") == 1, "one point draws one dot");
    llfc_free(t);
    llfc_chart_free(ch);

    /* empty and all-NaN series draw axes and nothing else */
    double nx[2] = {NAN, NAN};
    ch = llfc_chart_new(LLFC_CHART_LINES, "empty");
    llfc_chart_series(ch, "", 2, nx, nx);
    t = render(ch, 30, 10, 1);
    CHECK(count_str(t, "*") == 0 && strstr(t, "empty") && strchr(t, '|'), "all-NaN series: axes only");
    llfc_free(t);
    llfc_chart_free(ch);

    /* huge and tiny ranges get readable tick labels */
    double hx[2] = {0, 1}, hy[2] = {0, 3e12}, ty[2] = {1e-12, 5e-12};
    ch = llfc_chart_new(LLFC_CHART_LINES, "");
    llfc_chart_series(ch, "", 2, hx, hy);
    t = render(ch, 40, 12, 1);
    CHECK(strstr(t, "3e12") && strstr(t, "1e12"), "huge range: labels 1e12 .. 3e12");
    llfc_free(t);
    llfc_chart_free(ch);
    ch = llfc_chart_new(LLFC_CHART_LINES, "");
    llfc_chart_series(ch, "", 2, hx, ty);
    t = render(ch, 40, 12, 1);
    CHECK(strstr(t, "1e-12") && strstr(t, "5e-12") && count_str(t, "*") > 10, "tiny range: labels 1e-12 .. 5e-12, line drawn");
    llfc_free(t);
    llfc_chart_free(ch);
}

/* height in cells of the bar in column col (ASCII: cells equal to g) */
static int bar_height(const char *t, int col, char g)
{
    char row[256];
    int n = 0;
    for (int r = 0; r < 40; r++) {
        row_of(t, r, row, sizeof row);
        if ((int)strlen(row) > col && row[col] == g) n++;
    }
    return n;
}

static void test_bars(void)
{
    const char *groups[3] = {"h1", "h2", "out"};
    double v[3] = {1, 2, 4};
    llfc_chart *ch = llfc_chart_new(LLFC_CHART_BARS, "bars");
    llfc_chart_groups(ch, 3, groups);
    llfc_chart_series(ch, "", 3, NULL, v);
    char *t = render(ch, 34, 12, 1);
    const char *want =
        "               bars\n"
        "\n"
        "4+                      ######\n"
        " |                      ######\n"
        "3+                      ######\n"
        " |                      ######\n"
        "2+            ######    ######\n"
        "1+  ######    ######    ######\n"
        " |  ######    ######    ######\n"
        "0+  ######    ######    ######\n"
        " +-------------------------------\n"
        "      h1        h2       out\n";
    CHECK(same_text(t, want, "bars"), "grouped bars 1, 2, 4 (ASCII): tops on the rows labelled 1, 2, 4");
    llfc_free(t);
    llfc_chart_free(ch);

    /* two series side by side, heights proportional */
    double a[2] = {0.5, 1.0}, b[2] = {1.0, 0.25};
    ch = llfc_chart_new(LLFC_CHART_BARS, "");
    llfc_chart_groups(ch, 2, groups);
    llfc_chart_series(ch, "a", 2, NULL, a);
    llfc_chart_series(ch, "b", 2, NULL, b);
    t = render(ch, 44, 20, 1);
    CHECK(strstr(t, "## a") && strstr(t, "== b"), "legend names both series with their fill");
    int ha = bar_height(t, 10, '#'), hb = 0, hb2 = 0;
    for (int col = 0; col < 44; col++) { int k = bar_height(t, col, '='); if (k > hb) hb = k; }
    for (int col = 22; col < 44; col++) { int k = bar_height(t, col, '#'); if (k > hb2) hb2 = k; }
    CHECK(hb > 0 && abs(2 * ha - hb) <= 1 && hb2 == hb, "bar heights follow values: a1 %d, b1 %d, a2 %d", ha, hb, hb2);
    llfc_free(t);

    /* log scale: 0.01, 1, 100 are equally spaced in height */
    llfc_chart_free(ch);
    double lv[3] = {0.01, 1, 100};
    ch = llfc_chart_new(LLFC_CHART_BARS, "");
    llfc_chart_groups(ch, 3, groups);
    llfc_chart_series(ch, "", 3, NULL, lv);
    llfc_chart_set_log(ch, 1);
    llfc_frame f;
    llfc_chart_frame(ch, 5, &f);
    CHECK(fabs(f.ylo - 0.01) < 1e-12 && fabs(f.yhi - 100) < 1e-9, "log axis spans 0.01 .. 100");
    t = render(ch, 40, 14, 1);
    int h1 = 0, h2 = 0, h3 = 0;
    for (int col = 0; col < 40; col++) {
        int k = bar_height(t, col, '#');
        if (col < 18 && k > h1) h1 = k;
        if (col >= 18 && col < 28 && k > h2) h2 = k;
        if (col >= 28 && k > h3) h3 = k;
    }
    CHECK(h3 > h2 && h2 > h1 && abs((h3 - h2) - (h2 - h1)) <= 1, "log bars: equal steps per decade (%d %d %d)", h1, h2, h3);
    CHECK(strstr(t, "100") && strstr(t, "0.01"), "log axis labels 0.01 and 100");
    llfc_free(t);
    /* a non-positive value on a log axis is left out, not drawn at -inf */
    double zv[3] = {0, 1, 100};
    llfc_chart_free(ch);
    ch = llfc_chart_new(LLFC_CHART_BARS, "");
    llfc_chart_groups(ch, 3, groups);
    llfc_chart_series(ch, "", 3, NULL, zv);
    llfc_chart_set_log(ch, 1);
    t = render(ch, 40, 14, 1);
    int h0 = 0;
    for (int col = 0; col < 14; col++) { int k = bar_height(t, col, '#'); if (k > h0) h0 = k; }
    CHECK(h0 == 0, "log bars: zero is not drawn");
    llfc_free(t);
    t = render(ch, 40, 14, 0);
    CHECK(strstr(t, "\u2588") != NULL, "braille canvas draws bars with block characters");
    llfc_free(t);
    llfc_chart_free(ch);
}

static void test_hist_and_notes(void)
{
    double edges[5] = {0, 1, 2, 3, 4}, counts[4] = {1, 4, 2, 0};
    llfc_chart *ch = llfc_chart_new(LLFC_CHART_HIST, "hist");
    CHECK(llfc_chart_series(ch, "", 4, edges, counts) == 0, "histogram series added");
    char *t = render(ch, 28, 12, 1);
    /* plot columns 3..26 (24 cells) cover 0..4: 6 cells a bin */
    int h[4];
    for (int b = 0; b < 4; b++) h[b] = bar_height(t, 3 + 6 * b + 3, '#');
    /* 8 plot rows, row centres 0, 4/7, ...: a bar's top is on the row of its value */
    CHECK(h[1] == 8 && h[0] == 3 && h[2] == 4 && h[3] == 0, "histogram heights 1:4:2:0 -> %d %d %d %d", h[0], h[1], h[2], h[3]);
    llfc_free(t);
    llfc_chart_free(ch);

    /* markers and a barrier annotation */
    double x[3] = {0, 0.5, 1}, y[3] = {0.1, 0.5, 0.1};
    ch = llfc_chart_new(LLFC_CHART_LINES, "interp");
    llfc_chart_series(ch, "err", 3, x, y);
    llfc_chart_marker(ch, 0, 0.1, "B");
    llfc_chart_marker(ch, 1, 0.1, "A");
    llfc_chart_note(ch, 0.5, 0.1, 0.5, "barrier 0.4");
    t = render(ch, 40, 14, 1);
    CHECK(count_str(t, "@") == 2 && strstr(t, "@B") && strstr(t, "A@"), "endpoint markers labelled B (left) and A (right)");
    CHECK(strstr(t, "barrier 0.4") && count_str(t, ":") >= 3, "barrier annotation: dotted segment and label");
    llfc_free(t);
    t = render(ch, 40, 14, 0);
    CHECK(strstr(t, "\u25CF") && strstr(t, "\u2506"), "braille: marker dot and dashed vertical");
    llfc_free(t);
    /* too small a rectangle: only the title, no crash */
    t = render(ch, 8, 2, 1);
    CHECK(!strcmp(t, " interp\n\n"), "too small: title only");
    llfc_free(t);
    llfc_chart_free(ch);
}

/* big-endian 32-bit integer at p */
static unsigned be32(const unsigned char *p) { return (unsigned)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

static void test_export(void)
{
    double x[3] = {0, 0.5, 1}, y[3] = {1, NAN, 3};
    const char *g[2] = {"a<b", "c&d"};
    llfc_chart *ch = llfc_chart_new(LLFC_CHART_LINES, "title <with> \"markup\" & \xff bad byte");
    llfc_chart_series(ch, "s'1", 3, x, y);
    llfc_chart *bars = llfc_chart_new(LLFC_CHART_BARS, "bars");
    llfc_chart_groups(bars, 2, g);
    llfc_chart_series(bars, "v", 2, NULL, x);
    llfc_chart *both[2] = {ch, bars};
    llfc_export_opts o = {LLFC_FMT_SVG, 8, 3, 100, 2, "a figure"};
    char *s = NULL;
    size_t len = 0;
    CHECK(llfc_figure_render(both, 2, &o, &s, &len) == 0, "svg renders (bad UTF-8 in a title is replaced): %s", llfc_errmsg());
    CHECK(s && strstr(s, "<svg") && strstr(s, "</svg>") && strstr(s, "width=\"576pt\"") && strstr(s, "height=\"216pt\""),
          "an SVG document of 8 x 3 inches (576 x 216 pt)");
    llfc_free(s);
    o.format = LLFC_FMT_PDF;
    CHECK(llfc_figure_render(both, 2, &o, &s, &len) == 0 && len > 100 && !memcmp(s, "%PDF-", 5), "a PDF document");
    llfc_free(s);
    o.format = LLFC_FMT_PNG;
    CHECK(llfc_figure_render(both, 2, &o, &s, &len) == 0 && len > 24 && !memcmp(s, "\x89PNG", 4), "a PNG image");
    CHECK(s && be32((const unsigned char *)s + 16) == 800 && be32((const unsigned char *)s + 20) == 300,
          "PNG of 8 x 3 inches at 100 dpi is 800 x 300 pixels");
    llfc_free(s);
    o.dpi = 5;
    CHECK(llfc_figure_render(both, 2, &o, &s, &len) == -1 && strstr(llfc_errmsg(), "dpi"), "a bad dpi is an error: %s", llfc_errmsg());
    o.dpi = 100, o.width = 0.1;
    CHECK(llfc_figure_render(both, 2, &o, &s, &len) == -1 && strstr(llfc_errmsg(), "size"), "a bad size is an error: %s", llfc_errmsg());
    o.width = 8;
    CHECK(llfc_export_format("a/b.PDF") == LLFC_FMT_PDF && llfc_export_format("x.svg") == LLFC_FMT_SVG &&
          llfc_export_format("x.png") == LLFC_FMT_PNG && llfc_export_format("x.eps") == -1 && llfc_export_format("svg") == -1,
          "formats by extension");
    char path[] = "/tmp/llfc_test_plotXXXXXX";
    char *dir = mkdtemp(path);
    char file[256];
    snprintf(file, sizeof file, "%s/fig.png", dir);
    CHECK(llfc_figure_export(both, 2, &o, file) == 0, "export writes the file");
    FILE *f = fopen(file, "rb");
    char buf[64] = {0};
    size_t k = f ? fread(buf, 1, 4, f) : 0;
    if (f) fclose(f);
    CHECK(k == 4 && !memcmp(buf, "\x89PNG", 4), "the file holds the image");
    char bad[300];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.svg", dir);
    o.format = LLFC_FMT_SVG;
    CHECK(llfc_figure_export(both, 2, &o, bad) == -1 && strstr(llfc_errmsg(), bad) && strstr(llfc_errmsg(), "No such file"),
          "missing directory: clear error (%s)", llfc_errmsg());
    unlink(file);
    rmdir(dir);
    llfc_chart_free(ch);
    llfc_chart_free(bars);
}

/* ResNet-style names that cannot fit under their bars: numbered bars and a key
 * naming the first and last, never twenty identical "la" stubs */
static void test_bar_numbers(void)
{
    const char *groups[20];
    char names[20][32];
    double v[20];
    for (int i = 0; i < 20; i++) {
        snprintf(names[i], sizeof names[i], i == 0 ? "conv1" : i == 19 ? "logits" : "layer%d.%d.relu1", 1 + i / 7, i % 3);
        groups[i] = names[i], v[i] = 1 + i;
    }
    llfc_chart *ch = llfc_chart_new(LLFC_CHART_BARS, "llfc");
    llfc_chart_groups(ch, 20, groups);
    llfc_chart_series(ch, "", 20, NULL, v);
    char *t = render(ch, 80, 16, 1);
    char axis[256] = "", key[256] = "";
    int nrows = 0;
    for (const char *p = t; *p; p++) if (*p == '\n') nrows++;
    row_of(t, nrows - 2, axis, sizeof axis);
    row_of(t, nrows - 1, key, sizeof key);
    CHECK(!strstr(t, "la ") && strstr(axis, " 1 ") && strstr(axis, " 9 ") && strstr(axis, "20"),
          "long bar names become numbers 1..20 on the axis row: '%s'", axis);
    CHECK(strstr(key, "1 = conv1") && strstr(key, "20 = logits"), "the key row names bar 1 and bar 20: '%s'", key);
    llfc_free(t);
    /* names that fit stay names */
    llfc_chart_free(ch);
    const char *short_names[3] = {"h1", "h2", "out"};
    ch = llfc_chart_new(LLFC_CHART_BARS, "");
    llfc_chart_groups(ch, 3, short_names);
    llfc_chart_series(ch, "", 3, NULL, v);
    t = render(ch, 40, 12, 1);
    CHECK(strstr(t, "out") && !strstr(t, "1 = h1"), "short names are kept, no key");
    llfc_free(t);
    llfc_chart_free(ch);
}

/* histogram rules against hand-computed values */
static void test_hist_rule(void)
{
    double v[4] = {4, 1, 3, 2}, sorted[4] = {1, 2, 3, 4};
    CHECK(fabs(llfc_quantile_sorted(sorted, 4, 0.5) - 2.5) < 1e-12 && llfc_quantile_sorted(sorted, 4, 0) == 1 &&
          llfc_quantile_sorted(sorted, 4, 1) == 4 && fabs(llfc_quantile_sorted(sorted, 4, 0.25) - 1.75) < 1e-12,
          "quantiles of 1..4 with linear interpolation: 2.5, 1, 4, 1.75");
    (void)v;
    /* x = i/999, i = 0..999: q(0.005) = 0.005, q(0.995) = 0.995, padded by 5% of 0.99;
     * IQR 0.5, Freedman-Diaconis width 2 * 0.5 / 1000^(1/3) = 0.1: ceil(1.089 / 0.1) = 11 bins */
    static double x[1002];
    for (int i = 0; i < 1000; i++) x[i] = i / 999.0;
    x[1000] = NAN, x[1001] = INFINITY;
    double lo, hi;
    int bins;
    CHECK(llfc_hist_rule(x, 1002, &lo, &hi, &bins) == 1000, "NaN and inf are not samples");
    CHECK(fabs(lo - (0.005 - 0.0495)) < 1e-9 && fabs(hi - (0.995 + 0.0495)) < 1e-9, "range: quantiles 0.5%%..99.5%% padded 5%% (%g .. %g)", lo, hi);
    CHECK(bins == 11, "Freedman-Diaconis: 11 bins (%d)", bins);
    double counts[11], below, above, total = 0;
    llfc_hist_count(x, 1002, lo, hi, bins, counts, &below, &above);
    for (int k = 0; k < bins; k++) total += counts[k];
    CHECK(total == 1000 && below == 0 && above == 1, "every finite sample counted once; inf is above (%g, %g, %g)", total, below, above);
    /* one value: a small window */
    double same[5] = {2, 2, 2, 2, 2};
    CHECK(llfc_hist_rule(same, 5, &lo, &hi, &bins) == 5 && lo < 2 && hi > 2 && hi - lo < 0.01 && bins == 5, "one value: a window around it");
    /* a heavy tail does not stretch the range: 997 values in [0, 1], 3 at 1000 */
    static double t[1000];
    for (int i = 0; i < 997; i++) t[i] = i / 996.0;
    for (int i = 997; i < 1000; i++) t[i] = 1000;
    llfc_hist_rule(t, 1000, &lo, &hi, &bins);
    CHECK(hi < 2 && lo > -1, "robust range: 0.3%% of outliers at 1000 do not set it (%g .. %g)", lo, hi);
}

static void test_colors(void)
{
    double c[3];
    llfc_colormap(0, c);
    CHECK(fabs(c[0] - 0.267) < 1e-9 && fabs(c[2] - 0.329) < 1e-9, "viridis starts dark purple");
    llfc_colormap(1, c);
    CHECK(fabs(c[0] - 0.993) < 1e-9 && fabs(c[1] - 0.906) < 1e-9, "viridis ends yellow");
    llfc_colormap(0.5, c);
    CHECK(fabs(c[1] - 0.567) < 1e-9, "viridis at 0.5 is its middle stop");
    double red[3] = {1, 0, 0}, white[3] = {1, 1, 1}, grey[3] = {0.5, 0.5, 0.5};
    CHECK(llfc_xterm256(red) == 196 && llfc_xterm256(white) == 231, "xterm: red 196, white 231");
    CHECK(llfc_xterm256(grey) == 244, "xterm: mid grey is ramp 244 (%d)", llfc_xterm256(grey));
}

static void test_new_marks(void)
{
    /* y span floor: 0.036..0.042 drawn against at least 0.042 */
    double x[3] = {0, 0.5, 1}, y[3] = {0.036, 0.0395, 0.042};
    llfc_chart *ch = llfc_chart_new(LLFC_CHART_LINES, "floor");
    llfc_chart_series(ch, "err", 3, x, y);
    llfc_frame f;
    llfc_chart_frame(ch, 6, &f);
    CHECK(f.yhi - f.ylo < 0.01, "without a floor the axis zooms to the data (%g .. %g)", f.ylo, f.yhi);
    ch->yspan = 0.042;
    llfc_chart_frame(ch, 6, &f);
    CHECK(f.yhi - f.ylo >= 0.042 && f.ylo >= 0 && f.ylo <= 0.036 && f.yhi >= 0.042, "with yspan the axis spans >= 0.042 (%g .. %g)", f.ylo, f.yhi);
    ch->ylo = 0.03, ch->yhi = 0.05;
    llfc_chart_frame(ch, 6, &f);
    CHECK(f.ylo == 0.03 && f.yhi == 0.05, "a fixed range is kept as given");
    llfc_chart_free(ch);
    /* error bars on bars: a T cap above the bar */
    const char *g[2] = {"a", "b"};
    double v[2] = {1, 2}, lo[2] = {0.5, 1.5}, hi[2] = {1.5, 3};
    ch = llfc_chart_new(LLFC_CHART_BARS, "");
    llfc_chart_groups(ch, 2, g);
    llfc_chart_series(ch, "", 2, NULL, v);
    CHECK(llfc_chart_errors(ch, 0, lo, hi) == 0, "error bars set");
    llfc_chart_settext(&ch->errlabel, "\xc2\xb1" "1 SD");
    char *t = render(ch, 30, 12, 1);
    CHECK(count_str(t, "T") == 2 && strstr(t, "I +-1 SD"), "two error bar caps and the legend says what they are");
    llfc_free(t);
    llfc_chart_free(ch);
    /* categories on a line chart, a faint series and a vertical guide */
    double yy[3] = {1, 2, 3}, raw[3] = {1.5, 1.5, 2.5};
    const char *cats[3] = {"x", "h1", "h2"};
    ch = llfc_chart_new(LLFC_CHART_LINES, "");
    llfc_chart_groups(ch, 3, cats);
    llfc_chart_series(ch, "s", 3, NULL, yy);
    int k = llfc_chart_series(ch, "raw", 3, NULL, raw);
    ch->series[k].faint = 1;
    llfc_chart_vline(ch, 2, "");
    t = render(ch, 40, 12, 1);
    char axis[128];
    row_of(t, 11, axis, sizeof axis);
    CHECK(strstr(axis, "x") && strstr(axis, "h1") && strstr(axis, "h2") && !strstr(axis, "1.5"), "categorical axis: '%s'", axis);
    CHECK(strchr(t, '.') && strchr(t, ':') && !strstr(t, "raw"), "faint series dotted, not in the legend; a guide drawn");
    llfc_free(t);
    llfc_chart_free(ch);
    /* a heat map: ramp characters, and 256-colour half blocks */
    double hx[3] = {0, 1, 2}, hy[2] = {0, 1}, hz[6] = {0, 1, 2, 3, 4, 5};
    ch = llfc_chart_new(LLFC_CHART_HEAT, "heat");
    CHECK(llfc_chart_heat(ch, 3, 2, hx, hy, hz) == 0, "heat grid set");
    double bad[3] = {0, 2, 1};
    CHECK(llfc_chart_heat(ch, 3, 2, bad, hy, hz) == -1 && strstr(llfc_errmsg(), "ascend"), "x must ascend");
    t = render(ch, 40, 12, 1);
    CHECK(strchr(t, '@') && strstr(t, "5") && strstr(t, "0"), "ASCII heat map: the densest ramp character and the scale's ends");
    llfc_free(t);
    llfc_canvas *c = llfc_canvas_new(40, 12, 0);
    c->colors = 256;
    llfc_chart_draw(ch, c, 0, 0, 40, 12);
    int rgb = 0, differ = 0;
    for (int i = 0; i < 40 * 12; i++)
        if (c->cells[i].flags & LLFC_CELL_RGB) rgb++, differ += c->cells[i].fg != c->cells[i].bg;
    CHECK(rgb > 100 && differ > 0, "256 colours: half-block cells (%d), some with two colours (%d)", rgb, differ);
    llfc_canvas_free(c);
    /* a contour at 2.5: z is below it on the row y = 0 and above on y = 1 */
    t = render(ch, 40, 12, 1);
    int before = 0;
    for (char *q = t; *q; q++) before += *q == '~';
    llfc_free(t);
    ch->heat.has_contour = 1, ch->heat.contour = 2.5;
    t = render(ch, 40, 12, 1);
    int plus = 0, rows_with = 0;
    for (int r = 0; r < 12; r++) {
        char line[256];
        row_of(t, r, line, sizeof line);
        int k = 0;
        for (char *q = line; *q; q++) k += *q == '~';
        plus += k, rows_with += k > 0;
    }
    CHECK(before == 0 && plus >= 10 && rows_with <= 2, "ASCII heat map: the contour at 2.5 is a line of '~' between the rows "
          "(%d cells on %d rows)", plus, rows_with);
    llfc_free(t);
    c = llfc_canvas_new(40, 12, 0);
    c->colors = 256;
    llfc_chart_draw(ch, c, 0, 0, 40, 12);
    int white = 0;
    for (int i = 0; i < 40 * 12; i++) white += (c->cells[i].flags & LLFC_CELL_RGB) && (c->cells[i].fg == 231 || c->cells[i].bg == 231);
    CHECK(white >= 10, "256 colours: the contour's pixels are white (%d cells)", white);
    llfc_canvas_free(c);
    llfc_export_opts eo = {LLFC_FMT_SVG, 4, 3, 100, 1, "heat"};
    char *svg = NULL, *svg0 = NULL;
    size_t len = 0, len0 = 0;
    llfc_figure_render(&ch, 1, &eo, &svg, &len);
    ch->heat.has_contour = 0;
    llfc_figure_render(&ch, 1, &eo, &svg0, &len0);
    CHECK(svg && svg0 && strstr(svg, "stroke:rgb(100%,100%,100%)") && !strstr(svg0, "stroke:rgb(100%,100%,100%)"),
          "SVG: the contour is a white line, absent without a level");
    free(svg), free(svg0);
    llfc_chart_free(ch);
}

int main(void)
{
    test_canvas();
    test_ticks();
    test_line_chart();
    test_gaps_and_degenerate();
    test_bars();
    test_bar_numbers();
    test_hist_and_notes();
    test_export();
    test_hist_rule();
    test_colors();
    test_new_marks();
    return check_summary();
}
