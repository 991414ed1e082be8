/* stats.c - robust summaries of samples (stats.h). */
#include "core/stats.h"

#include <math.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double llfc_quantile_sorted(const double *v, int n, double q)
{
    if (n <= 0) return NAN;
    if (q <= 0) return v[0];
    if (q >= 1) return v[n - 1];
    double pos = q * (n - 1);
    int i = (int)pos;
    if (i >= n - 1) return v[n - 1];
    return v[i] + (pos - i) * (v[i + 1] - v[i]);
}

int llfc_hist_rule(const double *x, int n, double *lo, double *hi, int *bins)
{
    *lo = *hi = 0, *bins = 0;
    double *v = llfc_mallocarray(n > 0 ? (size_t)n : 1, sizeof *v);
    if (!v) return -1;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) v[m++] = x[i];
    if (m == 0) { llfc_free(v); return 0; }
    qsort(v, (size_t)m, sizeof *v, cmp_double);
    double a = llfc_quantile_sorted(v, m, 0.005), b = llfc_quantile_sorted(v, m, 0.995);
    double iqr = llfc_quantile_sorted(v, m, 0.75) - llfc_quantile_sorted(v, m, 0.25);
    llfc_free(v);
    if (!(b > a)) { /* (nearly) one value: a small window around it */
        double d = a != 0 ? fabs(a) * 1e-3 : 1e-3;
        *lo = a - d, *hi = a + d, *bins = 5;
        return m;
    }
    double pad = 0.05 * (b - a);
    *lo = a - pad, *hi = b + pad;
    int k;
    if (iqr > 0) k = (int)ceil((*hi - *lo) / (2 * iqr / cbrt((double)m)));
    else k = (int)ceil(log2((double)m)) + 1;
    *bins = k < 5 ? 5 : k > 100 ? 100 : k;
    return m;
}
