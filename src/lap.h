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

#include "core.h"

int llfc_lap_solve(int64_t nr, int64_t nc, const double *cost, int maximize,
                   int64_t *assign, double *total);
int llfc_lap_solve_f32(int64_t nr, int64_t nc, const float *cost, int maximize,
                       int64_t *assign, double *total);

#endif
