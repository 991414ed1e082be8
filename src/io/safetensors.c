/* safetensors.c - safetensors files: a validating reader that converts to
 * float32 and an atomic F32 writer.  The format and the checks are described
 * in safetensors.h.  Byte order is handled explicitly (little-endian on disk
 * whatever the host). */
#include "io/safetensors.h"
#include "core/strbuf.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- building and freeing ---------------------------------------------------- */
llfc_st_file *llfc_st_new(void) { return llfc_calloc(1, sizeof(llfc_st_file)); }

void llfc_st_free(llfc_st_file *f)
{
    if (!f) return;
    for (int i = 0; i < f->n; i++) {
        free(f->tensors[i].name);
        llfc_tensor_free(f->tensors[i].t);
    }
    for (int i = 0; i < f->nmeta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->tensors);
    free(f->meta_keys);
    free(f->meta_values);
    free(f);
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = llfc_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

llfc_tensor *llfc_st_get(const llfc_st_file *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->tensors[i].name, name)) return f->tensors[i].t;
    return NULL;
}

const char *llfc_st_get_meta(const llfc_st_file *f, const char *key)
{
    for (int i = 0; i < f->nmeta; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_values[i];
    return NULL;
}

/* Append a tensor taking ownership of t (freed on failure). */
static int add_owned(llfc_st_file *f, const char *name, llfc_tensor *t)
{
    if (!name[0]) { llfc_tensor_free(t); return llfc_seterr("empty tensor name"); }
    if (!strcmp(name, "__metadata__")) { llfc_tensor_free(t); return llfc_seterr("'__metadata__' is not a tensor name"); }
    if (llfc_st_get(f, name)) { llfc_tensor_free(t); return llfc_seterr("duplicate tensor name '%s'", name); }
    if (f->n >= 1 << 24) { llfc_tensor_free(t); return llfc_seterr("too many tensors"); }
    llfc_st_tensor *nt = realloc(f->tensors, (size_t)(f->n + 1) * sizeof *nt);
    if (!nt) { llfc_tensor_free(t); return llfc_seterr("out of memory"); }
    f->tensors = nt;
    char *nm = dupstr(name);
    if (!nm) { llfc_tensor_free(t); return -1; }
    f->tensors[f->n].name = nm;
    f->tensors[f->n].t = t;
    f->tensors[f->n].i64 = 0;
    f->n++;
    return 0;
}

int llfc_st_add(llfc_st_file *f, const char *name, const llfc_tensor *t)
{
    llfc_tensor *s = llfc_tensor_share(t);
    if (!s) return -1;
    return add_owned(f, name, s);
}

int llfc_st_add_i64(llfc_st_file *f, const char *name, const llfc_tensor *t)
{
    if (llfc_st_add(f, name, t)) return -1;
    f->tensors[f->n - 1].i64 = 1;
    return 0;
}

int llfc_st_set_meta(llfc_st_file *f, const char *key, const char *value)
{
    for (int i = 0; i < f->nmeta; i++)
        if (!strcmp(f->meta_keys[i], key)) {
            char *v = dupstr(value);
            if (!v) return -1;
            free(f->meta_values[i]);
            f->meta_values[i] = v;
            return 0;
        }
    char **k = realloc(f->meta_keys, (size_t)(f->nmeta + 1) * sizeof *k);
    if (!k) return llfc_seterr("out of memory");
    f->meta_keys = k;
    char **v = realloc(f->meta_values, (size_t)(f->nmeta + 1) * sizeof *v);
    if (!v) return llfc_seterr("out of memory");
    f->meta_values = v;
    char *ks = dupstr(key), *vs = dupstr(value);
    if (!ks || !vs) { free(ks); free(vs); return -1; }
    f->meta_keys[f->nmeta] = ks;
    f->meta_values[f->nmeta] = vs;
    f->nmeta++;
    return 0;
}

/* ---- dtypes ------------------------------------------------------------------ */
enum { DT_F32, DT_F64, DT_F16, DT_BF16, DT_I64, DT_I32, DT_I16, DT_I8, DT_U8, DT_BOOL };
static const struct { const char *name; int size; } dtypes[] = {
    {"F32", 4}, {"F64", 8}, {"F16", 2}, {"BF16", 2}, {"I64", 8},
    {"I32", 4}, {"I16", 2}, {"I8", 1},  {"U8", 1},   {"BOOL", 1},
};
#define NDTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

static uint64_t le(const unsigned char *p, int nbytes)
{
    uint64_t v = 0;
    for (int k = nbytes - 1; k >= 0; k--) v = v << 8 | p[k];
    return v;
}

static float half_to_float(uint16_t h)
{
    int sign = h >> 15, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    float v;
    if (e == 0) v = ldexpf((float)m, -24);                 /* zero / subnormal */
    else if (e == 31) v = m ? NAN : INFINITY;
    else v = ldexpf((float)(m | 0x400), e - 25);
    return sign ? -v : v;
}

static void convert(int dt, const unsigned char *src, int64_t n, float *dst)
{
    int sz = dtypes[dt].size;
    for (int64_t i = 0; i < n; i++, src += sz) {
        uint64_t u = le(src, sz);
        switch (dt) {
        case DT_F32: { uint32_t b = (uint32_t)u; float f; memcpy(&f, &b, 4); dst[i] = f; break; }
        case DT_F64: { double d; memcpy(&d, &u, 8); dst[i] = (float)d; break; }
        case DT_F16: dst[i] = half_to_float((uint16_t)u); break;
        case DT_BF16: { uint32_t b = (uint32_t)u << 16; float f; memcpy(&f, &b, 4); dst[i] = f; break; }
        case DT_I64: dst[i] = (float)(int64_t)u; break;
        case DT_I32: dst[i] = (float)(int32_t)(uint32_t)u; break;
        case DT_I16: dst[i] = (float)(int16_t)(uint16_t)u; break;
        case DT_I8: dst[i] = (float)(int8_t)(uint8_t)u; break;
        case DT_U8: dst[i] = (float)(uint8_t)u; break;
        case DT_BOOL: dst[i] = u ? 1.0f : 0.0f; break;
        }
    }
}

/* ---- reading ----------------------------------------------------------------- */
typedef struct {
    const char *name;
    int dt;
    int ndim;
    int64_t shape[LLFC_MAXDIM];
    uint64_t begin, end;
} entry;

static int cmp_begin(const void *a, const void *b)
{
    const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(const entry *const *)a)->name, (*(const entry *const *)b)->name);
}

