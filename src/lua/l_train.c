/* l_train.c - Lua binding of training and spawning (nn module): net:train,
 * nn.spawn, nn.pair, the history tables and the progress bar. */
#include "lbind.h"
#include "nn/nn_cnn.h"
#include "nn/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* ---- the trainer as a collectable box (freed even when a callback raises) -------- */
#define TRAINER_MT "llfc.Trainer"

static int trainer_gc(lua_State *L)
{
    llfc_trainer **box = luaL_checkudata(L, 1, TRAINER_MT);
    llfc_trainer_free(*box);
    *box = NULL;
    return 0;
}

static llfc_trainer **push_trainer_box(lua_State *L)
{
    llfc_trainer **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    if (luaL_newmetatable(L, TRAINER_MT)) {
        lua_pushcfunction(L, trainer_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return box;
}

/* ---- options ------------------------------------------------------------------------ */
typedef struct {
    llfc_train_opts o;
    lua_Integer epochs, steps;  /* one of them > 0 */
    lua_Integer seed;
    int progress, view;
    int on_step, on_epoch, test; /* stack indices, 0 = none */
    int viewset;                 /* stack index of a list of histories the view overlays, 0 = none */
    const char *title;
    int aug_pad, aug_flip;       /* option augment: crop padding, flips (0 0: off) */
} train_cfg;

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

/* A new trainer with the options' augmentation, into *box; raises as fname. */
static void new_trainer(lua_State *L, llfc_trainer **box, llfc_net *net, llfc_dataset *ds, const train_cfg *c,
                        uint64_t seed, const char *fname)
{
    if (!(*box = llfc_trainer_new(net, ds, &c->o, seed))) lb_error(L, fname);
    if (llfc_trainer_set_augment(*box, c->aug_pad, c->aug_flip)) lb_error(L, fname);
}

static void read_cfg(lua_State *L, int idx, const llfc_dataset *ds, train_cfg *c, const char *fname)
{
    if (!lua_isnoneornil(L, idx)) luaL_checktype(L, idx, LUA_TTABLE);
    lb_checktypos(L, idx, train_opt_names, fname);
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
    c->title = lb_optstring(L, idx, "title", NULL, fname);
    c->on_step = opt_function(L, idx, "callback", fname);
    if (!c->on_step) c->on_step = opt_function(L, idx, "on_step", fname);
    c->on_epoch = opt_function(L, idx, "on_epoch", fname);
    c->test = 0;
    c->viewset = 0;
    read_augment(L, idx, ds, c, fname);
    if (lua_istable(L, idx)) {
        lua_getfield(L, idx, "test");
        if (lua_isnil(L, -1)) lua_pop(L, 1);
        else {
            if (!lb_todataset(L, -1))
                luaL_error(L, "%s: option 'test' must be a dataset, got %s", fname, luaL_typename(L, -1));
            c->test = lua_gettop(L);
        }
    }
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
    llfc_trainer *t;
    int hist, net;          /* stack indices */
    int64_t planned;        /* steps in this run */
    int64_t done;
    double t0, tlast_draw, tlast_view, seconds0, examples0;
    double ep_loss, ep_acc;
    int64_t ep_n;
    int64_t examples;
    const char *label;
    int drawn;
    int64_t last_epoch;     /* the epoch this run ends in */
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
    fprintf(stderr, "\r%s%sepoch %lld/%lld [%s] %3.0f%% loss %.4f acc %5.2f%% %6.0f ex/s ETA %d:%02d ",
            r->label ? r->label : "", r->label ? " " : "", (long long)s->epoch, (long long)r->last_epoch, bar, 100 * frac, loss, 100 * acc,
            el > 0 ? r->examples / el : 0.0, (int)(eta / 60), (int)eta % 60);
    if (final) fputc('\n', stderr);
    fflush(stderr);
    r->drawn = 1;
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

static int call_cb(lua_State *L, int f, const llfc_step_info *s, double loss, double acc)
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
    lua_call(L, 1, 1);
    int stop = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
    lua_pop(L, 1);
    return stop;
}

static int on_step(void *ud, const llfc_step_info *s)
{
    run_ctx *r = ud;
    lua_State *L = r->L;
    const train_cfg *c = r->c;
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
    if (c->on_step && call_cb(L, c->on_step, s, s->loss, s->acc)) stop = 1;
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
        if (c->test) {
            llfc_eval_result ev;
            if (llfc_net_eval_ds(r->t->net, lb_checkdataset(L, c->test), 1000, &ev, NULL, NULL) == 0) {
                lua_pushnumber(L, ev.err);
                lua_setfield(L, -2, "test_err");
                lua_pushnumber(L, ev.loss);
                lua_setfield(L, -2, "test_loss");
            }
        }
        lua_rawseti(L, -2, luaL_len(L, -2) + 1);
        lua_pop(L, 1);
        if (c->on_epoch && call_cb(L, c->on_epoch, s, r->ep_loss / r->ep_n, r->ep_acc / r->ep_n)) stop = 1;
        if (c->progress) draw_bar(r, s, 1);
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
            if (lb_view_update(L, c->viewset ? c->viewset : r->hist)) stop = 1;
        }
    }
    return stop;
}

