/* l_train.c - Lua binding of training (nn module): the Trainer object
 * (net:trainer, Trainer:run / history / fork / reseed), the history tables,
 * the progress bar and model files.  net:train, nn.spawn and nn.pair are
 * written in Lua on top of it (lua/llfc/train.lua). */
#include "lbind.h"
#include "nn/build.h"
#include "nn/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- options ------------------------------------------------------------------------ */
typedef struct {
    llfc_train_opts o;
    lua_Integer epochs, steps;  /* one of them > 0 */
    lua_Integer seed;
    int progress, view;
    int aug_pad, aug_flip;       /* option augment: crop padding, flips (0 0: off) */
} train_cfg;

/* What one run reads from the options when it starts (stack indices, 0 = none). */
typedef struct {
    int on_step, on_epoch, test;
    int viewset;                 /* a list of histories the view overlays */
    const char *label;           /* the progress bar's prefix */
    int oneline;                 /* one progress line for the whole run */
} run_opts;

static int opt_function(lua_State *L, int idx, const char *field, const char *fname)
{
    if (!lua_istable(L, idx)) return 0;
    lua_getfield(L, idx, field);
    if (lua_isnil(L, -1)) { lua_pop(L, 1); return 0; }
    if (!lua_isfunction(L, -1)) luaL_error(L, "%s: option '%s' must be a function, got %s", fname, field, luaL_typename(L, -1));
    return lua_gettop(L); /* left on the stack */
}

#define LLFC_MAX_STEPS ((int64_t)1 << 40)

/* every option train, nn.spawn and nn.pair read, for catching typos */
static const char *const train_opt_names[] = {
    "lr", "momentum", "nesterov", "weight_decay", "wd", "batch", "schedule", "warmup", "warmup_epochs", "step_size",
    "step_epochs", "gamma", "lr_min", "epochs", "steps", "seed", "progress", "view", "title", "callback", "on_step",
    "on_epoch", "test", "k", "unit", "seeds", "seed0", "init_seeds", "init", "act", "augment", NULL};

/* Option augment = true (crop 4, flip) | false | {crop = 4, flip = true}
 * (missing fields take those values); only for data with an image shape. */
static void read_augment(lua_State *L, int idx, const llfc_dataset *ds, train_cfg *c, const char *fname)
{
    c->aug_pad = c->aug_flip = 0;
    if (!lua_istable(L, idx)) return;
    lua_getfield(L, idx, "augment");
    int a = lua_gettop(L);
    if (lua_isnil(L, a) || (lua_isboolean(L, a) && !lua_toboolean(L, a))) { lua_pop(L, 1); return; }
    lua_Integer pad = 4;
    int flip = 1;
    if (lua_istable(L, a)) {
        for (lua_pushnil(L); lua_next(L, a); lua_pop(L, 1))
            if (lua_type(L, -2) != LUA_TSTRING || (strcmp(lua_tostring(L, -2), "crop") && strcmp(lua_tostring(L, -2), "flip")))
                luaL_error(L, "%s: option 'augment' has an unknown field %s (it takes crop = pixels, flip = boolean)",
                           fname, lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : luaL_typename(L, -2));
        pad = lb_optinteger(L, a, "crop", 4, fname);
        flip = lb_optboolean(L, a, "flip", 1, fname);
    } else if (!lua_isboolean(L, a)) {
        luaL_error(L, "%s: option 'augment' must be true, false or {crop = 4, flip = true}, got %s", fname,
                   luaL_typename(L, a));
    }
    lua_pop(L, 1);
    if (!pad && !flip) return;
    if (ds->c <= 0)
        luaL_error(L, "%s: option 'augment' needs images (a dataset with shape {c, h, w}); %s has flat samples of dim %I",
                   fname, ds->name[0] ? ds->name : "the dataset", (lua_Integer)ds->dim);
    if (pad < 0 || pad > (ds->h < ds->w ? ds->h : ds->w))
        luaL_error(L, "%s: option 'augment': crop = %I out of range [0, %d] for %dx%d images", fname, pad,
                   ds->h < ds->w ? ds->h : ds->w, ds->h, ds->w);
    c->aug_pad = (int)pad;
    c->aug_flip = flip;
}

