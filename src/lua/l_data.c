/* l_data.c - Lua binding of the data module: the Dataset userdata, synthetic
 * sets, file loaders and safetensors inspection.  Labels are 1-based here
 * and 0-based in the core. */
#include "lbind.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/safetensors.h"


/* Push a new dataset, or raise the core's error as "fname: message". */
static int push_or_error(lua_State *L, llfc_dataset *ds, const char *fname)
{
    if (!ds) return lb_error(L, fname);
    lb_pushdataset(L, ds);
    return 1;
}

/* A scratch buffer owned by a Lua userdata (freed by the GC if we raise). */
static void *scratch(lua_State *L, size_t n)
{
    return lua_newuserdatauv(L, n ? n : 1, 0);
}

/* ---- constructors ------------------------------------------------------------ */
/* data.from_tensors(x, y [, {classes = k}]) */
static int d_from_tensors(lua_State *L)
{
    llfc_tensor *x = lb_checktensor(L, 1);
    luaL_argexpected(L, lb_totensor(L, 2) || lua_istable(L, 2), 2, "llfc.Tensor or table of labels");
    luaL_argcheck(L, x->ndim == 2 || x->ndim == 4, 1, "x must be [n, dim] or [n, c, h, w]");
    int64_t n = x->size[0], dim = 1;
    for (int d = 1; d < x->ndim; d++) dim *= x->size[d];
    luaL_argcheck(L, dim >= 1, 1, "x has no features");
    static const char *const names[] = {"classes", NULL};
    lb_checktypos(L, 3, names, "data.from_tensors");
    int classes = (int)lb_optinteger(L, 3, "classes", 0, "data.from_tensors");
    luaL_argcheck(L, classes >= 0 && classes <= LLFC_DATA_MAX_CLASSES, 3, "classes out of range");

    /* labels, 1-based, into a scratch int32 array */
    int32_t *lab = scratch(L, (size_t)(n ? n : 1) * sizeof *lab);
    llfc_tensor *yt = lb_totensor(L, 2);
    int64_t ny;
    if (yt) {
        ny = llfc_tensor_numel(yt);
        if (yt->ndim > 2 || (yt->ndim == 2 && yt->size[1] != 1 && yt->size[0] != 1))
            return luaL_error(L, "data.from_tensors: y must be a vector of labels");
    } else {
        ny = (int64_t)luaL_len(L, 2);
    }
    if (ny != n)
        return luaL_error(L, "data.from_tensors: %I samples in x but %I labels in y", (lua_Integer)n, (lua_Integer)ny);
    llfc_tensor *yc = NULL;
    if (yt && !(yc = llfc_tensor_clone(yt))) return lb_error(L, "data.from_tensors");
    int maxl = 0;
    for (int64_t i = 0; i < n; i++) {
        double v;
        if (yc) v = llfc_tensor_data(yc)[i];
        else {
            lua_geti(L, 2, (lua_Integer)i + 1);
            int ok;
            v = lua_tonumberx(L, -1, &ok);
            lua_pop(L, 1);
            if (!ok) return luaL_error(L, "data.from_tensors: label %I is not a number", (lua_Integer)i + 1);
        }
        if (!(v >= 1 && v <= LLFC_DATA_MAX_CLASSES && v == floor(v)) || (classes && v > classes)) {
            llfc_tensor_free(yc);
            if (classes) return luaL_error(L, "data.from_tensors: label %f of sample %I out of range [1, %d]", v, (lua_Integer)i + 1, classes);
            return luaL_error(L, "data.from_tensors: label %f of sample %I is not a positive integer", v, (lua_Integer)i + 1);
        }
        lab[i] = (int32_t)v - 1;
        if ((int)v > maxl) maxl = (int)v;
    }
    llfc_tensor_free(yc);
    llfc_tensor *xc = llfc_tensor_clone(x);
    if (!xc) return lb_error(L, "data.from_tensors");
    llfc_dataset *ds = llfc_dataset_new(n, dim, classes ? classes : (maxl ? maxl : 1));
    if (!ds) { llfc_tensor_free(xc); return lb_error(L, "data.from_tensors"); }
    memcpy(ds->x, llfc_tensor_data(xc), (size_t)(n * dim) * sizeof(float));
    memcpy(ds->y, lab, (size_t)n * sizeof *lab);
    llfc_tensor_free(xc);
    if (x->ndim == 4) { ds->c = (int)x->size[1]; ds->h = (int)x->size[2]; ds->w = (int)x->size[3]; }
    strcpy(ds->name, "tensors");
    lb_pushdataset(L, ds);
    return 1;
}

