/* manpage.c - the man page as help text (manpage.h): roff to plain text,
 * the word wrapper, and the entries. */
#include "app/manpage.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* ---- roff to plain text ------------------------------------------------------ */

#define NBSP '\001' /* an unbreakable space inside a word, printed as ' ' */

/* Append the text of s[0..n) with roff escapes replaced. */
static void roff_text(llfc_strbuf *out, const char *s, size_t n)
{
    static const struct { const char *name, *text; } glyphs[] = {
        {"em", "--"}, {"en", "-"}, {"aq", "'"}, {"dq", "\""}, {"bu", "*"}, {"mu", "x"},
        {"->", "->"}, {"<-", "<-"}, {"<=", "<="}, {">=", ">="}, {"!=", "!="}, {"co", "(c)"},
        {"hy", "-"}, {"lq", "\""}, {"rq", "\""}, {"oq", "'"}, {"cq", "'"}, {"ti", "~"},
        {"ha", "^"}, {"rs", "\\"}, {"pl", "+"}, {"eq", "="}, {"**", "*"}, {"sc", "S"},
        {"de", "deg"}, {"+-", "+-"}, {"ga", "`"}, {"al", "alpha"}, {"*a", "alpha"}, {NULL, NULL}};
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 >= n) { llfc_strbuf_putc(out, s[i]); continue; }
        char c = s[++i];
        switch (c) {
        case 'f': /* font: \fB \fI \fR \fP \f(CW \f[B] */
            if (i + 1 < n && s[i + 1] == '(') i += 3;
            else if (i + 1 < n && s[i + 1] == '[') { while (i < n && s[i] != ']') i++; }
            else i++;
            break;
        case '-': llfc_strbuf_putc(out, '-'); break;
        case 'e': case '\\': llfc_strbuf_putc(out, '\\'); break;
        case '&': case '|': case '^': case 'c': case ')': break;
        case ' ': case '~': case '0': llfc_strbuf_putc(out, NBSP); break;
        case '(':
            if (i + 2 < n) {
                int k;
                for (k = 0; glyphs[k].name; k++)
                    if (!strncmp(s + i + 1, glyphs[k].name, 2)) break;
                llfc_strbuf_puts(out, glyphs[k].name ? glyphs[k].text : "?");
                i += 2;
            }
            break;
        case '[': {
            size_t j = i + 1;
            while (j < n && s[j] != ']') j++;
            int k;
            for (k = 0; glyphs[k].name; k++)
                if (j - i - 1 == strlen(glyphs[k].name) && !strncmp(s + i + 1, glyphs[k].name, j - i - 1)) break;
            llfc_strbuf_puts(out, glyphs[k].name ? glyphs[k].text : "?");
            i = j;
            break;
        }
        case '*': /* strings: \*(lq \*R ... */
            if (i + 1 < n && s[i + 1] == '(') i += 3;
            else i++;
            break;
        case '"': i = n; break; /* comment to end of line */
        default: llfc_strbuf_putc(out, c); break;
        }
    }
}

/* The arguments of a macro line (after the macro name): quoted or space
 * separated; `join` is placed between them ("" for .BI/.BR..., " " for .B). */
static void roff_args(llfc_strbuf *out, const char *s, size_t n, const char *join)
{
    size_t i = 0;
    int first = 1;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
        if (i >= n) break;
        size_t a, e;
        if (s[i] == '"') {
            a = ++i;
            while (i < n && !(s[i] == '"' && (i + 1 >= n || s[i + 1] != '"'))) i += s[i] == '"' ? 2 : 1;
            e = i++;
        } else {
            a = i;
            while (i < n && s[i] != ' ' && s[i] != '\t') i += s[i] == '\\' && i + 1 < n ? 2 : 1;
            e = i;
        }
        if (!first) llfc_strbuf_puts(out, join);
        first = 0;
        roff_text(out, s + a, e - a);
    }
}

/* Is the line a font macro (.B .I .BI .BR .IB .IR .RB .RI .SM .SB)?  Returns
 * the join string for its arguments, or NULL. */
static const char *font_macro(const char *line, size_t n, size_t *namelen)
{
    static const char *one[] = {".B", ".I", ".SM", ".SB", NULL};
    static const char *alt[] = {".BI", ".BR", ".IB", ".IR", ".RB", ".RI", NULL};
    for (int k = 0; alt[k]; k++)
        if (n >= 3 && !strncmp(line, alt[k], 3) && (n == 3 || line[3] == ' ')) { *namelen = 3; return ""; }
    for (int k = 0; one[k]; k++) {
        size_t m = strlen(one[k]);
        if (n >= m && !strncmp(line, one[k], m) && (n == m || line[m] == ' ')) { *namelen = m; return " "; }
    }
    return NULL;
}

