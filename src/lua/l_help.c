/* l_help.c - help() and llfc.doc(): documentation from the embedded man page.
 *
 * The man page (man/llfc.1, embedded as llfc_manpage) is the only source of
 * documentation.  An entry is
 *     .TP
 *     .B module.func(args)        or   .B Type:method(args)
 *     text ... (until the next .TP, .SH or .SS)
 * help(x) resolves x (a function, a module table, an object, or a name such
 * as "tensor.new" / "Tensor:mm" / "mm") to entry names by walking the llfc
 * modules and the __index tables of the registered metatables, strips the
 * roff markup and prints the text wrapped to the terminal width.
 */
#include "lbind.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

extern const char llfc_manpage[];

/* ---- a growable string owned by a userdata (freed by __gc on errors) ---- */

typedef struct { char *p; size_t n, cap; } sbuf;

static int sbuf_gc(lua_State *L)
{
    sbuf *b = lua_touserdata(L, 1);
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
    return 0;
}

static sbuf *sbuf_new(lua_State *L)
{
    sbuf *b = lua_newuserdatauv(L, sizeof *b, 0);
    memset(b, 0, sizeof *b);
    if (luaL_newmetatable(L, "llfc.help.buffer")) {
        lua_pushcfunction(L, sbuf_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return b;
}

static void sb_addn(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->n + n + 1) nc *= 2;
        char *p = realloc(b->p, nc);
        if (!p) return; /* keep what fits; help text is not critical */
        b->p = p;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}
static void sb_add(sbuf *b, const char *s) { sb_addn(b, s, strlen(s)); }
static void sb_char(sbuf *b, char c) { sb_addn(b, &c, 1); }
static void sb_spaces(sbuf *b, int n) { while (n-- > 0) sb_char(b, ' '); }

/* ---- roff to plain text ------------------------------------------------------ */

#define NBSP '\001' /* an unbreakable space inside a word, printed as ' ' */

/* Append the text of s[0..n) with roff escapes replaced. */
static void roff_text(sbuf *out, const char *s, size_t n)
{
    static const struct { const char *name, *text; } glyphs[] = {
        {"em", "--"}, {"en", "-"}, {"aq", "'"}, {"dq", "\""}, {"bu", "*"}, {"mu", "x"},
        {"->", "->"}, {"<-", "<-"}, {"<=", "<="}, {">=", ">="}, {"!=", "!="}, {"co", "(c)"},
        {"hy", "-"}, {"lq", "\""}, {"rq", "\""}, {"oq", "'"}, {"cq", "'"}, {"ti", "~"},
        {"ha", "^"}, {"rs", "\\"}, {"pl", "+"}, {"eq", "="}, {"**", "*"}, {"sc", "S"},
        {"de", "deg"}, {"+-", "+-"}, {"ga", "`"}, {"al", "alpha"}, {"*a", "alpha"}, {NULL, NULL}};
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 >= n) { sb_char(out, s[i]); continue; }
        char c = s[++i];
        switch (c) {
        case 'f': /* font: \fB \fI \fR \fP \f(CW \f[B] */
            if (i + 1 < n && s[i + 1] == '(') i += 3;
            else if (i + 1 < n && s[i + 1] == '[') { while (i < n && s[i] != ']') i++; }
            else i++;
            break;
        case '-': sb_char(out, '-'); break;
        case 'e': case '\\': sb_char(out, '\\'); break;
        case '&': case '|': case '^': case 'c': case ')': break;
        case ' ': case '~': case '0': sb_char(out, NBSP); break;
        case '(':
            if (i + 2 < n) {
                int k;
                for (k = 0; glyphs[k].name; k++)
                    if (!strncmp(s + i + 1, glyphs[k].name, 2)) break;
                sb_add(out, glyphs[k].name ? glyphs[k].text : "?");
                i += 2;
            }
            break;
        case '[': {
            size_t j = i + 1;
            while (j < n && s[j] != ']') j++;
            int k;
            for (k = 0; glyphs[k].name; k++)
                if (j - i - 1 == strlen(glyphs[k].name) && !strncmp(s + i + 1, glyphs[k].name, j - i - 1)) break;
            sb_add(out, glyphs[k].name ? glyphs[k].text : "?");
            i = j;
            break;
        }
        case '*': /* strings: \*(lq \*R ... */
            if (i + 1 < n && s[i + 1] == '(') i += 3;
            else i++;
            break;
        case '"': i = n; break; /* comment to end of line */
        default: sb_char(out, c); break;
        }
    }
}

