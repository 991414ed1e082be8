/* strbuf.h - the one growable string of the core.
 *
 *     llfc_strbuf b = LLFC_STRBUF_INIT;
 *     llfc_strbuf_printf(&b, "%d units", n);
 *     llfc_strbuf_append(&b, text, len);
 *     char *s = llfc_strbuf_take(&b, &len);     // NULL + error if memory ran out
 *
 * Appending never fails loudly: when memory runs out the buffer stops growing
 * and sets `oom`; the first check (take, or reading b.oom) reports it.  The
 * text is always NUL-terminated once anything was appended.  The fields are
 * public: `len` may be lowered to cut the text (keep s[len] = '\0'). */
#ifndef LLFC_STRBUF_H
#define LLFC_STRBUF_H

#include <stddef.h>

#include "core/core.h"

typedef struct {
    char *s;     /* the text (NULL until something is appended) */
    size_t len;  /* its length, without the NUL */
    size_t cap;  /* bytes allocated */
    int oom;     /* an allocation failed: the text is incomplete */
} llfc_strbuf;

#define LLFC_STRBUF_INIT {NULL, 0, 0, 0}

/* Make room for `extra` more bytes (and the NUL).  0, or -1 with oom set. */
int llfc_strbuf_reserve(llfc_strbuf *b, size_t extra);
/* Append n bytes of s / the C string s / one character / n spaces. */
void llfc_strbuf_append(llfc_strbuf *b, const char *s, size_t n);
void llfc_strbuf_puts(llfc_strbuf *b, const char *s);
void llfc_strbuf_putc(llfc_strbuf *b, char c);
void llfc_strbuf_spaces(llfc_strbuf *b, int n);
/* Append printf-style. */
void llfc_strbuf_printf(llfc_strbuf *b, const char *fmt, ...) LLFC_PRINTF(2, 3);
/* Hand the text over to the caller (free() it; "" when nothing was appended)
 * and leave b empty.  len may be NULL.  After an allocation failure: NULL,
 * "out of memory building a string" recorded, b freed. */
char *llfc_strbuf_take(llfc_strbuf *b, size_t *len);
/* Free the text and leave b empty (and usable). */
void llfc_strbuf_free(llfc_strbuf *b);

#endif
