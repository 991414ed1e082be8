/* check.h - a tiny test harness for the C unit tests.
 * Each check prints "ok - NAME" or "not ok - NAME: details"; tests/run counts
 * them.  main() returns check_summary(). */
#ifndef LLFC_CHECK_H
#define LLFC_CHECK_H

#include <math.h>
#include <stdio.h>

static int check_failures = 0, check_count = 0;

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        check_count++;                                                       \
        if (cond) { printf("ok - "); printf(__VA_ARGS__); printf("\n"); }    \
        else {                                                               \
            check_failures++;                                                \
            printf("not ok - "); printf(__VA_ARGS__);                        \
            printf(" (%s:%d: %s)\n", __FILE__, __LINE__, #cond);             \
        }                                                                    \
    } while (0)

/* |a - b| <= tol * max(1, |b|) */
#define CHECK_NEAR(a, b, tol, ...)                                           \
    do {                                                                     \
        double ca_ = (double)(a), cb_ = (double)(b);                         \
        double ct_ = (double)(tol) * (fabs(cb_) > 1.0 ? fabs(cb_) : 1.0);    \
        check_count++;                                                       \
        if (fabs(ca_ - cb_) <= ct_) { printf("ok - "); printf(__VA_ARGS__); printf("\n"); } \
        else {                                                               \
            check_failures++;                                                \
            printf("not ok - "); printf(__VA_ARGS__);                        \
            printf(" (%s:%d: got %.9g, expected %.9g)\n", __FILE__, __LINE__, ca_, cb_); \
        }                                                                    \
    } while (0)

static inline int check_summary(void) { return check_failures ? 1 : 0; }

#endif