/* The callbacks and the test set of the options at idx, left on the stack. */
static void read_run_opts(lua_State *L, int idx, run_opts *r, const char *fname)
{
    memset(r, 0, sizeof *r);
    r->on_step = opt_function(L, idx, "callback", fname);
    if (!r->on_step) r->on_step = opt_function(L, idx, "on_step", fname);
    r->on_epoch = opt_function(L, idx, "on_epoch", fname);
    if (lua_istable(L, idx)) {
        lua_getfield(L, idx, "test");
        if (lua_isnil(L, -1)) lua_pop(L, 1);
        else {
            if (!lb_todataset(L, -1))
                luaL_error(L, "%s: option 'test' must be a dataset, got %s", fname, luaL_typename(L, -1));
            r->test = lua_gettop(L);
        }
    }
}

static void read_cfg(lua_State *L, int idx, const llfc_dataset *ds, train_cfg *c, const char *fname)
{
    if (!lua_isnoneornil(L, idx)) luaL_checktype(L, idx, LUA_TTABLE);
    lb_checktypos(L, idx, train_opt_names, fname);
    if (ds->n < 1)
        luaL_error(L, "%s: the dataset %s is empty (0 samples): nothing to train on", fname,
                   ds->name[0] ? ds->name : "given");
    llfc_train_opts_default(&c->o);
    c->o.lr = lb_optnumber(L, idx, "lr", c->o.lr, fname);
    c->o.momentum = lb_optnumber(L, idx, "momentum", c->o.momentum, fname);
    c->o.nesterov = lb_optboolean(L, idx, "nesterov", 0, fname);
    c->o.weight_decay = lb_optnumber(L, idx, "weight_decay", lb_optnumber(L, idx, "wd", 0, fname), fname);
    c->o.batch = lb_optinteger(L, idx, "batch", c->o.batch, fname);
    if (c->o.batch < 1) luaL_error(L, "%s: option 'batch' must be positive, got %d", fname, (int)c->o.batch);
    const char *sched = lb_optstring(L, idx, "schedule", "constant", fname);
    c->o.sched = llfc_sched_from_name(sched);
    if (c->o.sched < 0) luaL_error(L, "%s: unknown schedule '%s' (constant, step, cosine, linear)", fname, sched);
    int64_t spe = (ds->n + c->o.batch - 1) / c->o.batch;
    c->o.warmup = lb_optinteger(L, idx, "warmup", 0, fname);
    lua_Integer we = lb_optinteger(L, idx, "warmup_epochs", 0, fname);
    if (we > 0) c->o.warmup = we * spe;
    c->o.step_size = lb_optinteger(L, idx, "step_size", 0, fname);
    lua_Integer se = lb_optinteger(L, idx, "step_epochs", 0, fname);
    if (se > 0) c->o.step_size = se * spe;
    c->o.gamma = lb_optnumber(L, idx, "gamma", 0.1, fname);
    c->o.lr_min = lb_optnumber(L, idx, "lr_min", 0, fname);
    c->epochs = lb_optinteger(L, idx, "epochs", 0, fname);
    c->steps = lb_optinteger(L, idx, "steps", 0, fname);
    if (c->epochs < 0 || c->steps < 0) luaL_error(L, "%s: epochs and steps must be >= 0", fname);
    if (c->epochs && c->steps) luaL_error(L, "%s: give epochs or steps, not both", fname);
    if (!c->epochs && !c->steps) c->epochs = 1;
    if (c->steps > LLFC_MAX_STEPS || c->epochs > LLFC_MAX_STEPS / spe) /* also keeps epochs * spe from overflowing */
        luaL_error(L, "%s: a run of %I epochs / %I steps is too long (at most %I steps of batch %I)", fname,
                   (lua_Integer)c->epochs, (lua_Integer)c->steps, (lua_Integer)LLFC_MAX_STEPS, (lua_Integer)c->o.batch);
    c->o.total_steps = c->steps ? c->steps : c->epochs * spe;
    c->seed = lb_optinteger(L, idx, "seed", 1, fname);
    c->view = lb_optboolean(L, idx, "view", 0, fname);
    /* the view has its own status line: a bar on stderr would scribble over it */
    c->progress = lb_optboolean(L, idx, "progress", isatty(2), fname) && isatty(2) && !c->view;
    lb_optstring(L, idx, "title", NULL, fname);
    read_augment(L, idx, ds, c, fname);
    run_opts r;
    read_run_opts(L, idx, &r, fname); /* checks their types now */
}

