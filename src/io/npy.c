/* npy.c - read and write NumPy .npy files.
 *
 * Layout: "\x93NUMPY", major, minor, header length (uint16 LE for 1.0,
 * uint32 LE for 2.0/3.0), an ASCII Python dict literal
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 * padded with spaces and a newline, then the raw array data.
 */
#include "io/npy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_HEADER (1 << 20)
#define CHUNK 16384 /* elements converted per read */

static int host_little_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

static void swap_bytes(unsigned char *p, size_t count, size_t size)
{
    for (size_t i = 0; i < count; i++, p += size)
        for (size_t a = 0, b = size - 1; a < b; a++, b--) {
            unsigned char c = p[a];
            p[a] = p[b];
            p[b] = c;
        }
}

/* ---- header parsing ------------------------------------------------------------ */

typedef struct {
    const char *s, *end;
    const char *name; /* file name for messages */
} hparser;

static void skip_ws(hparser *p)
{
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')) p->s++;
}

static int expect(hparser *p, char c, const char *what)
{
    skip_ws(p);
    if (p->s >= p->end || *p->s != c)
        return llfc_seterr("%s: bad .npy header: expected '%c' %s", p->name, c, what);
    p->s++;
    return 0;
}

/* A quoted Python string (no escapes needed for valid headers). */
static int parse_str(hparser *p, char *out, size_t n)
{
    skip_ws(p);
    if (p->s >= p->end || (*p->s != '\'' && *p->s != '"'))
        return llfc_seterr("%s: bad .npy header: expected a quoted string", p->name);
    char q = *p->s++;
    size_t len = 0;
    while (p->s < p->end && *p->s != q) {
        if (*p->s == '\\' || len + 1 >= n)
            return llfc_seterr("%s: bad .npy header: unsupported or overlong string", p->name);
        out[len++] = *p->s++;
    }
    if (p->s >= p->end) return llfc_seterr("%s: bad .npy header: unterminated string", p->name);
    p->s++;
    out[len] = 0;
    return 0;
}

static int parse_shape(hparser *p, int *ndim, int64_t *size)
{
    if (expect(p, '(', "to open the shape tuple")) return -1;
    *ndim = 0;
    for (;;) {
        skip_ws(p);
        if (p->s < p->end && *p->s == ')') { p->s++; return 0; }
        if (p->s >= p->end || *p->s < '0' || *p->s > '9')
            return llfc_seterr("%s: bad .npy header: the shape must be a tuple of non-negative integers", p->name);
        int64_t v = 0;
        while (p->s < p->end && *p->s >= '0' && *p->s <= '9') {
            if (v > (INT64_MAX - 9) / 10) return llfc_seterr("%s: bad .npy header: shape value too large", p->name);
            v = v * 10 + (*p->s++ - '0');
        }
        if (p->s < p->end && *p->s == 'L') p->s++; /* Python 2 long */
        if (*ndim >= LLFC_MAXDIM)
            return llfc_seterr("%s: the array has more than %d dimensions", p->name, LLFC_MAXDIM);
        size[(*ndim)++] = v;
        skip_ws(p);
        if (p->s < p->end && *p->s == ',') { p->s++; continue; }
        if (p->s < p->end && *p->s == ')') { p->s++; return 0; }
        return llfc_seterr("%s: bad .npy header: expected ',' or ')' in the shape", p->name);
    }
}

typedef struct {
    char descr[32];
    int fortran;
    int ndim;
    int64_t size[LLFC_MAXDIM];
} npy_header;

