/* dist.c - the sweep runner (in one process or on Open MPI), the results
 * file and the process's place in a job.  See dist.h for the protocol. */
#include "dist/dist.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

#ifdef LLFC_HAVE_MPI
#include <mpi.h>
#endif

/* ---- the results file ---------------------------------------------------------- */
static int lock_file(int fd, int type)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = (short)type;
    fl.l_whence = SEEK_SET; /* l_start = l_len = 0: the whole file */
    while (fcntl(fd, F_SETLKW, &fl) != 0) {
        if (errno != EINTR || llfc_interrupted()) return -1;
    }
    return 0;
}

int llfc_rows_append(const char *path, const char *line)
{
    size_t n = strlen(line);
    if (memchr(line, '\n', n)) return llfc_seterr("%s: a row must be a single line", path);
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return llfc_seterr("%s: cannot open for appending: %s", path, strerror(errno));
    if (lock_file(fd, F_WRLCK) != 0) {
        int e = errno;
        close(fd);
        return llfc_seterr("%s: cannot lock: %s", path, e == EINTR ? "interrupted" : strerror(e));
    }
    struct stat st;
    int nl = 0;
    char last;
    if (fstat(fd, &st) == 0 && st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n') nl = 1;
    char *buf = llfc_malloc(n + 2);
    int rc = -1;
    if (buf) {
        size_t len = 0;
        if (nl) buf[len++] = '\n';
        memcpy(buf + len, line, n);
        len += n;
        buf[len++] = '\n';
        size_t off = 0;
        while (off < len) {
            ssize_t w = write(fd, buf + off, len - off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) { llfc_seterr("%s: write failed: %s", path, w < 0 ? strerror(errno) : "no space"); break; }
            off += (size_t)w;
        }
        if (off == len) rc = 0;
        llfc_free(buf);
    }
    lock_file(fd, F_UNLCK);
    if (close(fd) != 0 && rc == 0) rc = llfc_seterr("%s: write failed: %s", path, strerror(errno));
    return rc;
}

int llfc_mkdirs(const char *path)
{
    size_t n = strlen(path);
    if (!n) return llfc_seterr("mkdir: empty path");
    char *p = llfc_malloc(n + 1);
    if (!p) return -1;
    memcpy(p, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            llfc_seterr("%s: cannot create: %s", p, strerror(errno));
            llfc_free(p);
            return -1;
        }
        p[i] = c;
    }
    struct stat st;
    int rc = stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : llfc_seterr("%s: exists and is not a directory", path);
    llfc_free(p);
    return rc;
}

void llfc_utc_stamp(char buf[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- where this process runs ------------------------------------------------------ */
static int g_mpi_state; /* 0 not initialised, 1 initialised, 2 finalised */
static int g_rank, g_size = 1;
#ifdef LLFC_HAVE_MPI
static int g_thread_level;
#endif
static llfc_sweep_cli g_cli;

llfc_sweep_cli *llfc_sweep_cli_get(void) { return &g_cli; }

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    if (!v || !*v) return def;
    char *end;
    long x = strtol(v, &end, 10);
    return end != v && x > 0 && x < 1 << 30 ? (int)x : def;
}

static int launched(void) { return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK"); }

#ifdef LLFC_HAVE_MPI
static void at_exit(void)
{
    /* a process leaving with MPI still running: it failed; end the job
     * rather than leave the other ranks waiting for it */
    if (g_mpi_state == 1) MPI_Abort(MPI_COMM_WORLD, 1);
}
#endif

static int mpi_init(void)
{
#ifdef LLFC_HAVE_MPI
    if (g_mpi_state != 0 || !launched()) return 0;
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &g_thread_level) != MPI_SUCCESS)
        return llfc_seterr("MPI_Init_thread failed");
    if (inited) MPI_Query_thread(&g_thread_level);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    g_mpi_state = 1;
    atexit(at_exit);
#endif
    return 0;
}

void llfc_dist_finalize(void)
{
#ifdef LLFC_HAVE_MPI
    if (g_mpi_state == 1) {
        MPI_Finalize();
        g_mpi_state = 2;
    }
#endif
}

