/* l_sweep.c - Lua binding of the sweep module.  The public functions
 * (sweep.new, Sweep:task, Sweep:run, sweep.summary, ...) are written in Lua
 * (lua/llfc/sweep.lua); this file gives them the core's primitives as the
 * private table package.loaded["llfc.sweep.c"]:
 *   json_encode(v) -> string        JSON on one line, object keys sorted (cJSON)
 *   json_decode(s) -> v | nil, msg  null stands for NaN (cJSON writes NaN and inf as null)
 *   sha256(s) -> hex                sha256_file(path) -> hex | nil, msg
 *   append(path, line) -> true | nil, msg   (a row appended under a file lock)
 *   mkdir(path) -> true | nil, msg (with parents)   write(path, s) -> true | nil, msg (atomic)
 *   env() -> {built, launched, active, rank, size, local_size, cores, host}
 *   finalize()                      cli() -> {task =, array_index =, levels =} | nil
 *   run(ids, deps, retries) -> Run  (deps: {{1-based indices}, ...}; a bad graph raises)
 *     Run:order() -> {task indices}   Run:levels() -> {level of each task}
 *     Run:set_done(i, row)  Run:start(opts) -> workers   Run:next() -> i, attempt, inputs | nil
 *     Run:report(i, ok, row)  Run:finish()  Run:counts() -> {...}  Run:state(i) -> name
 *   watch_sigint(on)  sigint() -> bool (a Ctrl-C arrived since watch_sigint(true))
 *   utc() -> "YYYY-MM-DDThh:mm:ssZ"   now() -> seconds (monotonic)
 *   checkopts(opts, fname)          a typo of a known option raises (lb_checktypos)
 */
#include "lbind.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "dist/sha256.h"

#define RUN_MT "llfc.sweep.Run" /* private: not a public llfc.<Type> */

/* ---- JSON ------------------------------------------------------------------------- */
static int jsonbox_gc(lua_State *L)
{
    cJSON **box = lua_touserdata(L, 1);
    if (*box) cJSON_Delete(*box), *box = NULL;
    return 0;
}

/* A cJSON tree owned by a userdata on the stack (freed by the GC if a Lua
 * error is raised before it is released). */
static cJSON **push_jsonbox(lua_State *L)
{
    cJSON **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    if (luaL_newmetatable(L, "llfc.sweep.json")) {
        lua_pushcfunction(L, jsonbox_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return box;
}

typedef struct { char path[256]; size_t plen; char err[512]; } jctx;

static cJSON *jerr(jctx *c, const char *what)
{
    snprintf(c->err, sizeof c->err, "%s%s%s", c->plen ? c->path : "", c->plen ? ": " : "", what);
    return NULL;
}

static int cmp_keys(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Lua value at idx -> cJSON, or NULL with c->err naming the place ("out.x[2]: ..."). */
static cJSON *to_json(lua_State *L, int idx, int depth, jctx *c)
{
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TNIL: return cJSON_CreateNull();
    case LUA_TBOOLEAN: return cJSON_CreateBool(lua_toboolean(L, idx));
    case LUA_TNUMBER: return cJSON_CreateNumber((double)lua_tonumber(L, idx));
    case LUA_TSTRING: return cJSON_CreateString(lua_tostring(L, idx));
    case LUA_TTABLE: break;
    default: {
        char m[96];
        snprintf(m, sizeof m, "a %s cannot be stored as JSON", luaL_typename(L, idx));
        return jerr(c, m);
    }
    }
    if (depth > 64) return jerr(c, "tables nested more than 64 deep (a cycle?)");
    luaL_checkstack(L, 6, "JSON nested too deep");
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0, strings = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        count++;
        if (lua_type(L, -2) == LUA_TSTRING) strings++;
        else if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1 || lua_tointeger(L, -2) > n) {
            lua_pop(L, 2);
            return jerr(c, "a table whose keys are neither 1..n nor strings cannot be stored as JSON");
        }
        lua_pop(L, 1);
    }
    if (strings && strings != count)
        return jerr(c, "a table with both list items and named fields cannot be stored as JSON");
    size_t plen = c->plen;
    if (count > 0 && !strings) { /* a list */
        cJSON *a = cJSON_CreateArray();
        if (!a) return jerr(c, "out of memory");
        for (lua_Integer i = 1; i <= n; i++) {
            int w = snprintf(c->path + plen, sizeof c->path - plen, "[%lld]", (long long)i);
            c->plen = w > 0 && plen + (size_t)w < sizeof c->path ? plen + (size_t)w : plen;
            lua_rawgeti(L, idx, i);
            cJSON *v = to_json(L, -1, depth + 1, c);
            lua_pop(L, 1);
            c->plen = plen, c->path[plen] = '\0';
            if (!v) { cJSON_Delete(a); return NULL; }
            cJSON_AddItemToArray(a, v);
        }
        return a;
    }
    /* an object, keys sorted so that equal tables give equal text */
    const char **keys = lua_newuserdatauv(L, (size_t)(count ? count : 1) * sizeof *keys, 0);
    int nk = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        keys[nk++] = lua_tostring(L, -1); /* the strings stay referenced by the table */
    }
    qsort(keys, (size_t)nk, sizeof *keys, cmp_keys);
    cJSON *o = cJSON_CreateObject();
    if (!o) { lua_pop(L, 1); return jerr(c, "out of memory"); }
    for (int k = 0; k < nk; k++) {
        int w = snprintf(c->path + plen, sizeof c->path - plen, "%s%s", plen ? "." : "", keys[k]);
        c->plen = w > 0 && plen + (size_t)w < sizeof c->path ? plen + (size_t)w : plen;
        lua_getfield(L, idx, keys[k]);
        cJSON *v = to_json(L, -1, depth + 1, c);
        lua_pop(L, 1);
        c->plen = plen, c->path[plen] = '\0';
        if (!v) { cJSON_Delete(o); lua_pop(L, 1); return NULL; }
        cJSON_AddItemToObject(o, keys[k], v);
    }
    lua_pop(L, 1);
    return o;
}