/* ---- history tables ------------------------------------------------------------------ */
static const char *const step_fields[] = {"step", "epoch", "loss", "acc", "lr", NULL};

static int hist_tostring(lua_State *L)
{
    /* a luaL_Buffer cannot be used while reading fields */
    llfc_strbuf *b = lb_newstrbuf(L);
    lua_getfield(L, 1, "loss");
    lua_Integer nsteps = lua_istable(L, -1) ? luaL_len(L, -1) : 0;
    lua_pop(L, 1);
    lua_getfield(L, 1, "seconds");
    double secs = lua_tonumber(L, -1);
    lua_getfield(L, 1, "examples");
    double ex = lua_tonumber(L, -1);
    lua_getfield(L, 1, "interrupted");
    int intr = lua_toboolean(L, -1);
    lua_pop(L, 3);
    char line[256];
    snprintf(line, sizeof line, "train: %lld steps, %.2f s, %.0f examples/s%s\n", (long long)nsteps, secs,
             secs > 0 ? ex / secs : 0.0, intr ? " (interrupted)" : "");
    llfc_strbuf_puts(b, line);
    lua_getfield(L, 1, "epochs");
    int ep = lua_gettop(L);
    int has_test = 0;
    if (lua_istable(L, ep) && luaL_len(L, ep) > 0) {
        /* entries that are not tables (an edited history) are skipped: printing never raises */
        if (lua_geti(L, ep, 1) == LUA_TTABLE) {
            lua_getfield(L, -1, "test_err");
            has_test = !lua_isnil(L, -1);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        snprintf(line, sizeof line, "  %5s %7s %9s %8s %9s%s\n", "epoch", "step", "loss", "acc", "lr",
                 has_test ? "  test_err test_loss" : "");
        llfc_strbuf_puts(b, line);
        lua_Integer ne = luaL_len(L, ep);
        for (lua_Integer i = 1; i <= ne; i++) {
            if (lua_geti(L, ep, i) != LUA_TTABLE) { lua_pop(L, 1); continue; }
            lua_getfield(L, -1, "epoch");
            lua_getfield(L, -2, "step");
            lua_getfield(L, -3, "loss");
            lua_getfield(L, -4, "acc");
            lua_getfield(L, -5, "lr");
            snprintf(line, sizeof line, "  %5lld %7lld %9.4f %7.2f%% %9.3g", (long long)lua_tointeger(L, -5),
                     (long long)lua_tointeger(L, -4), lua_tonumber(L, -3), 100 * lua_tonumber(L, -2),
                     lua_tonumber(L, -1));
            llfc_strbuf_puts(b, line);
            lua_pop(L, 5);
            if (has_test) {
                lua_getfield(L, -1, "test_err");
                lua_getfield(L, -2, "test_loss");
                snprintf(line, sizeof line, "  %7.2f%% %9.4f", 100 * lua_tonumber(L, -2), lua_tonumber(L, -1));
                llfc_strbuf_puts(b, line);
                lua_pop(L, 2);
            }
            llfc_strbuf_puts(b, "\n");
            lua_pop(L, 1);
        }
    } else if (nsteps > 0) {
        lua_getfield(L, 1, "loss");
        lua_geti(L, -1, nsteps);
        if (lua_getfield(L, 1, "acc") == LUA_TTABLE) lua_geti(L, -1, nsteps);
        else lua_pushnil(L);
        snprintf(line, sizeof line, "  last step: loss %.4f, batch accuracy %.2f%%\n", lua_tonumber(L, -3),
                 100 * lua_tonumber(L, -1));
        llfc_strbuf_puts(b, line);
        lua_pop(L, 4);
    }
    lua_pop(L, 1);
    lb_pushstrbuf(L, b, 1);
    return 1;
}

static void push_history(lua_State *L, const train_cfg *c, const char *phase)
{
    lua_createtable(L, 0, 16);
    lua_pushstring(L, "train");
    lua_setfield(L, -2, "kind");
    for (int i = 0; step_fields[i]; i++) {
        lua_newtable(L);
        lua_setfield(L, -2, step_fields[i]);
    }
    lua_newtable(L);
    lua_setfield(L, -2, "epochs");
    lua_pushinteger(L, c->seed);
    lua_setfield(L, -2, "seed");
    lua_pushnumber(L, c->o.lr);
    lua_setfield(L, -2, "lr0");
    lua_pushinteger(L, (lua_Integer)c->o.batch);
    lua_setfield(L, -2, "batch");
    lua_pushstring(L, llfc_sched_name(c->o.sched));
    lua_setfield(L, -2, "schedule");
    lua_pushinteger(L, (lua_Integer)c->o.total_steps);
    lua_setfield(L, -2, "total_steps");
    if (c->aug_pad || c->aug_flip) {
        lua_createtable(L, 0, 2);
        lua_pushinteger(L, c->aug_pad);
        lua_setfield(L, -2, "crop");
        lua_pushboolean(L, c->aug_flip);
        lua_setfield(L, -2, "flip");
        lua_setfield(L, -2, "augment");
    }
    if (phase) {
        lua_pushstring(L, phase);
        lua_setfield(L, -2, "phase");
    }
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "interrupted");
    lua_pushnumber(L, 0);
    lua_setfield(L, -2, "seconds");
    lua_pushnumber(L, 0);
    lua_setfield(L, -2, "examples");
    if (luaL_newmetatable(L, "llfc.TrainHistory")) {
        lua_pushcfunction(L, hist_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_setmetatable(L, -2);
}

static void append(lua_State *L, int hist, const char *field, lua_Number v, int isint)
{
    lua_getfield(L, hist, field);
    if (isint) lua_pushinteger(L, (lua_Integer)v); else lua_pushnumber(L, v);
    lua_rawseti(L, -2, luaL_len(L, -2) + 1);
    lua_pop(L, 1);
}

/* ---- one training run with callbacks, progress bar and view ----------------------------- */
typedef struct {
    lua_State *L;
    const train_cfg *c;
    const run_opts *ro;
    llfc_trainer *t;
    int hist;               /* stack index */
    int64_t planned;        /* steps in this run */
    int64_t done;
    double t0, tlast_draw, tlast_view, seconds0, examples0;
    double ep_loss, ep_acc;
    int64_t ep_n;
    int64_t examples;
    int drawn;
    int64_t last_epoch;     /* the epoch this run ends in */
    int err;                /* a callback's error (registry reference) or LUA_NOREF */
} run_ctx;

static void draw_bar(run_ctx *r, const llfc_step_info *s, int final)
{
    double now = llfc_now();
    if (!final && now - r->tlast_draw < 0.1) return;
    r->tlast_draw = now;
    double el = now - r->t0, frac = r->planned ? (double)r->done / (double)r->planned : 1.0;
    double eta = frac > 0 ? el / frac - el : 0;
    char bar[21];
    int fill = (int)(frac * 20);
    for (int i = 0; i < 20; i++) bar[i] = i < fill ? '#' : '.';
    bar[20] = 0;
    double loss = r->ep_n ? r->ep_loss / r->ep_n : s->loss, acc = r->ep_n ? r->ep_acc / r->ep_n : s->acc;
    const char *label = r->ro->label;
    fprintf(stderr, "\r%s%sepoch %lld/%lld [%s] %3.0f%% loss %.4f acc %5.2f%% %6.0f ex/s ETA %d:%02d ",
            label ? label : "", label ? " " : "", (long long)s->epoch, (long long)r->last_epoch, bar, 100 * frac, loss,
            100 * acc, el > 0 ? r->examples / el : 0.0, (int)(eta / 60), (int)eta % 60);
    if (final) fputc('\n', stderr);
    fflush(stderr);
    r->drawn = !final;
}

static void set_totals(run_ctx *r)
{
    lua_State *L = r->L;
    double el = llfc_now() - r->t0;
    lua_pushnumber(L, r->seconds0 + el);
    lua_setfield(L, r->hist, "seconds");
    lua_pushnumber(L, r->examples0 + (double)r->examples);
    lua_setfield(L, r->hist, "examples");
}

/* Call the callback at f with the step; returns 1 if it asks to stop.  An
 * error inside it stops the run: Ctrl-C (the REPL's hook raises at the next
 * Lua instruction) as an interrupt, anything else is kept in *err (a
 * registry reference) and raised once the core's loop has returned. */
static int call_cb(lua_State *L, int f, const llfc_step_info *s, double loss, double acc, int *err)
{
    lua_pushvalue(L, f);
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, (lua_Integer)s->step);
    lua_setfield(L, -2, "step");
    lua_pushinteger(L, (lua_Integer)s->epoch);
    lua_setfield(L, -2, "epoch");
    lua_pushnumber(L, loss);
    lua_setfield(L, -2, "loss");
    lua_pushnumber(L, acc);
    lua_setfield(L, -2, "acc");
    lua_pushnumber(L, s->lr);
    lua_setfield(L, -2, "lr");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        if (llfc_interrupted()) lua_pop(L, 1);
        else if (*err == LUA_NOREF) *err = luaL_ref(L, LUA_REGISTRYINDEX);
        else lua_pop(L, 1);
        return 1;
    }
    int stop = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
    lua_pop(L, 1);
    return stop;
}

