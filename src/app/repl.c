/* repl.c - the llfc REPL and script runner.
 *
 * Reading: GNU Readline in callback mode (so Ctrl-C at the prompt only clears
 * the line) when standard input is a terminal, plain getline() otherwise.
 * Evaluating (as lua.c): try "return <line>" first so expressions print their
 * values; otherwise run the line as a statement; while the compiler complains
 * about '<eof>' read more lines.  A trailing ';' suppresses printing.
 * Interrupting: SIGINT sets llfc_interrupt_flag (polled by the C kernels) and a
 * count hook that raises "interrupted!" at the next Lua instruction unless a
 * kernel consumed the interrupt (stopped cleanly, cleared the flag and
 * returned a partial result); both are cleared before each command, so the
 * objects survive.
 * Also here: tab completion through tables and metatables, the history file,
 * colour (only on a terminal, never with NO_COLOR).
 */
#include "app/repl.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>
#include <readline/history.h>
#include <readline/readline.h>

#include "core/core.h"
#include "lua/llfclib.h"

#define PROMPT1 "llfc> "
#define PROMPT2 "...> "
#define HISTORY_SIZE 1000
#define HISTORY_FILE ".llfc_history"

static lua_State *g_L;                            /* for the signal handler */
static int g_batch = 1;                           /* script / -e mode */
static int g_interactive;                         /* errors without "llfc: " */
static int g_color_out, g_color_err;              /* colour on stdout/stderr */
static volatile sig_atomic_t g_running;           /* a chunk is executing */
static volatile sig_atomic_t g_sigints;           /* Ctrl-C count while running */
static volatile sig_atomic_t g_input_sigint;      /* Ctrl-C while reading */
static volatile sig_atomic_t g_winch;             /* terminal resized */
static volatile sig_atomic_t g_in_handler;        /* inside msghandler */

/* ---- signals -------------------------------------------------------------- */

static int msghandler(lua_State *L);

/* The count hook: raise "interrupted!" at the next Lua instruction.  Never
 * inside the message handler (that would turn an error into "error in error
 * handling"). */
static void lstop(lua_State *L, lua_Debug *ar)
{
    if (g_in_handler) return;
    if (ar->event == LUA_HOOKCALL && lua_getinfo(L, "f", ar)) {
        int ours = lua_tocfunction(L, -1) == msghandler;
        lua_pop(L, 1);
        if (ours) return;
    }
    lua_sethook(L, NULL, 0, 0);
    /* a C kernel that stopped cleanly on the flag and returned its partial
     * result has consumed the interrupt (cleared the flag): let Lua go on */
    if (!llfc_interrupt_flag) return;
    luaL_error(L, "interrupted!");
}

static void on_sigint(int sig)
{
    if (!g_running) { g_input_sigint = 1; return; }
    if (!llfc_interrupt_flag) g_sigints = 0; /* the last one was consumed by a kernel */
    g_sigints++;
    llfc_interrupt_flag = 1;
    if ((g_batch && g_sigints >= 2) || (!g_batch && g_sigints >= 3)) {
        /* the running code does not respond: end the program */
        static const char msg[] = "\nllfc: interrupted again, quitting\n";
        if (!g_batch && write(2, msg, sizeof msg - 1) < 0) { /* nothing to do */ }
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    lua_sethook(g_L, lstop, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
}

static void on_sigwinch(int sig) { (void)sig; g_winch = 1; }

void llfc_repl_signals(lua_State *L, int batch)
{
    struct sigaction sa;
    g_L = L;
    g_batch = batch;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_sigint;
    sa.sa_flags = 0; /* no SA_RESTART: select()/getline() return EINTR */
    sigaction(SIGINT, &sa, NULL);
    if (!batch) {
        sa.sa_handler = on_sigwinch;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGWINCH, &sa, NULL);
    }
}

/* ---- running chunks and reporting ------------------------------------------- */

static int msghandler(lua_State *L)
{
    g_in_handler = 1;
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) {
            g_in_handler = 0;
            return 1;
        }
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    g_in_handler = 0;
    return 1;
}

static int docall(lua_State *L, int narg, int nres)
{
    int base = lua_gettop(L) - narg;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    g_L = L;
    llfc_interrupt_clear();
    g_sigints = 0;
    g_in_handler = 0;
    g_running = 1;
    int st = lua_pcall(L, narg, nres, base);
    g_running = 0;
    lua_sethook(L, NULL, 0, 0);
    llfc_interrupt_clear();
    lua_remove(L, base);
    return st;
}