/* A JSON number that is a non-negative integer below 2^53. */
static int json_uint(const cJSON *j, uint64_t *v)
{
    if (!cJSON_IsNumber(j)) return -1;
    double d = j->valuedouble;
    if (!(d >= 0 && d < 9007199254740992.0) || d != floor(d)) return -1;
    *v = (uint64_t)d;
    return 0;
}

static int parse_entry(const cJSON *it, entry *e, const char *file)
{
    const char *nm = it->string;
    if (!cJSON_IsObject(it)) return llfc_seterr("%s: entry '%s' is not an object", file, nm);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(it, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
    if (!cJSON_IsString(dt)) return llfc_seterr("%s: tensor '%s': missing or non-string dtype", file, nm);
    if (!cJSON_IsArray(sh)) return llfc_seterr("%s: tensor '%s': missing or non-array shape", file, nm);
    if (!cJSON_IsArray(off)) return llfc_seterr("%s: tensor '%s': missing or non-array data_offsets", file, nm);
    e->name = nm;
    e->dt = -1;
    for (int k = 0; k < NDTYPES; k++)
        if (!strcmp(dt->valuestring, dtypes[k].name)) e->dt = k;
    if (e->dt < 0)
        return llfc_seterr("%s: tensor '%s': unsupported dtype '%.32s' (llfc reads F32, F64, F16, BF16, I64, I32, I16, I8, U8, BOOL)",
                           file, nm, dt->valuestring);
    int nd = cJSON_GetArraySize(sh);
    if (nd > LLFC_MAXDIM) return llfc_seterr("%s: tensor '%s': %d dimensions, at most %d supported", file, nm, nd, LLFC_MAXDIM);
    e->ndim = nd;
    uint64_t numel = 1;
    int d = 0, zero = 0;
    for (const cJSON *s = sh->child; s; s = s->next, d++) {
        uint64_t v;
        if (json_uint(s, &v) || v > ((uint64_t)1 << 40))
            return llfc_seterr("%s: tensor '%s': shape entry %d is not a valid size", file, nm, d + 1);
        e->shape[d] = (int64_t)v;
        if (v == 0) zero = 1;
        else if (numel > ((uint64_t)1 << 40) / v) return llfc_seterr("%s: tensor '%s': absurd shape", file, nm);
        else numel *= v;
    }
    if (zero) numel = 0;
    if (cJSON_GetArraySize(off) != 2 || json_uint(off->child, &e->begin) || json_uint(off->child->next, &e->end))
        return llfc_seterr("%s: tensor '%s': data_offsets must be two non-negative integers", file, nm);
    if (e->end < e->begin)
        return llfc_seterr("%s: tensor '%s': data_offsets [%llu, %llu] end before begin", file, nm,
                           (unsigned long long)e->begin, (unsigned long long)e->end);
    uint64_t bytes = numel * (uint64_t)dtypes[e->dt].size;
    if (e->end - e->begin != bytes) {
        char shp[128] = "";
        size_t at = 0;
        for (int k = 0; k < nd && at < sizeof shp - 24; k++)
            at += (size_t)snprintf(shp + at, sizeof shp - at, k ? "x%lld" : "%lld", (long long)e->shape[k]);
        return llfc_seterr("%s: tensor '%s': shape [%s] of %s needs %llu bytes but data_offsets [%llu, %llu] hold %llu",
                           file, nm, nd ? shp : "scalar", dtypes[e->dt].name, (unsigned long long)bytes,
                           (unsigned long long)e->begin, (unsigned long long)e->end,
                           (unsigned long long)(e->end - e->begin));
    }
    return 0;
}

static llfc_st_file *parse_fail(llfc_st_file *f, cJSON *root, entry *es, entry **ord)
{
    llfc_st_free(f);
    cJSON_Delete(root);
    free(es);
    free(ord);
    return NULL;
}

llfc_st_file *llfc_st_parse(const unsigned char *buf, size_t len, const char *name)
{
    if (len < 8) { llfc_seterr("%s: too short for a safetensors file (%zu bytes)", name, len); return NULL; }
    uint64_t hl = le(buf, 8);
    if (hl > LLFC_ST_MAX_HEADER) {
        llfc_seterr("%s: header length %llu is absurd (limit %d); not a safetensors file?", name,
                    (unsigned long long)hl, LLFC_ST_MAX_HEADER);
        return NULL;
    }
    if (hl > len - 8) {
        llfc_seterr("%s: header length %llu goes beyond the end of the file (%zu bytes)", name, (unsigned long long)hl, len);
        return NULL;
    }
    if (hl < 2 || buf[8] != '{') { llfc_seterr("%s: header is not a JSON object", name); return NULL; }
    const unsigned char *data = buf + 8 + hl;
    uint64_t dlen = len - 8 - hl;
    cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hl);
    if (!root) { llfc_seterr("%s: invalid JSON in the header", name); return NULL; }
    if (!cJSON_IsObject(root)) { cJSON_Delete(root); llfc_seterr("%s: header is not a JSON object", name); return NULL; }
    llfc_st_file *f = llfc_st_new();
    if (!f) { cJSON_Delete(root); return NULL; }
    int count = 0;
    for (const cJSON *it = root->child; it; it = it->next) count++;
    entry *es = llfc_mallocarray((size_t)(count ? count : 1), sizeof *es);
    entry **ord = llfc_mallocarray((size_t)(count ? count : 1), sizeof *ord);
    if (!es || !ord) return parse_fail(f, root, es, ord);
    int ne = 0, seen_meta = 0;
    for (const cJSON *it = root->child; it; it = it->next) {
        if (!it->string) { llfc_seterr("%s: header entry without a name", name); return parse_fail(f, root, es, ord); }
        if (!strcmp(it->string, "__metadata__")) {
            if (seen_meta++) { llfc_seterr("%s: duplicate __metadata__", name); return parse_fail(f, root, es, ord); }
            if (!cJSON_IsObject(it)) { llfc_seterr("%s: __metadata__ is not an object", name); return parse_fail(f, root, es, ord); }
            for (const cJSON *m = it->child; m; m = m->next) {
                if (!cJSON_IsString(m)) {
                    llfc_seterr("%s: __metadata__ value of '%s' is not a string", name, m->string ? m->string : "?");
                    return parse_fail(f, root, es, ord);
                }
                if (llfc_st_get_meta(f, m->string)) {
                    llfc_seterr("%s: duplicate __metadata__ key '%s'", name, m->string);
                    return parse_fail(f, root, es, ord);
                }
                if (llfc_st_set_meta(f, m->string, m->valuestring)) return parse_fail(f, root, es, ord);
            }
            continue;
        }
        if (parse_entry(it, &es[ne], name)) return parse_fail(f, root, es, ord);
        ord[ne] = &es[ne];
        ne++;
    }
    /* duplicate names */
    qsort(ord, (size_t)ne, sizeof *ord, cmp_name);
    for (int i = 1; i < ne; i++)
        if (!strcmp(ord[i - 1]->name, ord[i]->name)) {
            llfc_seterr("%s: duplicate tensor name '%s'", name, ord[i]->name);
            return parse_fail(f, root, es, ord);
        }
    /* offsets: sorted, contiguous, covering the data buffer exactly */
    qsort(ord, (size_t)ne, sizeof *ord, cmp_begin);
    uint64_t at = 0;
    for (int i = 0; i < ne; i++) {
        entry *e = ord[i];
        if (e->end > dlen) {
            llfc_seterr("%s: tensor '%s': data_offsets [%llu, %llu] beyond the data (%llu bytes)", name, e->name,
                        (unsigned long long)e->begin, (unsigned long long)e->end, (unsigned long long)dlen);
            return parse_fail(f, root, es, ord);
        }
        if (e->begin < at) {
            llfc_seterr("%s: tensor '%s': data_offsets [%llu, %llu] overlap '%s'", name, e->name,
                        (unsigned long long)e->begin, (unsigned long long)e->end, ord[i - 1]->name);
            return parse_fail(f, root, es, ord);
        }
        if (e->begin > at) {
            llfc_seterr("%s: gap in the data: bytes [%llu, %llu) belong to no tensor", name,
                        (unsigned long long)at, (unsigned long long)e->begin);
            return parse_fail(f, root, es, ord);
        }
        at = e->end;
    }
    if (at != dlen) {
        llfc_seterr("%s: tensors cover %llu data bytes but the file holds %llu", name,
                    (unsigned long long)at, (unsigned long long)dlen);
        return parse_fail(f, root, es, ord);
    }
    /* convert, in header order */
    for (int i = 0; i < ne; i++) {
        entry *e = &es[i];
        llfc_tensor *t = llfc_tensor_new(e->ndim, e->shape);
        if (!t) { llfc_adderr("%s: tensor '%s'", name, e->name); return parse_fail(f, root, es, ord); }
        convert(e->dt, data + e->begin, llfc_tensor_numel(t), llfc_tensor_data(t));
        if (add_owned(f, e->name, t)) return parse_fail(f, root, es, ord);
    }
    cJSON_Delete(root);
    free(es);
    free(ord);
    return f;
}