/* Optional {split = frac, seed =}: replace the dataset on top by {train=, test=}. */
/* ---- the {train =, test =} pair of the loaders and of split = ---------------------------- */
#define PAIR_MT "llfc.data.pair"

/* Printed as a summary: one line per dataset, other fields counted. */
static int pair_tostring(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    llfc_strbuf *b = lb_newstrbuf(L);
    llfc_strbuf_puts(b, "datasets:");
    static const char *const keys[] = {"train", "test"};
    for (int k = 0; k < 2; k++) {
        lua_getfield(L, 1, keys[k]);
        if (luaL_testudata(L, -1, LLFC_DATASET_MT)) {
            llfc_strbuf_printf(b, "\n  %-5s  %s", keys[k], luaL_tolstring(L, -1, NULL));
            lua_pop(L, 1);
        } else if (!lua_isnil(L, -1)) {
            llfc_strbuf_printf(b, "\n  %-5s  (a %s)", keys[k], luaL_typename(L, -1));
        }
        lua_pop(L, 1);
    }
    int more = 0;
    for (lua_pushnil(L); lua_next(L, 1); lua_pop(L, 1))
        more += !(lua_type(L, -2) == LUA_TSTRING && (!strcmp(lua_tostring(L, -2), "train") || !strcmp(lua_tostring(L, -2), "test")));
    if (more) llfc_strbuf_printf(b, "\n  (+%d more field%s)", more, more == 1 ? "" : "s");
    lb_pushstrbuf(L, b, 0);
    return 1;
}

/* Push an empty pair table: fill train and test. */
static void push_pair(lua_State *L)
{
    lua_createtable(L, 0, 2);
    if (luaL_newmetatable(L, PAIR_MT)) {
        lua_pushcfunction(L, pair_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_setmetatable(L, -2);
}

static int maybe_split(lua_State *L, int opts, const char *fname)
{
    lua_Number frac = lb_optnumber(L, opts, "split", -1, fname);
    if (frac < 0) return 1;
    if (!(frac >= 0 && frac <= 1)) return luaL_error(L, "%s: option 'split' must be in [0, 1], got %f", fname, frac);
    lua_Integer seed = lb_optinteger(L, opts, "seed", 1, fname);
    llfc_dataset *ds = lb_checkdataset(L, -1), *a, *b;
    if (llfc_dataset_split(ds, frac, (uint64_t)seed, &a, &b)) return lb_error(L, fname);
    push_pair(L);
    lb_pushdataset(L, a);
    lua_setfield(L, -2, "train");
    lb_pushdataset(L, b);
    lua_setfield(L, -2, "test");
    return 1;
}

static int d_blobs(lua_State *L)
{
    const char *fn = "data.blobs";
    static const char *const names[] = {"n", "classes", "dim", "noise", "seed", "split", NULL};
    if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TTABLE);
    lb_checktypos(L, 1, names, fn);
    lua_Integer n = lb_optinteger(L, 1, "n", 1000, fn);
    lua_Integer k = lb_optinteger(L, 1, "classes", 4, fn);
    lua_Integer dim = lb_optinteger(L, 1, "dim", 2, fn);
    lua_Number noise = lb_optnumber(L, 1, "noise", 1.0, fn);
    lua_Integer seed = lb_optinteger(L, 1, "seed", 1, fn);
    if (k < 1 || k > LLFC_DATA_MAX_CLASSES)
        return luaL_error(L, "%s: classes must be in [1, %d], got %I", fn, LLFC_DATA_MAX_CLASSES, k);
    push_or_error(L, llfc_data_blobs(n, (int)k, dim, noise, (uint64_t)seed), fn);
    return maybe_split(L, 1, fn);
}

static int d_moons(lua_State *L)
{
    const char *fn = "data.moons";
    static const char *const names[] = {"n", "noise", "seed", "split", NULL};
    if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TTABLE);
    lb_checktypos(L, 1, names, fn);
    lua_Integer n = lb_optinteger(L, 1, "n", 1000, fn);
    lua_Number noise = lb_optnumber(L, 1, "noise", 0.1, fn);
    lua_Integer seed = lb_optinteger(L, 1, "seed", 1, fn);
    push_or_error(L, llfc_data_moons(n, noise, (uint64_t)seed), fn);
    return maybe_split(L, 1, fn);
}

