/* manpage.h - the man page as help text: its entries and their plain text.
 *
 * The man page (man/llfc.1) is the only source of documentation.  An entry is
 *     .TP
 *     .B module.func(args)        or   .B Type:method(args)
 *     text ... (until the next .TP, .SH or .SS)
 * llfc_man_parse() finds the entries; the render functions strip the roff
 * markup (fonts, escapes, glyphs, quoted macro arguments as groff reads them)
 * and wrap the text to a width.  No Lua here: src/lua/l_help.c resolves Lua
 * values to entry names and calls these. */
#ifndef LLFC_MANPAGE_H
#define LLFC_MANPAGE_H

#include <stddef.h>

#include "core/strbuf.h"

typedef struct {
    char name[96];        /* "tensor.new", "Tensor:mm", "help" */
    const char *head;     /* the .B line */
    const char *head_end;
    const char *body;     /* the text after the head line */
    const char *end;
} llfc_man_entry;

typedef struct {
    const char *text;     /* the man page (borrowed) */
    llfc_man_entry *entry;
    int n;
} llfc_man;

/* Find the entries of the man page `text` (which must outlive m).  0, or -1
 * when memory runs out. */
int llfc_man_parse(llfc_man *m, const char *text);
void llfc_man_free(llfc_man *m);
/* The entry named `name` exactly, or NULL. */
const llfc_man_entry *llfc_man_find(const llfc_man *m, const char *name);
/* The last component of an entry name: "mm" of "Tensor:mm", "new" of "tensor.new". */
const char *llfc_man_short_name(const char *name);

/* Plain text of the roff lines [from, to), filled and wrapped at `width`
 * columns, every line indented by `indent` spaces. */
void llfc_man_render(llfc_strbuf *out, const char *from, const char *to, int width, int indent);
/* An entry: its head line, then its text indented by 4. */
void llfc_man_entry_text(llfc_strbuf *out, const llfc_man_entry *e, int width);
/* The head line of an entry on one line, no newline. */
void llfc_man_head(llfc_strbuf *out, const llfc_man_entry *e);
/* The first sentence of an entry, cut to maxlen characters with "...". */
void llfc_man_summary(llfc_strbuf *out, const llfc_man_entry *e, size_t maxlen);
/* The text of the section (".SH" or ".SS", `macro`) whose title starts with
 * the word(s) `title`, before its first entry.  1 if it has any. */
int llfc_man_intro(llfc_strbuf *out, const llfc_man *m, const char *macro, const char *title, int width);

/* Apropos: the entries whose name or text holds every word of `query`,
 * ignoring case (words are separated by spaces), those that hold them in
 * their name first, then in page order.  Up to max entry indices go to
 * hits; returns how many entries match. */
int llfc_man_search(const llfc_man *m, const char *query, int *hits, int max);
/* Does the page document methods of the type ("Type:name" entries)? */
int llfc_man_has_type(const llfc_man *m, const char *type);

/* The terminal's width in columns, less one (COLUMNS when stdout is not a
 * terminal; 80 by default; kept within 40..200). */
int llfc_man_term_width(void);

#endif