llfc_st_file *llfc_st_read(const char *path)
{
    FILE *fp = llfc_fopen_read(path);
    if (!fp) return NULL;
    if (fseek(fp, 0, SEEK_END) != 0) { fclose(fp); llfc_seterr("%s: cannot seek", path); return NULL; }
    long sz = ftell(fp);
    if (sz < 0) { fclose(fp); llfc_seterr("%s: cannot tell the size", path); return NULL; }
    rewind(fp);
    unsigned char *buf = llfc_malloc((size_t)sz + 1);
    if (!buf) { fclose(fp); return NULL; }
    size_t got = fread(buf, 1, (size_t)sz, fp);
    int err = ferror(fp);
    fclose(fp);
    if (err || got != (size_t)sz) { free(buf); llfc_seterr("%s: read error", path); return NULL; }
    llfc_st_file *f = llfc_st_parse(buf, got, path);
    free(buf);
    return f;
}

/* ---- writing ----------------------------------------------------------------- */
/* The JSON header through cJSON, padded with spaces to a multiple of 8 bytes
 * (the data then starts 8-aligned).  Sizes and offsets are integers below
 * 2^53, which cJSON prints exactly. */
static char *header_json(const llfc_st_file *f, size_t *len)
{
    cJSON *root = cJSON_CreateObject(), *meta = NULL;
    int ok = root != NULL;
    if (ok && f->nmeta) ok = (meta = cJSON_AddObjectToObject(root, "__metadata__")) != NULL;
    for (int i = 0; ok && i < f->nmeta; i++)
        ok = cJSON_AddStringToObject(meta, f->meta_keys[i], f->meta_values[i]) != NULL;
    uint64_t off = 0;
    for (int i = 0; ok && i < f->n; i++) {
        const llfc_tensor *t = f->tensors[i].t;
        uint64_t bytes = (uint64_t)llfc_tensor_numel(t) * (f->tensors[i].i64 ? 8 : 4);
        cJSON *e = cJSON_AddObjectToObject(root, f->tensors[i].name), *shape, *offs;
        ok = e && cJSON_AddStringToObject(e, "dtype", f->tensors[i].i64 ? "I64" : "F32") &&
             (shape = cJSON_AddArrayToObject(e, "shape")) && (offs = cJSON_AddArrayToObject(e, "data_offsets"));
        for (int d = 0; ok && d < t->ndim; d++) ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->size[d]));
        ok = ok && cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off)) &&
             cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + bytes)));
        off += bytes;
    }
    char *js = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!js) { llfc_seterr("out of memory building the header"); return NULL; }
    llfc_strbuf h = LLFC_STRBUF_INIT;
    llfc_strbuf_puts(&h, js);
    cJSON_free(js);
    llfc_strbuf_spaces(&h, (int)((8 - h.len % 8) % 8));
    char *out = llfc_strbuf_take(&h, len);
    if (!out) llfc_seterr("out of memory building the header");
    return out;
}