/* The arguments of a macro line (after the macro name): quoted or space
 * separated; `join` is placed between them ("" for .BI/.BR..., " " for .B). */
static void roff_args(sbuf *out, const char *s, size_t n, const char *join)
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
        if (!first) sb_add(out, join);
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
    sbuf *out;
    sbuf para; /* words of the current paragraph */
    int width, indent, nofill, blank_pending;
} fmt;

static void fmt_flush(fmt *f)
{
    const char *s = f->para.p;
    size_t n = f->para.n;
    if (!s || n == 0) return;
    if (f->blank_pending && f->out->n > 0) sb_char(f->out, '\n');
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
        if (col > 0 && col + 1 + wl > avail) { sb_char(f->out, '\n'); col = 0; }
        if (col == 0) sb_spaces(f->out, f->indent);
        else { sb_char(f->out, ' '); col++; }
        for (size_t k = a; k < i; k++) sb_char(f->out, s[k] == NBSP ? ' ' : s[k]);
        col += wl;
    }
    if (col > 0) sb_char(f->out, '\n');
    f->para.n = 0;
    f->para.p[0] = '\0';
}

static void fmt_words(fmt *f, const char *text, size_t n)
{
    if (f->nofill) {
        if (f->blank_pending && f->out->n > 0) sb_char(f->out, '\n');
        f->blank_pending = 0;
        sb_spaces(f->out, f->indent + 2);
        for (size_t k = 0; k < n; k++) sb_char(f->out, text[k] == NBSP ? ' ' : text[k]);
        sb_char(f->out, '\n');
        return;
    }
    if (f->para.n) sb_char(&f->para, ' ');
    sb_addn(&f->para, text, n);
}

/* Render the roff lines in [from, to). */
static void fmt_lines(fmt *f, const char *from, const char *to)
{
    sbuf tmp = {0};
    const char *p = from;
    while (p < to) {
        const char *e = memchr(p, '\n', to - p);
        if (!e) e = to;
        size_t n = e - p, mlen;
        const char *join;
        tmp.n = 0;
        if (n >= 2 && (p[0] == '.' || p[0] == '\'') && p[1] == '\\' && n >= 3 && p[2] == '"') {
            /* comment */
        } else if (n > 0 && (p[0] == '.' || p[0] == '\'')) {
            if ((join = font_macro(p, n, &mlen))) {
                roff_args(&tmp, p + mlen, n - mlen, join);
                fmt_words(f, tmp.p ? tmp.p : "", tmp.n);
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
                if (tmp.n) fmt_words(f, tmp.p, tmp.n);
            } else if (!strncmp(p, ".SS", 3) || !strncmp(p, ".SH", 3)) {
                fmt_flush(f);
                f->blank_pending = 1;
                roff_args(&tmp, p + 3, n - 3, " ");
                if (tmp.n) fmt_words(f, tmp.p, tmp.n);
                fmt_flush(f);
            }
            /* other requests (.TH, .PD, .ad, ...) print nothing */
        } else if (n == 0 && !f->nofill) {
            fmt_flush(f);
            f->blank_pending = 1;
        } else {
            roff_text(&tmp, p, n);
            fmt_words(f, tmp.p ? tmp.p : "", tmp.n);
        }
        p = e + 1;
    }
    fmt_flush(f);
    free(tmp.p);
    free(f->para.p);
    f->para.p = NULL;
    f->para.n = f->para.cap = 0;
}