/* Is this traceback line one of the REPL's own frames? */
static int own_frame(const char *s, size_t n)
{
    static const char *pats[] = {"[C]: in ?", "in main chunk", "[C]: in function 'error'",
                                 "[C]: in function 'assert'", NULL};
    for (int i = 0; pats[i]; i++) {
        size_t m = strlen(pats[i]);
        for (size_t k = 0; k + m <= n; k++)
            if (!memcmp(s + k, pats[i], m)) return 1;
    }
    return 0;
}

/* Is this traceback line inside llfc itself: C, or a Lua module embedded in
 * llfc ("[llfc] llfc.view:212: ...") or the tail calls into one? */
static int library_frame(const char *s, size_t n)
{
    static const char *pats[] = {"\t[C]", "\t[llfc] ", "\t(...tail calls...)", NULL};
    for (int i = 0; pats[i]; i++)
        if (n >= strlen(pats[i]) && !memcmp(s, pats[i], strlen(pats[i]))) return 1;
    return 0;
}

/* In the REPL, a traceback that only shows the typed line itself and llfc's
 * own frames (an error raised by llfc's C or embedded Lua code on bad
 * arguments) is noise: print the message alone.  Otherwise print everything
 * but the final "[C]: in ?". */
static void print_error(const char *msg)
{
    const char *tb = strstr(msg, "\nstack traceback:\n");
    size_t keep = strlen(msg);
    if (tb && g_interactive) {
        int useful = 0;
        const char *p = tb + strlen("\nstack traceback:\n");
        while (*p) {
            const char *e = strchr(p, '\n');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            if (!own_frame(p, n) && !library_frame(p, n)) useful = 1;
            p += n + (e != NULL);
        }
        if (!useful) keep = tb - msg;
    }
    if (tb) {
        const char *last = strstr(msg, "\n\t[C]: in ?");
        if (last && last[strlen("\n\t[C]: in ?")] == '\0' && (size_t)(last - msg) < keep)
            keep = last - msg;
    }
    if (g_color_err) fputs("\033[31m", stderr);
    if (!g_interactive) fputs("llfc: ", stderr);
    fwrite(msg, 1, keep, stderr);
    if (g_color_err) fputs("\033[0m", stderr);
    fputc('\n', stderr);
    fflush(stderr);
}

static int report(lua_State *L, int st)
{
    if (st != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        print_error(msg ? msg : "(error object is not a string)");
        lua_pop(L, 1);
    }
    return st;
}

int llfc_repl_dostring(lua_State *L, const char *code, const char *chunkname)
{
    int st = luaL_loadbuffer(L, code, strlen(code), chunkname);
    if (st == LUA_OK) st = docall(L, 0, 0);
    return report(L, st);
}