int llfc_dist_env_get(llfc_dist_env *e)
{
    memset(e, 0, sizeof *e);
#ifdef LLFC_HAVE_MPI
    e->built = 1;
#endif
    e->launched = launched();
    if (mpi_init() != 0) return -1;
    e->rank = g_rank;
    e->size = g_size;
    if (g_mpi_state == 0 && e->launched) { /* not built with MPI: what the launcher says */
        e->rank = env_int("OMPI_COMM_WORLD_RANK", env_int("PMIX_RANK", env_int("PMI_RANK", 0)));
        e->size = env_int("OMPI_COMM_WORLD_SIZE", env_int("PMI_SIZE", env_int("SLURM_NTASKS", 1)));
    }
    e->active = g_mpi_state == 1 && g_size > 1;
    e->local_size = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", env_int("SLURM_NTASKS_PER_NODE", 1));
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    e->cores = c > 0 ? (int)c : 1;
    if (gethostname(e->host, sizeof e->host - 1) != 0) strcpy(e->host, "unknown");
    e->host[sizeof e->host - 1] = '\0';
    return 0;
}

/* ---- the runner --------------------------------------------------------------------- */
enum { TAG_TASK = 1, TAG_RESULT = 2, TAG_STOP = 3 };

struct llfc_dist {
    llfc_sched *s;
    char *results, *name;
    int progress, mpi, rank, size, threaded, workers;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* rank 0's own worker (threaded mode): a mailbox */
    int local_waiting, local_busy, local_gone, mail_ready, mail_stop, mail_task, mail_attempt;
    char *mail_inputs;
    int *remote_task; /* per rank: the task it runs, -1 when idle */
    int stopping, failed;
    char err[1024];
    double t0, last_line;
    int tty_open;
};

static void fail(llfc_dist *d, const char *msg)
{
    if (!d->failed) snprintf(d->err, sizeof d->err, "%s", msg);
    d->failed = 1;
    d->stopping = 1;
}

static void fmt_secs(char *buf, size_t n, double s)
{
    if (s < 0 || s != s) { snprintf(buf, n, "?"); return; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, n, "%lds", t);
}

/* The progress line: tasks done/failed/skipped/running/left and an ETA from
 * this run's throughput.  Lines at most once a second (or a rewritten line on
 * a terminal), and always the last one. */
static void progress(llfc_dist *d, int force)
{
    if (!d->progress) return;
    double now = llfc_now();
    if (!force && now - d->last_line < (d->progress == 2 ? 0.2 : 1.0)) return;
    d->last_line = now;
    llfc_sched_counts c;
    llfc_sched_counts_get(d->s, &c);
    int left = c.total - c.done - c.failed - c.skipped;
    double el = now - d->t0;
    char e1[32], e2[32];
    fmt_secs(e1, sizeof e1, el);
    fmt_secs(e2, sizeof e2, c.ran > 0 ? el / c.ran * left : -1);
    fprintf(stderr, "%ssweep %s: %d/%d done, %d failed, %d skipped, %d running, %d left; %s, ETA %s%s",
            d->progress == 2 ? "\r" : "", d->name, c.done, c.total, c.failed, c.skipped, c.running, left, e1,
            left ? e2 : "0s", d->progress == 2 ? "\033[K" : "\n");
    fflush(stderr);
    d->tty_open = d->progress == 2;
}

static int append_row(llfc_dist *d, const char *row)
{
    if (!d->results || !row || !*row) return 0;
    if (llfc_rows_append(d->results, row) != 0) {
        fail(d, llfc_errmsg());
        return -1;
    }
    return 0;
}

/* A finished task (lock held): write its row, then update the graph, then
 * write a row for each task that is now skipped. */
static void handle_report(llfc_dist *d, int task, int ok, const char *row)
{
    if (d->failed || append_row(d, row) != 0) {
        llfc_sched_requeue(d->s, task); /* not done: a resumed run redoes it */
        return;
    }
    int nsk = 0;
    const int *sk = NULL;
    if (llfc_sched_report(d->s, task, ok, row, &nsk, &sk) != 0) { fail(d, llfc_errmsg()); return; }
    char stamp[32];
    llfc_utc_stamp(stamp);
    for (int k = 0; k < nsk; k++) {
        int cause = llfc_sched_skip_cause(d->s, sk[k]);
        char why[512];
        snprintf(why, sizeof why, "input '%s' failed", cause >= 0 ? llfc_sched_id(d->s, cause) : "?");
        cJSON *j = cJSON_CreateObject();
        if (!j) { fail(d, "out of memory (skipped row)"); return; }
        cJSON_AddStringToObject(j, "id", llfc_sched_id(d->s, sk[k]));
        cJSON_AddStringToObject(j, "status", "skipped");
        cJSON_AddStringToObject(j, "error", why);
        cJSON_AddStringToObject(j, "time", stamp);
        char *txt = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        if (!txt) { fail(d, "out of memory (skipped row)"); return; }
        int rc = append_row(d, txt);
        cJSON_free(txt);
        if (rc != 0) return;
    }
    progress(d, 0);
}

