/* sched.h - the task graph of a sweep and the state of its run.
 *
 * Tasks are numbered 0..n-1 in the order they were declared; task i depends
 * on deps[i][0..ndeps[i]).  The graph is checked when it is built (unknown,
 * self and cyclic dependencies are errors naming the tasks).
 *
 * Levels and the documented order: a task without dependencies has level 0,
 * any other 1 + the largest level of its dependencies.  The order of a sweep
 * sorts tasks by level, then by declaration; single-task runs
 * (--array-index I) take the I-th task of that order (0-based), so a Slurm
 * job array over one level only needs the levels before it finished.
 *
 * States: WAITING (a dependency is not done) -> READY -> RUNNING -> DONE, or
 * back to READY after a failed attempt while attempts <= retries, else
 * FAILED; when a task fails for good every task that depends on it, directly
 * or not, becomes SKIPPED: nothing ever runs on missing inputs.  Among the
 * ready tasks next() hands out the one with the fewest attempts, then the
 * earliest in the order (a retried task goes after fresh ones).
 *
 * Not thread-safe: the runner (dist.c) holds a lock around every call.
 */
#ifndef LLFC_SCHED_H
#define LLFC_SCHED_H

enum {
    LLFC_TASK_WAITING = 0,
    LLFC_TASK_READY,
    LLFC_TASK_RUNNING,
    LLFC_TASK_DONE,
    LLFC_TASK_FAILED,
    LLFC_TASK_SKIPPED
};

typedef struct llfc_sched llfc_sched;

typedef struct {
    int total, waiting, ready, running, done, failed, skipped;
    int ran;       /* tasks that finished (done) in this run, not from a resumed file */
    int attempts;  /* failed attempts in this run */
} llfc_sched_counts;

/* Ids are copied; each must be non-empty and unique.  retries >= 0.  NULL and
 * a message ("task 'b' depends on itself", "tasks 'a' -> 'b' -> 'a' form a
 * cycle", "task 'x' appears twice") on a bad graph. */
llfc_sched *llfc_sched_new(int n, const char *const *ids, const int *ndeps, const int *const *deps,
                           int retries);
void llfc_sched_free(llfc_sched *s);

int llfc_sched_size(const llfc_sched *s);
const char *llfc_sched_id(const llfc_sched *s, int i);
int llfc_sched_level(const llfc_sched *s, int i);
int llfc_sched_ndeps(const llfc_sched *s, int i);
int llfc_sched_dep(const llfc_sched *s, int i, int k);
/* order[k] = the task at position k of the documented order. */
const int *llfc_sched_order(const llfc_sched *s);
/* The position of task i in that order. */
int llfc_sched_position(const llfc_sched *s, int i);

/* Before start: task i is done (from the results file), with its row (a JSON
 * object, copied), which its dependents receive as input. */
int llfc_sched_set_done(llfc_sched *s, int i, const char *row);
/* Begin a run: every not-done task whose dependencies are all done is
 * READY, the rest WAITING. */
void llfc_sched_start(llfc_sched *s);
/* The next task to run (now RUNNING) and its attempt number (1, 2, ...), or
 * -1 when no task is ready. */
int llfc_sched_next(llfc_sched *s, int *attempt);
/* Task i (RUNNING) finished: ok = done with row (kept for dependents); else a
 * failed attempt.  *skipped lists the tasks that became SKIPPED by this call
 * (*nskipped of them; owned by s, valid until the next call).  -1 if i is not
 * running. */
int llfc_sched_report(llfc_sched *s, int i, int ok, const char *row, int *nskipped, const int **skipped);
/* Forget that task i is running (its worker is gone): READY again, the
 * attempt not counted. */
int llfc_sched_requeue(llfc_sched *s, int i);
int llfc_sched_state(const llfc_sched *s, int i);
/* The row of a done task, or NULL. */
const char *llfc_sched_row(const llfc_sched *s, int i);
/* The rows of task i's dependencies as a JSON array in dependency order
 * ("[]" without dependencies); malloc'd, NULL + message on no memory or when
 * a dependency is not done. */
char *llfc_sched_inputs(const llfc_sched *s, int i);
void llfc_sched_counts_get(const llfc_sched *s, llfc_sched_counts *c);
/* No task ready and none running: the run is over. */
int llfc_sched_finished(const llfc_sched *s);
/* The first failed dependency (index) of a skipped task, or -1. */
int llfc_sched_skip_cause(const llfc_sched *s, int i);

#endif
