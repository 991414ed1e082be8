/* test_sched.c - the sweep core: SHA-256 against the FIPS 180 examples and
 * sha256sum(1), the task graph (bad graphs, levels, the order), the run's
 * state machine (retries, skipping, requeue, inputs), the runner in one
 * process, and appends to the results file from concurrent processes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "core/core.h"
#include "dist/dist.h"
#include "dist/sched.h"
#include "dist/sha256.h"

static void test_sha256(void)
{
    char hex[65];
    /* FIPS 180-2 appendix B examples */
    llfc_sha256_hex("abc", 3, hex);
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "sha256('abc')");
    llfc_sha256_hex("", 0, hex);
    CHECK(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "sha256('')");
    const char *m2 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    llfc_sha256_hex(m2, strlen(m2), hex);
    CHECK(!strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"), "sha256 of the 448-bit message");
    /* a million 'a', fed in uneven pieces (the block buffer across calls) */
    llfc_sha256 c;
    unsigned char d[32];
    char a[1000];
    memset(a, 'a', sizeof a);
    llfc_sha256_init(&c);
    size_t left = 1000000, k = 1;
    while (left) {
        size_t n = k % 997 + 1 < left ? k % 997 + 1 : left;
        while (n > sizeof a) n = sizeof a;
        llfc_sha256_update(&c, a, n);
        left -= n, k = k * 31 + 7;
    }
    llfc_sha256_final(&c, d);
    static const unsigned char want[32] = {0xcd, 0xc7, 0x6e, 0x5c, 0x99, 0x14, 0xfb, 0x92, 0x81, 0xa1, 0xc7,
                                           0xe2, 0x84, 0xd7, 0x3e, 0x67, 0xf1, 0x80, 0x9a, 0x48, 0xa4, 0x97,
                                           0x20, 0x0e, 0x04, 0x6d, 0x39, 0xcc, 0xc7, 0x11, 0x2c, 0xd0};
    CHECK(!memcmp(d, want, 32), "sha256 of a million 'a' in pieces of 1..997 bytes");
    /* lengths around the padding boundary (55, 56, 63, 64 bytes) against sha256sum */
    char path[] = "/tmp/llfc-sha-XXXXXX";
    int fd = mkstemp(path);
    int agree = fd >= 0;
    for (int len = 50; agree && len <= 130; len++) {
        char buf[200];
        for (int i = 0; i < len; i++) buf[i] = (char)('A' + (i * 7 + len) % 53);
        FILE *f = fopen(path, "wb");
        fwrite(buf, 1, (size_t)len, f);
        fclose(f);
        char cmd[128], ref[80] = {0}, mine[65];
        snprintf(cmd, sizeof cmd, "sha256sum %s", path);
        FILE *p = popen(cmd, "r");
        if (!p || !fgets(ref, sizeof ref, p)) { agree = 0; if (p) pclose(p); break; }
        pclose(p);
        llfc_sha256_hex(buf, (size_t)len, hex);
        agree = !strncmp(hex, ref, 64) && llfc_sha256_file(path, mine) == 0 && !strcmp(mine, hex);
    }
    CHECK(agree, "sha256 and sha256_file agree with sha256sum for 50..130 bytes");
    if (fd >= 0) close(fd), unlink(path);
    CHECK(llfc_sha256_file("/nonexistent/x", hex) == -1 && strstr(llfc_errmsg(), "/nonexistent/x"),
          "sha256_file of a missing file: an error naming it (%s)", llfc_errmsg());
}

static llfc_sched *graph(int n, const char *const *ids, const int *nd, const int *const *deps, int retries)
{
    return llfc_sched_new(n, ids, nd, deps, retries);
}