static int l_json_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    cJSON **box = push_jsonbox(L);
    jctx c;
    c.plen = 0, c.path[0] = '\0', c.err[0] = '\0';
    if (!(*box = to_json(L, 1, 0, &c))) return luaL_error(L, "json: %s", c.err);
    char *txt = cJSON_PrintUnformatted(*box);
    cJSON_Delete(*box), *box = NULL;
    if (!txt) return luaL_error(L, "json: out of memory");
    lua_pushstring(L, txt);
    cJSON_free(txt);
    return 1;
}

static void push_json(lua_State *L, const cJSON *j, int depth)
{
    luaL_checkstack(L, 4, "JSON nested too deep");
    if (cJSON_IsBool(j)) lua_pushboolean(L, cJSON_IsTrue(j));
    else if (cJSON_IsNumber(j)) {
        double v = j->valuedouble;
        if (v == floor(v) && fabs(v) < 9007199254740992.0) lua_pushinteger(L, (lua_Integer)v);
        else lua_pushnumber(L, v);
    } else if (cJSON_IsString(j)) lua_pushstring(L, j->valuestring);
    else if (cJSON_IsArray(j)) {
        lua_createtable(L, cJSON_GetArraySize(j), 0);
        int i = 1;
        for (const cJSON *c = j->child; c; c = c->next) {
            push_json(L, c, depth + 1);
            lua_rawseti(L, -2, i++);
        }
    } else if (cJSON_IsObject(j)) {
        lua_newtable(L);
        for (const cJSON *c = j->child; c; c = c->next) {
            push_json(L, c, depth + 1);
            lua_setfield(L, -2, c->string ? c->string : "");
        }
    } else lua_pushnumber(L, NAN); /* null: a NaN or an infinity when written */
}

static int l_json_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    cJSON **box = push_jsonbox(L);
    const char *end = NULL;
    *box = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    if (!*box) {
        lua_pushnil(L);
        lua_pushfstring(L, "bad JSON near byte %d", end ? (int)(end - s) + 1 : 0);
        return 2;
    }
    push_json(L, *box, 0);
    cJSON_Delete(*box), *box = NULL;
    return 1;
}

/* ---- hashes, files, the environment --------------------------------------------------- */
static int l_sha256(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    char hex[65];
    llfc_sha256_hex(s, n, hex);
    lua_pushstring(L, hex);
    return 1;
}

static int l_sha256_file(lua_State *L)
{
    char hex[65];
    if (llfc_sha256_file(lb_checkpath(L, 1), hex) != 0) return lb_fail(L, "sha256");
    lua_pushstring(L, hex);
    return 1;
}

static int l_append(lua_State *L)
{
    if (llfc_rows_append(lb_checkpath(L, 1), luaL_checkstring(L, 2)) != 0) return lb_fail(L, "sweep");
    lua_pushboolean(L, 1);
    return 1;
}

