/* term.h - the terminal under the view: an ncurses screen opened on demand,
 * SIGINT and SIGWINCH handling while it is open, a canvas copied to the
 * screen (colour classes as terminal pairs, heat-map cells in 256 colours),
 * and keys by name.  No Lua here; src/lua/l_view.c binds it. */
#ifndef LLFC_TERM_H
#define LLFC_TERM_H

#include "plot/plot.h"

/* NULL when a full-screen view can open, else why not ("not a terminal",
 * "CI is set", "LLFC_VIEW=text", "no terminal type (TERM)"). */
const char *llfc_term_why_not(void);
/* 1 when the locale's character set is UTF-8 (sets LC_CTYPE from the environment). */
int llfc_term_utf8(void);
/* Open the screen (once; later calls reuse it).  While it is open Ctrl-C sets
 * the interrupt flag and resizes are caught; the previous handlers come back
 * on close.  *gen names this screen for llfc_term_close_gen.  0 or -1. */
int llfc_term_open(unsigned *gen);
/* Close the screen and restore the terminal (idempotent). */
void llfc_term_close(void);
/* Close only if the open screen is still the one numbered gen: a handle
 * finalised late must not close a newer view. */
void llfc_term_close_gen(unsigned gen);
int llfc_term_isopen(void);
/* Colours the open screen shows: 256, 8, or 0. */
int llfc_term_colors(void);
/* Copy the canvas to the screen and refresh. */
void llfc_term_blit(const llfc_canvas *c);
/* Wait up to ms milliseconds (< 0: forever) for a key; its name ("q", "tab",
 * "left", "resize", "interrupt", "enter", "escape", "other", ...), or NULL
 * when none came.  buf holds one-character names. */
const char *llfc_term_getkey(int ms, char buf[8]);
/* The screen's size, or $COLUMNS x $LINES (default 80 x 24) when closed. */
void llfc_term_size(int *cols, int *lines);

#endif
