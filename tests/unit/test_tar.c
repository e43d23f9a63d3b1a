/*
 * test_tar.c: util/tar.h, the archives the Docker runner sends to and reads
 * from an engine. The writer's archives read back (by kite's reader and by
 * GNU tar, the real thing), with pax names over 100 bytes; GNU tar's own
 * archives (gnu and pax formats, long names) read by kite; tar_extract
 * refuses an archive that tries to leave its folder ("../", an absolute name,
 * a symbolic link already in the folder) and never makes the links an archive
 * holds; a truncated archive is an error, never a short file taken as whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/tar.h"

/* paths are built in fixed buffers far larger than the temporary root */
#pragma GCC diagnostic ignored "-Wformat-truncation"

static char root[256];

static int setup(void **state)
{
    const char *t = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/test_tar-XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    buf b = BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    if (!b.data)
        buf_append(&b, "", 0);
    return buf_steal(&b);
}

static ssize_t fd_read(void *ud, void *p, size_t n)
{
    return read(*(int *)ud, p, n);
}

/* ---- raw archives, for what kite's writer never makes ---- */

static void raw_header(unsigned char h[512], const char *name, char type, size_t size, const char *link)
{
    memset(h, 0, 512);
    memcpy(h, name, strlen(name) > 100 ? 100 : strlen(name));
    snprintf((char *)h + 100, 8, "%07o", 0644);
    snprintf((char *)h + 108, 8, "%07o", 0);
    snprintf((char *)h + 116, 8, "%07o", 0);
    char sz[32];
    snprintf(sz, sizeof sz, "%011zo", size);
    memcpy(h + 124, sz, 11);
    snprintf((char *)h + 136, 12, "%011o", 0);
    h[156] = (unsigned char)type;
    if (link)
        memcpy(h + 157, link, strlen(link));
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += (i >= 148 && i < 156) ? ' ' : h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    h[155] = ' ';
}

/* Appends an entry (header, data, padding) to the archive in b. */
static void raw_entry(buf *b, const char *name, char type, const char *data, const char *link)
{
    unsigned char h[512];
    size_t n = data ? strlen(data) : 0;
    raw_header(h, name, type, n, link);
    buf_append(b, h, 512);
    if (n) {
        buf_append(b, data, n);
        static const char zero[512];
        buf_append(b, zero, (512 - n % 512) % 512);
    }
}

static void raw_end(buf *b)
{
    static const char zero[1024];
    buf_append(b, zero, sizeof zero);
}

static char *write_raw(const char *name, const buf *b)
{
    char *p;
    assert_true(asprintf(&p, "%s/%s", root, name) > 0);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b->data, b->len), (ssize_t)b->len);
    close(fd);
    return p;
}

static long extract(const char *tar, const char *dest, int strip, kerr *e)
{
    mkdir(dest, 0755);
    int fd = open(tar, O_RDONLY);
    assert_true(fd >= 0);
    long n = tar_extract(fd, dest, strip, 0, e);
    close(fd);
    return n;
}

/* ---- the tests ---- */

#define LONG_DIR "a-folder-name-that-is-long-enough/and-another-one-below-it/and-a-third-one-to-pass-100-bytes"