void llfc_repl_setargs(lua_State *L, int argc, char **argv, int script)
{
    if (script >= argc) script = 0; /* no script: arg[0] is the program */
    lua_createtable(L, argc - script, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

int llfc_repl_dofile(lua_State *L, const char *path)
{
    int st = luaL_loadfile(L, path);
    if (st == LUA_OK) {
        int n = 0;
        if (lua_getglobal(L, "arg") == LUA_TTABLE) {
            n = (int)luaL_len(L, -1);
            luaL_checkstack(L, n + 3, "too many arguments to script");
            for (int i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
            lua_remove(L, -n - 1);
        } else {
            lua_pop(L, 1);
        }
        st = docall(L, n, 0);
    }
    return report(L, st);
}

int llfc_repl_require(lua_State *L, const char *name)
{
    lua_getglobal(L, "require");
    lua_pushstring(L, name);
    int st = docall(L, 1, 1);
    if (st == LUA_OK) lua_setglobal(L, name);
    return report(L, st);
}

lua_State *llfc_repl_newstate(void)
{
    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "llfc: cannot create the Lua state (out of memory)\n");
        return NULL;
    }
    luaL_openlibs(L);
    lua_pushcfunction(L, llfc_open_all);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {   /* e.g. a bad LLFC_BLAS */
        fprintf(stderr, "llfc: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return NULL;
    }
    lua_pushvalue(L, -1);
    lua_setglobal(L, "llfc");
    static const char *mods[] = {"tensor", "data", "nn", "perm", "metrics", "view", "sweep", NULL};
    for (int i = 0; mods[i]; i++) {
        lua_getfield(L, -1, mods[i]);
        lua_setglobal(L, mods[i]);
    }
    lua_getfield(L, -1, "help");
    lua_setglobal(L, "help");
    lua_getfield(L, -1, "demo");
    lua_setglobal(L, "demo");
    lua_pop(L, 1);
    return L;
}

/* ---- evaluating one statement ------------------------------------------------ */

/* print(...) of the values on the stack, run protected since __tostring may
 * fail.  Values are separated by tabs, as print does; when one of them takes
 * several lines (a network, a result table) each value starts on a line of
 * its own instead, so that two multi-line values are not joined by a tab. */
static int print_values(lua_State *L)
{
    int n = lua_gettop(L), multiline = 0;
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        multiline |= memchr(s, '\n', len) != NULL;
        lua_replace(L, i);
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s = lua_tolstring(L, i, &len);
        if (i > 1) luaL_addchar(&b, multiline ? '\n' : '\t');
        luaL_addlstring(&b, s, len);
    }
    luaL_addchar(&b, '\n');
    luaL_pushresult(&b);
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    fwrite(s, 1, len, stdout);
    fflush(stdout);
    return 0;
}

static int incomplete(lua_State *L, int st)
{
    static const char mark[] = "<eof>";
    size_t ml = sizeof mark - 1, len;
    if (st != LUA_ERRSYNTAX) return 0;
    const char *msg = lua_tolstring(L, -1, &len);
    return msg && len >= ml && !strcmp(msg + len - ml, mark);
}

static int ends_with_semicolon(const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
    return n > 0 && s[n - 1] == ';';
}

enum { EVAL_DONE = 0, EVAL_ERROR = 1, EVAL_MORE = 2 };

/* Compile and run the statement in buf.  EVAL_MORE: it is incomplete. */
static int evaluate(lua_State *L, const char *buf)
{
    int top = lua_gettop(L);
    int quiet = ends_with_semicolon(buf);
    int st, ret_incomplete = 0;
    if (!quiet) {
        const char *code = lua_pushfstring(L, "return %s;", buf);
        st = luaL_loadbuffer(L, code, strlen(code), "=stdin");
        lua_remove(L, -2);
        if (st == LUA_OK) goto run;
        ret_incomplete = incomplete(L, st);
        lua_pop(L, 1);
    }
    st = luaL_loadbuffer(L, buf, strlen(buf), "=stdin");
    if (st != LUA_OK) {
        if (incomplete(L, st) || ret_incomplete) {
            lua_settop(L, top);
            return EVAL_MORE;
        }
        report(L, st);
        lua_settop(L, top);
        return EVAL_ERROR;
    }
run:
    st = docall(L, 0, LUA_MULTRET);
    if (st != LUA_OK) {
        if (g_sigints > 0 && isatty(2)) fputc('\n', stderr); /* after the echoed ^C */
        report(L, st);
        lua_settop(L, top);
        return EVAL_ERROR;
    }
    /* a kernel consumed the Ctrl-C and returned a partial result: end the
     * line of the echoed ^C, so the next prompt starts a line */
    if (g_sigints > 0 && isatty(2)) fputc('\n', stderr);
    if (!quiet && lua_gettop(L) > top) {
        int n = lua_gettop(L) - top;
        lua_pushcfunction(L, print_values);
        lua_insert(L, top + 1);
        if (lua_pcall(L, n, 0, 0) != LUA_OK) {
            const char *m = lua_tostring(L, -1);
            print_error(lua_pushfstring(L, "error printing the result: %s", m ? m : "?"));
        }
    }
    lua_settop(L, top);
    return EVAL_DONE;
}

/* ---- completion ------------------------------------------------------------------ */

static const char *const keywords[] = {
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
    "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while", NULL};

static char **cand;       /* candidates of the current completion */
static size_t ncand, icand, capcand;

static void cand_clear(void)
{
    for (size_t i = 0; i < ncand; i++) free(cand[i]);
    ncand = icand = 0;
}

static void cand_add(const char *head, size_t hlen, const char *key, const char *suffix)
{
    if (ncand >= 20000) return;
    if (ncand == capcand) {
        size_t nc = capcand ? 2 * capcand : 64;
        char **p = realloc(cand, nc * sizeof *p);
        if (!p) return;
        cand = p;
        capcand = nc;
    }
    size_t kl = strlen(key), sl = strlen(suffix);
    char *s = malloc(hlen + kl + sl + 1);
    if (!s) return;
    memcpy(s, head, hlen);
    memcpy(s + hlen, key, kl);
    memcpy(s + hlen + kl, suffix, sl + 1);
    cand[ncand++] = s;
}

static int is_ident(const char *s, size_t n)
{
    if (n == 0 || !(s[0] == '_' || ((s[0] | 32) >= 'a' && (s[0] | 32) <= 'z'))) return 0;
    for (size_t i = 1; i < n; i++)
        if (!(s[i] == '_' || ((s[i] | 32) >= 'a' && (s[i] | 32) <= 'z') || (s[i] >= '0' && s[i] <= '9')))
            return 0;
    for (int i = 0; keywords[i]; i++)
        if (strlen(keywords[i]) == n && !memcmp(keywords[i], s, n)) return 0;
    return 1;
}

/* Push the method table of the value at idx: its metatable's __index when
 * that is a table, else mt.methods, else the first upvalue of a function
 * __index (types whose __index also serves fields).  0: nothing pushed. */
static int push_index_table(lua_State *L, int idx)
{
    int top = lua_gettop(L);
    if (!lua_getmetatable(L, idx)) return 0;
    int t = lua_getfield(L, -1, "__index");
    if (t == LUA_TTABLE) goto found;
    lua_pop(L, 1);
    if (lua_getfield(L, -1, "methods") == LUA_TTABLE) goto found;
    lua_pop(L, 1);
    if (t == LUA_TFUNCTION) {
        lua_getfield(L, -1, "__index");
        if (lua_getupvalue(L, -1, 1) && lua_istable(L, -1)) {
            lua_remove(L, -2);
            goto found;
        }
    }
    lua_settop(L, top);
    return 0;
found:
    lua_remove(L, -2);
    return 1;
}

/* Raw lookup of t[key] following __index tables (no code runs). */
static void lookup(lua_State *L, int t, const char *key, size_t klen)
{
    t = lua_absindex(L, t);
    lua_pushvalue(L, t);
    for (int depth = 0; depth < 16; depth++) {
        if (lua_type(L, -1) == LUA_TTABLE) {
            lua_pushlstring(L, key, klen);
            if (lua_rawget(L, -2) != LUA_TNIL) {
                lua_remove(L, -2);
                return;
            }
            lua_pop(L, 1);
        }
        if (!push_index_table(L, -1)) break;
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
    lua_pushnil(L);
}

static const char *suffix_for(lua_State *L, int idx)
{
    switch (lua_type(L, idx)) {
    case LUA_TTABLE: return ".";
    case LUA_TFUNCTION: return "(";
    case LUA_TUSERDATA:
        if (push_index_table(L, idx)) { lua_pop(L, 1); return ":"; }
        return "";
    default: return "";
    }
}

/* Add the identifier keys of the table at idx (and of its __index chain)
 * that start with part; methods_only keeps functions only. */
static void add_keys(lua_State *L, int idx, const char *head, size_t hlen, const char *part,
                     int methods_only)
{
    size_t plen = strlen(part);
    idx = lua_absindex(L, idx);
    lua_pushvalue(L, idx);
    for (int depth = 0; depth < 16; depth++) {
        if (lua_type(L, -1) == LUA_TTABLE && !(methods_only && depth == 0 && lua_type(L, idx) != LUA_TTABLE)) {
            lua_pushnil(L);
            while (lua_next(L, -2)) {
                size_t kl;
                if (lua_type(L, -2) == LUA_TSTRING) {
                    const char *k = lua_tolstring(L, -2, &kl);
                    if (kl >= plen && !memcmp(k, part, plen) && is_ident(k, kl) &&
                        (!methods_only || lua_type(L, -1) == LUA_TFUNCTION) &&
                        !(kl > 2 && k[0] == '_' && k[1] == '_' && plen < 2))
                        cand_add(head, hlen, k, suffix_for(L, -1));
                }
                lua_pop(L, 1);
            }
        }
        if (!push_index_table(L, -1)) break;
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
}

/* Build the candidates for text, e.g. "tens", "tensor.ne", "t:m". */
static void complete_expr(lua_State *L, const char *text)
{
    int top = lua_gettop(L);
    const char *sep = NULL;
    for (const char *p = text; *p; p++)
        if (*p == '.' || *p == ':') sep = p;
    if (!sep) {
        size_t n = strlen(text);
        for (int i = 0; keywords[i]; i++)
            if (!strncmp(keywords[i], text, n)) cand_add("", 0, keywords[i], "");
        lua_pushglobaltable(L);
        add_keys(L, -1, "", 0, text, 0);
        lua_settop(L, top);
        return;
    }
    /* walk the prefix a.b.c from the globals; ':' only as the last separator */
    lua_pushglobaltable(L);
    const char *p = text;
    while (p < sep) {
        const char *e = p;
        while (e < sep && *e != '.' && *e != ':') e++;
        if (!is_ident(p, e - p) || (*e == ':' && e != sep)) { lua_settop(L, top); return; }
        if (lua_type(L, -1) != LUA_TTABLE) { /* only values with a metatable have fields */
            if (!lua_getmetatable(L, -1)) { lua_settop(L, top); return; }
            lua_pop(L, 1);
        }
        lookup(L, -1, p, e - p);
        lua_remove(L, -2);
        p = e + 1;
    }
    add_keys(L, -1, text, sep - text + 1, sep + 1, *sep == ':');
    lua_settop(L, top);
}

static char *generator(const char *text, int state)
{
    (void)text;
    return icand < ncand ? strdup(cand[icand++]) : NULL;
}

/* Inside a string literal?  Count the unescaped quotes before `start`. */
static int in_string(const char *line, int start)
{
    char q = 0;
    for (int i = 0; i < start && line[i]; i++) {
        if (q) {
            if (line[i] == '\\' && line[i + 1]) i++;
            else if (line[i] == q) q = 0;
        } else if (line[i] == '"' || line[i] == '\'') {
            q = line[i];
        } else if (line[i] == '-' && line[i + 1] == '-') {
            return 0;
        }
    }
    return q != 0;
}

static char **attempt_completion(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1;
    if (in_string(rl_line_buffer, start))
        return rl_completion_matches(text, rl_filename_completion_function);
    rl_completion_suppress_append = 1;
    cand_clear();
    complete_expr(g_L, text);
    if (ncand == 0) return NULL;
    return rl_completion_matches(text, generator);
}

/* ---- the history file -------------------------------------------------------------- */

static char *history_path;

static void history_open(void)
{
    const char *env = getenv("LLFC_HISTORY");
    if (env) {
        if (!*env) return; /* LLFC_HISTORY= disables the file */
        history_path = strdup(env);
    } else {
        const char *home = getenv("HOME");
        if (!home || !*home) return;
        size_t n = strlen(home) + sizeof HISTORY_FILE + 2;
        history_path = malloc(n);
        if (history_path) snprintf(history_path, n, "%s/%s", home, HISTORY_FILE);
    }
    if (!history_path) return;
    history_comment_char = '#'; /* timestamps ("#123") delimit multi-line entries */
    history_write_timestamps = 1;
    history_multiline_entries = 1;
    stifle_history(HISTORY_SIZE);
    if (read_history(history_path) == ENOENT) write_history(history_path);
}

static void history_add(const char *entry)
{
    if (!*entry) return;
    HIST_ENTRY *last = history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
    if (last && !strcmp(last->line, entry)) return;
    add_history(entry);
    if (history_path) append_history(1, history_path);
}

static void history_close(void)
{
    if (!history_path) return;
    history_truncate_file(history_path, HISTORY_SIZE);
    free(history_path);
    history_path = NULL;
}

/* ---- feeding lines ------------------------------------------------------------------ */

/* The statement being typed: lines joined by '\n' while it is incomplete. */
static char *g_pending;
static int g_failed, g_tty;

/* Feed one input line (takes it); returns 1 while the statement is incomplete. */
static int feed(lua_State *L, char *line)
{
    if (g_pending) {
        size_t a = strlen(g_pending), b = strlen(line);
        char *nb = realloc(g_pending, a + b + 2);
        if (!nb) { free(line); return 1; }
        nb[a] = '\n';
        memcpy(nb + a + 1, line, b + 1);
        free(line);
        g_pending = nb;
    } else {
        g_pending = line;
    }
    int ev = evaluate(L, g_pending);
    if (ev == EVAL_MORE) return 1;
    if (g_tty) history_add(g_pending);
    free(g_pending);
    g_pending = NULL;
    if (ev == EVAL_ERROR) g_failed = 1;
    return 0;
}

/* Drop the incomplete statement (kept in the history, to fetch it back). */
static void discard_pending(void)
{
    if (!g_pending) return;
    if (g_tty) history_add(g_pending);
    free(g_pending);
    g_pending = NULL;
}

/* ---- the terminal: readline's callback interface ----------------------------------
 * Lines are evaluated inside the line handler, with the handler kept installed,
 * as readline intends: readline leaves the terminal in its normal mode while
 * the handler runs, then shows the next prompt itself, and keys typed ahead
 * while a command ran are kept. */

static const char *g_prompt1 = PROMPT1, *g_prompt2 = PROMPT2;
static int g_eof;

static void on_line(char *line)
{
    if (!line) { /* Ctrl-D */
        g_eof = 1;
        rl_callback_handler_remove();
        return;
    }
    int more = feed(g_L, line);
    rl_set_prompt(more ? g_prompt2 : g_prompt1);
}

/* Ctrl-C at the prompt: drop the line (and any incomplete statement). */
static void clear_input(void)
{
    discard_pending();
    rl_free_line_state();
    rl_callback_sigcleanup();
    rl_replace_line("", 0);
    rl_point = rl_end = rl_mark = 0;
    using_history();
    fputs("^C", rl_outstream);
    rl_crlf();
    rl_set_prompt(g_prompt1);
    rl_on_new_line();
    rl_redisplay();
}

static void loop_tty(lua_State *L)
{
    g_eof = 0;
    rl_callback_handler_install(g_prompt1, on_line);
    int fd = rl_instream ? fileno(rl_instream) : 0;
    while (!g_eof) {
        if (g_winch) {
            g_winch = 0;
            rl_resize_terminal();
        }
        if (g_input_sigint) {
            g_input_sigint = 0;
            clear_input();
            continue;
        }
        if (rl_pending_input) { /* a key readline pushed back */
            rl_callback_read_char();
            continue;
        }
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(fd, &fds);
        int r = select(fd + 1, &fds, NULL, NULL, NULL);
        if (r < 0 && errno != EINTR) break;
        if (r > 0) rl_callback_read_char();
    }
    if (!g_eof) rl_callback_handler_remove();
    (void)L;
}

/* Not a terminal: plain lines, no prompt. */
static int loop_plain(lua_State *L)
{
    for (;;) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n = getline(&line, &cap, stdin);
        if (n < 0) {
            free(line);
            if (g_input_sigint) return 130;
            break;
        }
        if (n > 0 && line[n - 1] == '\n') line[--n] = '\0';
        if (n > 0 && line[n - 1] == '\r') line[--n] = '\0';
        feed(L, line);
    }
    if (g_pending) { /* input ended inside a statement: say what is wrong */
        if (luaL_loadbuffer(L, g_pending, strlen(g_pending), "=stdin") != LUA_OK) report(L, LUA_ERRSYNTAX);
        else lua_pop(L, 1);
        free(g_pending);
        g_pending = NULL;
        g_failed = 1;
    }
    return 0;
}

/* ---- the loop ------------------------------------------------------------------------- */

static int color_ok(int fd)
{
    const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
    if (nc && *nc) return 0;
    if (term && !strcmp(term, "dumb")) return 0;
    return isatty(fd);
}

int llfc_repl_loop(lua_State *L)
{
    int result = 0;
    g_tty = isatty(0);
    g_interactive = 1;
    g_failed = 0;
    llfc_repl_signals(L, !g_tty);
    g_color_out = color_ok(1);
    g_color_err = g_color_out && isatty(2);
    if (g_tty) {
        if (g_color_out) {
            g_prompt1 = "\001\033[1;32m\002llfc>\001\033[0m\002 ";
            g_prompt2 = "\001\033[32m\002...>\001\033[0m\002 ";
        }
        rl_readline_name = "llfc";
        rl_catch_signals = 0;
        rl_catch_sigwinch = 0;
        rl_attempted_completion_function = attempt_completion;
        rl_basic_word_break_characters = " \t\n\"'`<>=;|&{}()[],+-*/%^#~";
        rl_completer_word_break_characters = rl_basic_word_break_characters;
        history_open();
        printf("llfc %s (%s)  help() for help, Ctrl-D to quit\n", LLFC_VERSION_STRING, LUA_RELEASE);
        fflush(stdout);
        loop_tty(L);
        discard_pending();
        fputc('\n', stdout);
        history_close();
    } else {
        result = loop_plain(L);
    }
    cand_clear();
    free(cand);
    cand = NULL;
    capcand = 0;
    fflush(stdout);
    g_interactive = 0;
    if (result) return result;
    return !g_tty && g_failed ? 1 : 0;
}