static int on_step(void *ud, const llfc_step_info *s)
{
    run_ctx *r = ud;
    lua_State *L = r->L;
    const train_cfg *c = r->c;
    const run_opts *ro = r->ro;
    int stop = 0;
    r->done++;
    r->examples += s->n;
    r->ep_loss += s->loss * s->n;
    r->ep_acc += s->acc * s->n;
    r->ep_n += s->n;
    append(L, r->hist, "step", (lua_Number)s->step, 1);
    append(L, r->hist, "epoch", (lua_Number)s->epoch, 1);
    append(L, r->hist, "loss", s->loss, 0);
    append(L, r->hist, "acc", s->acc, 0);
    append(L, r->hist, "lr", s->lr, 0);
    if (ro->on_step && call_cb(L, ro->on_step, s, s->loss, s->acc, &r->err)) stop = 1;
    if (s->epoch_end) {
        double el = llfc_now() - r->t0;
        lua_getfield(L, r->hist, "epochs");
        lua_createtable(L, 0, 8);
        lua_pushinteger(L, (lua_Integer)s->epoch);
        lua_setfield(L, -2, "epoch");
        lua_pushinteger(L, (lua_Integer)s->step);
        lua_setfield(L, -2, "step");
        lua_pushnumber(L, r->ep_loss / r->ep_n);
        lua_setfield(L, -2, "loss");
        lua_pushnumber(L, r->ep_acc / r->ep_n);
        lua_setfield(L, -2, "acc");
        lua_pushnumber(L, s->lr);
        lua_setfield(L, -2, "lr");
        lua_pushnumber(L, r->seconds0 + el);
        lua_setfield(L, -2, "seconds");
        if (ro->test) {
            llfc_eval_result ev;
            if (llfc_net_eval_ds(r->t->net, lb_checkdataset(L, ro->test), 1000, &ev, NULL, NULL) == 0) {
                lua_pushnumber(L, ev.err);
                lua_setfield(L, -2, "test_err");
                lua_pushnumber(L, ev.loss);
                lua_setfield(L, -2, "test_loss");
            }
        }
        lua_rawseti(L, -2, luaL_len(L, -2) + 1);
        lua_pop(L, 1);
        if (ro->on_epoch && call_cb(L, ro->on_epoch, s, r->ep_loss / r->ep_n, r->ep_acc / r->ep_n, &r->err)) stop = 1;
        /* a finished epoch keeps its line, unless the run asked for one line */
        if (c->progress) draw_bar(r, s, !ro->oneline || r->done == r->planned);
        r->ep_loss = r->ep_acc = 0;
        r->ep_n = 0;
    } else if (c->progress) {
        draw_bar(r, s, 0);
    }
    if (c->view) {
        double now = llfc_now();
        if (s->epoch_end || now - r->tlast_view > 0.25 || r->done == r->planned) {
            r->tlast_view = now;
            set_totals(r);
            if (lb_view_update(L, ro->viewset ? ro->viewset : r->hist)) stop = 1;
        }
    }
    return stop;
}

