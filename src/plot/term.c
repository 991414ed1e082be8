/* term.c - the terminal: ncurses, its signal handling, keys (see term.h). */
#define NCURSES_WIDECHAR 1
#include "plot/term.h"

#include <curses.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static SCREEN *screen;
static unsigned screen_gen; /* bumped on every close: a handle only closes its own screen */
static struct sigaction old_sigint, old_sigwinch;
static int atexit_done, colors_on, ncolors;

static void on_sigint(int sig)
{
    (void)sig;
    llfc_interrupt_flag = 1;
}

/* Resizes: ncurses installs its own SIGWINCH handler only once per process
 * and only if none is set -- and the REPL has one for Readline -- so the view
 * catches the signal itself and resizes the screen when it next reads a key. */
static volatile sig_atomic_t winched, resized;
static void on_sigwinch(int sig)
{
    (void)sig;
    winched = resized = 1;
}

static int take_resize(void)
{
    struct winsize ws;
    if (!winched) return 0;
    winched = 0;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
        resizeterm(ws.ws_row, ws.ws_col);
    return 1;
}

void llfc_term_close(void)
{
    if (!screen) return;
    endwin();
    delscreen(screen);
    screen = NULL;
    screen_gen++;
    sigaction(SIGINT, &old_sigint, NULL);
    sigaction(SIGWINCH, &old_sigwinch, NULL);
    fflush(stdout);
    /* pass on a resize the REPL's handler missed (Readline's line width) */
    if (resized) resized = 0, raise(SIGWINCH);
}

void llfc_term_close_gen(unsigned gen)
{
    if (gen == screen_gen) llfc_term_close();
}

static void close_at_exit(void) { llfc_term_close(); }

const char *llfc_term_why_not(void)
{
    const char *term = getenv("TERM"), *ci = getenv("CI"), *force = getenv("LLFC_VIEW");
    if (force && !strcmp(force, "text")) return "LLFC_VIEW=text";
    if (ci && *ci && strcmp(ci, "0") && strcmp(ci, "false")) return "CI is set";
    if (!term || !*term || !strcmp(term, "dumb")) return "no terminal type (TERM)";
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) return "not a terminal";
    return NULL;
}

int llfc_term_utf8(void)
{
    /* LC_CTYPE only: LC_NUMERIC must stay "C" for Lua's number syntax. */
    setlocale(LC_CTYPE, "");
    const char *cs = nl_langinfo(CODESET);
    return cs && (!strcmp(cs, "UTF-8") || !strcmp(cs, "utf8"));
}

int llfc_term_open(unsigned *gen)
{
    if (!screen) {
        setlocale(LC_CTYPE, "");
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigint; /* no SA_RESTART: getch returns on Ctrl-C */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_sigint);
        /* ours while the screen is open; the REPL's comes back in llfc_term_close */
        sa.sa_handler = on_sigwinch;
        winched = resized = 0;
        sigaction(SIGWINCH, &sa, &old_sigwinch);
        fflush(stdout);
        screen = newterm(NULL, stdout, stdin);
        if (!screen) {
            sigaction(SIGINT, &old_sigint, NULL);
            sigaction(SIGWINCH, &old_sigwinch, NULL);
            return llfc_seterr("view: cannot open the terminal");
        }
        if (!atexit_done) atexit(close_at_exit), atexit_done = 1;
        set_term(screen);
        cbreak();
        noecho();
        nonl();
        keypad(stdscr, TRUE);
        set_escdelay(25);
        curs_set(0);
        colors_on = 0, ncolors = 0;
        if (has_colors() && start_color() == OK) {
            use_default_colors();
            static const short pal[] = {COLOR_CYAN, COLOR_RED, COLOR_GREEN, COLOR_MAGENTA, COLOR_YELLOW, COLOR_BLUE};
            for (int i = 0; i < 6; i++) init_pair((short)(i + 1), pal[i], -1);
            init_pair(LLFC_COLOR_NOTE, COLOR_YELLOW, -1);
            colors_on = 1;
            ncolors = COLORS >= 256 && COLOR_PAIRS >= 256 ? 256 : 8;
        }
    }
    *gen = screen_gen;
    return 0;
}

