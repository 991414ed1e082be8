/* sched.c - task graph checks, levels, the order, and the run's state
 * machine (see sched.h).  Ready tasks sit in a binary heap keyed by
 * (attempts, position), so handing out n tasks costs O(n log n). */
#include "dist/sched.h"

#include <stdlib.h>
#include <string.h>

#include "core/core.h"

struct llfc_sched {
    int n, retries;
    char **ids;
    int *dep_start, *deps;   /* CSR: deps of i are deps[dep_start[i] .. dep_start[i+1]) */
    int *rdep_start, *rdeps; /* CSR: tasks that depend on i */
    int *level, *order, *pos;
    int *state, *attempts, *left; /* left: dependencies not done yet */
    int *cause;                   /* skipped: the failed task that caused it */
    char **rows;
    int *heap, nheap;
    int *skipped, nskipped;
    int ran, failed_attempts, running;
    int count[LLFC_TASK_SKIPPED + 1]; /* tasks in each state */
};

static void set_state(llfc_sched *s, int i, int st)
{
    s->count[s->state[i]]--;
    s->state[i] = st;
    s->count[st]++;
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = llfc_malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

void llfc_sched_free(llfc_sched *s)
{
    if (!s) return;
    for (int i = 0; s->ids && i < s->n; i++) llfc_free(s->ids[i]);
    for (int i = 0; s->rows && i < s->n; i++) llfc_free(s->rows[i]);
    llfc_free(s->ids), llfc_free(s->rows);
    llfc_free(s->dep_start), llfc_free(s->deps), llfc_free(s->rdep_start), llfc_free(s->rdeps);
    llfc_free(s->level), llfc_free(s->order), llfc_free(s->pos);
    llfc_free(s->state), llfc_free(s->attempts), llfc_free(s->left), llfc_free(s->cause);
    llfc_free(s->heap), llfc_free(s->skipped);
    llfc_free(s);
}

/* A cycle among the tasks Kahn's algorithm could not place: walk first
 * dependencies among them until a task repeats, and name the loop. */
static int report_cycle(llfc_sched *s, const int *placed)
{
    int start = -1;
    for (int i = 0; i < s->n && start < 0; i++)
        if (!placed[i]) start = i;
    int *seen = llfc_calloc((size_t)s->n, sizeof *seen); /* step at which visited, 1-based */
    if (!seen) return -1;
    int cur = start, step = 1;
    while (!seen[cur]) {
        seen[cur] = step++;
        int next = -1;
        for (int k = s->dep_start[cur]; k < s->dep_start[cur + 1] && next < 0; k++)
            if (!placed[s->deps[k]]) next = s->deps[k];
        cur = next;
    }
    /* the loop starts at cur: follow it again and print it */
    char msg[512];
    size_t len = 0;
    int first = cur, guard = 0;
    do {
        int w = snprintf(msg + len, sizeof msg - len, "'%s' -> ", s->ids[cur]);
        if (w < 0 || (size_t)w >= sizeof msg - len) { len = sizeof msg - 1; break; }
        len += (size_t)w;
        int next = -1;
        for (int k = s->dep_start[cur]; k < s->dep_start[cur + 1] && next < 0; k++)
            if (!placed[s->deps[k]] && seen[s->deps[k]]) next = s->deps[k];
        cur = next;
    } while (cur != first && cur >= 0 && ++guard < s->n);
    llfc_free(seen);
    return llfc_seterr("tasks %s'%s' form a cycle (each depends on the next)", msg, s->ids[first]);
}

static int by_position(int x, int y, const llfc_sched *s)
{
    if (s->level[x] != s->level[y]) return s->level[x] < s->level[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

static int by_id(int x, int y, const llfc_sched *s) { return strcmp(s->ids[x], s->ids[y]); }

/* A stable merge sort of task indices (qsort has no context argument). */
static int sort_tasks(int *a, int n, int (*cmp)(int, int, const llfc_sched *), const llfc_sched *s)
{
    int *tmp = llfc_mallocarray((size_t)(n > 0 ? n : 1), sizeof *tmp);
    if (!tmp) return -1;
    for (int w = 1; w < n; w *= 2) {
        for (int lo = 0; lo < n; lo += 2 * w) {
            int mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n, i = lo, j = mid, k = lo;
            while (i < mid && j < hi) tmp[k++] = cmp(a[i], a[j], s) <= 0 ? a[i++] : a[j++];
            while (i < mid) tmp[k++] = a[i++];
            while (j < hi) tmp[k++] = a[j++];
        }
        memcpy(a, tmp, (size_t)n * sizeof *a);
    }
    llfc_free(tmp);
    return 0;
}

llfc_sched *llfc_sched_new(int n, const char *const *ids, const int *ndeps, const int *const *deps, int retries)
{
    if (n < 0) { llfc_seterr("a sweep needs a task count >= 0, got %d", n); return NULL; }
    if (retries < 0) { llfc_seterr("retries must be >= 0, got %d", retries); return NULL; }
    llfc_sched *s = llfc_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->n = n, s->retries = retries;
    size_t m = 0;
    for (int i = 0; i < n; i++) {
        if (ndeps[i] < 0) { llfc_seterr("task %d: negative dependency count", i + 1); goto fail; }
        m += (size_t)ndeps[i];
    }
    size_t N = (size_t)(n > 0 ? n : 1);
    if (!(s->ids = llfc_calloc(N, sizeof *s->ids)) || !(s->rows = llfc_calloc(N, sizeof *s->rows))
        || !(s->dep_start = llfc_calloc(N + 1, sizeof(int))) || !(s->deps = llfc_calloc(m ? m : 1, sizeof(int)))
        || !(s->rdep_start = llfc_calloc(N + 1, sizeof(int))) || !(s->rdeps = llfc_calloc(m ? m : 1, sizeof(int)))
        || !(s->level = llfc_calloc(N, sizeof(int))) || !(s->order = llfc_calloc(N, sizeof(int)))
        || !(s->pos = llfc_calloc(N, sizeof(int))) || !(s->state = llfc_calloc(N, sizeof(int)))
        || !(s->attempts = llfc_calloc(N, sizeof(int))) || !(s->left = llfc_calloc(N, sizeof(int)))
        || !(s->cause = llfc_calloc(N, sizeof(int))) || !(s->heap = llfc_calloc(N, sizeof(int)))
        || !(s->skipped = llfc_calloc(N, sizeof(int))))
        goto fail;
    for (int i = 0; i < n; i++) {
        if (!ids[i] || !*ids[i]) { llfc_seterr("task %d has an empty id", i + 1); goto fail; }
        if (!(s->ids[i] = dupstr(ids[i]))) goto fail;
        s->cause[i] = -1;
    }
    /* duplicate ids: neighbours once the indices are sorted by id */
    {
        int *ix = llfc_mallocarray(N, sizeof *ix);
        if (!ix) goto fail;
        for (int i = 0; i < n; i++) ix[i] = i;
        if (sort_tasks(ix, n, by_id, s) != 0) { llfc_free(ix); goto fail; }
        for (int k = 1; k < n; k++)
            if (!strcmp(s->ids[ix[k]], s->ids[ix[k - 1]])) {
                int a = ix[k - 1] < ix[k] ? ix[k - 1] : ix[k], b = ix[k - 1] < ix[k] ? ix[k] : ix[k - 1];
                llfc_seterr("task '%s' appears twice (tasks %d and %d): ids must be unique", s->ids[a], a + 1, b + 1);
                llfc_free(ix);
                goto fail;
            }
        llfc_free(ix);
    }
    /* edges */
    size_t e = 0;
    for (int i = 0; i < n; i++) {
        s->dep_start[i] = (int)e;
        for (int k = 0; k < ndeps[i]; k++) {
            int d = deps[i][k];
            if (d < 0 || d >= n) { llfc_seterr("task '%s': dependency %d is not a task (1..%d)", s->ids[i], d + 1, n); goto fail; }
            if (d == i) { llfc_seterr("task '%s' depends on itself", s->ids[i]); goto fail; }
            s->deps[e++] = d;
            s->rdep_start[d + 1]++;
        }
    }
    s->dep_start[n] = (int)e;
    for (int i = 0; i < n; i++) s->rdep_start[i + 1] += s->rdep_start[i];
    {
        int *fill = llfc_calloc(N, sizeof *fill);
        if (!fill) goto fail;
        for (int i = 0; i < n; i++)
            for (int k = s->dep_start[i]; k < s->dep_start[i + 1]; k++) {
                int d = s->deps[k];
                s->rdeps[s->rdep_start[d] + fill[d]++] = i;
            }
        llfc_free(fill);
    }
    /* levels by Kahn's algorithm (the queue is s->order, reused) */
    {
        int *indeg = s->left, head = 0, tail = 0;
        for (int i = 0; i < n; i++) {
            indeg[i] = s->dep_start[i + 1] - s->dep_start[i];
            if (!indeg[i]) s->order[tail++] = i;
        }
        while (head < tail) {
            int u = s->order[head++];
            for (int k = s->rdep_start[u]; k < s->rdep_start[u + 1]; k++) {
                int v = s->rdeps[k];
                if (s->level[v] < s->level[u] + 1) s->level[v] = s->level[u] + 1;
                if (--indeg[v] == 0) s->order[tail++] = v;
            }
        }
        if (tail < n) {
            int *placed = llfc_calloc(N, sizeof *placed);
            if (!placed) goto fail;
            for (int k = 0; k < tail; k++) placed[s->order[k]] = 1;
            report_cycle(s, placed);
            llfc_free(placed);
            goto fail;
        }
    }
    /* the order: by level, then by declaration */
    for (int i = 0; i < n; i++) s->order[i] = i;
    if (sort_tasks(s->order, n, by_position, s) != 0) goto fail;
    for (int k = 0; k < n; k++) s->pos[s->order[k]] = k;
    for (int i = 0; i < n; i++) s->left[i] = s->dep_start[i + 1] - s->dep_start[i], s->state[i] = LLFC_TASK_WAITING;
    s->count[LLFC_TASK_WAITING] = n;
    return s;
fail:
    llfc_sched_free(s);
    return NULL;
}

int llfc_sched_size(const llfc_sched *s) { return s->n; }
const char *llfc_sched_id(const llfc_sched *s, int i) { return i >= 0 && i < s->n ? s->ids[i] : NULL; }
int llfc_sched_level(const llfc_sched *s, int i) { return s->level[i]; }
int llfc_sched_ndeps(const llfc_sched *s, int i) { return s->dep_start[i + 1] - s->dep_start[i]; }
int llfc_sched_dep(const llfc_sched *s, int i, int k) { return s->deps[s->dep_start[i] + k]; }
const int *llfc_sched_order(const llfc_sched *s) { return s->order; }
int llfc_sched_position(const llfc_sched *s, int i) { return s->pos[i]; }
int llfc_sched_state(const llfc_sched *s, int i) { return s->state[i]; }
const char *llfc_sched_row(const llfc_sched *s, int i) { return s->rows[i]; }
int llfc_sched_skip_cause(const llfc_sched *s, int i) { return s->cause[i]; }

/* ---- the ready heap: smallest (attempts, position) on top -------------------- */
static int before(const llfc_sched *s, int a, int b)
{
    if (s->attempts[a] != s->attempts[b]) return s->attempts[a] < s->attempts[b];
    return s->pos[a] < s->pos[b];
}

static void heap_push(llfc_sched *s, int t)
{
    int k = s->nheap++;
    s->heap[k] = t;
    while (k > 0) {
        int p = (k - 1) / 2;
        if (!before(s, s->heap[k], s->heap[p])) break;
        int x = s->heap[k]; s->heap[k] = s->heap[p]; s->heap[p] = x;
        k = p;
    }
}

static int heap_pop(llfc_sched *s)
{
    if (!s->nheap) return -1;
    int top = s->heap[0];
    s->heap[0] = s->heap[--s->nheap];
    int k = 0;
    for (;;) {
        int l = 2 * k + 1, r = l + 1, m = k;
        if (l < s->nheap && before(s, s->heap[l], s->heap[m])) m = l;
        if (r < s->nheap && before(s, s->heap[r], s->heap[m])) m = r;
        if (m == k) break;
        int x = s->heap[k]; s->heap[k] = s->heap[m]; s->heap[m] = x;
        k = m;
    }
    return top;
}

static void make_ready(llfc_sched *s, int t)
{
    set_state(s, t, LLFC_TASK_READY);
    heap_push(s, t);
}

static int set_row(llfc_sched *s, int i, const char *row)
{
    char *copy = dupstr(row ? row : "{}");
    if (!copy) return -1;
    llfc_free(s->rows[i]);
    s->rows[i] = copy;
    return 0;
}

int llfc_sched_set_done(llfc_sched *s, int i, const char *row)
{
    if (i < 0 || i >= s->n) return llfc_seterr("set_done: task %d is not a task (1..%d)", i + 1, s->n);
    if (set_row(s, i, row) != 0) return -1;
    set_state(s, i, LLFC_TASK_DONE);
    return 0;
}

void llfc_sched_start(llfc_sched *s)
{
    s->nheap = 0;
    s->ran = s->failed_attempts = s->running = 0;
    for (int i = 0; i < s->n; i++) {
        int left = 0;
        for (int k = s->dep_start[i]; k < s->dep_start[i + 1]; k++) left += s->state[s->deps[k]] != LLFC_TASK_DONE;
        s->left[i] = left;
        s->attempts[i] = 0;
        s->cause[i] = -1;
    }
    for (int k = 0; k < s->n; k++) {
        int i = s->order[k];
        if (s->state[i] == LLFC_TASK_DONE) continue;
        if (s->left[i] == 0) make_ready(s, i);
        else set_state(s, i, LLFC_TASK_WAITING);
    }
}

int llfc_sched_next(llfc_sched *s, int *attempt)
{
    int t = heap_pop(s);
    if (t < 0) return -1;
    set_state(s, t, LLFC_TASK_RUNNING);
    s->running++;
    s->attempts[t]++;
    if (attempt) *attempt = s->attempts[t];
    return t;
}

int llfc_sched_requeue(llfc_sched *s, int i)
{
    if (i < 0 || i >= s->n || s->state[i] != LLFC_TASK_RUNNING)
        return llfc_seterr("requeue: task %d is not running", i + 1);
    s->attempts[i]--;
    s->running--;
    make_ready(s, i);
    return 0;
}

int llfc_sched_report(llfc_sched *s, int i, int ok, const char *row, int *nskipped, const int **skipped)
{
    s->nskipped = 0;
    if (nskipped) *nskipped = 0;
    if (skipped) *skipped = s->skipped;
    if (i < 0 || i >= s->n || s->state[i] != LLFC_TASK_RUNNING)
        return llfc_seterr("report: task %d is not running", i + 1);
    s->running--;
    if (ok) {
        if (set_row(s, i, row) != 0) { s->running++; return -1; }
        set_state(s, i, LLFC_TASK_DONE);
        s->ran++;
        for (int k = s->rdep_start[i]; k < s->rdep_start[i + 1]; k++) {
            int v = s->rdeps[k];
            if (--s->left[v] == 0 && s->state[v] == LLFC_TASK_WAITING) make_ready(s, v);
        }
        return 0;
    }
    s->failed_attempts++;
    if (s->attempts[i] <= s->retries) {
        make_ready(s, i);
        return 0;
    }
    set_state(s, i, LLFC_TASK_FAILED);
    /* skip everything downstream that is not done (depth-first, the skipped
     * array doubles as the stack: entries before `top` are finished) */
    int n = 0;
    for (int k = s->rdep_start[i]; k < s->rdep_start[i + 1]; k++) {
        int v = s->rdeps[k];
        if (s->state[v] == LLFC_TASK_WAITING) { set_state(s, v, LLFC_TASK_SKIPPED); s->cause[v] = i; s->skipped[n++] = v; }
    }
    for (int top = 0; top < n; top++) {
        int u = s->skipped[top];
        for (int k = s->rdep_start[u]; k < s->rdep_start[u + 1]; k++) {
            int v = s->rdeps[k];
            if (s->state[v] == LLFC_TASK_WAITING) { set_state(s, v, LLFC_TASK_SKIPPED); s->cause[v] = i; s->skipped[n++] = v; }
        }
    }
    s->nskipped = n;
    if (nskipped) *nskipped = n;
    return 0;
}

char *llfc_sched_inputs(const llfc_sched *s, int i)
{
    size_t len = 3;
    for (int k = s->dep_start[i]; k < s->dep_start[i + 1]; k++) {
        const char *r = s->rows[s->deps[k]];
        if (s->state[s->deps[k]] != LLFC_TASK_DONE || !r) {
            llfc_seterr("task '%s': its input '%s' is not done", s->ids[i], s->ids[s->deps[k]]);
            return NULL;
        }
        len += strlen(r) + 1;
    }
    char *out = llfc_malloc(len), *p = out;
    if (!out) return NULL;
    *p++ = '[';
    for (int k = s->dep_start[i]; k < s->dep_start[i + 1]; k++) {
        const char *r = s->rows[s->deps[k]];
        size_t m = strlen(r);
        if (k > s->dep_start[i]) *p++ = ',';
        memcpy(p, r, m);
        p += m;
    }
    *p++ = ']';
    *p = '\0';
    return out;
}

void llfc_sched_counts_get(const llfc_sched *s, llfc_sched_counts *c)
{
    memset(c, 0, sizeof *c);
    c->total = s->n;
    c->waiting = s->count[LLFC_TASK_WAITING], c->ready = s->count[LLFC_TASK_READY];
    c->running = s->count[LLFC_TASK_RUNNING], c->done = s->count[LLFC_TASK_DONE];
    c->failed = s->count[LLFC_TASK_FAILED], c->skipped = s->count[LLFC_TASK_SKIPPED];
    c->ran = s->ran;
    c->attempts = s->failed_attempts;
}

int llfc_sched_finished(const llfc_sched *s) { return s->nheap == 0 && s->running == 0; }