/* Train t for nsteps, appending to the history at hist.  Returns 0, or raises. */
static int run_steps(lua_State *L, llfc_trainer *t, const train_cfg *c, int hist, int64_t nsteps, const char *label,
                     const char *fname)
{
    run_ctx r;
    memset(&r, 0, sizeof r);
    r.L = L;
    r.c = c;
    r.t = t;
    r.hist = hist;
    r.planned = nsteps;
    r.t0 = llfc_now();
    r.label = label;
    int64_t spe = llfc_trainer_steps_per_epoch(t);
    r.last_epoch = (t->opt.step + nsteps + spe - 1) / spe;
    lua_getfield(L, hist, "seconds");
    r.seconds0 = lua_tonumber(L, -1);
    lua_getfield(L, hist, "examples");
    r.examples0 = lua_tonumber(L, -1);
    lua_pop(L, 2);
    int64_t done;
    int intr;
    int rc = llfc_trainer_run(t, nsteps, on_step, &r, &done, &intr);
    if (c->progress && r.drawn && r.ep_n) fputc('\n', stderr);
    set_totals(&r);
    if (rc) {
        if (c->view) lb_view_finish(L, hist, llfc_errmsg());
        return lb_error(L, fname);
    }
    if (intr) {
        llfc_interrupt_clear();
        lua_pushboolean(L, 1);
        lua_setfield(L, hist, "interrupted");
        return 1;
    }
    return 0;
}

/* net:train(ds, opts) -> history */
static int net_train(lua_State *L)
{
    llfc_net *net = lb_checknet(L, 1);
    llfc_dataset *ds = lb_checkdataset(L, 2);
    train_cfg c;
    read_cfg(L, 3, ds, &c, "train");
    llfc_trainer **box = push_trainer_box(L);
    new_trainer(L, box, net, ds, &c, (uint64_t)c.seed, "train");
    push_history(L, &c, NULL);
    int hist = lua_gettop(L);
    if (c.view) lb_view_begin(L, "train", c.title ? c.title : "train");
    int intr = run_steps(L, *box, &c, hist, c.o.total_steps, NULL, "train");
    if (c.view) lb_view_finish(L, hist, intr ? "interrupted" : NULL);
    lua_pushvalue(L, hist);
    return 1;
}

