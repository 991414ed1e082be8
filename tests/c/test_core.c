/* test_core.c - errors, PRNG, the BLAS shim, tensors' storage and views, MLP forward. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "check.h"
#include "core/core.h"
#include "core/strbuf.h"
#include "core/csv.h"
#include "nn/nn.h"
#include "nn/build.h"
#include "core/tensor.h"

static void test_errors(void)
{
    CHECK(llfc_seterr("bad %d", 3) == -1, "seterr returns -1");
    CHECK(strcmp(llfc_errmsg(), "bad 3") == 0, "seterr formats the message");
    llfc_adderr("mm");
    CHECK(strcmp(llfc_errmsg(), "mm: bad 3") == 0, "adderr prefixes the message");
}

/* The string builder against the C library's own formatting. */
static void test_strbuf(void)
{
    llfc_strbuf b = LLFC_STRBUF_INIT;
    char *s = llfc_strbuf_take(&b, NULL);
    CHECK(s && s[0] == '\0', "strbuf: an empty buffer hands over \"\"");
    free(s);
    char ref[4096] = "";
    size_t rl = 0;
    for (int i = 0; i < 200; i++) { /* grows past every capacity step */
        llfc_strbuf_printf(&b, "%d:%s,", i, i % 7 ? "x" : "yy");
        rl += (size_t)snprintf(ref + rl, sizeof ref - rl, "%d:%s,", i, i % 7 ? "x" : "yy");
    }
    llfc_strbuf_append(&b, "ab\0cd", 5); /* counted bytes, a NUL included */
    memcpy(ref + rl, "ab\0cd", 5);
    rl += 5;
    CHECK(b.len == rl && memcmp(b.s, ref, rl) == 0 && b.s[b.len] == '\0', "strbuf: printf and append give the same bytes as snprintf (%zu)", rl);
    char big[1000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    size_t before = b.len;
    llfc_strbuf_printf(&b, "<%s>", big); /* longer than the stack buffer */
    CHECK(b.len == before + 1001 && b.s[before] == '<' && b.s[b.len - 1] == '>' && b.s[b.len - 2] == 'z',
          "strbuf: a long printf is written whole");
    llfc_strbuf_spaces(&b, 3);
    llfc_strbuf_putc(&b, '!');
    CHECK(!strcmp(b.s + b.len - 4, "   !"), "strbuf: spaces and putc");
    CHECK(llfc_strbuf_reserve(&b, 100000) == 0 && b.cap >= b.len + 100001, "strbuf: reserve makes room");
    size_t len;
    s = llfc_strbuf_take(&b, &len);
    CHECK(s && len == before + 1005 && b.s == NULL && b.len == 0, "strbuf: take hands the text over and empties the buffer");
    free(s);
    CHECK(llfc_strbuf_reserve(&b, SIZE_MAX) == -1 && b.oom, "strbuf: an impossible size sets the OOM flag");
    llfc_strbuf_puts(&b, "lost");
    CHECK(b.len == 0, "strbuf: after OOM nothing is appended");
    llfc_seterr("%s", "");
    CHECK(llfc_strbuf_take(&b, NULL) == NULL && strstr(llfc_errmsg(), "out of memory"), "strbuf: take after OOM fails with a message");
    llfc_strbuf_puts(&b, "again");
    CHECK(b.s && !strcmp(b.s, "again") && !b.oom, "strbuf: usable again after take");
    llfc_strbuf_free(&b);
    CHECK(b.s == NULL && b.len == 0, "strbuf: free empties");
}

/* CSV cells against hand-written RFC 4180 text. */
static void test_csv(void)
{
    llfc_strbuf out = LLFC_STRBUF_INIT;
    llfc_csv c = {&out, 0};
    llfc_csv_text(&c, "alpha", 5);
    llfc_csv_text(&c, "a,\"b\"", 5);
    llfc_csv_text(&c, "line\nbreak", 10);
    llfc_csv_endrow(&c);
    llfc_csv_number(&c, 0.1);
    llfc_csv_number(&c, 1.0 / 3.0);
    llfc_csv_number(&c, NAN);
    llfc_csv_number(&c, -INFINITY);
    llfc_csv_integer(&c, -9007199254740993LL);
    llfc_csv_empty(&c);
    llfc_csv_endrow(&c);
    llfc_csv_empty(&c);
    llfc_csv_endrow(&c);
    const char *want = "alpha,\"a,\"\"b\"\"\",\"line\nbreak\"\n0.1,0.3333333333,nan,-inf,-9007199254740993,\n\n";
    CHECK(out.s && !strcmp(out.s, want), "csv: quoting, numbers (10 digits, nan, -inf), integers exactly, empty cells: %s", out.s);
    llfc_strbuf_free(&out);
}

static int exists(const char *dir, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static void touch(const char *dir, const char *name, int age_seconds)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f) { fputs("partial", f); fclose(f); }
    struct utimbuf t = {time(NULL) - age_seconds, time(NULL) - age_seconds};
    utime(p, &t);
}