static void test_graph(void)
{
    /* a: - ; b: a ; c: - ; d: b c ; e: a */
    const char *ids[] = {"a", "b", "c", "d", "e"};
    int nd[] = {0, 1, 0, 2, 1};
    int db[] = {0}, dd[] = {1, 2}, de[] = {0};
    const int *deps[] = {NULL, db, NULL, dd, de};
    llfc_sched *s = graph(5, ids, nd, deps, 1);
    CHECK(s != NULL, "a valid graph builds");
    if (!s) return;
    int lv[5];
    for (int i = 0; i < 5; i++) lv[i] = llfc_sched_level(s, i);
    CHECK(lv[0] == 0 && lv[1] == 1 && lv[2] == 0 && lv[3] == 2 && lv[4] == 1, "levels 0 1 0 2 1");
    const int *o = llfc_sched_order(s);
    CHECK(o[0] == 0 && o[1] == 2 && o[2] == 1 && o[3] == 4 && o[4] == 3, "order: by level, then declaration (a c b e d)");
    CHECK(llfc_sched_position(s, 3) == 4 && llfc_sched_position(s, 2) == 1, "position is the inverse of the order");
    llfc_sched_free(s);

    const char *dup[] = {"x", "y", "x"};
    int z[] = {0, 0, 0};
    const int *nodeps[] = {NULL, NULL, NULL};
    s = graph(3, dup, z, nodeps, 0);
    CHECK(!s && strstr(llfc_errmsg(), "'x' appears twice (tasks 1 and 3)"), "a duplicate id is named: %s", llfc_errmsg());
    const char *cyc[] = {"p", "q", "r", "s"};
    int nc[] = {1, 1, 1, 0};
    int cp[] = {2}, cq[] = {0}, cr[] = {1};
    const int *cdeps[] = {cp, cq, cr, NULL};
    s = graph(4, cyc, nc, cdeps, 0);
    CHECK(!s && strstr(llfc_errmsg(), "form a cycle") && strstr(llfc_errmsg(), "'p'") && strstr(llfc_errmsg(), "'q'")
          && strstr(llfc_errmsg(), "'r'") && !strstr(llfc_errmsg(), "'s'"),
          "a cycle is named by its tasks: %s", llfc_errmsg());
    int self[] = {0};
    const int *sdeps[] = {self};
    s = graph(1, cyc, (int[]){1}, sdeps, 0);
    CHECK(!s && strstr(llfc_errmsg(), "'p' depends on itself"), "a self dependency: %s", llfc_errmsg());
    int out[] = {7};
    const int *odeps[] = {out};
    s = graph(1, cyc, (int[]){1}, odeps, 0);
    CHECK(!s && strstr(llfc_errmsg(), "not a task"), "a dependency out of range: %s", llfc_errmsg());
    const char *empty[] = {""};
    s = graph(1, empty, z, nodeps, 0);
    CHECK(!s && strstr(llfc_errmsg(), "empty id"), "an empty id: %s", llfc_errmsg());
    s = graph(0, NULL, NULL, NULL, 0);
    CHECK(s && llfc_sched_size(s) == 0, "an empty sweep is fine");
    if (s) {
        llfc_sched_start(s);
        int att;
        CHECK(llfc_sched_next(s, &att) == -1 && llfc_sched_finished(s), "an empty sweep is finished at once");
        llfc_sched_free(s);
    }
}