static int d_spirals(lua_State *L)
{
    const char *fn = "data.spirals";
    static const char *const names[] = {"n", "classes", "noise", "seed", "split", NULL};
    if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TTABLE);
    lb_checktypos(L, 1, names, fn);
    lua_Integer n = lb_optinteger(L, 1, "n", 900, fn);
    lua_Integer k = lb_optinteger(L, 1, "classes", 3, fn);
    lua_Number noise = lb_optnumber(L, 1, "noise", 0.2, fn);
    lua_Integer seed = lb_optinteger(L, 1, "seed", 1, fn);
    if (k < 1 || k > LLFC_DATA_MAX_CLASSES)
        return luaL_error(L, "%s: classes must be in [1, %d], got %I", fn, LLFC_DATA_MAX_CLASSES, k);
    push_or_error(L, llfc_data_spirals(n, (int)k, noise, (uint64_t)seed), fn);
    return maybe_split(L, 1, fn);
}


/* ---- file loaders -------------------------------------------------------------- */
/* A loader failure: a missing file returns nil, message; anything else raises. */
static int load_fail(lua_State *L, const char *fname)
{
    if (llfc_data_missing()) return lb_fail(L, fname);
    return lb_error(L, fname);
}

/* data.idx(images_file, labels_file [, {classes = k}]) */
static int d_idx(lua_State *L)
{
    const char *img = lb_checkpath(L, 1), *lab = lb_checkpath(L, 2);
    static const char *const names[] = {"classes", NULL};
    lb_checktypos(L, 3, names, "data.idx");
    lua_Integer k = lb_optinteger(L, 3, "classes", 0, "data.idx");
    luaL_argcheck(L, k >= 0 && k <= 256, 3, "classes must be in [1, 256]");
    llfc_dataset *ds = llfc_idx_load(img, lab, (int)k);
    if (!ds) return load_fail(L, "data.idx");
    lb_pushdataset(L, ds);
    return 1;
}

/* data.npy(x_file, y_file [, {classes = k, scale = s}]) */
static int d_npy(lua_State *L)
{
    const char *xp = lb_checkpath(L, 1), *yp = lb_checkpath(L, 2);
    static const char *const names[] = {"classes", "scale", NULL};
    lb_checktypos(L, 3, names, "data.npy");
    lua_Integer k = lb_optinteger(L, 3, "classes", 0, "data.npy");
    lua_Number scale = lb_optnumber(L, 3, "scale", 1, "data.npy");
    luaL_argcheck(L, k >= 0 && k <= LLFC_DATA_MAX_CLASSES, 3, "classes out of range");
    llfc_dataset *ds = llfc_npy_dataset(xp, yp, (int)k, (float)scale);
    if (!ds) return load_fail(L, "data.npy");
    lb_pushdataset(L, ds);
    return 1;
}

static int is_dir(const char *p) { return p && access(p, R_OK | X_OK) == 0; }

/* The directory to load from: the argument, else $LLFC_DATA/sub when it
 * exists, else $LLFC_DATA when set, else the system directory (or "." when
 * there is none).  Pushes the chosen path. */
static const char *pick_dir(lua_State *L, int arg, const char *sub, const char *sysdir)
{
    if (!lua_isnoneornil(L, arg)) { lua_pushvalue(L, arg); return lb_checkpath(L, arg); }
    const char *env = getenv("LLFC_DATA");
    if (env && *env) {
        lua_pushfstring(L, "%s/%s", env, sub);
        if (is_dir(lua_tostring(L, -1))) return lua_tostring(L, -1);
        lua_pop(L, 1);
        lua_pushstring(L, env);
        return lua_tostring(L, -1);
    }
    lua_pushstring(L, sysdir ? sysdir : (env && *env ? env : "."));
    return lua_tostring(L, -1);
}

/* {train=, test=} from an MNIST-format directory */
static int idx_pair(lua_State *L, const char *fname, const char *sub, const char *sysdir, const char *hint)
{
    const char *dir = pick_dir(L, 1, sub, sysdir);
    llfc_dataset *tr = llfc_idx_load_dir(dir, 0);
    if (!tr) {
        if (!llfc_data_missing()) return lb_error(L, fname);
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s; %s", fname, llfc_errmsg(), hint);
        return 2;
    }
    snprintf(tr->name, sizeof tr->name, "%s train", fname + 5);
    push_pair(L);
    lb_pushdataset(L, tr);
    lua_setfield(L, -2, "train");
    llfc_dataset *te = llfc_idx_load_dir(dir, 1);
    if (!te) {
        if (!llfc_data_missing()) return lb_error(L, fname);
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s; %s", fname, llfc_errmsg(), hint);
        return 2;
    }
    snprintf(te->name, sizeof te->name, "%s test", fname + 5);
    lb_pushdataset(L, te);
    lua_setfield(L, -2, "test");
    return 1;
}