/* ---- the Trainer object ------------------------------------------------------------------ *
 * A userdata holding the core trainer and the options it was made with;
 * its user values keep the options table (callbacks, test set), the net
 * (which the core trainer borrows) and the dataset alive. */
#define TRAINER_MT "llfc.Trainer"

typedef struct {
    llfc_trainer *t;
    train_cfg c;
    char fname[32];
} trainer_box;

static trainer_box *check_trainer(lua_State *L, int idx)
{
    trainer_box *b = luaL_checkudata(L, idx, TRAINER_MT);
    if (!b->t) luaL_error(L, "the trainer was freed");
    return b;
}

static int trainer_gc(lua_State *L)
{
    trainer_box *b = luaL_checkudata(L, 1, TRAINER_MT);
    llfc_trainer_free(b->t);
    b->t = NULL;
    return 0;
}

/* A new box on the stack with the options at opts, the net at net and the
 * dataset at ds as user values. */
static trainer_box *push_trainer(lua_State *L, int opts, int net, int ds)
{
    opts = lua_absindex(L, opts), net = lua_absindex(L, net), ds = lua_absindex(L, ds);
    trainer_box *b = lua_newuserdatauv(L, sizeof *b, 3);
    memset(b, 0, sizeof *b);
    luaL_setmetatable(L, TRAINER_MT);
    lua_pushvalue(L, opts);
    lua_setiuservalue(L, -2, 1);
    lua_pushvalue(L, net);
    lua_setiuservalue(L, -2, 2);
    lua_pushvalue(L, ds);
    lua_setiuservalue(L, -2, 3);
    return b;
}