static void test_run_states(void)
{
    /* a -> b -> c, a -> d, e alone; retries = 1 */
    const char *ids[] = {"a", "b", "c", "d", "e"};
    int nd[] = {0, 1, 1, 1, 0};
    int db[] = {0}, dc[] = {1}, dd[] = {0};
    const int *deps[] = {NULL, db, dc, dd, NULL};
    llfc_sched *s = graph(5, ids, nd, deps, 1);
    llfc_sched_start(s);
    int att = 0;
    int t1 = llfc_sched_next(s, &att), t2 = llfc_sched_next(s, &att), t3 = llfc_sched_next(s, &att);
    CHECK(t1 == 0 && t2 == 4 && t3 == -1, "only the tasks without inputs are ready, in order (a, e)");
    CHECK(llfc_sched_inputs(s, 1) == NULL && strstr(llfc_errmsg(), "'a' is not done"), "inputs of a task whose input is not done: error");
    int nsk = 0;
    const int *sk;
    llfc_sched_report(s, 0, 1, "{\"id\":\"a\"}", &nsk, &sk);
    char *in = llfc_sched_inputs(s, 1);
    CHECK(in && !strcmp(in, "[{\"id\":\"a\"}]"), "inputs: the rows of the dependencies as a JSON array (%s)", in ? in : "NULL");
    llfc_free(in);
    t1 = llfc_sched_next(s, &att);
    CHECK(t1 == 1 && att == 1, "a done: b is next, attempt 1");
    t2 = llfc_sched_next(s, &att);
    CHECK(t2 == 3, "then d");
    /* b fails once: retried after the fresh tasks, with attempt 2 */
    llfc_sched_report(s, 1, 0, NULL, &nsk, &sk);
    CHECK(nsk == 0 && llfc_sched_state(s, 1) == LLFC_TASK_READY, "a failed attempt within the retries is ready again");
    llfc_sched_counts c;
    llfc_sched_counts_get(s, &c);
    CHECK(c.done == 1 && c.running == 2 && c.ready == 1 && c.waiting == 1 && c.attempts == 1,
          "counts: 1 done, 2 running (d, e), 1 ready (b), 1 waiting (c), 1 failed attempt");
    t1 = llfc_sched_next(s, &att);
    CHECK(t1 == 1 && att == 2, "b again, attempt 2");
    llfc_sched_report(s, 1, 0, NULL, &nsk, &sk);
    CHECK(llfc_sched_state(s, 1) == LLFC_TASK_FAILED && nsk == 1 && sk[0] == 2 && llfc_sched_state(s, 2) == LLFC_TASK_SKIPPED
          && llfc_sched_skip_cause(s, 2) == 1, "b fails for good: c (depends on b) is skipped");
    CHECK(llfc_sched_report(s, 1, 1, "{}", NULL, NULL) == -1, "reporting a task that is not running is an error");
    CHECK(!llfc_sched_finished(s), "not finished while d and e run");
    llfc_sched_report(s, 3, 1, "{}", NULL, NULL);
    CHECK(llfc_sched_requeue(s, 4) == 0 && llfc_sched_state(s, 4) == LLFC_TASK_READY, "requeue: a running task is ready again");
    t1 = llfc_sched_next(s, &att);
    CHECK(t1 == 4 && att == 1, "a requeued task keeps its attempt number");
    llfc_sched_report(s, 4, 1, "{}", NULL, NULL);
    llfc_sched_counts_get(s, &c);
    CHECK(llfc_sched_finished(s) && c.done == 3 && c.failed == 1 && c.skipped == 1 && c.ran == 3,
          "finished: 3 done, 1 failed, 1 skipped");
    /* resume: a and d done from the file; b, c run again */
    llfc_sched *r = graph(5, ids, nd, deps, 0);
    llfc_sched_set_done(r, 0, "{\"id\":\"a\",\"v\":1}");
    llfc_sched_set_done(r, 3, "{}");
    llfc_sched_start(r);
    t1 = llfc_sched_next(r, &att), t2 = llfc_sched_next(r, &att), t3 = llfc_sched_next(r, &att);
    CHECK(t1 == 4 && t2 == 1 && t3 == -1, "resumed: the done tasks are not handed out again (e, then b: level 0 first)");
    in = llfc_sched_inputs(r, 1);
    CHECK(in && !strcmp(in, "[{\"id\":\"a\",\"v\":1}]"), "a resumed task's row is its dependents' input");
    llfc_free(in);
    llfc_sched_report(r, 1, 0, NULL, &nsk, &sk);
    CHECK(llfc_sched_state(r, 1) == LLFC_TASK_FAILED && nsk == 1, "retries = 0: the first failure is final");
    llfc_sched_free(r);
    llfc_sched_free(s);
}

/* deep chains and wide fan-out: skipping reaches every descendant once */
static void test_skip_closure(void)
{
    enum { N = 200 };
    const char *ids[N];
    char names[N][8];
    int nd[N], dbuf[N][2];
    const int *deps[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "t%d", i);
        ids[i] = names[i];
        /* t0 root; t(i) depends on t(i-1) and t(i/2) */
        nd[i] = i == 0 ? 0 : (i / 2 != i - 1 ? 2 : 1);
        dbuf[i][0] = i - 1, dbuf[i][1] = i / 2;
        deps[i] = dbuf[i];
    }
    llfc_sched *s = graph(N, ids, nd, deps, 0);
    llfc_sched_start(s);
    int att, nsk = 0;
    const int *sk;
    int t = llfc_sched_next(s, &att);
    llfc_sched_report(s, t, 0, NULL, &nsk, &sk);
    int once = nsk == N - 1;
    char seen[N] = {0};
    for (int k = 0; k < nsk; k++) once &= !seen[sk[k]]++;
    CHECK(once && llfc_sched_finished(s), "a failed root skips all %d descendants exactly once", N - 1);
    llfc_sched_free(s);
}