#define IDX_FILES "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (gzip'd or not)"

static int d_fashion_mnist(lua_State *L)
{
    return idx_pair(L, "data.fashion_mnist", "fashion-mnist", "/usr/share/datasets/fashion-mnist",
                    "install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist), "
                    "or pass the directory (or set LLFC_DATA) holding " IDX_FILES);
}

static int d_mnist(lua_State *L)
{
    return idx_pair(L, "data.mnist", "mnist", NULL,
                    "pass the directory (or set LLFC_DATA to a directory with an mnist/ subdirectory) holding the MNIST files "
                    IDX_FILES);
}

static int d_cifar10(lua_State *L)
{
    const char *dir = pick_dir(L, 1, "cifar-10-batches-bin", NULL);
    const char *hint = "pass the directory (or set LLFC_DATA) holding the CIFAR-10 binary version "
                       "(cifar-10-binary.tar.gz: data_batch_1.bin .. data_batch_5.bin, test_batch.bin)";
    push_pair(L);
    for (int test = 0; test <= 1; test++) {
        llfc_dataset *ds = llfc_cifar10_load_dir(dir, test);
        if (!ds) {
            if (!llfc_data_missing()) return lb_error(L, "data.cifar10");
            lua_pushnil(L);
            lua_pushfstring(L, "data.cifar10: %s; %s", llfc_errmsg(), hint);
            return 2;
        }
        lb_pushdataset(L, ds);
        lua_setfield(L, -2, test ? "test" : "train");
    }
    return 1;
}

/* ---- safetensors ------------------------------------------------------------------ */
/* Free a file object if a Lua error unwinds past it. */
static int stbox_gc(lua_State *L)
{
    llfc_st_file **box = lua_touserdata(L, 1);
    llfc_st_free(*box);
    *box = NULL;
    return 0;
}

static llfc_st_file **stbox(lua_State *L)
{
    llfc_st_file **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    if (luaL_newmetatable(L, "llfc.stfile")) {
        lua_pushcfunction(L, stbox_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return box;
}

/* tensors, metadata, names = data.safetensors_read(path) */
static int d_st_read(lua_State *L)
{
    const char *p = lb_checkpath(L, 1);
    if (access(p, R_OK) != 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "data.safetensors_read: %s: cannot read (missing file?)", p);
        return 2;
    }
    llfc_st_file **box = stbox(L);
    if (!(*box = llfc_st_read(p))) return lb_error(L, "data.safetensors_read");
    llfc_st_file *f = *box;
    lua_createtable(L, 0, f->n);
    lua_createtable(L, 0, f->nmeta);
    lua_createtable(L, f->n, 0);
    for (int i = 0; i < f->n; i++) {
        lb_pushtensor(L, f->tensors[i].t);
        f->tensors[i].t = NULL; /* now owned by Lua */
        lua_setfield(L, -4, f->tensors[i].name);
        lua_pushstring(L, f->tensors[i].name);
        lua_rawseti(L, -2, i + 1);
    }
    for (int i = 0; i < f->nmeta; i++) {
        lua_pushstring(L, f->meta_values[i]);
        lua_setfield(L, -3, f->meta_keys[i]);
    }
    return 3;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* data.safetensors_write(path, {name = tensor, ...} [, {key = "value"}]) */
static int d_st_write(lua_State *L)
{
    const char *p = lb_checkpath(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    llfc_st_file **box = stbox(L);
    if (!(*box = llfc_st_new())) return lb_error(L, "data.safetensors_write");
    /* names sorted, for a deterministic file */
    int n = 0;
    for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING) return luaL_error(L, "data.safetensors_write: tensor names must be strings");
        if (!lb_totensor(L, -1)) return luaL_error(L, "data.safetensors_write: '%s' is not a tensor", lua_tostring(L, -2));
        n++;
    }
    const char **names = scratch(L, (size_t)n * sizeof *names);
    int k = 0;
    for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1)) names[k++] = lua_tostring(L, -2);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n; i++) {
        lua_getfield(L, 2, names[i]);
        if (llfc_st_add(*box, names[i], lb_checktensor(L, -1))) return lb_error(L, "data.safetensors_write");
        lua_pop(L, 1);
    }
    if (!lua_isnil(L, 3))
        for (lua_pushnil(L); lua_next(L, 3); lua_pop(L, 1)) {
            if (lua_type(L, -2) != LUA_TSTRING) return luaL_error(L, "data.safetensors_write: metadata keys must be strings");
            const char *v = lua_tostring(L, -1);
            if (!v) return luaL_error(L, "data.safetensors_write: metadata '%s' must be a string", lua_tostring(L, -2));
            if (llfc_st_set_meta(*box, lua_tostring(L, -2), v)) return lb_error(L, "data.safetensors_write");
        }
    if (llfc_st_write(p, *box)) return lb_fail(L, "data.safetensors_write");
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- Dataset methods --------------------------------------------------------- */
static int ds_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)lb_checkdataset(L, 1)->n);
    return 1;
}

