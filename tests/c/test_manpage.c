/* test_manpage.c - the man page as help text: entries found in a small
 * hand-written page, roff markup turned into the expected text, the word
 * wrapper's widths, and the real man/llfc.1 checked for macro lines whose
 * quoting groff would read otherwise than meant. */
#include <stdlib.h>
#include <string.h>

#include "app/manpage.h"
#include "check.h"

static const char page[] =
    ".TH T 1\n"
    ".SH MODULE demo\n"
    "The demo module\\(em intro text.\n"
    ".TP\n"
    ".B demo.f(x [, {n = 1}])\n"
    "Return \\fIx\\fR doubled (as a Thing does). Second sentence.\n"
    "Example:\n"
    ".B \"print(demo.f(\\(dqa b\\(dq))\"\n"
    ".TP\n"
    ".BI demo.g( t )\n"
    "One \\- two \\(*a \\e.\n"
    ".SS Thing\n"
    "Things intro.\n"
    ".TP\n"
    ".B Thing:f()\n"
    "A method with a long text that has to be wrapped across several lines when the width is small enough.\n"
    ".TP\n"
    "no entry here\n";

static void test_entries(void)
{
    llfc_man m;
    CHECK(llfc_man_parse(&m, page) == 0 && m.n == 3, "parse: three entries (a .TP without a name is none): %d", m.n);
    const llfc_man_entry *f = llfc_man_find(&m, "demo.f"), *g = llfc_man_find(&m, "demo.g"), *t = llfc_man_find(&m, "Thing:f");
    CHECK(f && g && t && !llfc_man_find(&m, "demo"), "find by exact name");
    CHECK(!strcmp(llfc_man_short_name("Thing:f"), "f") && !strcmp(llfc_man_short_name("demo.g"), "g") &&
          !strcmp(llfc_man_short_name("help"), "help"), "short names");
    llfc_strbuf b = LLFC_STRBUF_INIT;
    if (f) llfc_man_entry_text(&b, f, 80);
    CHECK(b.s && !strcmp(b.s, "demo.f(x [, {n = 1}])\n    Return x doubled (as a Thing does). Second sentence. Example:\n    print(demo.f(\"a b\"))\n"),
          "entry text: head, fonts dropped, \\(dq inside a quoted .B argument kept: [%s]", b.s);
    llfc_strbuf_free(&b);
    if (g) llfc_man_entry_text(&b, g, 80);
    CHECK(b.s && !strcmp(b.s, "demo.g(t)\n    One - two alpha \\.\n"), ".BI joins its arguments; escapes and glyphs: [%s]", b.s);
    llfc_strbuf_free(&b);
    if (f) llfc_man_summary(&b, f, 100);
    CHECK(b.s && !strcmp(b.s, "Return x doubled (as a Thing does)."), "summary: the first sentence: [%s]", b.s);
    llfc_strbuf_free(&b);
    if (f) llfc_man_summary(&b, f, 10);
    CHECK(b.s && !strcmp(b.s, "Return ..."), "summary cut to its width: [%s]", b.s);
    llfc_strbuf_free(&b);
    if (f) llfc_man_head(&b, f);
    CHECK(b.s && !strcmp(b.s, "demo.f(x [, {n = 1}])"), "head on one line");
    llfc_strbuf_free(&b);
    CHECK(llfc_man_intro(&b, &m, ".SH", "MODULE demo", 80) && b.s && !strcmp(b.s, "The demo module-- intro text.\n"),
          "section intro: the text before the first entry: [%s]", b.s);
    llfc_strbuf_free(&b);
    CHECK(llfc_man_intro(&b, &m, ".SS", "Thing", 80) && !llfc_man_intro(&b, &m, ".SS", "Nothing", 80) &&
          !llfc_man_intro(&b, &m, ".SH", "NOPE", 80), "subsection intro found; a missing one is not");
    llfc_strbuf_free(&b);
    /* the word wrapper: no line longer than the width, words intact, indented */
    int widths[] = {30, 41, 60};
    for (int k = 0; k < 3; k++) {
        if (t) llfc_man_entry_text(&b, t, widths[k]);
        int longest = 0, ok = b.s != NULL, lines = 0;
        for (char *p = b.s, *e; ok && *p; p = e + 1) {
            e = strchr(p, '\n');
            if (!e) { ok = 0; break; }
            if (e - p > longest) longest = (int)(e - p);
            if (lines++ > 0) ok = !strncmp(p, "    ", 4) && p[4] != ' ';
        }
        CHECK(ok && longest <= widths[k] && lines >= 2 && strstr(b.s, "several") && strstr(b.s, "enough."),
              "wrap at %d: %d lines, longest %d, text indented by 4", widths[k], lines, longest);
        llfc_strbuf_free(&b);
    }
    int hits[4];
    CHECK(llfc_man_search(&m, "DOUBLED", hits, 4) == 1 && hits[0] == 0, "search: a word of the text, ignoring case");
    CHECK(llfc_man_search(&m, "thing", hits, 4) == 2 && hits[0] == 2 && hits[1] == 0,
          "search: entries with the word in their name first (Thing:f), then those with it in their text (demo.f)");
    CHECK(llfc_man_search(&m, "wrapped several", hits, 4) == 1 && hits[0] == 2, "search: every word must appear");
    CHECK(llfc_man_search(&m, "nowhere", hits, 4) == 0, "search: no match");
    CHECK(llfc_man_search(&m, "a", hits, 1) == 3, "search: the count of all matches, hits cut to max");
    CHECK(llfc_man_has_type(&m, "Thing") && !llfc_man_has_type(&m, "Thin") && !llfc_man_has_type(&m, "demo"),
          "has_type: Type:method entries");
    llfc_man_free(&m);
}

/* groff reads a macro argument that starts with '"' up to the next '"': in
 * `.B f("a", "b")` the second argument is b and the rest a new argument, so
 * the page would print f("a", b ,).  Every such line must quote its whole
 * argument and write inner quotes as \(dq. */
static void test_quoting(void)
{
    const char *dir = getenv("LLFC_SRCDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/man/llfc.1", dir ? dir : ".");
    FILE *fp = fopen(path, "r");
    CHECK(fp != NULL, "man page found at %s", path);
    if (!fp) return;
    char line[8192];
    int lineno = 0, bad = 0, macros = 0;
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        if (line[0] != '.' || !strchr("BIST", line[1])) continue;
        size_t i = 1;
        while (line[i] && line[i] != ' ' && line[i] != '\n') i++;
        macros++;
        while (line[i] && line[i] != '\n') {
            while (line[i] == ' ' || line[i] == '\t') i++;
            if (!line[i] || line[i] == '\n') break;
            if (line[i] == '"') {
                i++;
                while (line[i] && line[i] != '\n' && !(line[i] == '"' && line[i + 1] != '"')) i += line[i] == '"' ? 2 : 1;
                if (line[i] == '"') i++;
                if (line[i] && line[i] != ' ' && line[i] != '\t' && line[i] != '\n') {
                    if (bad++ < 5) printf("# man/llfc.1:%d: a quoted argument ends inside a word: %s", lineno, line);
                    break;
                }
            } else {
                while (line[i] && line[i] != ' ' && line[i] != '\t' && line[i] != '\n') i += line[i] == '\\' && line[i + 1] ? 2 : 1;
            }
        }
    }
    fclose(fp);
    CHECK(bad == 0 && macros > 100, "man/llfc.1: no macro line whose quoted argument ends inside a word (%d lines, %d bad)", macros, bad);
}

int main(void)
{
    test_entries();
    test_quoting();
    return check_summary();
}