static int l_mkdir(lua_State *L)
{
    if (llfc_mkdirs(lb_checkpath(L, 1)) != 0) return lb_fail(L, "sweep");
    lua_pushboolean(L, 1);
    return 1;
}

static int l_env(lua_State *L)
{
    llfc_dist_env e;
    if (llfc_dist_env_get(&e) != 0) return lb_error(L, "sweep");
    lua_createtable(L, 0, 8);
    lua_pushboolean(L, e.built), lua_setfield(L, -2, "built");
    lua_pushboolean(L, e.launched), lua_setfield(L, -2, "launched");
    lua_pushboolean(L, e.active), lua_setfield(L, -2, "active");
    lua_pushinteger(L, e.rank), lua_setfield(L, -2, "rank");
    lua_pushinteger(L, e.size), lua_setfield(L, -2, "size");
    lua_pushinteger(L, e.local_size), lua_setfield(L, -2, "local_size");
    lua_pushinteger(L, e.cores), lua_setfield(L, -2, "cores");
    lua_pushstring(L, e.host), lua_setfield(L, -2, "host");
    return 1;
}

static int l_finalize(lua_State *L)
{
    (void)L;
    llfc_dist_finalize();
    return 0;
}

static int l_cli(lua_State *L)
{
    llfc_sweep_cli *c = llfc_sweep_cli_get();
    if (!c->task && !c->has_array && !c->levels) return 0;
    c->used = 1;
    lua_createtable(L, 0, 3);
    if (c->task) lua_pushstring(L, c->task), lua_setfield(L, -2, "task");
    if (c->has_array) lua_pushinteger(L, c->array_index), lua_setfield(L, -2, "array_index");
    if (c->levels) lua_pushboolean(L, 1), lua_setfield(L, -2, "levels");
    return 1;
}

/* checkopts(opts, fname): a typo in an options table of the sweep functions
 * is an error naming the option meant (lb_checktypos) */
static int l_checkopts(lua_State *L)
{
    static const char *const new_opts[] = {"dir", "name", "retries", "data", "rank0_works", "progress",
                                           "allow_nan", "threads", NULL};
    static const char *const task_opts[] = {"id", "params", "deps", "run", NULL};
    static const char *const run_opts[] = {"task", "array_index", "levels", "mpi", NULL};
    static const char *const summary_opts[] = {"by", "values", NULL};
    static const char *const series_opts[] = {"x", "y", "series", "title", NULL};
    static const struct { const char *fname; const char *const *known; } sets[] = {
        {"sweep.new", new_opts}, {"Sweep:task", task_opts}, {"Sweep:run", run_opts},
        {"sweep.summary", summary_opts}, {"sweep.series", series_opts},
    };
    luaL_checktype(L, 1, LUA_TTABLE);
    const char *fname = luaL_checkstring(L, 2);
    for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++)
        if (!strcmp(sets[k].fname, fname)) {
            lb_checktypos(L, 1, sets[k].known, fname);
            return 0;
        }
    return luaL_argerror(L, 2, "unknown function");
}

static int l_utc(lua_State *L)
{
    char buf[32];
    llfc_utc_stamp(buf);
    lua_pushstring(L, buf);
    return 1;
}

static int l_now(lua_State *L) { lua_pushnumber(L, llfc_now()); return 1; }

/* ---- Ctrl-C while a sweep runs -----------------------------------------------------
 * The REPL's handler turns Ctrl-C into an error or into a partial result (a
 * training stops early and returns); a task must never be recorded as done
 * after that, so the sweep notes every SIGINT here and passes it on. */
static struct sigaction g_old_int;
static volatile sig_atomic_t g_sigint_seen;
static int g_watching;

static void on_sigint(int sig)
{
    g_sigint_seen = 1;
    if (g_old_int.sa_handler == SIG_IGN) return;
    if (g_old_int.sa_handler == SIG_DFL) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    g_old_int.sa_handler(sig);
}

static int l_watch_sigint(lua_State *L)
{
    int on = lua_toboolean(L, 1);
    if (on && !g_watching) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sigemptyset(&sa.sa_mask);
        sa.sa_handler = on_sigint;
        if (sigaction(SIGINT, &sa, &g_old_int) == 0) g_watching = 1;
        g_sigint_seen = 0;
    } else if (!on && g_watching) {
        sigaction(SIGINT, &g_old_int, NULL);
        g_watching = 0;
    }
    return 0;
}