#ifdef LLFC_HAVE_MPI
static void nap(double *backoff)
{
    struct timespec ts = {0, (long)(*backoff * 1e9)};
    nanosleep(&ts, NULL);
    if ((*backoff *= 2) > 2e-3) *backoff = 2e-3;
}

/* "a b\n" + body as one message */
static int send_msg(int dest, int tag, int a, int b, const char *body)
{
    char head[48];
    int h = snprintf(head, sizeof head, "%d %d\n", a, b);
    size_t n = body ? strlen(body) : 0;
    if (n > (size_t)INT32_MAX - 64) return llfc_seterr("a message of %zu bytes is too large for MPI", n);
    char *buf = llfc_malloc((size_t)h + n + 1);
    if (!buf) return -1;
    memcpy(buf, head, (size_t)h);
    if (n) memcpy(buf + h, body, n);
    int rc = MPI_Send(buf, h + (int)n, MPI_CHAR, dest, tag, MPI_COMM_WORLD);
    llfc_free(buf);
    return rc == MPI_SUCCESS ? 0 : llfc_seterr("MPI_Send to rank %d failed", dest);
}

/* Receive the message probed in st: *a, *b and the body (malloc'd). */
static int recv_msg(MPI_Status *st, int *a, int *b, char **body)
{
    int n = 0;
    MPI_Get_count(st, MPI_CHAR, &n);
    char *buf = llfc_malloc((size_t)n + 1);
    if (!buf) return -1;
    if (MPI_Recv(buf, n, MPI_CHAR, st->MPI_SOURCE, st->MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
        llfc_free(buf);
        return llfc_seterr("MPI_Recv from rank %d failed", st->MPI_SOURCE);
    }
    buf[n] = '\0';
    *a = *b = 0;
    char *nl = memchr(buf, '\n', (size_t)n);
    if (st->MPI_TAG != TAG_STOP && (!nl || sscanf(buf, "%d %d", a, b) != 2)) {
        llfc_free(buf);
        return llfc_seterr("a malformed message from rank %d", st->MPI_SOURCE);
    }
    if (body) {
        size_t off = nl ? (size_t)(nl + 1 - buf) : (size_t)n;
        memmove(buf, buf + off, (size_t)n - off + 1);
        *body = buf;
    } else
        llfc_free(buf);
    return 0;
}

/* Rank 0's scheduler: hands ready tasks to idle workers (rank 0's own worker
 * through the mailbox, the others by MPI) and takes their rows back, until
 * every task is done, failed or skipped, or the run stops on an error. */
static void *sched_loop(void *arg)
{
    llfc_dist *d = arg;
    double backoff = 1e-4;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (!d->stopping) {
            int local = d->threaded && d->local_waiting && !d->mail_ready && !d->local_gone;
            int idle = -1;
            for (int r = 1; r < d->size && idle < 0 && !local; r++)
                if (d->remote_task[r] < 0) idle = r;
            if (!local && idle < 0) break;
            int att = 0, t = llfc_sched_next(d->s, &att);
            if (t < 0) break;
            char *in = llfc_sched_inputs(d->s, t);
            if (!in) { fail(d, llfc_errmsg()); llfc_sched_requeue(d->s, t); break; }
            if (local) {
                d->mail_task = t, d->mail_attempt = att, d->mail_inputs = in, d->mail_ready = 1;
                d->local_waiting = 0;
                pthread_cond_broadcast(&d->cv);
            } else {
                d->remote_task[idle] = t;
                pthread_mutex_unlock(&d->mu);
                int rc = send_msg(idle, TAG_TASK, t, att, in);
                llfc_free(in);
                pthread_mutex_lock(&d->mu);
                if (rc != 0) fail(d, llfc_errmsg());
            }
        }
        int remote = 0;
        for (int r = 1; r < d->size; r++) remote += d->remote_task[r] >= 0;
        int local_running = (d->local_busy || d->mail_ready) && !d->local_gone;
        if (remote == 0 && !local_running && (d->stopping || llfc_sched_finished(d->s))) break;
        pthread_mutex_unlock(&d->mu);
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &flag, &st);
        int task = -1, ok = 0, rc = 0;
        char *row = NULL;
        if (flag) rc = recv_msg(&st, &task, &ok, &row);
        pthread_mutex_lock(&d->mu);
        if (flag) {
            int src = st.MPI_SOURCE;
            if (rc != 0) fail(d, llfc_errmsg());
            else if (src <= 0 || src >= d->size || d->remote_task[src] != task) {
                char m[128];
                snprintf(m, sizeof m, "rank %d reported task %d, which it was not running", src, task + 1);
                fail(d, m);
            } else {
                d->remote_task[src] = -1;
                handle_report(d, task, ok, row);
            }
            llfc_free(row);
            backoff = 1e-4;
            continue;
        }
        /* nothing arrived: sleep, or wake early when rank 0's worker reports */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long ns = ts.tv_nsec + (long)(backoff * 1e9);
        ts.tv_sec += ns / 1000000000L, ts.tv_nsec = ns % 1000000000L;
        pthread_cond_timedwait(&d->cv, &d->mu, &ts);
        if ((backoff *= 2) > 2e-3) backoff = 2e-3;
    }
    d->mail_stop = 1;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    for (int r = 1; r < d->size; r++)
        if (send_msg(r, TAG_STOP, 0, 0, NULL) != 0) {
            pthread_mutex_lock(&d->mu);
            fail(d, llfc_errmsg());
            pthread_mutex_unlock(&d->mu);
        }
    return NULL;
}
#endif