static int ds_tostring(lua_State *L)
{
    llfc_dataset **box = luaL_checkudata(L, 1, LLFC_DATASET_MT);
    if (!*box) { lua_pushliteral(L, "llfc.Dataset (freed)"); return 1; }
    llfc_dataset *ds = *box;
    if (ds->c > 0)
        lua_pushfstring(L, "llfc.Dataset(%s: %I samples, %dx%dx%d images, %d classes)",
                        ds->name[0] ? ds->name : "data", (lua_Integer)ds->n, ds->c, ds->h, ds->w, ds->nclasses);
    else
        lua_pushfstring(L, "llfc.Dataset(%s: %I samples, dim %I, %d classes)", ds->name[0] ? ds->name : "data",
                        (lua_Integer)ds->n, (lua_Integer)ds->dim, ds->nclasses);
    return 1;
}

static int ds_get(lua_State *L)
{
    llfc_dataset *ds = lb_checkdataset(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (i < 1 || i > ds->n)
        return luaL_error(L, "Dataset:get: index %I out of range [1, %I]", i, (lua_Integer)ds->n);
    llfc_tensor *t = llfc_tensor_new1(ds->dim);
    if (!t) return lb_error(L, "Dataset:get");
    memcpy(llfc_tensor_data(t), ds->x + (i - 1) * ds->dim, (size_t)ds->dim * sizeof(float));
    lb_pushtensor(L, t);
    lua_pushinteger(L, ds->y[i - 1] + 1);
    return 2;
}

/* ds:subset(n) = the first n samples; ds:subset{i1, i2, ...} (1-based) */
static int ds_subset(lua_State *L)
{
    llfc_dataset *ds = lb_checkdataset(L, 1);
    int64_t m;
    int64_t *idx;
    if (lua_istable(L, 2)) {
        m = (int64_t)luaL_len(L, 2);
        idx = scratch(L, (size_t)m * sizeof *idx);
        for (int64_t i = 0; i < m; i++) {
            lua_geti(L, 2, (lua_Integer)i + 1);
            int ok;
            lua_Integer v = lua_tointegerx(L, -1, &ok);
            lua_pop(L, 1);
            if (!ok) return luaL_error(L, "Dataset:subset: index %I is not an integer", (lua_Integer)i + 1);
            if (v < 1 || v > ds->n) return luaL_error(L, "Dataset:subset: index %I out of range [1, %I]", v, (lua_Integer)ds->n);
            idx[i] = v - 1;
        }
    } else {
        lua_Integer k = luaL_checkinteger(L, 2);
        if (k < 0 || k > ds->n) return luaL_error(L, "Dataset:subset: n = %I out of range [0, %I]", k, (lua_Integer)ds->n);
        m = k;
        idx = scratch(L, (size_t)m * sizeof *idx);
        for (int64_t i = 0; i < m; i++) idx[i] = i;
    }
    return push_or_error(L, llfc_dataset_subset(ds, idx, m), "Dataset:subset");
}

/* a, b = ds:split(frac [, seed]) */
static int ds_split(lua_State *L)
{
    llfc_dataset *ds = lb_checkdataset(L, 1), *a, *b;
    lua_Number frac = luaL_checknumber(L, 2);
    lua_Integer seed = luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, frac >= 0 && frac <= 1, 2, "fraction must be in [0, 1]");
    if (llfc_dataset_split(ds, frac, (uint64_t)seed, &a, &b)) return lb_error(L, "Dataset:split");
    lb_pushdataset(L, a);
    lb_pushdataset(L, b);
    return 2;
}