static int parse_header(const char *text, size_t len, const char *name, npy_header *h)
{
    hparser p = {text, text + len, name};
    int have_descr = 0, have_fortran = 0, have_shape = 0;
    if (expect(&p, '{', "at the start of the header dict")) return -1;
    for (;;) {
        skip_ws(&p);
        if (p.s < p.end && *p.s == '}') { p.s++; break; }
        char key[32];
        if (parse_str(&p, key, sizeof key) || expect(&p, ':', "after a key")) return -1;
        skip_ws(&p);
        if (!strcmp(key, "descr")) {
            if (p.s < p.end && *p.s == '[')
                return llfc_seterr("%s: structured dtypes are not supported", name);
            if (parse_str(&p, h->descr, sizeof h->descr)) return -1;
            have_descr = 1;
        } else if (!strcmp(key, "fortran_order")) {
            if (p.end - p.s >= 4 && !memcmp(p.s, "True", 4)) { h->fortran = 1; p.s += 4; }
            else if (p.end - p.s >= 5 && !memcmp(p.s, "False", 5)) { h->fortran = 0; p.s += 5; }
            else return llfc_seterr("%s: bad .npy header: fortran_order must be True or False", name);
            have_fortran = 1;
        } else if (!strcmp(key, "shape")) {
            if (parse_shape(&p, &h->ndim, h->size)) return -1;
            have_shape = 1;
        } else {
            return llfc_seterr("%s: bad .npy header: unexpected key '%s'", name, key);
        }
        skip_ws(&p);
        if (p.s < p.end && *p.s == ',') { p.s++; continue; }
        if (p.s < p.end && *p.s == '}') { p.s++; break; }
        return llfc_seterr("%s: bad .npy header: expected ',' or '}' after the value of '%s'", name, key);
    }
    skip_ws(&p);
    if (p.s != p.end) return llfc_seterr("%s: bad .npy header: junk after the dict", name);
    if (!have_descr || !have_fortran || !have_shape)
        return llfc_seterr("%s: bad .npy header: missing '%s'", name,
                           !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
    return 0;
}

/* dtype codes */
enum { DT_F4, DT_F8, DT_I1, DT_I2, DT_I4, DT_I8, DT_U1, DT_U2, DT_U4, DT_U8, DT_B1 };

static int parse_descr(const char *d, const char *name, int *dt, size_t *itemsize)
{
    static const struct { const char *code; int dt; size_t size; } types[] = {
        {"f4", DT_F4, 4}, {"f8", DT_F8, 8}, {"i1", DT_I1, 1}, {"i2", DT_I2, 2}, {"i4", DT_I4, 4},
        {"i8", DT_I8, 8}, {"u1", DT_U1, 1}, {"u2", DT_U2, 2}, {"u4", DT_U4, 4}, {"u8", DT_U8, 8},
        {"b1", DT_B1, 1},
    };
    char order = d[0];
    if (order != '<' && order != '>' && order != '|' && order != '=')
        return llfc_seterr("%s: unsupported dtype '%s'", name, d);
    if (d[1] == 'O') return llfc_seterr("%s: object arrays ('%s') are not supported", name, d);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (strcmp(d + 1, types[i].code)) continue;
        int big = order == '>' || (order == '=' && !host_little_endian());
        if (big && types[i].size > 1)
            return llfc_seterr("%s: big-endian data ('%s') is not supported; save it little-endian", name, d);
        if (order == '|' && types[i].size > 1) return llfc_seterr("%s: unsupported dtype '%s'", name, d);
        *dt = types[i].dt;
        *itemsize = types[i].size;
        return 0;
    }
    return llfc_seterr("%s: unsupported dtype '%s' (float32, float64, int8-64, uint8-64 and bool are read)", name, d);
}

/* out[i] = (float) little-endian item i of raw */
static void convert(int dt, const unsigned char *raw, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const unsigned char *q = raw + i * 8;
        switch (dt) {
        case DT_F4: { float v; memcpy(&v, raw + i * 4, 4); out[i] = v; break; }
        case DT_F8: { double v; memcpy(&v, q, 8); out[i] = (float)v; break; }
        case DT_I1: out[i] = (float)(int8_t)raw[i]; break;
        case DT_U1: out[i] = (float)raw[i]; break;
        case DT_B1: out[i] = raw[i] ? 1.0f : 0.0f; break;
        case DT_I2: { int16_t v; memcpy(&v, raw + i * 2, 2); out[i] = (float)v; break; }
        case DT_U2: { uint16_t v; memcpy(&v, raw + i * 2, 2); out[i] = (float)v; break; }
        case DT_I4: { int32_t v; memcpy(&v, raw + i * 4, 4); out[i] = (float)v; break; }
        case DT_U4: { uint32_t v; memcpy(&v, raw + i * 4, 4); out[i] = (float)v; break; }
        case DT_I8: { int64_t v; memcpy(&v, q, 8); out[i] = (float)v; break; }
        default:    { uint64_t v; memcpy(&v, q, 8); out[i] = (float)v; break; }
        }
    }
}