llfc_dist *llfc_dist_start(llfc_sched *s, const llfc_dist_opts *o)
{
    llfc_dist *d = llfc_calloc(1, sizeof *d);
    if (!d) return NULL;
    d->s = s;
    d->progress = o->progress ? (isatty(2) ? 2 : 1) : 0;
    d->name = strdup(o->name ? o->name : "");
    d->results = o->results ? strdup(o->results) : NULL;
    if (!d->name || (o->results && !d->results)) { llfc_seterr("out of memory"); goto fail; }
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    d->t0 = d->last_line = llfc_now();
    d->rank = 0, d->size = 1, d->workers = 1;
#ifdef LLFC_HAVE_MPI
    int use_mpi = o->use_mpi && g_mpi_state == 1 && g_size > 1;
#else
    int use_mpi = 0;
#endif
    if (!use_mpi || g_rank == 0) llfc_sched_start(s); /* before a scheduler thread starts */
#ifdef LLFC_HAVE_MPI
    if (use_mpi) {
        d->mpi = 1, d->rank = g_rank, d->size = g_size;
        /* every rank must run the same graph */
        char mine[65] = {0}, root[65] = {0};
        snprintf(mine, sizeof mine, "%s", o->digest ? o->digest : "");
        memcpy(root, mine, sizeof root);
        int bad = 0, anybad = 0;
        if (MPI_Bcast(root, 65, MPI_CHAR, 0, MPI_COMM_WORLD) != MPI_SUCCESS) { llfc_seterr("MPI_Bcast failed"); goto fail; }
        bad = strcmp(root, mine) != 0;
        if (MPI_Allreduce(&bad, &anybad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS) {
            llfc_seterr("MPI_Allreduce failed");
            goto fail;
        }
        if (anybad) {
            llfc_seterr("the sweep differs between ranks (rank %d: %d tasks%s): run the same script with the same "
                        "arguments on every rank", g_rank, llfc_sched_size(s), bad ? ", not rank 0's" : "");
            goto fail;
        }
        if (d->rank == 0) {
            if (!(d->remote_task = llfc_mallocarray((size_t)d->size, sizeof(int)))) goto fail;
            for (int r = 0; r < d->size; r++) d->remote_task[r] = -1;
            d->threaded = o->rank0_works && g_thread_level >= MPI_THREAD_SERIALIZED;
            d->workers = d->size - 1 + d->threaded;
            if (d->threaded && pthread_create(&d->thread, NULL, sched_loop, d) != 0) {
                d->threaded = 0;
                d->workers = d->size - 1;
            }
        } else
            d->workers = d->size - 1 + (o->rank0_works && g_thread_level >= MPI_THREAD_SERIALIZED);
    }
#endif
    return d;
fail:
    free(d->name);
    free(d->results);
    llfc_free(d->remote_task);
    llfc_free(d);
    return NULL;
}

int llfc_dist_workers(const llfc_dist *d) { return d->workers; }

int llfc_dist_next(llfc_dist *d, int *task, int *attempt, char **inputs)
{
    *inputs = NULL;
    if (!d->mpi) { /* one process: the next ready task, in order */
        pthread_mutex_lock(&d->mu);
        int t = d->stopping ? -1 : llfc_sched_next(d->s, attempt);
        char *in = t >= 0 ? llfc_sched_inputs(d->s, t) : NULL;
        if (t >= 0 && !in) { fail(d, llfc_errmsg()); llfc_sched_requeue(d->s, t); t = -1; }
        pthread_mutex_unlock(&d->mu);
        if (t < 0) return d->failed ? llfc_seterr("%s", d->err) : 0;
        *task = t, *inputs = in;
        return 1;
    }
#ifdef LLFC_HAVE_MPI
    if (d->rank == 0) {
        if (!d->threaded) { /* scheduling only: the loop runs here until the end */
            sched_loop(d);
            return d->failed ? llfc_seterr("%s", d->err) : 0;
        }
        pthread_mutex_lock(&d->mu);
        d->local_waiting = 1;
        pthread_cond_broadcast(&d->cv);
        while (!d->mail_ready && !d->mail_stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 50000000L;
            if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&d->cv, &d->mu, &ts);
            if (llfc_interrupted() && !d->mail_ready) {
                d->local_waiting = 0;
                pthread_mutex_unlock(&d->mu);
                return llfc_seterr("interrupted");
            }
        }
        int got = d->mail_ready;
        if (got) {
            *task = d->mail_task, *attempt = d->mail_attempt, *inputs = d->mail_inputs;
            d->mail_inputs = NULL, d->mail_ready = 0, d->local_busy = 1;
        }
        int failed = d->failed;
        pthread_mutex_unlock(&d->mu);
        if (!got && failed) return llfc_seterr("%s", d->err);
        return got;
    }
    /* a worker rank: wait for TASK or STOP from rank 0 */
    double backoff = 1e-4;
    for (;;) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
        if (flag) {
            int a = 0, b = 0;
            char *body = NULL;
            if (recv_msg(&st, &a, &b, &body) != 0) return -1;
            if (st.MPI_TAG == TAG_STOP) { llfc_free(body); return 0; }
            if (a < 0 || a >= llfc_sched_size(d->s)) {
                llfc_free(body);
                return llfc_seterr("rank 0 sent task %d, not a task of this sweep (1..%d)", a + 1, llfc_sched_size(d->s));
            }
            *task = a, *attempt = b, *inputs = body;
            return 1;
        }
        if (llfc_interrupted()) return llfc_seterr("interrupted");
        nap(&backoff);
    }