static int l_sigint(lua_State *L)
{
    lua_pushboolean(L, g_sigint_seen);
    return 1;
}

/* ---- Run: the graph, the scheduler and the runner -------------------------------------- */
typedef struct { llfc_sched *s; llfc_dist *d; } run_box;

static int run_gc(lua_State *L)
{
    run_box *b = luaL_checkudata(L, 1, RUN_MT);
    if (b->d) llfc_dist_free(b->d), b->d = NULL;
    if (b->s) llfc_sched_free(b->s), b->s = NULL;
    return 0;
}

static run_box *checkrun(lua_State *L)
{
    run_box *b = luaL_checkudata(L, 1, RUN_MT);
    if (!b->s) luaL_error(L, "sweep: the run has been closed");
    return b;
}

static int checktask(lua_State *L, run_box *b, int idx)
{
    lua_Integer i = luaL_checkinteger(L, idx);
    int n = llfc_sched_size(b->s);
    luaL_argcheck(L, i >= 1 && i <= n, idx, lua_pushfstring(L, "task index must be in 1..%d", n));
    return (int)i - 1;
}

/* run(ids, deps, retries): ids {"a", "b", ...}; deps {{1}, {}, ...} */
static int l_run(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer retries = luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, retries >= 0 && retries <= 1000, 3, "retries must be in 0..1000");
    lua_Integer n = luaL_len(L, 1);
    luaL_argcheck(L, n >= 0 && n < (1 << 28), 1, "too many tasks");
    lua_settop(L, 3);
    lua_createtable(L, (int)n, 0); /* 4: keeps the dependency blocks alive */
    /* scratch memory in userdata: freed by the GC if an error is raised */
    const char **ids = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *ids, 0);
    int *nd = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *nd, 0);
    const int **dp = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *dp, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        ids[i - 1] = luaL_checkstring(L, -1);
        lua_pop(L, 1); /* the string stays referenced by the table */
        lua_rawgeti(L, 2, i);
        lua_Integer m = lua_istable(L, -1) ? luaL_len(L, -1) : 0;
        int *d = lua_newuserdatauv(L, (size_t)(m ? m : 1) * sizeof *d, 0);
        for (lua_Integer k = 1; k <= m; k++) {
            lua_rawgeti(L, -2, k);
            d[k - 1] = (int)luaL_checkinteger(L, -1) - 1;
            lua_pop(L, 1);
        }
        nd[i - 1] = (int)m, dp[i - 1] = d;
        lua_rawseti(L, 4, i);
        lua_pop(L, 1);
    }
    run_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->s = NULL, b->d = NULL;
    luaL_setmetatable(L, RUN_MT);
    b->s = llfc_sched_new((int)n, ids, nd, dp, (int)retries);
    if (!b->s) return lb_error(L, "sweep");
    return 1;
}

static int run_order(lua_State *L)
{
    run_box *b = checkrun(L);
    int n = llfc_sched_size(b->s);
    const int *o = llfc_sched_order(b->s);
    lua_createtable(L, n, 0);
    for (int k = 0; k < n; k++) lua_pushinteger(L, o[k] + 1), lua_rawseti(L, -2, k + 1);
    return 1;
}

static int run_levels(lua_State *L)
{
    run_box *b = checkrun(L);
    int n = llfc_sched_size(b->s);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) lua_pushinteger(L, llfc_sched_level(b->s, i)), lua_rawseti(L, -2, i + 1);
    return 1;
}

static int run_set_done(lua_State *L)
{
    run_box *b = checkrun(L);
    int i = checktask(L, b, 2);
    if (llfc_sched_set_done(b->s, i, luaL_checkstring(L, 3)) != 0) return lb_error(L, "sweep");
    return 0;
}