/* Read option `field` (number or table of numbers) into a scratch array. */
static float *opt_floats(lua_State *L, int opts, const char *field, int *count)
{
    *count = 0;
    lua_getfield(L, opts, field);
    if (lua_isnil(L, -1)) { lua_pop(L, 1); return NULL; }
    int top = lua_gettop(L);
    float *v;
    if (lua_type(L, top) == LUA_TNUMBER) {
        v = scratch(L, sizeof *v);
        v[0] = (float)lua_tonumber(L, top);
        *count = 1;
    } else if (lua_istable(L, top)) {
        lua_Integer n = luaL_len(L, top);
        if (n < 1 || n > LLFC_DATA_MAX_DIM) luaL_error(L, "Dataset:normalize: option '%s' is an empty table", field);
        v = scratch(L, (size_t)n * sizeof *v);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_geti(L, top, i);
            int ok;
            v[i - 1] = (float)lua_tonumberx(L, -1, &ok);
            if (!ok) luaL_error(L, "Dataset:normalize: %s[%I] is not a number", field, i);
            lua_pop(L, 1);
        }
        *count = (int)n;
    } else {
        luaL_error(L, "Dataset:normalize: option '%s' must be a number or a table of numbers", field);
        return NULL;
    }
    lua_replace(L, top); /* keep the scratch buffer anchored on the stack */
    return v;
}

/* ds:normalize{mean =, std =} or ds:normalize() (statistics of ds itself,
 * per channel for images); returns a new dataset and mean, std tables. */
static int ds_normalize(lua_State *L)
{
    llfc_dataset *ds = lb_checkdataset(L, 1);
    int nm = 0, ns = 0;
    float *mean = NULL, *std = NULL;
    if (!lua_isnoneornil(L, 2)) {
        static const char *const names[] = {"mean", "std", NULL};
        luaL_checktype(L, 2, LUA_TTABLE);
        lb_checktypos(L, 2, names, "Dataset:normalize");
        mean = opt_floats(L, 2, "mean", &nm);
        std = opt_floats(L, 2, "std", &ns);
    }
    if (!mean && !std) {
        int nch = ds->c > 0 ? ds->c : 1;
        mean = scratch(L, (size_t)nch * sizeof *mean);
        std = scratch(L, (size_t)nch * sizeof *std);
        nm = ns = llfc_dataset_stats(ds, 1, mean, std);
        for (int k = 0; k < ns; k++) if (!(std[k] > 0)) std[k] = 1;
    }
    llfc_dataset *o = llfc_dataset_normalized(ds, mean, nm, std, ns);
    if (!o) return lb_error(L, "Dataset:normalize");
    lb_pushdataset(L, o);
    lua_createtable(L, nm, 0);
    for (int k = 0; k < nm; k++) { lua_pushnumber(L, mean[k]); lua_rawseti(L, -2, k + 1); }
    lua_createtable(L, ns, 0);
    for (int k = 0; k < ns; k++) { lua_pushnumber(L, std[k]); lua_rawseti(L, -2, k + 1); }
    return 3;
}

/* x, y = ds:tensors(): x [n, dim] (or [n, c, h, w] with {images = true}), y [n] 1-based labels */
static int ds_tensors(lua_State *L)
{
    llfc_dataset *ds = lb_checkdataset(L, 1);
    static const char *const names[] = {"images", NULL};
    lb_checktypos(L, 2, names, "Dataset:tensors");
    int images = lb_optboolean(L, 2, "images", 0, "Dataset:tensors");
    llfc_tensor *x;
    if (images && ds->c > 0) {
        int64_t s[4] = {ds->n, ds->c, ds->h, ds->w};
        x = llfc_tensor_new(4, s);
    } else {
        x = llfc_tensor_new2(ds->n, ds->dim);
    }
    if (!x) return lb_error(L, "Dataset:tensors");
    memcpy(llfc_tensor_data(x), ds->x, (size_t)(ds->n * ds->dim) * sizeof(float));
    lb_pushtensor(L, x);
    llfc_tensor *y = llfc_tensor_new1(ds->n);
    if (!y) return lb_error(L, "Dataset:tensors");
    for (int64_t i = 0; i < ds->n; i++) llfc_tensor_data(y)[i] = (float)(ds->y[i] + 1);
    lb_pushtensor(L, y);
    return 2;
}