/* the runner in one process: tasks in order, rows appended, skipped rows */
static void test_runner(void)
{
    char dir[] = "/tmp/llfc-dist-XXXXXX";
    if (!mkdtemp(dir)) { CHECK(0, "mkdtemp"); return; }
    char results[128];
    snprintf(results, sizeof results, "%s/sub/dir/results.jsonl", dir);
    char sub[128];
    snprintf(sub, sizeof sub, "%s/sub/dir", dir);
    CHECK(llfc_mkdirs(sub) == 0 && llfc_mkdirs(sub) == 0, "mkdirs creates parents and accepts an existing directory");
    const char *ids[] = {"a", "b", "c"};
    int nd[] = {0, 1, 1};
    int db[] = {0}, dc[] = {1};
    const int *deps[] = {NULL, db, dc};
    llfc_sched *s = graph(3, ids, nd, deps, 0);
    llfc_dist_opts o = {results, "digest", "test", 0, 1, 0};
    llfc_dist *d = llfc_dist_start(s, &o);
    int task, att, seen = 0, rc;
    char *in;
    while ((rc = llfc_dist_next(d, &task, &att, &in)) == 1) {
        char row[64];
        snprintf(row, sizeof row, "{\"id\":\"%s\",\"n\":%d}", ids[task], seen);
        seen++;
        llfc_dist_report(d, task, task != 1, task != 1 ? row : "{\"id\":\"b\",\"status\":\"failed\"}");
        llfc_free(in);
    }
    CHECK(rc == 0 && seen == 2 && llfc_dist_finish(d) == 0, "in one process: a and b run, b fails, the run ends");
    llfc_sched_counts c;
    llfc_dist_counts(d, &c);
    CHECK(c.done == 1 && c.failed == 1 && c.skipped == 1, "counts after the run: 1 done, 1 failed, 1 skipped");
    llfc_dist_free(d);
    llfc_sched_free(s);
    FILE *f = fopen(results, "r");
    char lines[4][256];
    int n = 0;
    while (f && n < 4 && fgets(lines[n], sizeof lines[n], f)) n++;
    if (f) fclose(f);
    CHECK(n == 3 && !strcmp(lines[0], "{\"id\":\"a\",\"n\":0}\n") && strstr(lines[1], "\"failed\"")
          && strstr(lines[2], "\"id\":\"c\"") && strstr(lines[2], "\"status\":\"skipped\"")
          && strstr(lines[2], "input 'b' failed"), "results: a's row, b's failed row, c skipped naming b");
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) { /* leave it */ }
}

/* appends: a broken last line is closed first; concurrent writers never interleave */
static void test_append(void)
{
    char path[] = "/tmp/llfc-rows-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) { CHECK(0, "mkstemp"); return; }
    if (write(fd, "{\"id\":\"x\",\"trunc", 16) != 16) { /* checked below */ }
    close(fd);
    CHECK(llfc_rows_append(path, "{\"id\":\"y\"}") == 0, "append after a broken line");
    FILE *f = fopen(path, "r");
    char a[64] = {0}, b[64] = {0};
    if (f) { if (!fgets(a, sizeof a, f) || !fgets(b, sizeof b, f)) a[0] = 0; fclose(f); }
    CHECK(!strcmp(a, "{\"id\":\"x\",\"trunc\n") && !strcmp(b, "{\"id\":\"y\"}\n"),
          "the broken line stays alone and the new row is whole");
    CHECK(llfc_rows_append(path, "two\nlines") == -1, "a row with a newline is refused");
    CHECK(llfc_rows_append("/nonexistent/dir/r.jsonl", "{}") == -1 && strstr(llfc_errmsg(), "/nonexistent/dir"),
          "an unwritable results file is an error naming it");
    unlink(path);

    /* 4 processes x 200 rows of 3000 bytes (larger than a pipe buffer page) */
    enum { P = 4, R = 200, W = 3000 };
    fd = mkstemp(path);
    close(fd);
    for (int p = 0; p < P; p++) {
        pid_t pid = fork();
        if (pid == 0) {
            char *row = malloc(W + 1);
            for (int r = 0; r < R; r++) {
                memset(row, 'a' + p, W);
                snprintf(row, 24, "%d %03d ", p, r);
                row[strlen(row)] = 'a' + p;
                row[W] = '\0';
                if (llfc_rows_append(path, row) != 0) _exit(1);
            }
            _exit(0);
        }
    }
    int all_ok = 1, st;
    for (int p = 0; p < P; p++) { wait(&st); all_ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0; }
    f = fopen(path, "r");
    char *line = malloc(W + 8);
    int count[P] = {0}, whole = 1, nlines = 0;
    while (f && fgets(line, W + 8, f)) {
        nlines++;
        int p, r;
        size_t len = strlen(line);
        if (len != W + 1 || sscanf(line, "%d %d", &p, &r) != 2 || p < 0 || p >= P) { whole = 0; continue; }
        for (size_t k = 8; k < W; k++) whole &= line[k] == 'a' + p;
        count[p]++;
    }
    if (f) fclose(f);
    free(line);
    int counts_ok = 1;
    for (int p = 0; p < P; p++) counts_ok &= count[p] == R;
    CHECK(all_ok && whole && counts_ok && nlines == P * R,
          "%d concurrent writers x %d rows: %d whole lines, none interleaved", P, R, nlines);
    unlink(path);
}

int main(void)
{
    test_sha256();
    test_graph();
    test_run_states();
    test_skip_closure();
    test_runner();
    test_append();
    return check_summary();
}