/* net:trainer(ds [, opts [, fname]]) -> an llfc.Trainer: SGD on net with
 * the training options (as net:train); errors name fname (the workflow that
 * makes the trainer: train, nn.pair, ...; Net:trainer by default). */
static int net_trainer(lua_State *L)
{
    llfc_net *net = lb_checknet(L, 1);
    llfc_dataset *ds = lb_checkdataset(L, 2);
    const char *fname = luaL_optstring(L, 4, "Net:trainer");
    if (lua_isnoneornil(L, 3)) {
        lua_settop(L, 2);
        lua_newtable(L);
    }
    lua_settop(L, 3);
    train_cfg c;
    read_cfg(L, 3, ds, &c, fname);
    lua_settop(L, 3);
    trainer_box *b = push_trainer(L, 3, 1, 2);
    b->c = c;
    snprintf(b->fname, sizeof b->fname, "%s", fname);
    if (!(b->t = llfc_trainer_new(net, ds, &c.o, (uint64_t)c.seed))) return lb_error(L, fname);
    if (llfc_trainer_set_augment(b->t, c.aug_pad, c.aug_flip)) return lb_error(L, fname);
    return 1;
}

/* Trainer:history([phase [, seed]]) -> a new history table for this trainer's runs */
static int trainer_history(lua_State *L)
{
    trainer_box *b = check_trainer(L, 1);
    train_cfg c = b->c;
    c.seed = luaL_optinteger(L, 3, (lua_Integer)b->t->seed);
    push_history(L, &c, luaL_optstring(L, 2, NULL));
    return 1;
}

/* Trainer:run(nsteps, history [, {label =, viewset =, oneline =}]) -> interrupted
 * Trains up to nsteps steps, appending to history, with the progress bar,
 * the callbacks and the live view of the trainer's options.  Ctrl-C (or a
 * callback or the view asking to stop) ends the run early: true if it was
 * Ctrl-C.  Divergence raises (the net keeps the weights of the last good step). */
static int trainer_run(lua_State *L)
{
    trainer_box *b = check_trainer(L, 1);
    lua_Integer nsteps = luaL_checkinteger(L, 2);
    luaL_argcheck(L, nsteps >= 0, 2, "the number of steps must be >= 0");
    luaL_checktype(L, 3, LUA_TTABLE);
    /* a history of Trainer:history: the step and epoch lists the run appends to */
    for (int i = 0; step_fields[i]; i++) {
        lua_getfield(L, 3, step_fields[i]);
        luaL_argexpected(L, lua_istable(L, -1), 3, "history table (Trainer:history)");
        lua_pop(L, 1);
    }
    lua_getfield(L, 3, "epochs");
    luaL_argexpected(L, lua_istable(L, -1), 3, "history table (Trainer:history)");
    lua_pop(L, 1);
    run_opts ro;
    lua_getiuservalue(L, 1, 1);
    int opts = lua_gettop(L);
    read_run_opts(L, opts, &ro, b->fname);
    if (lua_istable(L, 4)) {
        lua_getfield(L, 4, "label");
        ro.label = lua_tostring(L, -1);
        lua_getfield(L, 4, "viewset");
        if (lua_istable(L, -1)) ro.viewset = lua_gettop(L);
        ro.oneline = lb_optboolean(L, 4, "oneline", 0, b->fname);
    }
    run_ctx r;
    memset(&r, 0, sizeof r);
    r.L = L;
    r.c = &b->c;
    r.ro = &ro;
    r.t = b->t;
    r.hist = 3;
    r.err = LUA_NOREF;
    r.planned = nsteps;
    r.t0 = llfc_now();
    int64_t spe = llfc_trainer_steps_per_epoch(b->t);
    r.last_epoch = (b->t->opt.step + nsteps + spe - 1) / spe;
    lua_getfield(L, 3, "seconds");
    r.seconds0 = lua_tonumber(L, -1);
    lua_getfield(L, 3, "examples");
    r.examples0 = lua_tonumber(L, -1);
    lua_pop(L, 2);
    int64_t done;
    int intr;
    int rc = llfc_trainer_run(b->t, nsteps, on_step, &r, &done, &intr);
    if (b->c.progress && r.drawn) fputc('\n', stderr);
    set_totals(&r);
    if (r.err != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, r.err);
        luaL_unref(L, LUA_REGISTRYINDEX, r.err);
        return lua_error(L);
    }
    if (rc) return lb_error(L, b->fname);
    if (intr) {
        llfc_interrupt_clear();
        lua_pushboolean(L, 1);
        lua_setfield(L, 3, "interrupted");
    }
    lua_pushboolean(L, intr);
    return 1;
}

