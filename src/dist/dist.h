/* dist.h - running the tasks of a sweep: in this process, or across the
 * ranks of an Open MPI job; the results file; where this process runs.
 *
 * The runner hands tasks to workers and takes their result rows back:
 *     llfc_dist *d = llfc_dist_start(sched, &opts);     // every rank
 *     while (llfc_dist_next(d, &i, &attempt, &inputs) == 1) {
 *         ... run task i on inputs (the JSON rows of its dependencies) ...
 *         llfc_dist_report(d, i, ok, row);              // row: one JSON object
 *     }
 *     llfc_dist_finish(d); llfc_dist_free(d);
 * The same loop runs everywhere:
 *   - in one process (no MPI, or a job of one rank): next() hands out the
 *     ready tasks in order, report() appends the row to the results file;
 *   - under mpirun, rank 0 runs the scheduler in a thread of its own (the
 *     only thread that calls MPI there; MPI_THREAD_SERIALIZED) and works on
 *     tasks in its main thread as well (rank0_works); ranks 1..N-1 receive
 *     tasks from it and send their rows back.  Only rank 0 writes the
 *     results file.  Waiting sides poll (MPI_Iprobe, then a sleep growing
 *     from 0.1 to 2 ms), so an idle rank costs no CPU.
 * Messages (MPI_CHAR): TASK (0 -> w) "index attempt\n" + the inputs;
 * RESULT (w -> 0) "index ok\n" + the row; STOP (0 -> w).  Per task one of
 * each: scheduler traffic grows with the number of tasks, not of ranks.
 * A rank that dies ends the job (Open MPI 4 aborts it); the rows written so
 * far stay in the results file.
 */
#ifndef LLFC_DIST_H
#define LLFC_DIST_H

#include "dist/sched.h"

/* ---- the results file ---------------------------------------------------------
 * Append line (no newline inside; one is added) to path, created if missing,
 * under an exclusive lock (flock), in a single write().  If the file does not
 * end in a newline (a writer was killed in the middle of a line) a newline
 * goes first, so the broken line stays a line of its own that readers skip.
 * Concurrent processes (single-task runs of a job array) append safely. */
int llfc_rows_append(const char *path, const char *line);

/* Create directory path and its missing parents (as mkdir -p; an existing
 * directory is fine).  -1 + "PATH: cannot create: REASON". */
int llfc_mkdirs(const char *path);

/* ---- where this process runs -------------------------------------------------- */
typedef struct {
    int built;        /* llfc was built with Open MPI (--with-mpi) */
    int launched;     /* started by mpirun / srun (OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_RANK set) */
    int active;       /* MPI is initialised, not finalised, and the job has more than one rank */
    int rank, size;   /* 0 and 1 outside MPI */
    int local_size;   /* ranks on this node (OMPI_COMM_WORLD_LOCAL_SIZE, else SLURM_NTASKS_PER_NODE, else 1) */
    int cores;        /* online cores of this node */
    char host[256];
} llfc_dist_env;
/* Fill e; initialises MPI first when llfc was built with it and the process
 * was launched by mpirun (idempotent).  -1 + message if MPI_Init fails. */
int llfc_dist_env_get(llfc_dist_env *e);
/* End MPI cleanly (every rank, after a run): MPI_Finalize.  At exit, a
 * process that initialised MPI and did not finalise it calls MPI_Abort, so a
 * rank that fails ends the whole job instead of leaving the others waiting. */
void llfc_dist_finalize(void);

/* ---- the task picked on the command line (main.c: --task, --array-index, --levels) */
typedef struct {
    const char *task;      /* --task ID, or NULL */
    long long array_index; /* --array-index I (0-based), when has_array */
    int has_array, levels;
    int used;              /* set by the sweep that read it */
} llfc_sweep_cli;
llfc_sweep_cli *llfc_sweep_cli_get(void);

/* ---- the runner ------------------------------------------------------------------ */
typedef struct llfc_dist llfc_dist;
typedef struct {
    const char *results; /* rank 0: the results file (rows are appended to it) */
    const char *digest;  /* identifies the task graph: every rank must pass the same */
    const char *name;    /* for the progress lines */
    int use_mpi;         /* run across the ranks when MPI is active (else in this process) */
    int rank0_works;     /* under MPI, rank 0 runs tasks besides scheduling (default 1) */
    int progress;        /* 0: quiet; 1: progress lines on stderr (one line rewritten in place on a terminal) */
} llfc_dist_opts;

/* Every rank calls it with the same graph (checked against rank 0's digest:
 * an error on every rank if one differs).  s must stay alive until free. */
llfc_dist *llfc_dist_start(llfc_sched *s, const llfc_dist_opts *o);
/* The next task for this process: 1 and *task, *attempt, *inputs (the JSON
 * array of its dependencies' rows, malloc'd: llfc_free it); 0 when the run is
 * over for this process; -1 + message (interrupted, or MPI failed). */
int llfc_dist_next(llfc_dist *d, int *task, int *attempt, char **inputs);
/* Task finished here: ok and its row (a JSON object on one line).  -1 +
 * message when rank 0 could not write the results file (the run then stops). */
int llfc_dist_report(llfc_dist *d, int task, int ok, const char *row);
/* Wait for the scheduler (rank 0).  -1 + message if the run stopped on an
 * error (the results file could not be written). */
int llfc_dist_finish(llfc_dist *d);
void llfc_dist_free(llfc_dist *d);
void llfc_dist_counts(llfc_dist *d, llfc_sched_counts *c);
/* The number of processes that run tasks (workers). */
int llfc_dist_workers(const llfc_dist *d);

/* Seconds since the Unix epoch as "YYYY-MM-DDThh:mm:ssZ". */
void llfc_utc_stamp(char buf[32]);

#endif
