/* csv.h - the one CSV writer: every .csv file llfc writes is made here.
 *
 * RFC 4180 text: cells separated by ',', each row ended by '\n'.  A text cell
 * holding ',', '"', CR or LF is quoted, with '"' doubled.  Numbers: integers
 * exactly, other values with 10 significant digits (%.10g), and nan, inf,
 * -inf; a missing value is an empty cell.
 *     llfc_strbuf out = LLFC_STRBUF_INIT;
 *     llfc_csv c = {&out, 0};
 *     llfc_csv_text(&c, "alpha", 5); llfc_csv_text(&c, "err", 3); llfc_csv_endrow(&c);
 *     llfc_csv_number(&c, 0.5); llfc_csv_number(&c, 0.1); llfc_csv_endrow(&c);
 * (out's OOM flag reports a failed allocation, as for any llfc_strbuf.) */
#ifndef LLFC_CSV_H
#define LLFC_CSV_H

#include "core/strbuf.h"

typedef struct {
    llfc_strbuf *out;
    int col; /* cells written in the current row */
} llfc_csv;

void llfc_csv_text(llfc_csv *c, const char *s, size_t n);
void llfc_csv_number(llfc_csv *c, double v);
void llfc_csv_integer(llfc_csv *c, long long v);
void llfc_csv_empty(llfc_csv *c);
void llfc_csv_endrow(llfc_csv *c);

#endif