/* ds:augment([{crop = 4, flip = true, seed = 1}]) -> a new dataset with every
 * sample cropped from its zero-padded image and flipped at random, once. */
static int ds_augment(lua_State *L)
{
    const char *fn = "Dataset:augment";
    llfc_dataset *ds = lb_checkdataset(L, 1);
    static const char *const names[] = {"crop", "flip", "seed", NULL};
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    lb_checktypos(L, 2, names, fn);
    lua_Integer pad = lb_optinteger(L, 2, "crop", 4, fn);
    int flip = lb_optboolean(L, 2, "flip", 1, fn);
    lua_Integer seed = lb_optinteger(L, 2, "seed", 1, fn);
    if (ds->c <= 0)
        return luaL_error(L, "%s: the dataset has flat samples of dim %I, augmentation needs images (shape {c, h, w})", fn,
                          (lua_Integer)ds->dim);
    if (pad < 0 || pad > (ds->h < ds->w ? ds->h : ds->w))
        return luaL_error(L, "%s: option 'crop' = %I out of range [0, %d] for %dx%d images", fn, pad,
                          ds->h < ds->w ? ds->h : ds->w, ds->h, ds->w);
    return push_or_error(L, llfc_dataset_augmented(ds, (int)pad, flip, (uint64_t)seed), fn);
}

