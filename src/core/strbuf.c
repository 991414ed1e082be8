/* strbuf.c - the growable string (strbuf.h). */
#include "core/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int llfc_strbuf_reserve(llfc_strbuf *b, size_t extra)
{
    if (b->oom) return -1;
    if (extra > SIZE_MAX - 1 - b->len) { b->oom = 1; return -1; }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *s = llfc_realloc(b->s, cap);
    if (!s) { b->oom = 1; return -1; }
    if (!b->s) s[0] = '\0';
    b->s = s;
    b->cap = cap;
    return 0;
}

void llfc_strbuf_append(llfc_strbuf *b, const char *s, size_t n)
{
    if (llfc_strbuf_reserve(b, n)) return;
    if (n) memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void llfc_strbuf_puts(llfc_strbuf *b, const char *s) { llfc_strbuf_append(b, s, strlen(s)); }

void llfc_strbuf_putc(llfc_strbuf *b, char c) { llfc_strbuf_append(b, &c, 1); }

void llfc_strbuf_spaces(llfc_strbuf *b, int n)
{
    if (n <= 0 || llfc_strbuf_reserve(b, (size_t)n)) return;
    memset(b->s + b->len, ' ', (size_t)n);
    b->len += (size_t)n;
    b->s[b->len] = '\0';
}

void llfc_strbuf_printf(llfc_strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) { b->oom = 1; return; }
    if ((size_t)n < sizeof tmp) { llfc_strbuf_append(b, tmp, (size_t)n); return; }
    if (llfc_strbuf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *llfc_strbuf_take(llfc_strbuf *b, size_t *len)
{
    if (!b->oom && !b->s) llfc_strbuf_reserve(b, 0);
    if (b->oom) {
        llfc_strbuf_free(b);
        llfc_seterr("out of memory building a string");
        return NULL;
    }
    char *s = b->s;
    if (len) *len = b->len;
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}

void llfc_strbuf_free(llfc_strbuf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}
