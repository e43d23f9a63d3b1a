/*
 * fuzz_server_multipart.c: what kite does with multipart fields and files
 * (srv__post_field, srv__form_finish): libmicrohttpd splits the body and
 * calls kite once per piece of a field or file; kite joins a field's pieces,
 * streams files to temporary files (keeping the client's base name in a
 * folder of their own), enforces the caps and checks fields as UTF-8 once
 * whole. The input is a series of pieces as MHD would pass them:
 *   flags (bit 0: a file, bit 1: a continuation, off > 0), key length, key,
 *   [filename length, filename], data length, data
 * with small caps (4 KiB of fields, 8 KiB of files) so that they are hit.
 * Invariants: every upload lies under the temporary folder, named
 * kite-upload-*, and nothing is left in that folder after the request is
 * released (a file under a field name of invalid UTF-8 was); a capped
 * request says 413; every field kept is valid UTF-8; nothing leaks.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/server_int.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *tmp_dir;

static const char *take(const uint8_t **p, const uint8_t *end, size_t n, size_t *got)
{
    size_t have = (size_t)(end - *p);
    *got = n < have ? n : have;
    const char *s = (const char *)*p;
    *p += *got;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tmp_dir) {
        char tmpl[] = "/tmp/kite-fuzz-multipart-XXXXXX";
        const char *t = getenv("TMPDIR");
        char *path = xasprintf("%s/kite-fuzz-multipart-XXXXXX", t && *t ? t : "/tmp");
        tmp_dir = mkdtemp(path) ? path : xstrdup(mkdtemp(tmpl));
    }
    server s;
    memset(&s, 0, sizeof s);
    s.tmp_dir = tmp_dir;
    s.o.max_body = 4096;
    s.o.max_upload = 8192;
    s.o.max_inflight = 1 << 20;
    srv_req *r = xcalloc(1, sizeof *r);
    r->s = &s;
    r->form = json_object();
    r->files = json_object();
    const uint8_t *p = data, *end = data + size;
    uint64_t off = 0;
    while (p + 2 <= end) {
        unsigned flags = *p++;
        size_t kl = 0, fl = 0, dl = 0;
        size_t klen = *p++ % 9;
        const char *k0 = take(&p, end, klen, &kl);
        char *key = xstrndup(k0, kl);
        char *fname = NULL;
        if ((flags & 1) && p < end) {
            size_t n = *p++ % 24;
            const char *f = take(&p, end, n, &fl);
            fname = xstrndup(f, fl);
        }
        size_t want = p < end ? *p++ : 0;
        const char *d = take(&p, end, want * 8, &dl);
        off = (flags & 2) ? off + dl : 0;
        srv__post_field(r, MHD_POSTDATA_KIND, key, (flags & 1) ? (fname ? fname : "") : NULL, NULL, NULL, d, off,
                        dl);
        free(key);
        free(fname);
    }
    const char *bad = srv__form_finish(r);
    (void)bad;
    if (s.inflight > s.o.max_inflight)
        abort();
    if (r->form_bytes > s.o.max_body || r->upload_bytes > s.o.max_upload)
        if (strncmp(r->form_error, "413 ", 4) != 0)
            abort();
    const char *k;
    json_t *v;
    json_t *kept = json_array();
    json_object_foreach(r->files, k, v)
    {
        const char *f = json_string_value(v);
        size_t tl = strlen(tmp_dir);
        if (strncmp(f, tmp_dir, tl) || strncmp(f + tl, "/kite-upload-", 13) || strstr(f + tl, "/.."))
            abort();
        json_array_append_new(kept, json_string(f));
    }
    json_object_foreach(r->form, k, v) if (!json_is_string(v)) abort();
    srv__req_release(r);
    size_t i;
    json_array_foreach(kept, i, v)
    {
        struct stat st;
        if (stat(json_string_value(v), &st) == 0)
            abort(); /* an upload outlived its request */
    }
    json_decref(kept);
    DIR *d = opendir(tmp_dir);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            abort(); /* something of the request was left behind */
    if (d)
        closedir(d);
    return 0;
}
