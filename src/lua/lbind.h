/* lbind.h - helpers shared by the thin Lua bindings. */
#ifndef LLFC_LBIND_H
#define LLFC_LBIND_H

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "core/core.h"
#include "core/strbuf.h"
#include "data/data.h"
#include "nn/nn.h"
#include "core/tensor.h"
#include "llfclib.h" /* the openers */

/* Metatable names (luaL_newmetatable sets __name, so argument errors read
 * "llfc.Tensor expected, got table"). */
#define LLFC_TENSOR_MT "llfc.Tensor"
#define LLFC_DATASET_MT "llfc.Dataset"
#define LLFC_NET_MT "llfc.Net"
#define LLFC_PERM_MT "llfc.Perm"

/* Raise the core's last error as a Lua error, prefixed by the function name
 * ("fname: message").  Never returns. */
int lb_error(lua_State *L, const char *fname);
/* Push a core failure's message the Lua way for environmental errors:
 * nil, "message".  Returns 2. */
int lb_fail(lua_State *L, const char *fname);

/* Tensors: the userdata box owns one llfc_tensor* (NULL once freed). */
llfc_tensor *lb_checktensor(lua_State *L, int idx);
llfc_tensor *lb_totensor(lua_State *L, int idx); /* NULL if not a tensor */
/* Push t (takes ownership; frees it if pushing fails). */
void lb_pushtensor(lua_State *L, llfc_tensor *t);

/* Every userdata type is a box holding one pointer (NULL once freed), with a
 * metatable created by lb_newtype() when its module opens (llfc_open_all opens
 * every module before any object can be pushed).  __gc frees the pointee:
 * tensors with llfc_tensor_free, nets with llfc_net_free, datasets with
 * llfc_dataset_release.  Modules add methods with lb_newtype's tables.
 * mt.methods always holds the method table (also when __index is replaced
 * by a function serving fields); help() and completion read it. */
void lb_newtype(lua_State *L, const char *mtname, const luaL_Reg *methods,
                const luaL_Reg *metamethods);

llfc_net *lb_checknet(lua_State *L, int idx);
llfc_net *lb_tonet(lua_State *L, int idx);          /* NULL if not a net */
void lb_pushnet(lua_State *L, llfc_net *net);       /* takes ownership */
llfc_dataset *lb_checkdataset(lua_State *L, int idx);
llfc_dataset *lb_todataset(lua_State *L, int idx);  /* NULL if not a dataset */
void lb_pushdataset(lua_State *L, llfc_dataset *ds); /* takes one reference */
/* Perms (the box of l_perm.c: __gc frees it with llfc_perm_free). */
struct llfc_perm *lb_checkperm(lua_State *L, int idx);
void lb_pushperm(lua_State *L, struct llfc_perm *p);  /* takes ownership */
/* Trainers (l_train.c) and curves (l_curve.c: __gc releases the curve). */
struct llfc_trainer *lb_checktrainer(lua_State *L, int idx);
struct llfc_curve *lb_checkcurve(lua_State *L, int idx);
struct llfc_curve *lb_tocurve(lua_State *L, int idx);  /* NULL if not a curve */
void lb_pushcurve(lua_State *L, struct llfc_curve *c); /* takes one reference */
/* nn.load of a curve file: 1 (the curve pushed), -1 (it does not load), 0 (not a curve file). */
int lb_load_curve(lua_State *L, const char *path);
/* metrics.interpolate (llfc = 0) and metrics.llfc (llfc = 1) of the curve at argument 1 (l_landscape.c). */
int lb_curve_metric(lua_State *L, int llfc);

/* The input batch of a network taking `in` values per sample: the tensor at
 * idx as [n, in] ([in] is one row; images [n, c, h, w] with c*h*w = in are n
 * rows in NCHW order); a contiguous view, or a copy in *owned (free it after
 * use).  Raises naming fname on another shape or an empty batch. */
const float *lb_checkinput(lua_State *L, int idx, int64_t in, const char *fname, int64_t *n, llfc_tensor **owned);

/* The live view protocol.  A long computation called with {view = true}
 * calls lb_view_begin(L, kind, title) once, lb_view_update(L, idx) with its
 * partial result table (same layout as the final result, fewer entries)
 * whenever a piece is complete, and lb_view_finish(L, idx, status) with the
 * final (or partial) result; status is NULL, or "interrupted" / an error.
 * They call view.begin / view.update / view.finish from the view module and
 * do nothing when those are missing.  kind is the result kind:
 * "interpolate", "llfc", "weak_additivity", "commutativity", "report",
 * "train".  A non-zero return from lb_view_update means the user pressed q:
 * stop and return the partial result. */
void lb_view_begin(lua_State *L, const char *kind, const char *title);
int lb_view_update(lua_State *L, int idx);
void lb_view_finish(lua_State *L, int idx, const char *status);

/* A file or directory name argument: a non-empty string without a zero byte.
 * Anything else (a number, nil, a table) raises "bad argument #idx to 'f'
 * (file name expected, got number)": Lua would turn 0/0 into the path
 * "-nan". */
const char *lb_checkpath(lua_State *L, int idx);

/* Options tables: read a field of the table at idx with a default; raise a
 * clear error ("fname: option 'lr' must be a number") on a wrong type. */
lua_Number lb_optnumber(lua_State *L, int idx, const char *field, lua_Number def, const char *fname);
lua_Integer lb_optinteger(lua_State *L, int idx, const char *field, lua_Integer def, const char *fname);
int lb_optboolean(lua_State *L, int idx, const char *field, int def, const char *fname);
const char *lb_optstring(lua_State *L, int idx, const char *field, const char *def, const char *fname);
/* Raise "fname: unknown option 'epoch' (did you mean 'epochs'?)" when the options table at idx has a
 * string key that is not in known (NULL-terminated) but is a near miss of one (a typo: edit distance
 * <= 2, or equal ignoring case).  Keys far from every known name pass: tables may be shared. */
void lb_checktypos(lua_State *L, int idx, const char *const *known, const char *fname);

/* A string builder owned by a userdata pushed on the stack (its __gc frees
 * the text), so that a Lua error while the text grows leaks nothing. */
llfc_strbuf *lb_newstrbuf(lua_State *L);
/* Push the text of b (without a final newline when chomp is set) and free
 * it; raises "out of memory" if b ran out of memory. */
void lb_pushstrbuf(lua_State *L, llfc_strbuf *b, int chomp);

/* luaL_pushresult(b), without the text's final newline (for tostring). */
void lb_pushresult_chomp(luaL_Buffer *b);

/* Register functions into the table on top of the stack. */
void lb_setfuncs(lua_State *L, const luaL_Reg *l);

/* A progress callback bridge: the Lua function at stack index `fidx`
 * (or none) is called as f(done, total, what).  Used by metrics and training. */
typedef struct { lua_State *L; int fidx; } lb_progress;
int lb_progress_fn(void *ud, double done, double total, const char *what);
/* opts.progress of the options table at idx (a function or nil; no table:
 * nil): the function's stack index, where it stays for the calls, or 0. */
int lb_optprogress(lua_State *L, int idx, const char *fname);

#endif