/* Trainer:fork(net) -> a copy of the whole trainer state (momentum, schedule
 * position, data order) that trains net, a copy of this trainer's net. */
static int trainer_fork(lua_State *L)
{
    trainer_box *b = check_trainer(L, 1);
    llfc_net *net = lb_checknet(L, 2);
    lua_getiuservalue(L, 1, 1);
    lua_getiuservalue(L, 1, 3);
    trainer_box *f = push_trainer(L, -2, 2, -1);
    f->c = b->c;
    memcpy(f->fname, b->fname, sizeof f->fname);
    if (!(f->t = llfc_trainer_clone(b->t, net))) return lb_error(L, "Trainer:fork");
    return 1;
}

/* Trainer:reseed(seed): the data order from here on (train.h) */
static int trainer_reseed(lua_State *L)
{
    trainer_box *b = check_trainer(L, 1);
    llfc_trainer_reseed(b->t, (uint64_t)luaL_checkinteger(L, 2));
    b->c.seed = luaL_checkinteger(L, 2);
    return 0;
}

/* fields: step (steps taken), total_steps, steps_per_epoch, seed; else a method */
static int trainer_index(lua_State *L)
{
    trainer_box *b = check_trainer(L, 1);
    const char *k = luaL_checkstring(L, 2);
    if (!strcmp(k, "step")) lua_pushinteger(L, (lua_Integer)b->t->opt.step);
    else if (!strcmp(k, "total_steps")) lua_pushinteger(L, (lua_Integer)b->c.o.total_steps);
    else if (!strcmp(k, "steps_per_epoch")) lua_pushinteger(L, (lua_Integer)llfc_trainer_steps_per_epoch(b->t));
    else if (!strcmp(k, "seed")) lua_pushinteger(L, (lua_Integer)b->t->seed);
    else {
        luaL_getmetatable(L, TRAINER_MT);
        lua_getfield(L, -1, "methods");
        lua_getfield(L, -1, k);
    }
    return 1;
}

static int trainer_tostring(lua_State *L)
{
    trainer_box *b = luaL_checkudata(L, 1, TRAINER_MT);
    if (!b->t) lua_pushstring(L, "llfc.Trainer (freed)");
    else
        lua_pushfstring(L, "llfc.Trainer: step %I of %I (%I per epoch), lr %f, batch %I, data-order seed %I",
                        (lua_Integer)b->t->opt.step, (lua_Integer)b->c.o.total_steps,
                        (lua_Integer)llfc_trainer_steps_per_epoch(b->t), (lua_Number)b->c.o.lr,
                        (lua_Integer)b->c.o.batch, (lua_Integer)b->t->seed);
    return 1;
}

static const luaL_Reg trainer_methods[] = {
    {"run", trainer_run},
    {"history", trainer_history},
    {"fork", trainer_fork},
    {"reseed", trainer_reseed},
    {NULL, NULL},
};

static const luaL_Reg trainer_meta[] = {
    {"__gc", trainer_gc},
    {"__close", trainer_gc},
    {"__tostring", trainer_tostring},
    {NULL, NULL},
};

/* ---- model files ------------------------------------------------------------------------ */

/* The path argument: a string (a number is no path). */
/* Option names = {from = to, ...} of the options table at idx into n (the
 * strings stay anchored in the table); raises on anything but strings. */