/* A formatter: filled paragraphs wrapped at `width`, indented. */
typedef struct {
    llfc_strbuf *out;
    llfc_strbuf para; /* words of the current paragraph */
    int width, indent, nofill, blank_pending;
} fmt;

static void fmt_flush(fmt *f)
{
    const char *s = f->para.s;
    size_t n = f->para.len;
    if (!s || n == 0) return;
    if (f->blank_pending && f->out->len > 0) llfc_strbuf_putc(f->out, '\n');
    f->blank_pending = 0;
    int col = 0, avail = f->width - f->indent;
    if (avail < 20) avail = 20;
    size_t i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t')) i++;
        if (i >= n) break;
        size_t a = i;
        while (i < n && s[i] != ' ' && s[i] != '\n' && s[i] != '\t') i++;
        int wl = (int)(i - a);
        if (col > 0 && col + 1 + wl > avail) { llfc_strbuf_putc(f->out, '\n'); col = 0; }
        if (col == 0) llfc_strbuf_spaces(f->out, f->indent);
        else { llfc_strbuf_putc(f->out, ' '); col++; }
        for (size_t k = a; k < i; k++) llfc_strbuf_putc(f->out, s[k] == NBSP ? ' ' : s[k]);
        col += wl;
    }
    if (col > 0) llfc_strbuf_putc(f->out, '\n');
    f->para.len = 0;
    f->para.s[0] = '\0';
}

static void fmt_words(fmt *f, const char *text, size_t n)
{
    if (f->nofill) {
        if (f->blank_pending && f->out->len > 0) llfc_strbuf_putc(f->out, '\n');
        f->blank_pending = 0;
        llfc_strbuf_spaces(f->out, f->indent + 2);
        for (size_t k = 0; k < n; k++) llfc_strbuf_putc(f->out, text[k] == NBSP ? ' ' : text[k]);
        llfc_strbuf_putc(f->out, '\n');
        return;
    }
    if (f->para.len) llfc_strbuf_putc(&f->para, ' ');
    llfc_strbuf_append(&f->para, text, n);
}

/* Render the roff lines in [from, to). */
static void fmt_lines(fmt *f, const char *from, const char *to)
{
    llfc_strbuf tmp = LLFC_STRBUF_INIT;
    const char *p = from;
    while (p < to) {
        const char *e = memchr(p, '\n', to - p);
        if (!e) e = to;
        size_t n = e - p, mlen;
        const char *join;
        tmp.len = 0;
        if (n >= 2 && (p[0] == '.' || p[0] == '\'') && p[1] == '\\' && n >= 3 && p[2] == '"') {
            /* comment */
        } else if (n > 0 && (p[0] == '.' || p[0] == '\'')) {
            if ((join = font_macro(p, n, &mlen))) {
                roff_args(&tmp, p + mlen, n - mlen, join);
                fmt_words(f, tmp.s ? tmp.s : "", tmp.len);
            } else if (!strncmp(p, ".PP", 3) || !strncmp(p, ".LP", 3) || (n == 2 && p[1] == 'P') ||
                       !strncmp(p, ".sp", 3) || !strncmp(p, ".TP", 3)) {
                fmt_flush(f);
                f->blank_pending = 1;
            } else if (!strncmp(p, ".br", 3)) {
                fmt_flush(f);
            } else if (!strncmp(p, ".RS", 3)) {
                fmt_flush(f);
                f->indent += 4;
            } else if (!strncmp(p, ".RE", 3)) {
                fmt_flush(f);
                if (f->indent >= 4) f->indent -= 4;
            } else if (!strncmp(p, ".nf", 3) || !strncmp(p, ".EX", 3)) {
                fmt_flush(f);
                f->nofill = 1;
            } else if (!strncmp(p, ".fi", 3) || !strncmp(p, ".EE", 3)) {
                f->nofill = 0;
            } else if (!strncmp(p, ".IP", 3)) {
                fmt_flush(f);
                f->blank_pending = 1;
                roff_args(&tmp, p + 3, n - 3, " ");
                if (tmp.len) fmt_words(f, tmp.s, tmp.len);
            } else if (!strncmp(p, ".SS", 3) || !strncmp(p, ".SH", 3)) {
                fmt_flush(f);
                f->blank_pending = 1;
                roff_args(&tmp, p + 3, n - 3, " ");
                if (tmp.len) fmt_words(f, tmp.s, tmp.len);
                fmt_flush(f);
            }
            /* other requests (.TH, .PD, .ad, ...) print nothing */
        } else if (n == 0 && !f->nofill) {
            fmt_flush(f);
            f->blank_pending = 1;
        } else {
            roff_text(&tmp, p, n);
            fmt_words(f, tmp.s ? tmp.s : "", tmp.len);
        }
        p = e + 1;
    }
    fmt_flush(f);
    llfc_strbuf_free(&tmp);
    llfc_strbuf_free(&f->para);
}

