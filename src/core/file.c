/* file.c - atomic file writing and checked opening for reading (core.h).
 *
 * A save writes PATH.tmp.PID.XXXXXX next to PATH (mkstemp fills XXXXXX),
 * flushes it to the disk (fsync), renames it over PATH and syncs the
 * directory, so that neither a failure, nor a killed process, nor a power cut
 * leaves a truncated PATH.  A process killed mid-save leaves its temporary
 * file behind; the next successful save of PATH removes such leftovers when
 * the process named in them no longer runs (and the file has not changed
 * for LLFC_STALE_SECONDS, in case the writer lives in another PID namespace
 * sharing the directory), so a concurrent writer's file is never touched. */
#include "core/core.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LLFC_STALE_SECONDS 60

/* The directory part of path ("." for a bare name) into dir, and the name. */
static const char *split_path(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash) { snprintf(dir, cap, "."); return path; }
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= cap) n = cap - 1;
    memcpy(dir, path, n);
    dir[n] = '\0';
    return slash + 1;
}

FILE *llfc_afile_open(llfc_afile *a, const char *path)
{
    size_t n = strlen(path);
    a->f = NULL;
    a->path = path;
    if (!(a->tmp = llfc_malloc(n + 40))) return NULL;
    snprintf(a->tmp, n + 40, "%s.tmp.%ld.XXXXXX", path, (long)getpid());
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        llfc_seterr("%s: cannot create a temporary file: %s", path, strerror(errno));
        free(a->tmp);
        a->tmp = NULL;
        return NULL;
    }
    mode_t mask = umask(0); /* mkstemp makes 0600; give what fopen would */
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0) { /* keep 0600 */ }
    if (!(a->f = fdopen(fd, "wb"))) {
        llfc_seterr("%s: %s", path, strerror(errno));
        close(fd);
        unlink(a->tmp);
        free(a->tmp);
        a->tmp = NULL;
    }
    return a->f;
}

/* Sync the directory holding path, so that the rename itself is on the disk.
 * Best effort: some file systems cannot sync a directory. */
static void sync_dir(const char *path)
{
    char dir[4096];
    split_path(path, dir, sizeof dir);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return;
    if (fsync(fd) != 0) { /* EINVAL on some file systems: the rename stands */ }
    close(fd);
}

/* Is name "base.tmp.PID.XXXXXX" with a PID other than ours?  Returns it, or 0. */
static long leftover_pid(const char *name, const char *base)
{
    size_t bn = strlen(base);
    if (strncmp(name, base, bn) || strncmp(name + bn, ".tmp.", 5)) return 0;
    const char *p = name + bn + 5;
    char *end;
    errno = 0;
    long pid = strtol(p, &end, 10);
    if (errno || end == p || pid <= 0 || *end != '.' || strlen(end + 1) != 6) return 0;
    return pid == (long)getpid() ? 0 : pid;
}

void llfc_afile_clean(const char *path)
{
    char dir[4096];
    const char *base = split_path(path, dir, sizeof dir);
    if (!*base) return;
    DIR *d = opendir(dir);
    if (!d) return;
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid = leftover_pid(e->d_name, base);
        if (!pid) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* its writer runs (or we cannot tell) */
        char full[4096 + 256];
        snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(full, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (now - st.st_mtime < LLFC_STALE_SECONDS) continue;
        unlink(full);
    }
    closedir(d);
}

int llfc_afile_commit(llfc_afile *a, int ok)
{
    int err = 0;
    if (!a->f) return -1;
    if (ok && fflush(a->f) != 0) { ok = 0; err = errno; }
    if (ok && fsync(fileno(a->f)) != 0 && errno != EINVAL) { ok = 0; err = errno; }
    if (fclose(a->f) != 0 && ok) { ok = 0; err = errno; }
    a->f = NULL;
    if (ok && rename(a->tmp, a->path) != 0) {
        err = errno;
        llfc_seterr("%s: cannot rename the temporary file: %s", a->path, strerror(err));
        ok = -1;
    }
    if (ok == 1) {
        sync_dir(a->path);
        llfc_afile_clean(a->path);
    } else {
        unlink(a->tmp);
        if (ok == 0 && err) llfc_seterr("%s: write failed: %s", a->path, strerror(err));
        else if (ok == 0 && !*llfc_errmsg()) llfc_seterr("%s: write failed", a->path);
    }
    free(a->tmp);
    a->tmp = NULL;
    return ok == 1 ? 0 : -1;
}

int llfc_write_file_atomic(const char *path, const char *data, size_t len)
{
    llfc_afile a;
    FILE *f = llfc_afile_open(&a, path);
    if (!f) return -1;
    llfc_seterr("%s: write failed", path);
    return llfc_afile_commit(&a, fwrite(data, 1, len, f) == len);
}

FILE *llfc_fopen_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        llfc_seterr("%s: cannot open: %s", path, strerror(e));
        errno = e;
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        llfc_seterr("%s: is a directory, not a file", path);
        errno = EISDIR;
        return NULL;
    }
    return f;
}