/* ---- spawning ------------------------------------------------------------------------ */
static void read_seeds(lua_State *L, int idx, const char *field, lua_Integer def1, lua_Integer def2, lua_Integer *s,
                       const char *fname)
{
    s[0] = def1;
    s[1] = def2;
    if (!lua_istable(L, idx)) return;
    lua_getfield(L, idx, field);
    if (lua_isnil(L, -1)) { lua_pop(L, 1); return; }
    if (!lua_istable(L, -1) || luaL_len(L, -1) != 2)
        luaL_error(L, "%s: option '%s' must be a list of two integers", fname, field);
    for (int i = 0; i < 2; i++) {
        lua_geti(L, -1, i + 1);
        int ok;
        s[i] = lua_tointegerx(L, -1, &ok);
        if (!ok) luaL_error(L, "%s: option '%s' must be a list of two integers", fname, field);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* nn.spawn(net, ds, {k = 1, unit = "epoch", epochs = 5, seeds = {2, 3}, seed0 = 1, ...})
 *   -> a, b, info  with info = {parent = net at the spawn point, spawn = history, a = history, b = history} */
static int nn_spawn(lua_State *L)
{
    llfc_net *net = lb_checknet(L, 1);
    llfc_dataset *ds = lb_checkdataset(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    train_cfg c;
    read_cfg(L, 3, ds, &c, "nn.spawn");
    lua_Integer k = lb_optinteger(L, 3, "k", 1, "nn.spawn");
    const char *unit = lb_optstring(L, 3, "unit", "epoch", "nn.spawn");
    int64_t spe = (ds->n + c.o.batch - 1) / c.o.batch;
    int64_t ksteps;
    if (!strcmp(unit, "epoch")) ksteps = k > LLFC_MAX_STEPS / spe ? INT64_MAX : (int64_t)k * spe;
    else if (!strcmp(unit, "step")) ksteps = (int64_t)k;
    else return luaL_error(L, "nn.spawn: unit must be \"epoch\" or \"step\", got \"%s\"", unit);
    if (k < 0 || ksteps > c.o.total_steps)
        return luaL_error(L, "nn.spawn: k = %I %s(s) is outside the run of %I steps", (lua_Integer)k, unit,
                          (lua_Integer)c.o.total_steps);
    lua_Integer seeds[2];
    read_seeds(L, 3, "seeds", 2, 3, seeds, "nn.spawn");
    lua_Integer seed0 = lb_optinteger(L, 3, "seed0", c.seed, "nn.spawn");
    c.seed = seed0;

    llfc_net *pa = llfc_net_clone(net);
    if (!pa) return lb_error(L, "nn.spawn");
    lb_pushnet(L, pa);
    int ia = lua_gettop(L);
    llfc_trainer **box0 = push_trainer_box(L);
    new_trainer(L, box0, pa, ds, &c, (uint64_t)seed0, "nn.spawn");
    lua_createtable(L, 0, 6); /* info */
    int info = lua_gettop(L);
    /* the view overlays the histories: spawn, then child a and child b */
    lua_createtable(L, 3, 0);
    int vs = lua_gettop(L);
    c.viewset = c.view ? vs : 0;
    push_history(L, &c, "spawn");
    int h0 = lua_gettop(L);
    lua_pushvalue(L, h0);
    lua_rawseti(L, vs, 1);
    if (c.view) lb_view_begin(L, "train", c.title ? c.title : "spawn");
    if (run_steps(L, *box0, &c, h0, ksteps, "spawn", "nn.spawn")) {
        if (c.view) lb_view_finish(L, vs, "interrupted");
        lua_pushvalue(L, h0);
        lua_setfield(L, info, "spawn");
        lua_pushboolean(L, 1);
        lua_setfield(L, info, "interrupted");
        lua_pushnil(L);
        lua_pushnil(L);
        lua_pushvalue(L, info);
        return 3;
    }
    lua_setfield(L, info, "spawn");
    /* the copy: weights, momentum buffers, step count / schedule position, data position */
    llfc_net *par = llfc_net_clone(pa);
    if (!par) return lb_error(L, "nn.spawn");
    lb_pushnet(L, par);
    lua_setfield(L, info, "parent");
    llfc_net *pb = llfc_net_clone(pa);
    if (!pb) return lb_error(L, "nn.spawn");
    lb_pushnet(L, pb);
    int ib = lua_gettop(L);
    llfc_trainer **box1 = push_trainer_box(L);
    if (!(*box1 = llfc_trainer_clone(*box0, pb))) return lb_error(L, "nn.spawn");
    llfc_trainer *tr[2] = {*box0, *box1};
    int interrupted = 0;
    for (int i = 0; i < 2 && !interrupted; i++) {
        llfc_trainer_reseed(tr[i], (uint64_t)seeds[i]);
        train_cfg ci = c;
        ci.seed = seeds[i];
        push_history(L, &ci, i ? "b" : "a");
        int hi = lua_gettop(L);
        lua_pushinteger(L, (lua_Integer)ksteps);
        lua_setfield(L, hi, "spawn_step");
        lua_pushvalue(L, hi);
        lua_rawseti(L, vs, i + 2);
        interrupted = run_steps(L, tr[i], &ci, hi, c.o.total_steps - ksteps, i ? "child b" : "child a", "nn.spawn");
        lua_setfield(L, info, i ? "b" : "a");
    }
    lua_pushinteger(L, (lua_Integer)ksteps);
    lua_setfield(L, info, "spawn_step");
    lua_pushboolean(L, interrupted);
    lua_setfield(L, info, "interrupted");
    if (c.view) lb_view_finish(L, vs, interrupted ? "interrupted" : NULL);
    lua_pushvalue(L, ia);
    lua_pushvalue(L, ib);
    lua_pushvalue(L, info);
    return 3;
}

/* nn.pair(widths_or_net, ds, {init_seeds = {1, 2}, seeds = {1, 2}, epochs = ..., ...})
 *   -> a, b, {a = history, b = history}: two independent trainings. */
static int nn_pair(lua_State *L)
{
    llfc_dataset *ds = lb_checkdataset(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    train_cfg c;
    read_cfg(L, 3, ds, &c, "nn.pair");
    lua_Integer is[2], ss[2];
    read_seeds(L, 3, "init_seeds", 1, 2, is, "nn.pair");
    read_seeds(L, 3, "seeds", is[0], is[1], ss, "nn.pair");
    int64_t widths[1025];
    int nw, act = LLFC_ACT_RELU, init = LLFC_INIT_TORCH;
    llfc_net *tmpl = lb_tonet(L, 1);
    if (tmpl) {
        if (tmpl->arch != LLFC_ARCH_MLP && tmpl->arch != LLFC_ARCH_CNN)
            return luaL_error(L, "nn.pair: unsupported architecture");
        nw = tmpl->nlayers + 1;
        memcpy(widths, tmpl->widths, (size_t)nw * sizeof *widths);
        act = tmpl->act;
    } else {
        luaL_argexpected(L, lua_istable(L, 1), 1, "llfc.Net or table of widths");
        lua_Integer n = luaL_len(L, 1);
        if (n < 2 || n > 1024) return luaL_error(L, "nn.pair: give 2 to 1024 widths, got %d", (int)n);
        nw = (int)n;
        for (int i = 0; i < nw; i++) {
            lua_geti(L, 1, i + 1);
            widths[i] = lua_tointeger(L, -1);
            lua_pop(L, 1);
        }
        const char *a = lb_optstring(L, 1, "act", "relu", "nn.pair");
        if ((act = llfc_act_from_name(a)) < 0) return luaL_error(L, "nn.pair: unknown act '%s'", a);
    }
    const char *in = lb_optstring(L, 3, "init", "torch", "nn.pair");
    if (!strcmp(in, "kaiming") || !strcmp(in, "he")) init = LLFC_INIT_KAIMING;
    else if (strcmp(in, "torch")) return luaL_error(L, "nn.pair: unknown init '%s' (torch or kaiming)", in);
    lua_createtable(L, 0, 3);
    int info = lua_gettop(L);
    int inet[2];
    int interrupted = 0;
    lua_createtable(L, 2, 0); /* the view overlays both histories */
    int vs = lua_gettop(L);
    c.viewset = c.view ? vs : 0;
    if (c.view) lb_view_begin(L, "train", c.title ? c.title : "pair");
    for (int i = 0; i < 2; i++) {
        llfc_net *n = tmpl && tmpl->arch == LLFC_ARCH_CNN ? llfc_cnn_like(tmpl, (uint64_t)is[i])
                                                           : llfc_mlp_new(nw, widths, act, init, (uint64_t)is[i]);
        if (!n) return lb_error(L, "nn.pair");
        lb_pushnet(L, n);
        inet[i] = lua_gettop(L);
        if (interrupted) continue;
        llfc_trainer **box = push_trainer_box(L);
        new_trainer(L, box, n, ds, &c, (uint64_t)ss[i], "nn.pair");
        train_cfg ci = c;
        ci.seed = ss[i];
        push_history(L, &ci, i ? "b" : "a");
        lua_pushinteger(L, is[i]);
        lua_setfield(L, -2, "init_seed");
        lua_pushvalue(L, -1);
        lua_rawseti(L, vs, i + 1);
        interrupted = run_steps(L, *box, &ci, lua_gettop(L), c.o.total_steps, i ? "net b" : "net a", "nn.pair");
        lua_setfield(L, info, i ? "b" : "a");
        lua_pop(L, 1); /* trainer box */
    }
    lua_pushboolean(L, interrupted);
    lua_setfield(L, info, "interrupted");
    if (c.view) lb_view_finish(L, vs, interrupted ? "interrupted" : NULL);
    lua_pushvalue(L, inet[0]);
    lua_pushvalue(L, inet[1]);
    lua_pushvalue(L, info);
    return 3;
}

/* ---- model files ------------------------------------------------------------------------ */
/* net:save(path) -> true, or nil, message */
static int net_save(lua_State *L)
{
    llfc_net *net = lb_checknet(L, 1);
    const char *path = luaL_checkstring(L, 2);
    if (llfc_net_save(net, path)) return lb_fail(L, "save");
    lua_pushboolean(L, 1);
    return 1;
}

/* nn.load(path) -> net, or nil, message */
static int nn_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    llfc_net *net = llfc_net_load(path);
    if (!net) return lb_fail(L, "nn.load");
    lb_pushnet(L, net);
    return 1;
}

const luaL_Reg lnn_train_methods[] = {
    {"train", net_train},
    {"save", net_save},
    {NULL, NULL},
};

const luaL_Reg lnn_train_funcs[] = {
    {"spawn", nn_spawn},
    {"pair", nn_pair},
    {"load", nn_load},
    {NULL, NULL},
};