static void read_names(lua_State *L, int idx, llfc_names *n, const char *fname)
{
    memset(n, 0, sizeof *n);
    if (!lua_istable(L, idx)) return;
    lua_getfield(L, idx, "names");
    int t = lua_gettop(L);
    if (lua_isnil(L, t)) return;
    if (!lua_istable(L, t))
        luaL_error(L, "%s: option 'names' must be a table {old = new, ...}, got %s", fname, luaL_typename(L, t));
    int cap = 0;
    for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1)) cap++;
    const char **from = lua_newuserdatauv(L, sizeof *from * (size_t)(2 * cap + 1), 0), **to = from + cap;
    for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s: option 'names' maps tensor names to tensor names (strings), got %s = %s", fname,
                       luaL_typename(L, -2), luaL_typename(L, -1));
        from[n->n] = lua_tostring(L, -2), to[n->n] = lua_tostring(L, -1);
        n->n++;
    }
    n->from = from, n->to = to;
    if (llfc_names_check(n)) lb_error(L, fname);
}

/* net:save(path [, {names = {...}}]) -> true, or nil, message */
static int net_save(lua_State *L)
{
    llfc_net *net = lb_checknet(L, 1);
    const char *path = lb_checkpath(L, 2);
    static const char *const known[] = {"names", NULL};
    if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
    lb_checktypos(L, 3, known, "save");
    llfc_names names;
    read_names(L, 3, &names, "save");
    if (llfc_net_save_named(net, path, &names)) return lb_fail(L, "save");
    lua_pushboolean(L, 1);
    return 1;
}

/* nn.load(path [, {names = {...}, allow_nonfinite = false}]) -> net, or nil, message */
static int nn_load(lua_State *L)
{
    const char *path = lb_checkpath(L, 1);
    static const char *const known[] = {"names", "allow_nonfinite", NULL};
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    lb_checktypos(L, 2, known, "nn.load");
    llfc_names names;
    read_names(L, 2, &names, "nn.load");
    int allow = lb_optboolean(L, 2, "allow_nonfinite", 0, "nn.load");
    llfc_net *net = llfc_net_load_opts(path, &names, allow);
    if (!net) {
        int curve = lb_load_curve(L, path); /* a curve file (Curve:save) gives a curve */
        if (curve > 0) return 1;
        return lb_fail(L, "nn.load");
    }
    lb_pushnet(L, net);
    return 1;
}

const luaL_Reg lnn_train_methods[] = {
    {"trainer", net_trainer},
    {"save", net_save},
    {NULL, NULL},
};

const luaL_Reg lnn_train_funcs[] = {
    {"load", nn_load},
    {NULL, NULL},
};

/* checkarg(value, "net" | "dataset", n, fname) -> value: the argument checks
 * of the Lua-written functions (n = 0: a method's self) ("bad argument #n to 'fname' (llfc.Net
 * expected, got table)", or "network has been freed") */
static int l_checkarg(lua_State *L)
{
    const char *kind = luaL_checkstring(L, 2), *fname = luaL_checkstring(L, 4);
    int n = (int)luaL_checkinteger(L, 3), net = !strcmp(kind, "net");
    const char *mt = net ? LLFC_NET_MT : LLFC_DATASET_MT;
    void **box = luaL_testudata(L, 1, mt);
    char which[64];
    if (n > 0) snprintf(which, sizeof which, "bad argument #%d to '%s'", n, fname);
    else snprintf(which, sizeof which, "calling '%s' on bad self", fname);
    if (!box) {
        const char *got = luaL_typename(L, 1);
        if (luaL_getmetafield(L, 1, "__name") == LUA_TSTRING) got = lua_tostring(L, -1);
        return luaL_error(L, "%s (%s expected, got %s)", which, mt, got);
    }
    if (!*box) return luaL_error(L, "%s (%s has been freed)", which, net ? "network" : "dataset");
    lua_settop(L, 1);
    return 1;
}

/* The Trainer type (its __index serves the fields, then the methods). */
void lnn_open_trainer(lua_State *L)
{
    lb_newtype(L, TRAINER_MT, trainer_methods, trainer_meta);
    luaL_getmetatable(L, TRAINER_MT);
    lua_pushcfunction(L, trainer_index);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

void lnn_push_checkarg(lua_State *L) { lua_pushcfunction(L, l_checkarg); }

struct llfc_trainer *lb_checktrainer(lua_State *L, int idx) { return check_trainer(L, idx)->t; }
