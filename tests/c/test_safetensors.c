/* test_safetensors.c - safetensors: round trip, files built byte by byte in
 * the test (independently of the writer), dtype conversion, and hostile
 * files (each must fail with a clear message, never crash or over-read). */
#include "check.h"
#include "io/safetensors.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static const char *path(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

/* 8-byte LE length + header + data, in memory */
static unsigned char *build(const char *header, const void *data, size_t dlen, size_t *len)
{
    size_t hl = strlen(header);
    unsigned char *b = malloc(8 + hl + dlen + 1);
    for (int k = 0; k < 8; k++) b[k] = (unsigned char)((uint64_t)hl >> (8 * k));
    memcpy(b + 8, header, hl);
    if (dlen) memcpy(b + 8 + hl, data, dlen);
    *len = 8 + hl + dlen;
    return b;
}

/* parse header+data; expect failure containing `what` */
static void hostile(const char *header, const void *data, size_t dlen, const char *what, const char *name)
{
    size_t len;
    unsigned char *b = build(header, data, dlen, &len);
    /* copy to an exact-size heap block so ASan catches any over-read */
    unsigned char *exact = malloc(len);
    memcpy(exact, b, len);
    llfc_st_file *f = llfc_st_parse(exact, len, "h.safetensors");
    CHECK(!f && strstr(llfc_errmsg(), what) && strstr(llfc_errmsg(), "h.safetensors"), "hostile: %s (%s)", name, llfc_errmsg());
    llfc_st_free(f);
    free(exact);
    free(b);
}

static void test_handmade(void)
{
    /* two F32 tensors and metadata, written here by hand */
    float w[6] = {1, -2, 3.5f, 4, 5, 6}, bias[2] = {0.25f, -0.5f};
    unsigned char data[32];
    memcpy(data, w, 24);                 /* little-endian host assumed by the test */
    memcpy(data + 24, bias, 8);
    const char *h = "{\"__metadata__\":{\"arch\":\"mlp\",\"widths\":\"3,2\"},"
                    "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                    "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]}}";
    size_t len;
    unsigned char *b = build(h, data, 32, &len);
    llfc_st_file *f = llfc_st_parse(b, len, "hand");
    free(b);
    CHECK(f && f->n == 2 && f->nmeta == 2, "hand-made file: 2 tensors, 2 metadata entries");
    if (!f) return;
    llfc_tensor *t = llfc_st_get(f, "0.weight");
    CHECK(t && t->ndim == 2 && t->size[0] == 2 && t->size[1] == 3 && llfc_tensor_data(t)[2] == 3.5f, "0.weight [2,3] values");
    t = llfc_st_get(f, "0.bias");
    CHECK(t && t->ndim == 1 && llfc_tensor_data(t)[1] == -0.5f, "0.bias values");
    CHECK(!strcmp(f->tensors[0].name, "0.weight"), "header order kept");
    CHECK(llfc_st_get_meta(f, "widths") && !strcmp(llfc_st_get_meta(f, "widths"), "3,2"), "metadata value");

    /* round trip through the writer */
    CHECK(llfc_st_write(path("rt.safetensors"), f) == 0, "write");
    llfc_st_file *g = llfc_st_read(path("rt.safetensors"));
    CHECK(g && g->n == 2 && g->nmeta == 2 && !memcmp(llfc_tensor_data(llfc_st_get(g, "0.weight")), w, 24)
          && !memcmp(llfc_tensor_data(llfc_st_get(g, "0.bias")), bias, 8)
          && !strcmp(llfc_st_get_meta(g, "arch"), "mlp"), "round trip: tensors and metadata identical");
    /* the written bytes: header length multiple of 8, padded with spaces, data after */
    FILE *fp = fopen(path("rt.safetensors"), "rb");
    unsigned char raw[1024];
    size_t n = fread(raw, 1, sizeof raw, fp);
    fclose(fp);
    uint64_t hl = 0;
    for (int k = 7; k >= 0; k--) hl = hl << 8 | raw[k];
    CHECK(hl % 8 == 0 && raw[8] == '{' && n == 8 + hl + 32, "written header length %llu is a multiple of 8, data follows", (unsigned long long)hl);
    CHECK(raw[8 + hl - 1] == ' ' || raw[8 + hl - 1] == '}', "header padded with spaces");
    CHECK(!memcmp(raw + 8 + hl, w, 24), "F32 data little-endian at offset 0");
    struct stat st;
    CHECK(stat(path("rt.safetensors"), &st) == 0 && (st.st_mode & 0044), "written file is readable like a normal file");
    llfc_st_free(g);
    llfc_st_free(f);

    /* names with quotes and backslashes survive */
    f = llfc_st_new();
    llfc_tensor *x = llfc_tensor_new2(2, 2);
    llfc_tensor_data(x)[3] = 7;
    CHECK(llfc_st_add(f, "we\"ird\\name\n", x) == 0, "add an odd name");
    CHECK(llfc_st_add(f, "we\"ird\\name\n", x) == -1 && strstr(llfc_errmsg(), "duplicate"), "add: duplicate name rejected");
    CHECK(llfc_st_add(f, "__metadata__", x) == -1, "add: __metadata__ rejected");
    llfc_st_set_meta(f, "k\"", "v\\");
    llfc_st_set_meta(f, "k\"", "v2");
    llfc_tensor_free(x);
    CHECK(llfc_st_write(path("odd.safetensors"), f) == 0, "write odd names");
    g = llfc_st_read(path("odd.safetensors"));
    CHECK(g && g->n == 1 && !strcmp(g->tensors[0].name, "we\"ird\\name\n") && llfc_tensor_data(g->tensors[0].t)[3] == 7
          && !strcmp(llfc_st_get_meta(g, "k\""), "v2"), "odd names and metadata round trip (tensor kept alive by the file)");
    llfc_st_free(g);
    llfc_st_free(f);
    /* empty file object */
    f = llfc_st_new();
    CHECK(llfc_st_write(path("empty.safetensors"), f) == 0, "write no tensors");
    g = llfc_st_read(path("empty.safetensors"));
    CHECK(g && g->n == 0, "read no tensors");
    llfc_st_free(g);
    llfc_st_free(f);
    /* a non-contiguous view is written in logical order */
    x = llfc_tensor_new2(2, 3);
    for (int i = 0; i < 6; i++) llfc_tensor_data(x)[i] = (float)i;
    llfc_tensor *tr = llfc_tensor_share(x);
    tr->size[0] = 3; tr->size[1] = 2; tr->stride[0] = 1; tr->stride[1] = 3; /* transpose */
    f = llfc_st_new();
    llfc_st_add(f, "t", tr);
    llfc_st_write(path("tr.safetensors"), f);
    g = llfc_st_read(path("tr.safetensors"));
    CHECK(g && llfc_tensor_data(g->tensors[0].t)[1] == 3 && llfc_tensor_data(g->tensors[0].t)[2] == 1, "transposed view written in logical order");
    llfc_st_free(g);
    llfc_st_free(f);
    llfc_tensor_free(tr);
    llfc_tensor_free(x);
    /* write into a missing directory fails cleanly */
    f = llfc_st_new();
    CHECK(llfc_st_write("/nonexistent-dir/x.safetensors", f) == -1 && strstr(llfc_errmsg(), "x.safetensors"), "write to a missing directory fails");
    llfc_st_free(f);
    CHECK(!llfc_st_read(path("missing.safetensors")) && strstr(llfc_errmsg(), "No such file"), "read a missing file fails");
}

