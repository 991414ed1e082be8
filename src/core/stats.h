/* stats.h - robust summaries of samples: quantiles and a histogram rule
 * (used by the metrics pass to bin scale coefficients, and by the plots). */
#ifndef LLFC_STATS_H
#define LLFC_STATS_H

#include "core/core.h"

/* The q-quantile (0 <= q <= 1) of n values sorted ascending (linear interpolation). */
double llfc_quantile_sorted(const double *sorted, int n, double q);
/* A robust display range and a bin count for n samples (NaN and inf skipped):
 * [lo, hi] spans the 0.5% to 99.5% quantiles, widened by 5% on each side;
 * the bin width follows the Freedman-Diaconis rule, 2 IQR / n^(1/3) (Sturges'
 * rule when the IQR is 0), giving between 5 and 100 bins.  Returns the number
 * of finite samples (0: lo = hi = 0, bins = 0), -1 on no memory. */
int llfc_hist_rule(const double *x, int n, double *lo, double *hi, int *bins);
enum { LLFC_HIST_MAXBINS = 100 };

#endif