/* ---- rendering ---------------------------------------------------------------- */

void llfc_man_render(llfc_strbuf *out, const char *from, const char *to, int width, int indent)
{
    fmt f = {out, LLFC_STRBUF_INIT, width, indent, 0, 0};
    fmt_lines(&f, from, to);
}

void llfc_man_entry_text(llfc_strbuf *out, const llfc_man_entry *e, int width)
{
    llfc_man_render(out, e->head, e->head_end, width, 0);
    llfc_man_render(out, e->body, e->end, width, 4);
}

void llfc_man_head(llfc_strbuf *out, const llfc_man_entry *e)
{
    size_t start = out->len;
    llfc_man_render(out, e->head, e->head_end, 100000, 0);
    if (out->len > start && out->s[out->len - 1] == '\n') out->s[--out->len] = '\0';
}

void llfc_man_summary(llfc_strbuf *out, const llfc_man_entry *e, size_t maxlen)
{
    llfc_strbuf tmp = LLFC_STRBUF_INIT;
    llfc_man_render(&tmp, e->body, e->end, 100000, 0);
    if (tmp.s) {
        char *s = tmp.s;
        while (*s == ' ' || *s == '\n') s++;
        size_t n = 0;
        while (s[n] && s[n] != '\n' && !(s[n] == '.' && (s[n + 1] == ' ' || s[n + 1] == '\n' || !s[n + 1]))) n++;
        if (s[n] == '.') n++;
        if (n > maxlen && maxlen > 3) { llfc_strbuf_append(out, s, maxlen - 3); llfc_strbuf_puts(out, "..."); }
        else llfc_strbuf_append(out, s, n);
    }
    llfc_strbuf_free(&tmp);
}

int llfc_man_term_width(void)
{
    struct winsize ws;
    int w = 0;
    if (isatty(1) && ioctl(1, TIOCGWINSZ, &ws) == 0) w = ws.ws_col;
    if (w <= 0) {
        const char *c = getenv("COLUMNS");
        w = c ? atoi(c) : 0;
    }
    if (w <= 0) w = 80;
    if (w < 40) w = 40;
    if (w > 200) w = 200;
    return w - 1;
}

/* ---- the entries -------------------------------------------------------------- */

static const char *next_line(const char *p) { const char *e = strchr(p, '\n'); return e ? e + 1 : p + strlen(p); }

/* The name of a head line such as ".B tensor.new(t)": 1 if it is an entry. */
static int head_name(const char *line, const char *end, char *name, size_t cap)
{
    size_t mlen;
    const char *join = font_macro(line, end - line, &mlen);
    if (!join) return 0;
    llfc_strbuf t = LLFC_STRBUF_INIT;
    roff_args(&t, line + mlen, end - line - mlen, join);
    int ok = 0;
    if (t.s) {
        size_t i = 0;
        const char *s = t.s;
        if (s[0] == '_' || ((s[0] | 32) >= 'a' && (s[0] | 32) <= 'z')) {
            while (s[i] == '_' || s[i] == '.' || s[i] == ':' || ((s[i] | 32) >= 'a' && (s[i] | 32) <= 'z') ||
                   (s[i] >= '0' && s[i] <= '9'))
                i++;
            if ((s[i] == '(' || s[i] == '{') && i < cap) { /* f(args) or f{options} */
                memcpy(name, s, i);
                name[i] = '\0';
                ok = 1;
            }
        }
    }
    llfc_strbuf_free(&t);
    return ok;
}