static void test_writer_round_trip(void **state)
{
    char src[1024], sub[400], deep[600], tar[300], out[300];
    snprintf(src, sizeof src, "%s/src", root);
    snprintf(sub, sizeof sub, "%s/sub", src);
    mkdir(src, 0755);
    mkdir(sub, 0755);
    char *p;
    assert_true(asprintf(&p, "%s/a.txt", src) > 0);
    put_file(p, "alpha\n");
    free(p);
    assert_true(asprintf(&p, "%s/empty", src) > 0);
    put_file(p, "");
    free(p);
    /* a file of more than one block, and one at exactly a block */
    buf big = BUF_INIT;
    for (int i = 0; i < 3000; i++)
        buf_printf(&big, "%d,", i);
    assert_true(asprintf(&p, "%s/big.csv", sub) > 0);
    put_file(p, buf_str(&big));
    free(p);
    char block[513];
    memset(block, 'b', 512);
    block[512] = 0;
    assert_true(asprintf(&p, "%s/block", sub) > 0);
    put_file(p, block);
    free(p);
    /* a pax name over 100 bytes */
    snprintf(deep, sizeof deep, "%s/" LONG_DIR, src);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", deep);
    assert_int_equal(system(cmd), 0);
    assert_true(asprintf(&p, "%s/long-file-name.txt", deep) > 0);
    put_file(p, "deep\n");
    free(p);
    /* a symbolic link in the tree is left out */
    assert_true(asprintf(&p, "%s/link", src) > 0);
    assert_int_equal(symlink("/etc/passwd", p), 0);
    free(p);

    snprintf(tar, sizeof tar, "%s/rt.tar", root);
    int fd = open(tar, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    tar_writer *w = tar_writer_new(fd);
    kerr e = KERR_INIT;
    assert_int_equal(tar_add_tree(w, "work", src, 0755, &e), 0);
    assert_int_equal(tar_finish(w, &e), 0);
    tar_writer_free(w);
    close(fd);

    /* kite's reader: the entries, their sizes and data */
    fd = open(tar, O_RDONLY);
    tar_reader *r = tar_reader_new(fd_read, &fd);
    tar_entry en;
    int files = 0, dirs = 0, saw_long = 0, saw_link = 0;
    while (tar_next(r, &en, &e) == 1) {
        if (en.type == '5')
            dirs++;
        else if (en.type == '0')
            files++;
        if (strstr(en.name, "link"))
            saw_link = 1;
        if (!strcmp(en.name, "work/" LONG_DIR "/long-file-name.txt")) {
            saw_long = 1;
            char d[16];
            assert_int_equal(tar_data(r, d, sizeof d, &e), 5);
            assert_memory_equal(d, "deep\n", 5);
            assert_int_equal(tar_data(r, d, sizeof d, &e), 0);
        }
        if (!strcmp(en.name, "work/sub/big.csv"))
            assert_int_equal(en.size, big.len);
    }
    assert_string_equal(e.msg, "");
    tar_reader_free(r);
    close(fd);
    assert_int_equal(files, 5);
    assert_true(dirs >= 4);
    assert_true(saw_long);
    assert_false(saw_link);

    /* GNU tar reads kite's archive, the pax name included */
    snprintf(cmd, sizeof cmd, "tar -tf '%s' | grep -qx 'work/" LONG_DIR "/long-file-name.txt'", tar);
    assert_int_equal(system(cmd), 0);

    /* extracted back (the first segment dropped), the contents are the same */
    snprintf(out, sizeof out, "%s/out", root);
    assert_int_equal(extract(tar, out, 1, &e), 5);
    assert_true(asprintf(&p, "%s/sub/big.csv", out) > 0);
    char *got = slurp(p);
    free(p);
    assert_non_null(got);
    assert_string_equal(got, buf_str(&big));
    free(got);
    assert_true(asprintf(&p, "%s/sub/block", out) > 0);
    got = slurp(p);
    free(p);
    assert_string_equal(got, block);
    free(got);
    assert_true(asprintf(&p, "%s/" LONG_DIR "/long-file-name.txt", out) > 0);
    got = slurp(p);
    free(p);
    assert_string_equal(got, "deep\n");
    free(got);
    assert_true(asprintf(&p, "%s/empty", out) > 0);
    got = slurp(p);
    free(p);
    assert_string_equal(got, "");
    free(got);
    buf_free(&big);
}

/* GNU tar's archives, in its gnu format ('L' long names) and in pax. */
static void test_reads_gnu_tar(void **state)
{
    static const char *const formats[] = {"gnu", "pax", "ustar"};
    for (int i = 0; i < 3; i++) {
        char cmd[4096], dir[300], out[300];
        snprintf(dir, sizeof dir, "%s/g%d", root, i);
        const char *name = i == 2 ? "short/name.txt" : LONG_DIR "/x/name.txt";
        snprintf(cmd, sizeof cmd,
                 "mkdir -p '%s/work/%s' && rmdir '%s/work/%s' && printf gnu > '%s/work/%s' && "
                 "tar -C '%s' --format=%s -cf '%s/g.tar' work",
                 dir, name, dir, name, dir, name, dir, formats[i], dir);
        assert_int_equal(system(cmd), 0);
        snprintf(out, sizeof out, "%s/out", dir);
        char tar[1024];
        snprintf(tar, sizeof tar, "%s/g.tar", dir);
        kerr e = KERR_INIT;
        assert_int_equal(extract(tar, out, 1, &e), 1);
        char *p;
        assert_true(asprintf(&p, "%s/%s", out, name) > 0);
        char *got = slurp(p);
        free(p);
        assert_non_null(got);
        assert_string_equal(got, "gnu");
        free(got);
    }
}

static void test_refuses_dot_dot(void **state)
{
    buf b = BUF_INIT;
    raw_entry(&b, "work/ok.txt", '0', "fine", NULL);
    raw_entry(&b, "work/../../escaped.txt", '0', "evil", NULL);
    raw_end(&b);
    char *tar = write_raw("dotdot.tar", &b);
    char dest[1024], esc[300];
    snprintf(dest, sizeof dest, "%s/dd", root);
    mkdir(dest, 0755);
    snprintf(dest, sizeof dest, "%s/dd/in", root);
    kerr e = KERR_INIT;
    assert_int_equal(extract(tar, dest, 1, &e), -1);
    assert_non_null(strstr(e.msg, "leaves the folder"));
    snprintf(esc, sizeof esc, "%s/escaped.txt", root);
    assert_int_equal(access(esc, F_OK), -1);
    snprintf(esc, sizeof esc, "%s/dd/escaped.txt", root);
    assert_int_equal(access(esc, F_OK), -1);
    free(tar);
    buf_free(&b);
}

static void test_refuses_absolute(void **state)
{
    char target[1024], name[400];
    snprintf(target, sizeof target, "%s/abs-target.txt", root);
    snprintf(name, sizeof name, "%s", target); /* an absolute name, as a hostile archive gives it */
    buf b = BUF_INIT;
    raw_entry(&b, name, '0', "evil", NULL);
    raw_end(&b);
    char *tar = write_raw("abs.tar", &b);
    char dest[1024];
    snprintf(dest, sizeof dest, "%s/absdest", root);
    kerr e = KERR_INIT;
    assert_int_equal(extract(tar, dest, 0, &e), -1);
    assert_non_null(strstr(e.msg, "leaves the folder"));
    assert_int_equal(access(target, F_OK), -1);
    free(tar);
    buf_free(&b);
}

static void test_symlinks(void **state)
{
    char outside[1024], dest[300], p[700];
    snprintf(outside, sizeof outside, "%s/outside", root);
    mkdir(outside, 0755);
    snprintf(dest, sizeof dest, "%s/symdest", root);
    mkdir(dest, 0755);

    /* an archive's own link is never made: the file written through its name
     * stays inside (as a plain folder), nothing appears outside */
    buf b = BUF_INIT;
    raw_entry(&b, "work/esc", '2', NULL, outside);
    raw_entry(&b, "work/esc/planted.txt", '0', "evil", NULL);
    raw_entry(&b, "work/hard", '1', NULL, "/etc/passwd");
    raw_end(&b);
    char *tar = write_raw("sym.tar", &b);
    kerr e = KERR_INIT;
    assert_int_equal(extract(tar, dest, 1, &e), 1);
    snprintf(p, sizeof p, "%s/planted.txt", outside);
    assert_int_equal(access(p, F_OK), -1);
    struct stat st;
    snprintf(p, sizeof p, "%s/esc", dest);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    snprintf(p, sizeof p, "%s/hard", dest);
    assert_int_equal(lstat(p, &st), -1);
    free(tar);
    buf_free(&b);

    /* a link already in the folder is not followed: writing below it fails */
    char dest2[1024];
    snprintf(dest2, sizeof dest2, "%s/symdest2", root);
    mkdir(dest2, 0755);
    snprintf(p, sizeof p, "%s/lnk", dest2);
    assert_int_equal(symlink(outside, p), 0);
    buf b2 = BUF_INIT;
    raw_entry(&b2, "work/lnk/planted2.txt", '0', "evil", NULL);
    raw_end(&b2);
    tar = write_raw("sym2.tar", &b2);
    kerr e2 = KERR_INIT;
    assert_int_equal(extract(tar, dest2, 1, &e2), -1);
    assert_non_null(strstr(e2.msg, "cannot create"));
    snprintf(p, sizeof p, "%s/planted2.txt", outside);
    assert_int_equal(access(p, F_OK), -1);
    free(tar);
    buf_free(&b2);

    /* a file entry named like a link in the folder replaces the link, and the
     * link's target is left alone */
    char target[1024];
    snprintf(target, sizeof target, "%s/keep.txt", outside);
    put_file(target, "untouched");
    snprintf(p, sizeof p, "%s/file-link", dest2);
    assert_int_equal(symlink(target, p), 0);
    buf b3 = BUF_INIT;
    raw_entry(&b3, "work/file-link", '0', "replaced", NULL);
    raw_end(&b3);
    tar = write_raw("sym3.tar", &b3);
    kerr e3 = KERR_INIT;
    assert_int_equal(extract(tar, dest2, 1, &e3), 1);
    char *got = slurp(target);
    assert_string_equal(got, "untouched");
    free(got);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    got = slurp(p);
    assert_string_equal(got, "replaced");
    free(got);
    free(tar);
    buf_free(&b3);
}

static void test_truncated(void **state)
{
    buf b = BUF_INIT;
    raw_entry(&b, "work/a.txt", '0', "0123456789", NULL);
    raw_entry(&b, "work/b.txt", '0', "abcdefghijklmnopqrstuvwxyz", NULL);
    raw_end(&b);
    /* cut inside the second entry's data, inside its header, inside the first's data */
    size_t cuts[] = {512 + 512 + 512 + 10, 512 + 512 + 100, 512 + 5};
    for (size_t i = 0; i < 3; i++) {
        buf t = BUF_INIT;
        buf_append(&t, b.data, cuts[i]);
        char name[32];
        snprintf(name, sizeof name, "cut%zu.tar", i);
        char *tar = write_raw(name, &t);
        char dest[1024];
        snprintf(dest, sizeof dest, "%s/cut%zu", root, i);
        kerr e = KERR_INIT;
        assert_int_equal(extract(tar, dest, 1, &e), -1);
        assert_non_null(strstr(e.msg, "the archive ends inside entry"));
        free(tar);
        buf_free(&t);
    }
    /* a bad checksum is an error too (a bit of the second header's name) */
    b.data[1024 + 10] ^= 1;
    char *tar = write_raw("badsum.tar", &b);
    char dest[1024];
    snprintf(dest, sizeof dest, "%s/badsum", root);
    kerr e = KERR_INIT;
    assert_int_equal(extract(tar, dest, 1, &e), -1);
    assert_non_null(strstr(e.msg, "bad header checksum"));
    free(tar);
    buf_free(&b);
}

/* A writer's bad names are refused, not written. */
static void test_writer_refuses_bad_names(void **state)
{
    char tar[1024];
    snprintf(tar, sizeof tar, "%s/bad.tar", root);
    int fd = open(tar, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    tar_writer *w = tar_writer_new(fd);
    kerr e = KERR_INIT;
    assert_int_equal(tar_add_file(w, "", "/etc/hostname", 0644, &e), -1);
    char missing[1024];
    snprintf(missing, sizeof missing, "%s/nope", root);
    kerr e2 = KERR_INIT;
    assert_int_equal(tar_add_file(w, "x", missing, 0644, &e2), -1);
    assert_non_null(strstr(e2.msg, "cannot read"));
    tar_writer_free(w);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_round_trip),
        cmocka_unit_test(test_reads_gnu_tar),
        cmocka_unit_test(test_refuses_dot_dot),
        cmocka_unit_test(test_refuses_absolute),
        cmocka_unit_test(test_symlinks),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_writer_refuses_bad_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