static void test_dtypes(void)
{
    unsigned char d[64];
    size_t o = 0;
    double f64[2] = {1.5, -1e-3};
    memcpy(d, f64, 16); o = 16;
    uint16_t f16[3] = {0x3c00, 0xc000, 0x0001};     /* 1, -2, 2^-24 */
    memcpy(d + o, f16, 6); o += 6;
    uint16_t bf16[2] = {0x3fc0, 0xc2f7};            /* 1.5, -123.5 */
    memcpy(d + o, bf16, 4); o += 4;
    int64_t i64[1] = {-5}; memcpy(d + o, i64, 8); o += 8;
    int32_t i32[1] = {70000}; memcpy(d + o, i32, 4); o += 4;
    int8_t i8[2] = {-128, 127}; memcpy(d + o, i8, 2); o += 2;
    uint8_t u8[2] = {255, 0}; memcpy(d + o, u8, 2); o += 2;
    uint8_t bl[1] = {1}; memcpy(d + o, bl, 1); o += 1;
    char h[1024];
    snprintf(h, sizeof h, "{\"a\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]},"
             "\"b\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[16,22]},"
             "\"c\":{\"dtype\":\"BF16\",\"shape\":[1,2],\"data_offsets\":[22,26]},"
             "\"d\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[26,34]},"
             "\"e\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[34,38]},"
             "\"f\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[38,40]},"
             "\"g\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[40,42]},"
             "\"h\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[42,43]},"
             "\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[43,43]},"
             "\"y\":{\"dtype\":\"F32\",\"shape\":[2,0],\"data_offsets\":[43,43]}}");
    size_t len;
    unsigned char *b = build(h, d, o, &len);
    llfc_st_file *f = llfc_st_parse(b, len, "dt");
    free(b);
    CHECK(f && f->n == 10, "mixed dtypes parse (%s)", f ? "" : llfc_errmsg());
    if (!f) return;
#define V(name, i) llfc_tensor_data(llfc_st_get(f, name))[i]
    CHECK(V("a", 0) == 1.5f && V("a", 1) == (float)-1e-3, "F64 -> float");
    CHECK(V("b", 0) == 1.0f && V("b", 1) == -2.0f && V("b", 2) == ldexpf(1, -24), "F16 -> float (incl. subnormal)");
    CHECK(V("c", 0) == 1.5f && V("c", 1) == -123.5f, "BF16 -> float");
    CHECK(V("d", 0) == -5 && llfc_st_get(f, "d")->ndim == 0, "I64 scalar");
    CHECK(V("e", 0) == 70000 && V("f", 0) == -128 && V("f", 1) == 127 && V("g", 0) == 255 && V("h", 0) == 1, "I32, I8, U8, BOOL");
    CHECK(llfc_tensor_numel(llfc_st_get(f, "z")) == 0, "empty tensor [0,3]");
    /* regression (fuzzer): writing a [2,0] tensor leaked a clone and failed */
    CHECK(llfc_st_write(path("dt.safetensors"), f) == 0, "write converted dtypes and empty tensors (%s)", llfc_errmsg());
    llfc_st_file *g = llfc_st_read(path("dt.safetensors"));
    CHECK(g && g->n == 10 && llfc_st_get(g, "y")->size[0] == 2 && llfc_st_get(g, "y")->size[1] == 0
          && llfc_tensor_data(llfc_st_get(g, "b"))[2] == ldexpf(1, -24), "read back: empty tensors keep their shapes, values float32");
    llfc_st_free(g);
#undef V
    llfc_st_free(f);
}