int llfc_st_write(const char *path, const llfc_st_file *f)
{
    size_t hlen;
    char *hdr = header_json(f, &hlen);
    if (!hdr) return -1;

    /* temp file in the same directory, then rename */
    llfc_afile af;
    FILE *fp = llfc_afile_open(&af, path);
    if (!fp) { free(hdr); return -1; }
    unsigned char len8[8];
    for (int k = 0; k < 8; k++) len8[k] = (unsigned char)((uint64_t)hlen >> (8 * k));
    int ok = fwrite(len8, 1, 8, fp) == 8 && fwrite(hdr, 1, hlen, fp) == hlen;
    free(hdr);
    float chunk[1024];
    unsigned char bytes[4096];
    for (int i = 0; ok && i < f->n; i++) {
        int64_t n = llfc_tensor_numel(f->tensors[i].t);
        if (n == 0) continue; /* no bytes (and any strides) */
        llfc_tensor *c = llfc_tensor_is_contiguous(f->tensors[i].t) ? NULL : llfc_tensor_clone(f->tensors[i].t);
        const llfc_tensor *t = c ? c : f->tensors[i].t;
        if (!t || !llfc_tensor_is_contiguous(t)) { llfc_tensor_free(c); ok = 0; break; }
        const float *p = llfc_tensor_data(t);
        if (f->tensors[i].i64) { /* one 8-byte little-endian integer per value */
            for (int64_t at = 0; ok && at < n; at++) {
                int64_t v = fabs((double)p[at]) < 9e18 ? (int64_t)llround((double)p[at]) : 0;
                uint64_t u = (uint64_t)v;
                for (int k = 0; k < 8; k++) bytes[k] = (unsigned char)(u >> (8 * k));
                ok = fwrite(bytes, 1, 8, fp) == 8;
            }
            llfc_tensor_free(c);
            continue;
        }
        for (int64_t at = 0; ok && at < n; at += 1024) {
            int m = n - at < 1024 ? (int)(n - at) : 1024;
            memcpy(chunk, p + at, (size_t)m * 4);
            for (int k = 0; k < m; k++) {
                uint32_t u;
                memcpy(&u, &chunk[k], 4);
                bytes[4 * k] = (unsigned char)u;
                bytes[4 * k + 1] = (unsigned char)(u >> 8);
                bytes[4 * k + 2] = (unsigned char)(u >> 16);
                bytes[4 * k + 3] = (unsigned char)(u >> 24);
            }
            ok = fwrite(bytes, 1, (size_t)m * 4, fp) == (size_t)m * 4;
        }
        llfc_tensor_free(c);
    }
    if (!ok) llfc_seterr("%s: write failed: %s", path, strerror(errno ? errno : EIO));
    return llfc_afile_commit(&af, ok);
}