/* ds:labels() -> Lua table of 1-based labels */
static int ds_labels(lua_State *L)
{
    llfc_dataset *ds = lb_checkdataset(L, 1);
    lua_createtable(L, (int)(ds->n < 1 << 30 ? ds->n : 0), 0);
    for (int64_t i = 0; i < ds->n; i++) {
        lua_pushinteger(L, ds->y[i] + 1);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* The epoch argument at idx (1-based, default 1) as a 0-based epoch. */
static int64_t check_epoch(lua_State *L, int idx)
{
    lua_Integer e = luaL_optinteger(L, idx, 1);
    luaL_argcheck(L, e >= 1, idx, "epoch must be >= 1");
    return (int64_t)e - 1;
}

/* ds:order(seed [, epoch = 1]) -> the sample order training with data-order
 * seed uses in that epoch (1-based table) */
static int ds_order(lua_State *L)
{
    llfc_dataset *ds = lb_checkdataset(L, 1);
    lua_Integer seed = luaL_checkinteger(L, 2);
    int64_t epoch = check_epoch(L, 3);
    int64_t *idx = scratch(L, (size_t)ds->n * sizeof *idx);
    llfc_dataset_epoch_order(ds, (uint64_t)seed, epoch, idx);
    lua_createtable(L, (int)(ds->n < 1 << 30 ? ds->n : 0), 0);
    for (int64_t i = 0; i < ds->n; i++) {
        lua_pushinteger(L, idx[i] + 1);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* for x, y, i in ds:batches(size [, seed [, epoch]]) do ... end; seed nil = in
 * order, else training's order of that epoch (ds:order).
 * x [m, dim], y [m] 1-based labels (tensors), i = batch number. */
static int batch_iter(lua_State *L)
{
    llfc_dataset *ds = lb_checkdataset(L, lua_upvalueindex(1));
    int64_t *idx = lua_touserdata(L, lua_upvalueindex(2));
    lua_Integer size = lua_tointeger(L, lua_upvalueindex(3));
    lua_Integer k = lua_tointeger(L, lua_upvalueindex(4));
    int64_t start = (int64_t)k * size;
    if (start >= ds->n) return 0;
    int64_t m = ds->n - start < size ? ds->n - start : size;
    llfc_tensor *x = llfc_tensor_new2(m, ds->dim);
    if (!x) return lb_error(L, "Dataset:batches");
    lb_pushtensor(L, x);
    llfc_tensor *y = llfc_tensor_new1(m);
    if (!y) return lb_error(L, "Dataset:batches");
    lb_pushtensor(L, y);
    int32_t *yb = scratch(L, (size_t)m * sizeof *yb);
    llfc_dataset_gather(ds, idx + start, m, llfc_tensor_data(x), yb);
    for (int64_t i = 0; i < m; i++) llfc_tensor_data(y)[i] = (float)(yb[i] + 1);
    lua_pop(L, 1);
    lua_pushinteger(L, k + 1);
    lua_copy(L, -1, lua_upvalueindex(4));
    return 3;
}

static int ds_batches(lua_State *L)
{
    llfc_dataset *ds = lb_checkdataset(L, 1);
    lua_Integer size = luaL_checkinteger(L, 2);
    luaL_argcheck(L, size >= 1, 2, "batch size must be >= 1");
    lua_settop(L, 4);
    int64_t epoch = check_epoch(L, 4);
    lua_settop(L, 3);
    int64_t *idx = scratch(L, (size_t)ds->n * sizeof *idx);
    if (lua_isnil(L, 3)) for (int64_t i = 0; i < ds->n; i++) idx[i] = i;
    else llfc_dataset_epoch_order(ds, (uint64_t)luaL_checkinteger(L, 3), epoch, idx);
    lua_pushvalue(L, 1);
    lua_insert(L, -2);
    lua_pushinteger(L, size);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, batch_iter, 4);
    return 1;
}

/* The sample shape {c, h, w} (images) or {dim}, as a table that is also
 * callable, so that ds.shape and ds:shape() both work, and prints as
 * "{3, 32, 32}". */
static int shape_call(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        lua_rawseti(L, -2, i);
    }
    luaL_setmetatable(L, "llfc.Shape");
    return 1;
}

static int shape_tostring(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addchar(&b, '{');
    lua_Integer n = luaL_len(L, 1);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        luaL_addvalue(&b);
        if (i < n) luaL_addstring(&b, ", ");
    }
    luaL_addchar(&b, '}');
    luaL_pushresult(&b);
    return 1;
}

static void push_shape(lua_State *L, const llfc_dataset *ds)
{
    if (ds->c <= 0) {
        lua_createtable(L, 1, 0);
        lua_pushinteger(L, (lua_Integer)ds->dim);
        lua_rawseti(L, -2, 1);
    } else {
        lua_createtable(L, 3, 0);
        lua_pushinteger(L, ds->c);
        lua_rawseti(L, -2, 1);
        lua_pushinteger(L, ds->h);
        lua_rawseti(L, -2, 2);
        lua_pushinteger(L, ds->w);
        lua_rawseti(L, -2, 3);
    }
    if (luaL_newmetatable(L, "llfc.Shape")) {
        lua_pushcfunction(L, shape_call);
        lua_setfield(L, -2, "__call");
        lua_pushcfunction(L, shape_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_setmetatable(L, -2);
}

static int ds_index(lua_State *L)
{
    llfc_dataset *ds = lb_checkdataset(L, 1);
    const char *k = lua_tostring(L, 2);
    if (k) {
        if (!strcmp(k, "n")) { lua_pushinteger(L, (lua_Integer)ds->n); return 1; }
        if (!strcmp(k, "dim")) { lua_pushinteger(L, (lua_Integer)ds->dim); return 1; }
        if (!strcmp(k, "classes")) { lua_pushinteger(L, ds->nclasses); return 1; }
        if (!strcmp(k, "name")) { lua_pushstring(L, ds->name); return 1; }
        if (!strcmp(k, "shape")) { push_shape(L, ds); return 1; }
    }
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    return 1;
}

static const luaL_Reg ds_methods[] = {
    {"get", ds_get},         {"subset", ds_subset}, {"split", ds_split},
    {"normalize", ds_normalize}, {"tensors", ds_tensors}, {"labels", ds_labels},
    {"order", ds_order},     {"batches", ds_batches}, {"augment", ds_augment}, {NULL, NULL},
};

static const luaL_Reg ds_meta[] = {
    {"__len", ds_len}, {"__tostring", ds_tostring}, {NULL, NULL},
};

static const luaL_Reg funcs[] = {
    {"from_tensors", d_from_tensors}, {"blobs", d_blobs}, {"moons", d_moons}, {"spirals", d_spirals},
    {"idx", d_idx}, {"fashion_mnist", d_fashion_mnist}, {"mnist", d_mnist}, {"cifar10", d_cifar10}, {"npy", d_npy},
    {"safetensors_read", d_st_read}, {"safetensors_write", d_st_write},
    {NULL, NULL},
};

int llfc_open_data(lua_State *L)
{
    lb_newtype(L, LLFC_DATASET_MT, NULL, ds_meta);
    /* __index is a function serving the read-only fields n, dim, classes,
     * name, shape; methods live in mt.methods (as for llfc.Perm) */
    luaL_getmetatable(L, LLFC_DATASET_MT);
    lua_newtable(L);
    luaL_setfuncs(L, ds_methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "methods");
    lua_pushcclosure(L, ds_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_newtable(L);
    lb_setfuncs(L, funcs);
    return 1;
}