static int term_width(void)
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

/* ---- the entries of the man page ------------------------------------------- */

typedef struct {
    char name[96];        /* "tensor.new", "Tensor:mm", "help" */
    const char *head;     /* the .B line */
    const char *head_end;
    const char *body;     /* text after the head line(s) */
    const char *end;
} entry;

#define MAX_ENTRIES 2048
static entry entries[MAX_ENTRIES];
static int nentries = -1;

static const char *next_line(const char *p) { const char *e = strchr(p, '\n'); return e ? e + 1 : p + strlen(p); }

/* The name of a head line such as ".B tensor.new(t)": 1 if it is an entry. */
static int head_name(const char *line, const char *end, char *name, size_t cap)
{
    size_t mlen;
    const char *join = font_macro(line, end - line, &mlen);
    if (!join) return 0;
    sbuf t = {0};
    roff_args(&t, line + mlen, end - line - mlen, join);
    int ok = 0;
    if (t.p) {
        size_t i = 0;
        const char *s = t.p;
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
    free(t.p);
    return ok;
}

static void parse_manpage(void)
{
    if (nentries >= 0) return;
    nentries = 0;
    const char *p = llfc_manpage;
    entry *cur = NULL;
    while (*p) {
        const char *e = strchr(p, '\n');
        if (!e) e = p + strlen(p);
        if (!strncmp(p, ".TP", 3) || !strncmp(p, ".SH", 3) || !strncmp(p, ".SS", 3)) {
            if (cur) { cur->end = p; cur = NULL; }
            if (!strncmp(p, ".TP", 3) && *e) {
                const char *h = e + 1, *he = strchr(h, '\n');
                if (!he) he = h + strlen(h);
                char name[96];
                if (nentries < MAX_ENTRIES && head_name(h, he, name, sizeof name)) {
                    cur = &entries[nentries++];
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
}

static const entry *find_entry(const char *name)
{
    parse_manpage();
    for (int i = 0; i < nentries; i++)
        if (!strcmp(entries[i].name, name)) return &entries[i];
    return NULL;
}

/* Render one entry: the head, then the text indented. */
static void render_entry(sbuf *out, const entry *en, int width)
{
    fmt f = {out, {0}, width, 0, 0, 0};
    fmt_lines(&f, en->head, en->head_end);
    f.indent = 4;
    fmt_lines(&f, en->body, en->end);
}

/* The first sentence of an entry, for lists. */
static void summary(sbuf *out, const entry *en, size_t maxlen)
{
    sbuf tmp = {0};
    fmt f = {&tmp, {0}, 100000, 0, 0, 0};
    fmt_lines(&f, en->body, en->end);
    if (tmp.p) {
        char *s = tmp.p;
        while (*s == ' ' || *s == '\n') s++;
        size_t n = 0;
        while (s[n] && s[n] != '\n' && !(s[n] == '.' && (s[n + 1] == ' ' || s[n + 1] == '\n' || !s[n + 1]))) n++;
        if (s[n] == '.') n++;
        if (n > maxlen && maxlen > 3) { sb_addn(out, s, maxlen - 3); sb_add(out, "..."); }
        else sb_addn(out, s, n);
    }
    free(tmp.p);
}

/* ---- resolving Lua values to names ------------------------------------------- */

/* Upvalue 1 of help/doc: the llfc table. */
#define LLFC_TABLE lua_upvalueindex(1)

/* Push the metatable registered as "llfc.<Type>" for a type name, or nil. */
static int push_type(lua_State *L, const char *type)
{
    lua_pushfstring(L, "llfc.%s", type);
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (lua_istable(L, -1) && type[0] >= 'A' && type[0] <= 'Z') {
        lua_getfield(L, -1, "__name");
        int ok = lua_isstring(L, -1);
        lua_pop(L, 1);
        if (ok) return 1;
    }
    lua_pop(L, 1);
    lua_pushnil(L);
    return 0;
}

/* Push the method table of the metatable at idx: its __index when that is a
 * table, else mt.methods, else the first upvalue of a function __index
 * (types whose __index also serves fields).  Returns 0 (nothing pushed) if
 * there is none. */
static int push_methods(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    int top = lua_gettop(L);
    int t = lua_getfield(L, idx, "__index");
    if (t == LUA_TTABLE) return 1;
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "methods") == LUA_TTABLE) return 1;
    lua_pop(L, 1);
    if (t == LUA_TFUNCTION) {
        lua_getfield(L, idx, "__index");
        if (lua_getupvalue(L, -1, 1) && lua_istable(L, -1)) {
            lua_remove(L, -2);
            return 1;
        }
        lua_settop(L, top);
    }
    return 0;
}

/* The string key under which table t holds the value at v (raw equality).
 * Pushes the key and returns 1, or returns 0 with the stack unchanged. */
static int key_of(lua_State *L, int t, int v)
{
    t = lua_absindex(L, t);
    v = lua_absindex(L, v);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_rawequal(L, -1, v)) {
            lua_pop(L, 1); /* the key stays */
            return 1;
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* Look for the value at v in table t and one level of tables inside it
 * (skipping those at `skip1`/`skip2`, which may be 0): pushes "prefix" .. key
 * or "k.key" and returns 1, or returns 0 with the stack unchanged. */
static int name_in(lua_State *L, int t, int v, const char *prefix, int skip1, int skip2)
{
    t = lua_absindex(L, t);
    v = lua_absindex(L, v);
    if (key_of(L, t, v)) {
        lua_pushfstring(L, "%s%s", prefix, lua_tostring(L, -1));
        lua_remove(L, -2);
        return 1;
    }
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_istable(L, -1) &&
            !(skip1 && lua_rawequal(L, -1, skip1)) && !(skip2 && lua_rawequal(L, -1, skip2)) &&
            key_of(L, -1, v)) {
            lua_pushfstring(L, "%s.%s", lua_tostring(L, -3), lua_tostring(L, -1));
            lua_replace(L, -4); /* over the key of t */
            lua_pop(L, 2);
            return 1;
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* Find the name of the value at idx among the llfc modules (module.f),
 * the llfc table itself (llfc.f) and the methods of the registered types
 * (Type:m).  Pushes the name or returns 0. */
static int name_of(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    if (name_in(L, LLFC_TABLE, idx, "llfc.", 0, 0)) return 1;
    /* methods: registry["llfc.Type"] */
    lua_pushnil(L);
    while (lua_next(L, LUA_REGISTRYINDEX)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        if (k && !strncmp(k, "llfc.", 5) && k[5] >= 'A' && k[5] <= 'Z' && lua_istable(L, -1) &&
            push_methods(L, -1)) {
            if (key_of(L, -1, idx)) {
                lua_pushfstring(L, "%s:%s", k + 5, lua_tostring(L, -1));
                lua_replace(L, -5); /* over the registry key */
                lua_pop(L, 3);
                return 1;
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* Is the value at idx a function of the standard Lua libraries?  Pushes its
 * name ("string.format", "print"). */
static int std_name(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_pushglobaltable(L);
    int found = name_in(L, -1, idx, "", LLFC_TABLE, lua_absindex(L, -1));
    if (found) lua_remove(L, -2);
    else lua_pop(L, 1);
    return found;
}

/* The entry for a resolved name: "llfc.help" is also documented as "help". */
static const entry *entry_for(const char *name)
{
    const entry *en = find_entry(name);
    if (!en && !strncmp(name, "llfc.", 5)) en = find_entry(name + 5);
    return en;
}

/* Compare names for sorting. */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* List the functions of the table at idx: documented ones with their head
 * and first sentence, undocumented ones marked. prefix is "tensor." or
 * "Tensor:". */
static void list_functions(lua_State *L, sbuf *out, int idx, const char *prefix, int width)
{
    char **names = NULL;
    size_t n = 0, cap = 0;
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TFUNCTION) {
            const char *k = lua_tostring(L, -2);
            if (n == cap) {
                cap = cap ? 2 * cap : 32;
                char **nn = realloc(names, cap * sizeof *nn);
                if (!nn) { lua_pop(L, 2); break; }
                names = nn;
            }
            names[n] = malloc(strlen(prefix) + strlen(k) + 1);
            if (names[n]) { strcpy(names[n], prefix); strcat(names[n], k); n++; }
        }
        lua_pop(L, 1);
    }
    if (n) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        const entry *en = entry_for(names[i]);
        size_t start = out->n;
        sb_add(out, "  ");
        if (en) {
            fmt f = {out, {0}, 100000, 0, 0, 0};
            fmt_lines(&f, en->head, en->head_end);
            if (out->n > start && out->p[out->n - 1] == '\n') out->n--;
            size_t used = out->n - start;
            if (used + 4 < (size_t)width) {
                sb_spaces(out, used < 28 ? (int)(28 - used) : 2);
                size_t u2 = out->n - start;
                if (u2 + 10 < (size_t)width) summary(out, en, width - u2);
            }
        } else {
            sb_add(out, names[i]);
            sb_add(out, "  (no documentation)");
        }
        sb_char(out, '\n');
        free(names[i]);
    }
    free(names);
}

/* The text of a man section (".SH NAME" or ".SS NAME" whose first word is
 * `title`) before its first entry. */
static void section_intro(sbuf *out, const char *macro, const char *title, int width)
{
    size_t tl = strlen(title);
    const char *p = llfc_manpage;
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
                fmt f = {out, {0}, width, 0, 0, 0};
                fmt_lines(&f, from, q);
                return;
            }
        }
        p = e + 1;
    }
}

static void doc_module(lua_State *L, sbuf *out, int idx, const char *mod, int width)
{
    char title[80];
    snprintf(title, sizeof title, "MODULE %s", mod);
    sb_add(out, "Module ");
    sb_add(out, mod);
    sb_add(out, "\n\n");
    size_t before = out->n;
    section_intro(out, ".SH", title, width);
    if (out->n > before) sb_char(out, '\n');
    char prefix[80];
    snprintf(prefix, sizeof prefix, "%s.", mod);
    list_functions(L, out, idx, prefix, width);
    sb_add(out, "\nhelp(");
    sb_add(out, mod);
    sb_add(out, ".NAME) shows one function.\n");
}

static void doc_type(lua_State *L, sbuf *out, const char *type, int width)
{
    sb_add(out, "Type ");
    sb_add(out, type);
    sb_add(out, " (methods are called as obj:name(...))\n\n");
    size_t before = out->n;
    section_intro(out, ".SS", type, width);
    if (out->n > before) sb_char(out, '\n');
    push_type(L, type);
    if (lua_istable(L, -1) && push_methods(L, -1)) {
        char prefix[80];
        snprintf(prefix, sizeof prefix, "%s:", type);
        list_functions(L, out, -1, prefix, width);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    sb_add(out, "\nhelp(\"");
    sb_add(out, type);
    sb_add(out, ":NAME\") shows one method.\n");
}

static void doc_overview(lua_State *L, sbuf *out, int width)
{
    fmt f = {out, {0}, width, 0, 0, 0};
    lua_getfield(L, LLFC_TABLE, "version");
    sb_add(out, "llfc ");
    sb_add(out, lua_isstring(L, -1) ? lua_tostring(L, -1) : "");
    lua_pop(L, 1);
    sb_add(out, "\n\n");
    section_intro(out, ".SH", "DESCRIPTION", width);
    sb_add(out, "\nModules (help(tensor) lists the functions of tensor):\n");
    static const char *mods[] = {"tensor", "data", "nn", "perm", "metrics", "view", "sweep", NULL};
    for (int i = 0; mods[i]; i++) {
        if (lua_getfield(L, LLFC_TABLE, mods[i]) == LUA_TTABLE) {
            int nf = 0;
            lua_pushnil(L);
            while (lua_next(L, -2)) { nf += lua_type(L, -1) == LUA_TFUNCTION; lua_pop(L, 1); }
            char line[128];
            snprintf(line, sizeof line, "  %-9s %d function%s\n", mods[i], nf, nf == 1 ? "" : "s");
            sb_add(out, line);
        }
        lua_pop(L, 1);
    }
    lua_pushnil(L);
    int nt = 0;
    char *types[64];
    while (lua_next(L, LUA_REGISTRYINDEX)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        if (k && !strncmp(k, "llfc.", 5) && k[5] >= 'A' && k[5] <= 'Z' && lua_istable(L, -1) && nt < 64)
            types[nt++] = strdup(k + 5);
        lua_pop(L, 1);
    }
    for (int i = 0; i < nt; i++) if (!types[i]) { types[i] = types[--nt]; i--; }
    qsort(types, nt, sizeof *types, cmp_str);
    if (nt > 0) sb_add(out, "Object types (help(\"Tensor\") lists the methods):\n ");
    for (int i = 0; i < nt; i++) {
        sb_char(out, ' ');
        sb_add(out, types[i]);
        free(types[i]);
    }
    sb_add(out, nt > 0 ? "\n\n" : "\n");
    static const char more[] =
        "Getting help:\n"
        "  help(tensor.new)      a function\n"
        "  help(\"Tensor:mm\")     a function or method by name (help(\"mm\") finds it too)\n"
        "  help(t)               the type of an object t\n"
        "  help(tensor)          a module\n"
        "In the REPL: Tab completes names, a trailing ';' hides the result,\n"
        "Ctrl-C interrupts a computation, Ctrl-D quits.  The full manual: man llfc.\n";
    sb_add(out, more);
    (void)f;
}

/* Entries whose last component (after '.' or ':') is `short_name`. */
static int doc_by_short_name(sbuf *out, const char *short_name, int width)
{
    parse_manpage();
    int found = 0;
    const entry *one = NULL;
    for (int i = 0; i < nentries; i++) {
        const char *n = entries[i].name, *s = n + strlen(n);
        while (s > n && s[-1] != '.' && s[-1] != ':') s--;
        if (!strcmp(s, short_name)) { found++; one = &entries[i]; }
    }
    if (found == 1) { render_entry(out, one, width); return 1; }
    if (found > 1) {
        sb_add(out, "Several entries match; ask for one of them:\n");
        for (int i = 0; i < nentries; i++) {
            const char *n = entries[i].name, *s = n + strlen(n);
            while (s > n && s[-1] != '.' && s[-1] != ':') s--;
            if (!strcmp(s, short_name)) { sb_add(out, "  help(\""); sb_add(out, n); sb_add(out, "\")\n"); }
        }
        return 1;
    }
    return 0;
}

/* Build the documentation of the value at idx into out.  Returns 1, or 0
 * with an explanation in out. */
static int build_doc(lua_State *L, int idx, sbuf *out, int width)
{
    idx = lua_absindex(L, idx);
    int t = lua_type(L, idx);
    if (lua_rawequal(L, idx, LLFC_TABLE)) { doc_overview(L, out, width); return 1; }
    if (t == LUA_TSTRING) {
        const char *s = lua_tostring(L, idx);
        const entry *en = entry_for(s);
        if (!en && strchr(s, '.')) { /* "Tensor.mm" for "Tensor:mm" */
            char alt[128];
            snprintf(alt, sizeof alt, "%s", s);
            char *dot = strrchr(alt, '.');
            *dot = ':';
            en = find_entry(alt);
        }
        if (!en && strncmp(s, "llfc.", 5)) { /* "help" for "llfc.help" and back */
            char alt[128];
            snprintf(alt, sizeof alt, "llfc.%s", s);
            en = find_entry(alt);
        }
        if (en) { render_entry(out, en, width); return 1; }
        const char *m = !strncmp(s, "llfc.", 5) ? s + 5 : s;
        if (lua_getfield(L, LLFC_TABLE, m) == LUA_TTABLE) {
            doc_module(L, out, -1, m, width);
            lua_pop(L, 1);
            return 1;
        }
        lua_pop(L, 1);
        if (push_type(L, m)) { lua_pop(L, 1); doc_type(L, out, m, width); return 1; }
        lua_pop(L, 1);
        if (!strchr(s, '.') && !strchr(s, ':') && doc_by_short_name(out, s, width)) return 1;
        sb_add(out, "no documentation for '");
        sb_add(out, s);
        sb_add(out, "' (help() lists the modules)");
        return 0;
    }
    if (t == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, LLFC_TABLE)) {
            if (lua_type(L, -2) == LUA_TSTRING && lua_rawequal(L, -1, idx)) {
                doc_module(L, out, -1, lua_tostring(L, -2), width);
                lua_pop(L, 2);
                return 1;
            }
            lua_pop(L, 1);
        }
    }
    /* an object: userdata, or a table (a Sweep) whose metatable is a registered llfc type */
    if ((t == LUA_TUSERDATA || t == LUA_TTABLE) && lua_getmetatable(L, idx)) {
        lua_getfield(L, -1, "__name");
        const char *nm = lua_tostring(L, -1);
        if (nm && !strncmp(nm, "llfc.", 5) && nm[5] >= 'A' && nm[5] <= 'Z') {
            char type[64];
            snprintf(type, sizeof type, "%s", nm + 5);
            lua_pop(L, 2);
            doc_type(L, out, type, width);
            return 1;
        }
        lua_pop(L, 2);
    }
    if (name_of(L, idx)) {
        const char *nm = lua_tostring(L, -1);
        const entry *en = entry_for(nm);
        if (en) render_entry(out, en, width);
        else { sb_add(out, nm); sb_add(out, " has no documentation yet"); }
        lua_pop(L, 1);
        return en != NULL;
    }
    if (t == LUA_TFUNCTION && std_name(L, idx)) {
        sb_add(out, lua_tostring(L, -1));
        sb_add(out, " is a standard Lua function: see the Lua 5.4 reference manual");
        lua_pop(L, 1);
        return 0;
    }
    sb_add(out, "no documentation for this ");
    sb_add(out, luaL_typename(L, idx));
    sb_add(out, " (help() lists the modules)");
    return 0;
}

/* llfc.doc([x [, width]]) -> text | nil, message */
static int l_doc(lua_State *L)
{
    int n = lua_gettop(L);
    int width = (int)luaL_optinteger(L, 2, term_width());
    if (width < 20) width = 20;
    sbuf *b = sbuf_new(L);
    int ok = 1;
    if (n == 0) doc_overview(L, b, width);
    else ok = build_doc(L, 1, b, width);
    if (!ok) lua_pushnil(L);
    lua_pushlstring(L, b->p ? b->p : "", b->n);
    return ok ? 1 : 2;
}

/* help([x]) prints the documentation of x (or the overview). */
static int l_help(lua_State *L)
{
    int n = lua_gettop(L);
    sbuf *b = sbuf_new(L);
    if (n == 0) doc_overview(L, b, term_width());
    else build_doc(L, 1, b, term_width());
    if (b->n == 0 || b->p[b->n - 1] != '\n') sb_char(b, '\n');
    fwrite(b->p, 1, b->n, stdout);
    fflush(stdout);
    return 0;
}

/* Install help and doc into the llfc table at idx. */
void llfc_help_install(lua_State *L, int idx);
void llfc_help_install(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_pushvalue(L, idx);
    lua_pushcclosure(L, l_help, 1);
    lua_setfield(L, idx, "help");
    lua_pushvalue(L, idx);
    lua_pushcclosure(L, l_doc, 1);
    lua_setfield(L, idx, "doc");
}
