/* tensor_print.c - text forms of a tensor: the one-line summary used by
 * tostring() and the abbreviated value listing used by t:print(). */
#include "core/tensor.h"
#include "core/strbuf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EDGE 3        /* values shown at each end of an abbreviated dimension */
#define ABBREV_ABOVE 8

static void fmt_value(char *buf, size_t n, float v)
{
    if (isnan(v)) snprintf(buf, n, "nan");
    else if (isinf(v)) snprintf(buf, n, v > 0 ? "inf" : "-inf");
    else snprintf(buf, n, "%.4g", (double)v);
}

char *llfc_tensor_summary(const llfc_tensor *t, char *buf, size_t n)
{
    char shape[96];
    size_t u = (size_t)snprintf(buf, n, "Tensor %s float32 [", llfc_tensor_shape_str(t, shape, sizeof shape));
    int64_t numel = llfc_tensor_numel(t), show = numel < 6 ? numel : 6;
    int64_t idx[LLFC_MAXDIM] = {0};
    for (int64_t k = 0; k < show && u < n; k++) {
        char v[32];
        fmt_value(v, sizeof v, *llfc_tensor_ptr(t, idx));
        u += (size_t)snprintf(buf + u, n - u, "%s%s", k ? ", " : "", v);
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (++idx[d] < t->size[d]) break;
            idx[d] = 0;
        }
    }
    if (u < n) snprintf(buf + u, n - u, "%s]", numel > show ? ", ..." : "");
    return buf;
}

/* Is position i of a dimension of size n left out (all but the first and last EDGE
 * positions of a dimension larger than ABBREV_ABOVE)? */
static int64_t hidden(int64_t n, int64_t i) { return n > ABBREV_ABOVE && i >= EDGE && i < n - EDGE; }

static int value_width(const llfc_tensor *t)
{
    int64_t n = llfc_tensor_numel(t), idx[LLFC_MAXDIM] = {0};
    int w = 1;
    for (int64_t k = 0; k < n; k++) {
        int skip = 0;
        for (int d = 0; d < t->ndim; d++) skip |= (int)hidden(t->size[d], idx[d]);
        if (!skip) {
            char v[32];
            fmt_value(v, sizeof v, *llfc_tensor_ptr(t, idx));
            if ((int)strlen(v) > w) w = (int)strlen(v);
        }
        int d;
        for (d = t->ndim - 1; d >= 0; d--) {
            /* jump over the hidden middle of a dimension */
            if (idx[d] == EDGE - 1 && t->size[d] > ABBREV_ABOVE) { idx[d] = t->size[d] - EDGE; break; }
            if (++idx[d] < t->size[d]) break;
            idx[d] = 0;
        }
        if (d < 0) break;
    }
    return w;
}

/* One row (the last dimension) at the multi-index idx (idx[last] ignored). */
static void format_row(llfc_strbuf *b, const llfc_tensor *t, int64_t *idx, int w)
{
    int last = t->ndim - 1;
    int64_t n = t->size[last];
    for (int64_t j = 0; j < n; j++) {
        if (hidden(n, j)) { llfc_strbuf_printf(b, " %*s", w, "..."); j = n - EDGE - 1; continue; }
        idx[last] = j;
        char v[32];
        fmt_value(v, sizeof v, *llfc_tensor_ptr(t, idx));
        llfc_strbuf_printf(b, "%s%*s", j ? " " : "", w, v);
    }
    llfc_strbuf_printf(b, "\n");
}

/* A matrix (the last two dimensions) at idx. */
static void format_matrix(llfc_strbuf *b, const llfc_tensor *t, int64_t *idx, int w)
{
    int64_t n = t->size[t->ndim - 2];
    for (int64_t i = 0; i < n; i++) {
        if (hidden(n, i)) { llfc_strbuf_printf(b, "%*s\n", w, "..."); i = n - EDGE - 1; continue; }
        idx[t->ndim - 2] = i;
        format_row(b, t, idx, w);
    }
}

char *llfc_tensor_format(const llfc_tensor *t)
{
    llfc_strbuf b = LLFC_STRBUF_INIT;
    int64_t idx[LLFC_MAXDIM] = {0};
    char shape[96];
    int64_t numel = llfc_tensor_numel(t);
    if (numel == 0) {
        llfc_strbuf_printf(&b, "[empty Tensor %s float32]\n", llfc_tensor_shape_str(t, shape, sizeof shape));
    } else if (t->ndim == 0) {
        char v[32];
        fmt_value(v, sizeof v, *llfc_tensor_data(t));
        llfc_strbuf_printf(&b, "%s\n[Tensor scalar float32]\n", v);
    } else {
        int w = value_width(t);
        if (t->ndim == 1) format_row(&b, t, idx, w);
        else if (t->ndim == 2) format_matrix(&b, t, idx, w);
        else {
            /* slices over the leading dimensions, torch-style "(1,2,.,.) =" */
            int lead = t->ndim - 2, prev_skip = 0;
            for (;;) {
                int skip = 0;
                for (int d = 0; d < lead; d++) skip |= (int)hidden(t->size[d], idx[d]);
                if (!skip) {
                    llfc_strbuf_printf(&b, "(");
                    for (int d = 0; d < lead; d++) llfc_strbuf_printf(&b, "%lld,", (long long)idx[d] + 1);
                    llfc_strbuf_printf(&b, ".,.) =\n");
                    format_matrix(&b, t, idx, w);
                    llfc_strbuf_printf(&b, "\n");
                } else if (!prev_skip) {
                    llfc_strbuf_printf(&b, "...\n\n");
                }
                prev_skip = skip;
                int d;
                for (d = lead - 1; d >= 0; d--) {
                    if (++idx[d] < t->size[d]) break;
                    idx[d] = 0;
                }
                if (d < 0) break;
                for (int e = 0; e <= d; e++)
                    if (hidden(t->size[e], idx[e]) && idx[e] > EDGE) idx[e] = t->size[e] - EDGE;
            }
        }
        llfc_strbuf_printf(&b, "[Tensor %s float32]\n", llfc_tensor_shape_str(t, shape, sizeof shape));
    }
    char *text = llfc_strbuf_take(&b, NULL);
    if (!text) llfc_seterr("out of memory formatting a tensor");
    return text;
}