int llfc_man_parse(llfc_man *m, const char *text)
{
    m->text = text;
    m->entry = NULL;
    m->n = 0;
    int cap = 0;
    const char *p = text;
    llfc_man_entry *cur = NULL;
    while (*p) {
        const char *e = strchr(p, '\n');
        if (!e) e = p + strlen(p);
        if (!strncmp(p, ".TP", 3) || !strncmp(p, ".SH", 3) || !strncmp(p, ".SS", 3)) {
            if (cur) { cur->end = p; cur = NULL; }
            if (!strncmp(p, ".TP", 3) && *e) {
                const char *h = e + 1, *he = strchr(h, '\n');
                if (!he) he = h + strlen(h);
                char name[sizeof cur->name];
                if (head_name(h, he, name, sizeof name)) {
                    if (m->n == cap) {
                        cap = cap ? 2 * cap : 256;
                        llfc_man_entry *ne = realloc(m->entry, (size_t)cap * sizeof *ne);
                        if (!ne) { llfc_man_free(m); return llfc_seterr("out of memory reading the man page"); }
                        m->entry = ne;
                    }
                    cur = &m->entry[m->n++];
                    memcpy(cur->name, name, sizeof name);
                    cur->head = h;
                    cur->head_end = he;
                    cur->body = *he ? he + 1 : he;
                    p = cur->body;
                    continue;
                }
            }
        }
        p = *e ? e + 1 : e;
    }
    if (cur) cur->end = p;
    return 0;
}

void llfc_man_free(llfc_man *m)
{
    free(m->entry);
    m->entry = NULL;
    m->n = 0;
}

const llfc_man_entry *llfc_man_find(const llfc_man *m, const char *name)
{
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->entry[i].name, name)) return &m->entry[i];
    return NULL;
}

const char *llfc_man_short_name(const char *name)
{
    const char *s = name + strlen(name);
    while (s > name && s[-1] != '.' && s[-1] != ':') s--;
    return s;
}

int llfc_man_intro(llfc_strbuf *out, const llfc_man *m, const char *macro, const char *title, int width)
{
    size_t tl = strlen(title);
    const char *p = m->text;
    while (*p) {
        const char *e = strchr(p, '\n');
        if (!e) break;
        if (!strncmp(p, macro, 3)) {
            const char *t = p + 3;
            while (*t == ' ' || *t == '"') t++;
            if (!strncmp(t, title, tl) && (t[tl] == '\n' || t[tl] == ' ' || t[tl] == '"')) {
                const char *from = e + 1, *q = from;
                while (*q && strncmp(q, ".TP", 3) && strncmp(q, ".SH", 3) && strncmp(q, ".SS", 3))
                    q = next_line(q);
                size_t before = out->len;
                llfc_man_render(out, from, q, width, 0);
                return out->len > before;
            }
        }
        p = e + 1;
    }
    return 0;
}

/* ---- search ------------------------------------------------------------------- */

/* Does text hold every word of query (ignoring case)? */
static int holds_words(const char *text, const char *query)
{
    const char *q = query;
    while (*q) {
        while (*q == ' ') q++;
        size_t n = 0;
        while (q[n] && q[n] != ' ') n++;
        if (!n) break;
        int found = 0;
        for (const char *t = text; *t && !found; t++) {
            size_t k = 0;
            while (k < n && t[k] && tolower((unsigned char)t[k]) == tolower((unsigned char)q[k])) k++;
            found = k == n;
        }
        if (!found) return 0;
        q += n;
    }
    return 1;
}

int llfc_man_search(const llfc_man *m, const char *query, int *hits, int max)
{
    int count = 0;
    char *in_text = calloc((size_t)m->n + 1, 1); /* 1: matched by the text only */
    if (!in_text) return 0;
    llfc_strbuf t = LLFC_STRBUF_INIT;
    for (int i = 0; i < m->n; i++) {
        if (holds_words(m->entry[i].name, query)) { in_text[i] = 2; continue; }
        t.len = 0;
        if (t.s) t.s[0] = '\0';
        llfc_man_entry_text(&t, &m->entry[i], 100000);
        if (t.s && holds_words(t.s, query)) in_text[i] = 1;
    }
    llfc_strbuf_free(&t);
    for (int pass = 2; pass >= 1; pass--)
        for (int i = 0; i < m->n; i++)
            if (in_text[i] == pass) {
                if (count < max) hits[count] = i;
                count++;
            }
    free(in_text);
    return count;
}

int llfc_man_has_type(const llfc_man *m, const char *type)
{
    size_t n = strlen(type);
    for (int i = 0; i < m->n; i++)
        if (!strncmp(m->entry[i].name, type, n) && m->entry[i].name[n] == ':') return 1;
    return 0;
}
