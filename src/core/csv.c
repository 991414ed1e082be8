/* csv.c - CSV cells and rows (csv.h). */
#include "core/csv.h"

#include <math.h>
#include <string.h>

static void sep(llfc_csv *c)
{
    if (c->col++) llfc_strbuf_putc(c->out, ',');
}

void llfc_csv_text(llfc_csv *c, const char *s, size_t n)
{
    sep(c);
    int quote = 0;
    for (size_t i = 0; i < n && !quote; i++) quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!quote) { llfc_strbuf_append(c->out, s, n); return; }
    llfc_strbuf_putc(c->out, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') llfc_strbuf_putc(c->out, '"');
        llfc_strbuf_putc(c->out, s[i]);
    }
    llfc_strbuf_putc(c->out, '"');
}

void llfc_csv_number(llfc_csv *c, double v)
{
    sep(c);
    if (isnan(v)) llfc_strbuf_puts(c->out, "nan");
    else if (isinf(v)) llfc_strbuf_puts(c->out, v > 0 ? "inf" : "-inf");
    else llfc_strbuf_printf(c->out, "%.10g", v);
}

void llfc_csv_integer(llfc_csv *c, long long v)
{
    sep(c);
    llfc_strbuf_printf(c->out, "%lld", v);
}

void llfc_csv_empty(llfc_csv *c) { sep(c); }

void llfc_csv_endrow(llfc_csv *c)
{
    llfc_strbuf_putc(c->out, '\n');
    c->col = 0;
}
