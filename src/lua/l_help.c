/* l_help.c - help() and llfc.doc(): documentation from the embedded man page.
 *
 * help(x) resolves x (a function, a module table, an object, or a name such
 * as "tensor.new" / "Tensor:mm" / "mm") to entry names by walking the llfc
 * modules and the __index tables of the registered metatables; the entries
 * and their text come from src/app/manpage.c.
 */
#include "lbind.h"

#include <stdlib.h>
#include <string.h>

#include "app/manpage.h"


/* ---- the parsed man page ------------------------------------------------------ */

static llfc_man man;
static int man_parsed;

static const llfc_man *manpage(void)
{
    if (!man_parsed && llfc_man_parse(&man, llfc_manpage) == 0) man_parsed = 1;
    return &man; /* no entries if memory ran out */
}

static const llfc_man_entry *find_entry(const char *name) { return llfc_man_find(manpage(), name); }

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
static const llfc_man_entry *entry_for(const char *name)
{
    const llfc_man_entry *en = find_entry(name);
    if (!en && !strncmp(name, "llfc.", 5)) en = find_entry(name + 5);
    return en;
}

/* Compare names for sorting. */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* One line of a list: "  head   first sentence" (cut to the width), or the
 * bare name when there is no entry. */
static void entry_line(llfc_strbuf *out, const char *name, const llfc_man_entry *en, int width)
{
    size_t start = out->len;
    llfc_strbuf_puts(out, "  ");
    if (en) {
        llfc_man_head(out, en);
        size_t used = out->len - start;
        if (used + 4 < (size_t)width) {
            llfc_strbuf_spaces(out, used < 28 ? (int)(28 - used) : 2);
            size_t u2 = out->len - start;
            if (u2 + 10 < (size_t)width) llfc_man_summary(out, en, width - u2);
        }
    } else {
        llfc_strbuf_printf(out, "%s  (no documentation)", name);
    }
    llfc_strbuf_putc(out, '\n');
}

/* List the functions of the table at idx: documented ones with their head
 * and first sentence, undocumented ones marked. prefix is "tensor." or
 * "Tensor:". */
static void list_functions(lua_State *L, llfc_strbuf *out, int idx, const char *prefix, int width)
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
        entry_line(out, names[i], entry_for(names[i]), width);
        free(names[i]);
    }
    free(names);
}

static void doc_module(lua_State *L, llfc_strbuf *out, int idx, const char *mod, int width)
{
    char title[80], prefix[80];
    snprintf(title, sizeof title, "MODULE %s", mod);
    snprintf(prefix, sizeof prefix, "%s.", mod);
    llfc_strbuf_printf(out, "Module %s\n\n", mod);
    if (llfc_man_intro(out, manpage(), ".SH", title, width)) llfc_strbuf_putc(out, '\n');
    list_functions(L, out, idx, prefix, width);
    llfc_strbuf_printf(out, "\nhelp(%s.NAME) shows one function.\n", mod);
}