/* Atomic saves: the temporary name carries the pid; a successful save removes
 * leftovers of killed saves of the same target, and nothing else. */
static void test_afile(void)
{
    char dir[] = "/tmp/llfc_afile_XXXXXX";
    if (!mkdtemp(dir)) { CHECK(0, "afile: a temporary directory"); return; }
    char target[256];
    snprintf(target, sizeof target, "%s/model.bin", dir);
    llfc_afile a;
    FILE *f = llfc_afile_open(&a, target);
    char want[64];
    snprintf(want, sizeof want, "model.bin.tmp.%ld.", (long)getpid());
    CHECK(f && strstr(a.tmp, want) && exists(dir, strrchr(a.tmp, '/') + 1) && !exists(dir, "model.bin"),
          "afile: writes to model.bin.tmp.PID.XXXXXX first (%s)", f ? a.tmp : llfc_errmsg());
    if (f) fputs("new", f);
    /* a dead process: a child that has exited and been reaped */
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0);
    char dead[64], dead_fresh[64], alive[64], mine[64], other[64];
    snprintf(dead, sizeof dead, "model.bin.tmp.%ld.aB3dE9", (long)child);
    snprintf(dead_fresh, sizeof dead_fresh, "model.bin.tmp.%ld.Zz0011", (long)child);
    snprintf(alive, sizeof alive, "model.bin.tmp.%ld.qwerty", (long)getppid());
    snprintf(mine, sizeof mine, "model.bin.tmp.%ld.abcdef", (long)getpid());
    snprintf(other, sizeof other, "other.bin.tmp.%ld.aB3dE9", (long)child);
    touch(dir, dead, 3600);
    touch(dir, dead_fresh, 0);
    touch(dir, alive, 3600);
    touch(dir, mine, 3600);
    touch(dir, other, 3600);
    touch(dir, "model.bin.tmp.XYZabc", 3600);   /* an older version's name: no pid */
    touch(dir, "model.bin.tmp.12x.abcdef", 3600); /* not a pid */
    CHECK(f && llfc_afile_commit(&a, 1) == 0, "afile: commit");
    FILE *r = fopen(target, "r");
    char got[16] = "";
    if (r) { if (!fgets(got, sizeof got, r)) got[0] = 0; fclose(r); }
    CHECK(!strcmp(got, "new"), "afile: the target holds the new text");
    CHECK(!exists(dir, dead), "afile: a stale leftover of a dead process is removed on the next save");
    CHECK(exists(dir, dead_fresh), "afile: a leftover changed within the last minute is kept (a writer in another PID namespace)");
    CHECK(exists(dir, alive), "afile: the temporary file of a running process is kept");
    CHECK(exists(dir, mine), "afile: this process's own temporary files are kept");
    CHECK(exists(dir, other), "afile: leftovers of another target are kept");
    CHECK(exists(dir, "model.bin.tmp.XYZabc") && exists(dir, "model.bin.tmp.12x.abcdef"), "afile: names not of the form NAME.tmp.PID.XXXXXX are kept");
    /* a failed save removes its own temporary file and keeps the old target */
    f = llfc_afile_open(&a, target);
    if (f) fputs("half", f);
    CHECK(f && llfc_afile_commit(&a, 0) == -1, "afile: a failed commit reports failure");
    int tmps = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) tmps += strstr(e->d_name, want) != NULL;
    if (d) closedir(d);
    r = fopen(target, "r");
    got[0] = 0;
    if (r) { if (!fgets(got, sizeof got, r)) got[0] = 0; fclose(r); }
    CHECK(tmps == 1 && !strcmp(got, "new"), "afile: a failed save leaves no temporary file of its own (only the planted one) and the old text");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("# could not remove %s\n", dir);
}

