/* lap.h - exact linear assignment (shortest augmenting path, Jonker-Volgenant).
 *
 * Given an nr x nc cost matrix C (row-major), find a matching of
 * min(nr, nc) rows to distinct columns minimising (or maximising) the sum of
 * the chosen entries.  The solver is exact: O(n^3) worst case, float64
 * internally.  Entries must be finite: NaN and +-inf are rejected with an
 * error naming the first bad entry.
 *
 *   assign[i] = column of row i (0-based), or -1 if row i is left unassigned
 *               (only when nr > nc);
 *   *total    = sum of C[i, assign[i]] over assigned rows (in float64).
 */
#ifndef LLFC_LAP_H
#define LLFC_LAP_H

#include "core/core.h"

int llfc_lap_solve(int64_t nr, int64_t nc, const double *cost, int maximize,
                   int64_t *assign, double *total);
int llfc_lap_solve_f32(int64_t nr, int64_t nc, const float *cost, int maximize,
                       int64_t *assign, double *total);

/* Warm start for a square matrix close to one solved before (the cost of a
 * group between weight matching sweeps): on entry assign[] holds the previous
 * assignment and v[n] the prices this function returned with it; if assign
 * is not a permutation the solve starts cold.  Both are updated.  The result
 * is exact whatever they hold: rows whose column is no longer of least
 * reduced cost are freed and re-augmented, so they only save work. */
int llfc_lap_solve_warm_f32(int64_t n, const float *cost, int maximize, int64_t *assign, double *v,
                            double *total);

/* The search runs in AVX2 where the CPU has it, else in portable C; both
 * give the same assignment.  llfc_lap_portable(1) forces the portable loops
 * (tests compare the two), 0 allows AVX2 again, -1 only asks; returns the
 * previous setting.  Not thread-safe: set it before solving. */
int llfc_lap_portable(int on);

#endif