static void doc_type(lua_State *L, llfc_strbuf *out, const char *type, int width)
{
    if (!llfc_man_has_type(manpage(), type)) {
        llfc_strbuf_printf(out, "llfc.%s is internal to llfc: no documentation (help() lists the modules and types)\n", type);
        return;
    }
    llfc_strbuf_printf(out, "Type %s (methods are called as obj:name(...))\n\n", type);
    if (llfc_man_intro(out, manpage(), ".SS", type, width)) llfc_strbuf_putc(out, '\n');
    push_type(L, type);
    if (lua_istable(L, -1) && push_methods(L, -1)) {
        char prefix[80];
        snprintf(prefix, sizeof prefix, "%s:", type);
        list_functions(L, out, -1, prefix, width);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    llfc_strbuf_printf(out, "\nhelp(\"%s:NAME\") shows one method.\n", type);
}

static void doc_overview(lua_State *L, llfc_strbuf *out, int width)
{
    lua_getfield(L, LLFC_TABLE, "version");
    llfc_strbuf_puts(out, "llfc ");
    llfc_strbuf_puts(out, lua_isstring(L, -1) ? lua_tostring(L, -1) : "");
    lua_pop(L, 1);
    llfc_strbuf_puts(out, "\n\n");
    llfc_man_intro(out, manpage(), ".SH", "DESCRIPTION", width);
    llfc_strbuf_puts(out, "\nModules (help(tensor) lists the functions of tensor):\n");
    static const char *mods[] = {"tensor", "data", "nn", "perm", "metrics", "view", "sweep", NULL};
    for (int i = 0; mods[i]; i++) {
        if (lua_getfield(L, LLFC_TABLE, mods[i]) == LUA_TTABLE) {
            int nf = 0;
            lua_pushnil(L);
            while (lua_next(L, -2)) { nf += lua_type(L, -1) == LUA_TFUNCTION; lua_pop(L, 1); }
            char line[128];
            snprintf(line, sizeof line, "  %-9s %d function%s\n", mods[i], nf, nf == 1 ? "" : "s");
            llfc_strbuf_puts(out, line);
        }
        lua_pop(L, 1);
    }
    lua_pushnil(L);
    int nt = 0;
    char *types[64];
    while (lua_next(L, LUA_REGISTRYINDEX)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        /* the types users meet: those the man page documents (the view's
         * ChartBox and Screen are its own business) */
        if (k && !strncmp(k, "llfc.", 5) && k[5] >= 'A' && k[5] <= 'Z' && lua_istable(L, -1) && nt < 64 &&
            llfc_man_has_type(manpage(), k + 5))
            types[nt++] = strdup(k + 5);
        lua_pop(L, 1);
    }
    for (int i = 0; i < nt; i++) if (!types[i]) { types[i] = types[--nt]; i--; }
    qsort(types, nt, sizeof *types, cmp_str);
    if (nt > 0) llfc_strbuf_puts(out, "Object types (help(\"Tensor\") lists the methods):\n ");
    for (int i = 0; i < nt; i++) {
        llfc_strbuf_putc(out, ' ');
        llfc_strbuf_puts(out, types[i]);
        free(types[i]);
    }
    llfc_strbuf_puts(out, nt > 0 ? "\n\n" : "\n");
    static const char more[] =
        "Getting help:\n"
        "  help(tensor.new)      a function\n"
        "  help(\"Tensor:mm\")     a function or method by name (help(\"mm\") finds it too)\n"
        "  help(\"barrier\")       the entries that mention a word\n"
        "  help(t)               the type of an object t\n"
        "  help(tensor)          a module\n"
        "In the REPL: Tab completes names, a trailing ';' hides the result,\n"
        "Ctrl-C interrupts a computation, Ctrl-D quits.  The full manual: man llfc.\n";
    llfc_strbuf_puts(out, more);
}

/* Entries whose last component (after '.' or ':') is `short_name`. */
static int doc_by_short_name(llfc_strbuf *out, const char *short_name, int width)
{
    const llfc_man *m = manpage();
    int found = 0;
    const llfc_man_entry *one = NULL;
    for (int i = 0; i < m->n; i++)
        if (!strcmp(llfc_man_short_name(m->entry[i].name), short_name)) { found++; one = &m->entry[i]; }
    if (found == 1) { llfc_man_entry_text(out, one, width); return 1; }
    if (found > 1) {
        llfc_strbuf_puts(out, "Several entries match; ask for one of them:\n");
        for (int i = 0; i < m->n; i++)
            if (!strcmp(llfc_man_short_name(m->entry[i].name), short_name))
                llfc_strbuf_printf(out, "  help(\"%s\")\n", m->entry[i].name);
        return 1;
    }
    return 0;
}

/* No entry is named s: list those whose name or text mention its words. */
static int apropos(llfc_strbuf *out, const char *s, int width)
{
    const llfc_man *m = manpage();
    enum { MAX_HITS = 40 };
    int hits[MAX_HITS];
    int n = llfc_man_search(m, s, hits, MAX_HITS);
    if (n == 0) return 0;
    llfc_strbuf_printf(out, "No entry is named '%s'; %d mention%s it:\n", s, n, n == 1 ? "s" : "");
    for (int i = 0; i < n && i < MAX_HITS; i++) entry_line(out, m->entry[hits[i]].name, &m->entry[hits[i]], width);
    if (n > MAX_HITS) llfc_strbuf_printf(out, "  ... and %d more (add a word to narrow the search)\n", n - MAX_HITS);
    llfc_strbuf_puts(out, "help(\"NAME\") shows one.\n");
    return 1;
}

/* Build the documentation of the value at idx into out.  Returns 1, or 0
 * with an explanation in out. */
static int build_doc(lua_State *L, int idx, llfc_strbuf *out, int width)
{
    idx = lua_absindex(L, idx);
    int t = lua_type(L, idx);
    if (lua_rawequal(L, idx, LLFC_TABLE)) { doc_overview(L, out, width); return 1; }
    if (t == LUA_TSTRING) {
        const char *s = lua_tostring(L, idx);
        const llfc_man_entry *en = entry_for(s);
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
        if (en) { llfc_man_entry_text(out, en, width); return 1; }
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
        if (apropos(out, s, width)) return 1;
        llfc_strbuf_printf(out, "no documentation for '%s': no entry is named so or mentions it (help() lists the modules)", s);
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
        const llfc_man_entry *en = entry_for(nm);
        if (en) llfc_man_entry_text(out, en, width);
        else { llfc_strbuf_puts(out, nm); llfc_strbuf_puts(out, " has no documentation yet"); }
        lua_pop(L, 1);
        return en != NULL;
    }
    if (t == LUA_TFUNCTION && std_name(L, idx)) {
        llfc_strbuf_puts(out, lua_tostring(L, -1));
        llfc_strbuf_puts(out, " is a standard Lua function: see the Lua 5.4 reference manual");
        lua_pop(L, 1);
        return 0;
    }
    llfc_strbuf_puts(out, "no documentation for this ");
    llfc_strbuf_puts(out, luaL_typename(L, idx));
    llfc_strbuf_puts(out, " (help() lists the modules)");
    return 0;
}

/* llfc.doc([x [, width]]) -> text | nil, message */
static int l_doc(lua_State *L)
{
    int n = lua_gettop(L);
    int width = (int)luaL_optinteger(L, 2, llfc_man_term_width());
    if (width < 20) width = 20;
    llfc_strbuf *b = lb_newstrbuf(L);
    int ok = 1;
    if (n == 0) doc_overview(L, b, width);
    else ok = build_doc(L, 1, b, width);
    if (!ok) lua_pushnil(L);
    lua_pushlstring(L, b->s ? b->s : "", b->len);
    return ok ? 1 : 2;
}

/* help([x]) prints the documentation of x (or the overview). */
static int l_help(lua_State *L)
{
    int n = lua_gettop(L);
    llfc_strbuf *b = lb_newstrbuf(L);
    if (n == 0) doc_overview(L, b, llfc_man_term_width());
    else build_doc(L, 1, b, llfc_man_term_width());
    if (b->len == 0 || b->s[b->len - 1] != '\n') llfc_strbuf_putc(b, '\n');
    fwrite(b->s, 1, b->len, stdout);
    fflush(stdout);
    return 0;
}

/* Install help and doc into the llfc table at idx. */
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