static int prog_calls;
static int prog_go(void *ud, double d, double t, const char *w) { prog_calls++; return 0; }
static int prog_stop(void *ud, double d, double t, const char *w) { prog_calls++; return LLFC_PROGRESS_STOP; }
static int prog_fail(void *ud, double d, double t, const char *w)
{
    prog_calls++;
    return ud ? llfc_seterr("callback: %s", (const char *)ud) : LLFC_PROGRESS_FAILED;
}

static void test_progress_stop(void)
{
    llfc_seterr("stale");
    CHECK(llfc_progress_stop(NULL, NULL, 1, 2, "x") == 0 && llfc_progress_stop(prog_go, NULL, 1, 2, "x") == 0 &&
          prog_calls == 1, "progress_stop: no callback, or one going on: 0");
    CHECK(llfc_progress_stop(prog_stop, NULL, 1, 2, "x") == -1 && !strcmp(llfc_errmsg(), "interrupted"),
          "progress_stop: a callback asking to stop: -1, 'interrupted'");
    CHECK(llfc_progress_stop(prog_fail, "boom", 1, 2, "x") == -1 && !strcmp(llfc_errmsg(), "callback: boom"),
          "progress_stop: a failing callback keeps its own message");
    llfc_seterr("%s", "");
    CHECK(llfc_progress_stop(prog_fail, NULL, 1, 2, "x") == -1 && !strcmp(llfc_errmsg(), "progress callback failed"),
          "progress_stop: a failing callback without a message gets one");
    prog_calls = 0;
    llfc_interrupt_flag = 1;
    CHECK(llfc_progress_stop(prog_go, NULL, 1, 2, "x") == -1 && !strcmp(llfc_errmsg(), "interrupted") && prog_calls == 0,
          "progress_stop: Ctrl-C stops with 'interrupted' before the callback runs");
    CHECK(llfc_check_interrupt() == -1 && llfc_interrupted(), "check_interrupt is progress_stop without a callback (the flag stays)");
    llfc_interrupt_clear();
    CHECK(llfc_check_interrupt() == 0, "check_interrupt: 0 once the flag is cleared");
}

/* One allocation above the cap fails at once, with a message saying why. */
static void test_alloc_cap(void)
{
    size_t cap = llfc_alloc_cap();
    CHECK(cap >= ((size_t)1 << 26), "alloc cap: at least 64 MB (%.3g GB)", (double)cap / 0x1p30);
    double t0 = llfc_now();
    void *p = llfc_malloc(cap + 1);
    CHECK(!p && strstr(llfc_errmsg(), "more than the cap"), "alloc cap: malloc above the cap fails (%s)", llfc_errmsg());
    p = llfc_calloc(cap / 2 + 1, 2);
    CHECK(!p && strstr(llfc_errmsg(), "more than the cap"), "alloc cap: calloc above the cap fails");
    p = llfc_mallocarray(cap / 4 + 1, 4);
    CHECK(!p && strstr(llfc_errmsg(), "more than the cap"), "alloc cap: mallocarray above the cap fails");
    void *q = llfc_malloc(16);
    p = llfc_realloc(q, cap + 1);
    CHECK(!p && q, "alloc cap: realloc above the cap fails and keeps the block");
    free(q);
    int64_t big[2] = {(int64_t)(cap / 4 / 1024) + 1, 1024};
    CHECK(!llfc_tensor_new(2, big) && strstr(llfc_errmsg(), "allocation cap"), "alloc cap: a tensor above the cap is refused");
    CHECK(llfc_now() - t0 < 1.0, "alloc cap: refused without trying (%.3f s)", llfc_now() - t0);
}

