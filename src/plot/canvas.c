/* canvas.c - the pure canvas: cells, braille dots, text, 256-colour cells. */
#include "plot/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- canvas ------------------------------------------------------------- */
static const char ascii_dot[LLFC_NSERIES_COLORS + 1] = "**+ox#%";  /* [0] default */

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
    cl->flags = 0;
}

void llfc_canvas_put_rgb(llfc_canvas *c, int x, int y, uint32_t ch, int fg, int bg)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    llfc_cell *cl = &c->cells[(size_t)y * c->w + x];
    cl->ch = ch;
    cl->dots = 0;
    cl->color = LLFC_COLOR_DEFAULT;
    cl->flags = LLFC_CELL_RGB;
    cl->fg = (uint8_t)fg, cl->bg = (uint8_t)bg;
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
        if (c->ascii && cp == 0xB1) { /* plus-minus: "+-" */
            llfc_canvas_put(c, x + n++, y, '+', color);
            if (n >= maxw) break;
            cp = '-';
        } else if (c->ascii && cp >= 0x80) cp = cp == 0x3B1 ? 'a' : '?';
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
    cl->flags = 0;
    if (c->ascii) {
        int k = color >= 1 && color <= LLFC_NSERIES_COLORS ? color : 0;
        cl->ch = color == LLFC_COLOR_AXIS ? '.' : (uint32_t)ascii_dot[k];
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