llfc_tensor *llfc_npy_read(FILE *f, const char *name)
{
    unsigned char pre[12];
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6)) {
        llfc_seterr("%s: not a .npy file (bad magic string)", name);
        return NULL;
    }
    int major = pre[6];
    size_t hlen, hstart;
    if (major == 1) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
        hstart = 10;
    } else if (major == 2 || major == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) { llfc_seterr("%s: truncated .npy header", name); return NULL; }
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        hstart = 12;
    } else {
        llfc_seterr("%s: unsupported .npy format version %d.%d", name, major, pre[7]);
        return NULL;
    }
    if (hlen > MAX_HEADER) {
        llfc_seterr("%s: .npy header too long (%zu bytes)", name, hlen);
        return NULL;
    }
    /* bound the data by the stream's size before allocating anything */
    long here = ftell(f);
    if (here < 0 || fseek(f, 0, SEEK_END) != 0) { llfc_seterr("%s: cannot seek: %s", name, strerror(errno)); return NULL; }
    long fsize = ftell(f);
    if (fsize < 0 || fseek(f, here, SEEK_SET) != 0) { llfc_seterr("%s: cannot seek: %s", name, strerror(errno)); return NULL; }
    if ((uint64_t)fsize < hstart + hlen) {
        llfc_seterr("%s: truncated .npy header (%zu bytes announced, %ld in the file)", name, hlen,
                    fsize - (long)hstart < 0 ? 0L : fsize - (long)hstart);
        return NULL;
    }
    char *text = llfc_malloc(hlen + 1);
    if (!text) return NULL;
    if (fread(text, 1, hlen, f) != hlen) {
        free(text);
        llfc_seterr("%s: read error in the .npy header", name);
        return NULL;
    }
    text[hlen] = 0;
    npy_header h = {0};
    int rc = parse_header(text, hlen, name, &h);
    free(text);
    if (rc) return NULL;
    int dt = DT_F4;
    size_t isz = 4;
    if (parse_descr(h.descr, name, &dt, &isz)) return NULL;
    int64_t numel = 1;
    for (int d = 0; d < h.ndim; d++) {
        if (h.size[d] && numel > INT64_MAX / 16 / h.size[d]) {
            llfc_seterr("%s: the shape is too large", name);
            return NULL;
        }
        numel *= h.size[d] ? h.size[d] : 1;
    }
    for (int d = 0; d < h.ndim; d++) if (!h.size[d]) numel = 0;
    int long_dims = 0; /* Fortran order equals C order with at most one dimension > 1 */
    for (int d = 0; d < h.ndim; d++) long_dims += h.size[d] > 1;
    if (h.fortran && long_dims > 1) {
        llfc_seterr("%s: Fortran-order arrays are not supported (save with np.ascontiguousarray)", name);
        return NULL;
    }
    uint64_t need = (uint64_t)numel * isz, have = (uint64_t)fsize - hstart - hlen;
    if (have < need) {
        llfc_seterr("%s: truncated data: the header announces %llu bytes (%lld x %s), the file holds %llu",
                    name, (unsigned long long)need, (long long)numel, h.descr, (unsigned long long)have);
        return NULL;
    }
    llfc_tensor *t = llfc_tensor_new(h.ndim, h.size);
    if (!t) return NULL;
    unsigned char *raw = llfc_malloc(CHUNK * 8);
    if (!raw) { llfc_tensor_free(t); return NULL; }
    float *out = llfc_tensor_data(t);
    for (int64_t done = 0; done < numel;) {
        size_t n = (size_t)(numel - done < CHUNK ? numel - done : CHUNK);
        if (fread(raw, isz, n, f) != n) {
            llfc_seterr("%s: read error in the data after %lld of %lld elements", name, (long long)done,
                        (long long)numel);
            free(raw);
            llfc_tensor_free(t);
            return NULL;
        }
        if (!host_little_endian() && isz > 1) swap_bytes(raw, n, isz);
        convert(dt, raw, out + done, n);
        done += (int64_t)n;
    }
    free(raw);
    return t;
}

llfc_tensor *llfc_npy_load(const char *path)
{
    FILE *f = llfc_fopen_read(path);
    if (!f) return NULL;
    llfc_tensor *t = llfc_npy_read(f, path);
    fclose(f);
    return t;
}

/* ---- writing -------------------------------------------------------------------- */

int llfc_npy_save(const char *path, const llfc_tensor *t)
{
    char header[512];
    int n = snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int d = 0; d < t->ndim; d++)
        n += snprintf(header + n, sizeof header - (size_t)n, "%lld%s", (long long)t->size[d],
                      t->ndim == 1 ? "," : d + 1 < t->ndim ? ", " : "");
    n += snprintf(header + n, sizeof header - (size_t)n, "), }");
    /* pad so that magic + version + length + header is a multiple of 64 */
    size_t total = 10 + (size_t)n + 1, padded = (total + 63) / 64 * 64;
    memset(header + n, ' ', padded - total);
    header[padded - 10 - 1] = '\n';
    size_t hlen = padded - 10;

    llfc_afile af;
    FILE *f = llfc_afile_open(&af, path);
    if (!f) return -1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(header, 1, hlen, f) == hlen;
    int64_t numel = llfc_tensor_numel(t);
    float *buf = NULL;
    if (ok && numel > 0) {
        if (llfc_tensor_is_contiguous(t) && host_little_endian()) {
            ok = fwrite(llfc_tensor_data(t), sizeof(float), (size_t)numel, f) == (size_t)numel;
        } else if ((buf = llfc_mallocarray((size_t)numel, sizeof(float)))) {
            llfc_tensor_read(t, buf);
            if (!host_little_endian()) swap_bytes((unsigned char *)buf, (size_t)numel, 4);
            ok = fwrite(buf, sizeof(float), (size_t)numel, f) == (size_t)numel;
        } else {
            ok = -1;
        }
    }
    free(buf);
    if (ok == 0) llfc_seterr("%s: write failed: %s", path, strerror(errno));
    return llfc_afile_commit(&af, ok == 1);
}