static void test_rng(void)
{
    llfc_rng a, b;
    llfc_rng_seed(&a, 42);
    llfc_rng_seed(&b, 42);
    int same = 1;
    for (int i = 0; i < 100; i++) same &= llfc_rng_next(&a) == llfc_rng_next(&b);
    CHECK(same, "same seed, same stream");
    /* splitmix64(0) first output is a published constant */
    llfc_rng_seed(&a, 0);
    CHECK(a.s[0] == 0xe220a8397b1dcdafULL, "splitmix64 seeding matches the reference value");
    double sum = 0, sq = 0;
    llfc_rng_seed(&a, 7);
    for (int i = 0; i < 100000; i++) { double v = llfc_rng_normal(&a); sum += v; sq += v * v; }
    CHECK_NEAR(sum / 100000, 0.0, 0.02, "normal mean ~ 0");
    CHECK_NEAR(sq / 100000, 1.0, 0.02, "normal variance ~ 1");
    int64_t perm[50];
    for (int i = 0; i < 50; i++) perm[i] = i;
    llfc_rng_shuffle(&a, perm, 50);
    int seen[50] = {0}, ok = 1;
    for (int i = 0; i < 50; i++) { if (perm[i] < 0 || perm[i] >= 50 || seen[perm[i]]++) ok = 0; }
    CHECK(ok, "shuffle is a permutation");
}

static void test_gemm(void)
{
    llfc_rng r;
    llfc_rng_seed(&r, 1);
    int shapes[][3] = {{1, 1, 1}, {1, 7, 3}, {5, 1, 4}, {6, 5, 1}, {17, 13, 9}, {64, 33, 70}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
                float *C = malloc(sizeof(float) * M * N);
                for (int i = 0; i < M * K; i++) A[i] = llfc_rng_float(&r) - 0.5f;
                for (int i = 0; i < K * N; i++) B[i] = llfc_rng_float(&r) - 0.5f;
                for (int i = 0; i < M * N; i++) C[i] = 1.0f;
                llfc_gemm(ta, tb, M, N, K, 2.0f, A, ta ? M : K, B, tb ? K : N, 0.5f, C, N);
                double maxerr = 0;
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++) {
                        double acc = 0;
                        for (int k = 0; k < K; k++) {
                            double a = ta ? A[k * M + i] : A[i * K + k];
                            double b = tb ? B[j * K + k] : B[k * N + j];
                            acc += a * b;
                        }
                        double want = 2.0 * acc + 0.5;
                        double e = fabs(want - C[i * N + j]);
                        if (e > maxerr) maxerr = e;
                    }
                CHECK(maxerr < 1e-4, "gemm %dx%dx%d ta=%d tb=%d against a naive loop", M, N, K, ta, tb);
                free(A); free(B); free(C);
            }
    }
}