int llfc_term_isopen(void) { return screen != NULL; }
int llfc_term_colors(void) { return screen ? ncolors : 0; }

/* A colour pair for a 256-colour cell: ncurses' pair allocator (LRU), pairs
 * above the classes' fixed ones. */
static short rgb_pair(int fg, int bg)
{
    int p = alloc_pair(fg, bg);
    return p < 0 ? 0 : (short)p;
}

void llfc_term_blit(const llfc_canvas *c)
{
    if (!screen) return;
    erase();
    int rows = LINES < c->h ? LINES : c->h, cols = COLS < c->w ? COLS : c->w;
    for (int y = 0; y < rows; y++)
        for (int x = 0; x < cols; x++) {
            const llfc_cell *cl = &c->cells[(size_t)y * c->w + x];
            uint32_t g = llfc_canvas_glyph(c, x, y);
            if (y == LINES - 1 && x == COLS - 1) continue; /* writing there scrolls */
            attr_t attr = A_NORMAL;
            short pair = 0;
            if (cl->flags & LLFC_CELL_RGB) {
                if (ncolors < 256) continue; /* cannot show it; the canvas should have used the ramp */
                pair = rgb_pair(cl->fg, cl->bg);
            } else {
                if (g == ' ' && cl->color != LLFC_COLOR_STATUS) continue;
                int k = cl->color;
                if (k >= 1 && k <= LLFC_NSERIES_COLORS) pair = colors_on ? (short)k : 0;
                else if (k == LLFC_COLOR_AXIS) attr = A_DIM;
                else if (k == LLFC_COLOR_NOTE) attr = A_BOLD, pair = colors_on ? LLFC_COLOR_NOTE : 0;
                else if (k == LLFC_COLOR_TITLE) attr = A_BOLD;
                else if (k == LLFC_COLOR_STATUS) attr = A_REVERSE;
            }
            if (c->ascii || g < 0x80) {
                mvaddch(y, x, (chtype)(g < 0x80 ? g : '?') | attr | COLOR_PAIR(pair));
            } else {
                wchar_t wc[2] = {(wchar_t)g, 0};
                cchar_t cc;
                setcchar(&cc, wc, attr, pair, NULL);
                mvadd_wch(y, x, &cc);
            }
        }
    refresh();
}

const char *llfc_term_getkey(int ms, char buf[8])
{
    if (llfc_interrupted()) return "interrupt";
    if (!screen) return NULL;
    if (take_resize()) return "resize";
    timeout(ms < 0 ? -1 : ms);
    int ch = getch();
    if (ch == ERR && take_resize()) ch = KEY_RESIZE; /* the signal ended the wait */
    switch (ch) {
    case ERR: return llfc_interrupted() ? "interrupt" : NULL;
    case KEY_RESIZE: return "resize";
    case '\t': return "tab";
    case KEY_BTAB: return "btab";
    case KEY_LEFT: return "left";
    case KEY_RIGHT: return "right";
    case KEY_UP: return "up";
    case KEY_DOWN: return "down";
    case KEY_NPAGE: return "pagedown";
    case KEY_PPAGE: return "pageup";
    case 27: return "escape";
    case 3: return "interrupt";
    case '\r': case '\n': case KEY_ENTER: return "enter";
    default:
        if (ch > 0 && ch < 127) { buf[0] = (char)ch, buf[1] = 0; return buf; }
        return "other";
    }
}

void llfc_term_size(int *cols, int *lines)
{
    if (screen) { *cols = COLS, *lines = LINES; return; }
    const char *c = getenv("COLUMNS"), *l = getenv("LINES");
    *cols = c && atoi(c) > 0 ? atoi(c) : 80;
    *lines = l && atoi(l) > 0 ? atoi(l) : 24;
}