static void test_hostile(void)
{
    float z[4] = {0};
    size_t len;
    const char *ok1 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    /* too short; header length beyond the file; absurd */
    unsigned char *b = build(ok1, z, 8, &len);
    llfc_st_file *f = llfc_st_parse(b, 5, "h.safetensors");
    CHECK(!f && strstr(llfc_errmsg(), "too short"), "hostile: shorter than 8 bytes");
    b[0] = 200;
    f = llfc_st_parse(b, len, "h.safetensors");
    CHECK(!f && strstr(llfc_errmsg(), "beyond the end"), "hostile: header length beyond the file (%s)", llfc_errmsg());
    b[6] = 1;
    f = llfc_st_parse(b, len, "h.safetensors");
    CHECK(!f && strstr(llfc_errmsg(), "absurd"), "hostile: absurd header length (%s)", llfc_errmsg());
    free(b);
    b = build(ok1, z, 8, &len);
    f = llfc_st_parse(b, len - 1, "h.safetensors");
    CHECK(!f && strstr(llfc_errmsg(), "beyond the data"), "hostile: data truncated (%s)", llfc_errmsg());
    free(b);
    hostile("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]", z, 8, "invalid JSON", "bad JSON");
    hostile("[1,2,3]", z, 0, "not a JSON object", "JSON array header");
    hostile("{\"a\":5}", z, 0, "'a' is not an object", "non-object entry");
    hostile("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", z, 8, "dtype", "missing dtype");
    hostile("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", z, 8, "shape", "missing shape");
    hostile("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", z, 8, "data_offsets", "missing data_offsets");
    hostile("{\"a\":{\"dtype\":\"C64\",\"shape\":[2],\"data_offsets\":[0,8]}}", z, 8, "unsupported dtype 'C64'", "unknown dtype");
    hostile("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", z, 8, "needs 12 bytes", "shape disagrees with byte count");
    hostile("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", z, 8, "shape entry 1", "negative size");
    hostile("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", z, 8, "shape entry 1", "fractional size");
    hostile("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", z, 8, "shape entry 1", "string size");
    hostile("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}", z, 8, "9 dimensions", "too many dimensions");
    hostile("{\"a\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],\"data_offsets\":[0,8]}}", z, 8, "absurd shape", "huge shape");
    hostile("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", z, 8, "end before begin", "reversed offsets");
    hostile("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", z, 8, "two non-negative", "one offset");
    hostile("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", z, 8, "beyond the data", "offsets out of range");
    hostile("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
            z, 8, "overlap", "overlapping offsets");
    hostile("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", z, 8, "gap", "gap before a tensor");
    hostile("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", z, 8, "cover 4 data bytes but the file holds 8", "not covering the data");
    hostile("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
            z, 8, "duplicate tensor name 'a'", "duplicate names");
    hostile("{\"__metadata__\":{\"k\":1},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", z, 8, "not a string", "non-string metadata");
    hostile("{\"__metadata__\":[],\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", z, 8, "not an object", "metadata array");
    hostile("{\"a\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,8]}}", z, 8, "dtype", "numeric dtype");
    hostile("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,1e300]}}", z, 8, "two non-negative", "huge offset");
    hostile("", z, 0, "not a JSON object", "empty header");
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/llfc-test-st-XXXXXX");
    if (!mkdtemp(dir)) { printf("not ok - mkdtemp\n"); return 1; }
    test_handmade();
    test_dtypes();
    test_hostile();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("# could not remove %s\n", dir);
    return check_summary();
}
