/*
 * fs.c: small file-system helpers (see fs.h).
 */
#include "util/fs.h"
#include "util/mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int fs_read_file(const char *path, size_t max, buf *out, kerr *e)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return kerr_set(e, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(fp);
        return kerr_set(e, "%s: is a folder, not a file", path);
    }
    out->max = max ? out->len + max : 0;
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        if (buf_append(out, chunk, n)) {
            rc = kerr_set(e, "%s: file too large: over %zu bytes", path, max);
            break;
        }
    if (!rc && ferror(fp))
        rc = kerr_set(e, "%s: read error", path);
    fclose(fp);
    out->max = 0;
    return rc;
}

int fs_mkdir_p(const char *path, kerr *e)
{
    char *p = xstrdup(path);
    int rc = 0;
    for (char *s = p + 1; *s && !rc; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) && errno != EEXIST)
            rc = kerr_set(e, "cannot create the folder %s: %s", p, strerror(errno));
        *s = '/';
    }
    if (!rc && mkdir(p, 0700) && errno != EEXIST)
        rc = kerr_set(e, "cannot create the folder %s: %s", p, strerror(errno));
    free(p);
    return rc;
}