#else
    return llfc_seterr("llfc was built without MPI");
#endif
}

int llfc_dist_report(llfc_dist *d, int task, int ok, const char *row)
{
#ifdef LLFC_HAVE_MPI
    if (d->mpi && d->rank > 0) return send_msg(0, TAG_RESULT, task, ok ? 1 : 0, row);
#endif
    pthread_mutex_lock(&d->mu);
    d->local_busy = 0;
    handle_report(d, task, ok, row);
    int failed = d->failed;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    return failed ? llfc_seterr("%s", d->err) : 0;
}

int llfc_dist_finish(llfc_dist *d)
{
    pthread_mutex_lock(&d->mu);
    d->local_gone = 1;
    if (!llfc_sched_finished(d->s)) d->stopping = 1;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    if (d->threaded) {
        pthread_join(d->thread, NULL);
        d->threaded = 0;
    }
    if (d->rank == 0) progress(d, 1);
    if (d->tty_open) { fputc('\n', stderr); d->tty_open = 0; }
    return d->failed ? llfc_seterr("%s", d->err) : 0;
}

void llfc_dist_free(llfc_dist *d)
{
    if (!d) return;
    if (d->threaded) llfc_dist_finish(d);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    llfc_free(d->mail_inputs);
    llfc_free(d->remote_task);
    free(d->name);
    free(d->results);
    llfc_free(d);
}

void llfc_dist_counts(llfc_dist *d, llfc_sched_counts *c)
{
    pthread_mutex_lock(&d->mu);
    llfc_sched_counts_get(d->s, c);
    pthread_mutex_unlock(&d->mu);
}