static void test_tensor(void)
{
    int64_t sz[3] = {2, 3, 4};
    llfc_tensor *t = llfc_tensor_new(3, sz);
    CHECK(t && llfc_tensor_numel(t) == 24 && llfc_tensor_is_contiguous(t), "new 2x3x4 is contiguous");
    CHECK(t->stride[0] == 12 && t->stride[1] == 4 && t->stride[2] == 1, "row-major strides");
    for (int i = 0; i < 24; i++) llfc_tensor_data(t)[i] = (float)i;
    llfc_tensor *v = llfc_tensor_share(t);
    CHECK(v->storage == t->storage && t->storage->refcount == 2, "share adds a reference");
    /* a transposed view of dims 1 and 2 */
    v->size[1] = 4; v->size[2] = 3; v->stride[1] = 1; v->stride[2] = 4;
    CHECK(!llfc_tensor_is_contiguous(v), "transposed view is not contiguous");
    llfc_tensor *c = llfc_tensor_clone(v);
    /* c[0][j][i] = t[0][i][j] = 4i + j */
    CHECK(llfc_tensor_data(c)[1 * 3 + 2] == 9.0f, "clone of a transposed view reads strided");
    char buf[32];
    CHECK(strcmp(llfc_tensor_shape_str(c, buf, sizeof buf), "2x4x3") == 0, "shape string");
    llfc_tensor_free(v);
    CHECK(t->storage->refcount == 1, "free drops the reference");
    int64_t empty[2] = {2, 0};
    llfc_tensor *e = llfc_tensor_new(2, empty);
    CHECK(e && llfc_tensor_numel(e) == 0 && llfc_tensor_is_contiguous(e), "a new 2x0 tensor is contiguous");
    llfc_tensor_free(e);
    int64_t bad[2] = {3, -1};
    CHECK(llfc_tensor_new(2, bad) == NULL && strstr(llfc_errmsg(), "negative"), "negative size is an error");
    llfc_tensor_free(c);
    llfc_tensor_free(t);
}

static void test_mlp_forward(void)
{
    int64_t w[3] = {2, 2, 1};
    llfc_net *net = llfc_mlp_new(3, w, LLFC_ACT_RELU, LLFC_INIT_TORCH, 1);
    CHECK(net && net->nparams == 4 && strcmp(net->pname[2], "2.weight") == 0, "mlp has torch names");
    float W1[4] = {1, -1, 2, 1}, b1[2] = {0, -1}, W2[2] = {3, -2}, b2[1] = {0.5f};
    memcpy(llfc_tensor_data(net->param[0]), W1, sizeof W1);
    memcpy(llfc_tensor_data(net->param[1]), b1, sizeof b1);
    memcpy(llfc_tensor_data(net->param[2]), W2, sizeof W2);
    memcpy(llfc_tensor_data(net->param[3]), b2, sizeof b2);
    float x[4] = {1, 2, 3, 0}, out[2];
    CHECK(llfc_net_forward(net, x, 2, out) == 0, "forward runs");
    /* x1: z = (-1, 3) -> h = (0, 3) -> 0*3 + 3*-2 + .5 = -5.5
       x2: z = (3, 5)  -> h = (3, 5) -> 9 - 10 + .5 = -0.5 */
    CHECK_NEAR(out[0], -5.5, 1e-6, "forward sample 1 by hand");
    CHECK_NEAR(out[1], -0.5, 1e-6, "forward sample 2 by hand");
    llfc_net *h = llfc_net_lerp(net, net, 0.3);
    float out2[2];
    llfc_net_forward(h, x, 2, out2);
    CHECK_NEAR(out2[0], -5.5, 1e-6, "lerp of a net with itself is the net");
    CHECK(net->spec && net->spec->ngroups == 1 && net->spec->axis[2][1] == 0 && net->spec->axis[0][0] == 0,
          "mlp permspec: P1 moves W1 rows and W2 columns");
    int64_t w3[3] = {2, 3, 1};
    llfc_net *other = llfc_mlp_new(3, w3, LLFC_ACT_RELU, LLFC_INIT_TORCH, 1);
    CHECK(llfc_net_same_arch(net, other) == -1 && strstr(llfc_errmsg(), "0.weight"), "arch mismatch names the parameter");
    llfc_net_free(other);
    llfc_net_free(h);
    llfc_net_free(net);
}

int main(void)
{
    test_errors();
    test_strbuf();
    test_csv();
    test_afile();
    test_alloc_cap();
    test_progress_stop();
    test_rng();
    test_gemm();
    test_tensor();
    test_mlp_forward();
    return check_summary();
}