static int run_start(lua_State *L)
{
    run_box *b = checkrun(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    if (b->d) return luaL_error(L, "sweep: the run has already started");
    llfc_dist_opts o;
    memset(&o, 0, sizeof o);
    o.results = lb_optstring(L, 2, "results", NULL, "sweep");
    o.digest = lb_optstring(L, 2, "digest", "", "sweep");
    o.name = lb_optstring(L, 2, "name", "", "sweep");
    o.use_mpi = lb_optboolean(L, 2, "mpi", 1, "sweep");
    o.rank0_works = lb_optboolean(L, 2, "rank0_works", 1, "sweep");
    o.progress = (int)lb_optinteger(L, 2, "progress", 1, "sweep");
    if (!(b->d = llfc_dist_start(b->s, &o))) return lb_error(L, "sweep");
    lua_pushinteger(L, llfc_dist_workers(b->d));
    return 1;
}

static run_box *checkstarted(lua_State *L)
{
    run_box *b = checkrun(L);
    if (!b->d) luaL_error(L, "sweep: the run has not started");
    return b;
}

static int run_next(lua_State *L)
{
    run_box *b = checkstarted(L);
    int t = -1, att = 0;
    char *in = NULL;
    int rc = llfc_dist_next(b->d, &t, &att, &in);
    if (rc < 0) return lb_error(L, "sweep");
    if (rc == 0) return 0;
    lua_pushinteger(L, t + 1);
    lua_pushinteger(L, att);
    lua_pushstring(L, in ? in : "[]");
    llfc_free(in);
    return 3;
}

static int run_report(lua_State *L)
{
    run_box *b = checkstarted(L);
    int i = checktask(L, b, 2);
    int ok = lua_toboolean(L, 3);
    const char *row = luaL_checkstring(L, 4);
    if (llfc_dist_report(b->d, i, ok, row) != 0) return lb_error(L, "sweep");
    return 0;
}

static int run_finish(lua_State *L)
{
    run_box *b = checkstarted(L);
    int rc = llfc_dist_finish(b->d);
    if (rc != 0) return lb_error(L, "sweep");
    return 0;
}

static int run_counts(lua_State *L)
{
    run_box *b = checkrun(L);
    llfc_sched_counts c;
    if (b->d) llfc_dist_counts(b->d, &c);
    else llfc_sched_counts_get(b->s, &c);
    lua_createtable(L, 0, 9);
    lua_pushinteger(L, c.total), lua_setfield(L, -2, "total");
    lua_pushinteger(L, c.done), lua_setfield(L, -2, "done");
    lua_pushinteger(L, c.failed), lua_setfield(L, -2, "failed");
    lua_pushinteger(L, c.skipped), lua_setfield(L, -2, "skipped");
    lua_pushinteger(L, c.running), lua_setfield(L, -2, "running");
    lua_pushinteger(L, c.ready + c.waiting), lua_setfield(L, -2, "waiting");
    lua_pushinteger(L, c.ran), lua_setfield(L, -2, "ran");
    lua_pushinteger(L, c.attempts), lua_setfield(L, -2, "failed_attempts");
    return 1;
}

static int run_state(lua_State *L)
{
    static const char *names[] = {"waiting", "ready", "running", "done", "failed", "skipped"};
    run_box *b = checkrun(L);
    int i = checktask(L, b, 2);
    lua_pushstring(L, names[llfc_sched_state(b->s, i)]);
    return 1;
}

int llfc_open_sweep(lua_State *L)
{
    static const luaL_Reg run_meth[] = {
        {"order", run_order}, {"levels", run_levels}, {"set_done", run_set_done}, {"start", run_start},
        {"next", run_next}, {"report", run_report}, {"finish", run_finish}, {"counts", run_counts},
        {"state", run_state}, {NULL, NULL},
    };
    static const luaL_Reg run_mm[] = {{"__gc", run_gc}, {"__close", run_gc}, {NULL, NULL}};
    static const luaL_Reg prims[] = {
        {"json_encode", l_json_encode}, {"json_decode", l_json_decode}, {"sha256", l_sha256},
        {"sha256_file", l_sha256_file}, {"append", l_append}, {"env", l_env}, {"finalize", l_finalize},
        {"cli", l_cli}, {"run", l_run}, {"watch_sigint", l_watch_sigint}, {"sigint", l_sigint},
        {"utc", l_utc}, {"now", l_now}, {"mkdir", l_mkdir},
        {"checkopts", l_checkopts}, {NULL, NULL},
    };
    lb_newtype(L, RUN_MT, run_meth, run_mm);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_newtable(L);
    luaL_setfuncs(L, prims, 0);
    lua_setfield(L, -2, "llfc.sweep.c");
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_getfield(L, -1, "llfc.sweep");
    lua_remove(L, -2);
    if (!lua_isfunction(L, -1)) { /* no embedded module: primitives only */
        lua_pop(L, 1);
        lua_getfield(L, -1, "llfc.sweep.c");
        lua_remove(L, -2);
        return 1;
    }
    lua_pushliteral(L, "llfc.sweep");
    lua_call(L, 1, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "llfc.sweep");
    lua_remove(L, -2);
    return 1;
}
