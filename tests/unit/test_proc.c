/*
 * test_proc.c: the process runner, with real processes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "util/mem.h"
#include "util/proc.h"

/* ---- Line collection ----------------------------------------------------- */

typedef struct line {
    proc_stream stream;
    char *text;
    size_t len;
    int flags;
} line;

typedef struct lines {
    line *v;
    size_t n, cap;
    uint64_t bytes[3];       /* by stream: delivered bytes, '\n' counted */
    uint64_t count[3];
    int notices;
    int keep;                /* store texts */
    atomic_int *cancel_on_first;
} lines;

static void on_line(void *ud, proc_stream st, const char *text, size_t len, int flags)
{
    lines *L = ud;
    if (text[len] != '\0')
        L->notices += 1000;     /* breaks every count the tests check */
    if (flags & PROC_LINE_NOTICE) {
        L->notices++;
    } else {
        L->bytes[st] += len + 1;
        L->count[st]++;
    }
    if (L->cancel_on_first)
        atomic_store(L->cancel_on_first, 1);
    if (!L->keep)
        return;
    if (L->n == L->cap) {
        L->cap = L->cap ? L->cap * 2 : 16;
        L->v = xrealloc(L->v, L->cap * sizeof *L->v);
    }
    L->v[L->n].stream = st;
    L->v[L->n].text = xmalloc(len + 1);
    memcpy(L->v[L->n].text, text, len + 1);
    L->v[L->n].len = len;
    L->v[L->n].flags = flags;
    L->n++;
}

static void lines_free(lines *L)
{
    for (size_t i = 0; i < L->n; i++)
        free(L->v[i].text);
    free(L->v);
    memset(L, 0, sizeof *L);
}

static const char *const base_env[] = {"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", NULL};

/* Runs a shell command with base_env and stores lines in L. */
static int run_sh(const char *cmd, lines *L, proc_result *r, kerr *e)
{
    proc_spec s;
    proc_spec_init(&s);
    s.command = cmd;
    s.env = base_env;
    s.on_line = on_line;
    s.ud = L;
    L->keep = 1;
    return proc_run(&s, r, e);
}

static int group_gone(pid_t pgid)
{
    return kill(-pgid, 0) == -1 && errno == ESRCH;
}

/* ---- Basics -------------------------------------------------------------- */

static void test_echo_stdout_stderr(void **state)
{
    lines L = {0};
    proc_result r;
    kerr e = KERR_INIT;
    assert_int_equal(run_sh("echo out; echo err >&2; echo out2", &L, &r, &e), 0);
    assert_true(r.exited);
    assert_int_equal(r.exit_code, 0);
    assert_int_equal(L.n, 3);
    int o = 0, er = 0;
    for (size_t i = 0; i < L.n; i++) {
        if (L.v[i].stream == PROC_STDOUT)
            assert_string_equal(L.v[i].text, o++ ? "out2" : "out");
        else
            assert_string_equal(L.v[i].text, "err"), er++;
    }
    assert_int_equal(o, 2);
    assert_int_equal(er, 1);
    assert_int_equal(r.out.lines, 2);
    assert_int_equal(r.out.bytes, 9);
    assert_int_equal(r.err.lines, 1);
    assert_int_equal(r.err.bytes, 4);
    assert_true(r.duration_us > 0);
    assert_true(group_gone(r.pid));
    lines_free(&L);
}

static void test_exit_codes(void **state)
{
    lines L = {0};
    proc_result r;
    kerr e = KERR_INIT;
    char d[128];
    assert_int_equal(run_sh("exit 3", &L, &r, &e), 0);
    assert_true(r.exited);
    assert_int_equal(r.exit_code, 3);
    assert_string_equal(proc_describe(&r, d, sizeof d), "exit code 3");
    assert_int_equal(run_sh("kill -9 $$", &L, &r, &e), 0);
    assert_false(r.exited);
    assert_int_equal(r.term_signal, SIGKILL);
    assert_string_equal(proc_describe(&r, d, sizeof d), "killed by signal 9 (Killed)");
    /* argv form, with PATH lookup in the child's env */
    proc_spec s;
    proc_spec_init(&s);
    const char *av[] = {"false", NULL};
    s.argv = av;
    s.env = base_env;
    assert_int_equal(proc_run(&s, &r, &e), 0);
    assert_int_equal(r.exit_code, 1);
    lines_free(&L);
}

/* Under valgrind, glibc's posix_spawn cannot report exec errors: valgrind
 * turns its clone(CLONE_VM|CLONE_VFORK) into a fork, so the error the child
 * stores never reaches the parent, and the child just exits 127. */
static int under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload");
}

static void test_missing_program(void **state)
{
    lines L = {0};
    proc_result r;
    kerr e = KERR_INIT;
    proc_spec s;
    proc_spec_init(&s);
    s.on_line = on_line;
    s.ud = &L;

    /* checked before spawning: PATH lookup, spec */
    const char *av2[] = {"pythonx", NULL};
    s.argv = av2;
    s.env = base_env;
    assert_int_equal(proc_run(&s, &r, &e), -1);
    assert_string_equal(e.msg, "cannot execute 'pythonx': not found in PATH (/usr/bin:/bin)");
    proc_spec bad;
    proc_spec_init(&bad);
    assert_int_equal(proc_run(&bad, &r, &e), -1);
    assert_string_equal(e.msg, "process: give either argv or command (exactly one)");
    if (under_valgrind())
        return;

    /* reported by posix_spawn itself */
    const char *av[] = {"/usr/bin/pythonx", "-c", "pass", NULL};
    s.argv = av;
    assert_int_equal(proc_run(&s, &r, &e), -1);
    assert_string_equal(e.msg, "cannot execute '/usr/bin/pythonx': No such file or directory");
    assert_int_equal(L.n + L.notices, 0);   /* no callback after a failure */
    assert_int_equal(r.pid, 0);

    /* a script whose interpreter is missing, and a file without x bit */
    char dir[] = "/tmp/kite-test-proc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char script[64];
    snprintf(script, sizeof script, "%s/run.sh", dir);
    FILE *f = fopen(script, "w");
    assert_non_null(f);
    fputs("#!/usr/bin/pythonx\nprint(1)\n", f);
    fclose(f);
    chmod(script, 0755);
    const char *av3[] = {script, NULL};
    s.argv = av3;
    assert_int_equal(proc_run(&s, &r, &e), -1);
    char want[160];
    snprintf(want, sizeof want, "cannot execute '%s': No such file or directory", script);
    assert_string_equal(e.msg, want);
    chmod(script, 0644);
    assert_int_equal(proc_run(&s, &r, &e), -1);
    snprintf(want, sizeof want, "cannot execute '%s': Permission denied", script);
    assert_string_equal(e.msg, want);
    unlink(script);
    rmdir(dir);
    lines_free(&L);
}

/* ---- Output ------------------------------------------------------------- */

static void test_big_output_no_deadlock(void **state)
{
    /* 50 MB on stdout while 20 MB go to stderr at the same time. */
    lines L = {0};
    proc_result r;
    kerr e = KERR_INIT;
    proc_spec s;
    proc_spec_init(&s);
    s.command = "yes 0123456789012345678901234567890123456789 | head -c 52428800 & "
                "yes e | head -c 20971520 >&2; wait";
    s.env = base_env;
    s.on_line = on_line;
    s.ud = &L;
    s.timeout_ms = 60000;
    assert_int_equal(proc_run(&s, &r, &e), 0);
    assert_int_equal(r.exit_code, 0);
    assert_false(r.timed_out);
    assert_int_equal(r.out.bytes, 52428800);
    assert_int_equal(r.err.bytes, 20971520);
    assert_int_equal(r.out.lines, 52428800 / 41 + 1);    /* last one cut short */
    assert_int_equal(r.err.lines, 20971520 / 2);
    /* every byte came through the callback ('\n' counted, the final
     * unterminated line's missing '\n' too) */
    assert_int_equal(L.bytes[PROC_STDOUT], 52428800 + 1);
    assert_int_equal(L.bytes[PROC_STDERR], 20971520);
    assert_int_equal(L.notices, 0);
    assert_false(r.out.truncated);
    assert_true(group_gone(r.pid));
}

static void test_output_cap(void **state)
{
    lines L = {0};
    proc_result r;
    kerr e = KERR_INIT;
    proc_spec s;
    proc_spec_init(&s);
    s.command = "yes 0123456789012345678901234567890123456789 | head -c 52428800; echo tail >&2";
    s.env = base_env;
    s.on_line = on_line;
    s.ud = &L;
    s.max_output = 1000000;
    assert_int_equal(proc_run(&s, &r, &e), 0);
    assert_int_equal(r.exit_code, 0);              /* the child was never blocked */
    assert_int_equal(r.out.bytes, 52428800);       /* all of it was read */
    assert_int_equal(r.out.lines, 52428800 / 41 + 1);
    assert_true(r.out.truncated);
    assert_true(r.err.truncated);                  /* "tail" came after the cap */
    assert_int_equal(r.err.lines, 1);
    assert_int_equal(L.notices, 1);
    /* delivered line bytes (without '\n') stay within the cap */
    uint64_t delivered = L.bytes[PROC_STDOUT] - L.count[PROC_STDOUT];
    assert_true(delivered <= 1000000);
    assert_true(delivered > 1000000 - 41);
    assert_int_equal(L.count[PROC_STDERR], 0);
}

static void test_long_lines_split(void **state)
{
    lines L = {0};
    proc_result r;
    kerr e = KERR_INIT;
    proc_spec s;
    proc_spec_init(&s);
    s.command = "printf '%0250d\\r\\nshort\\n' 7";
    s.env = base_env;
    s.on_line = on_line;
    s.ud = &L;
    s.max_line = 100;
    L.keep = 1;
    assert_int_equal(proc_run(&s, &r, &e), 0);
    assert_int_equal(L.n, 4);
    assert_int_equal(L.v[0].len, 100);
    assert_int_equal(L.v[0].flags, PROC_LINE_SPLIT);
    assert_int_equal(L.v[1].len, 100);
    assert_int_equal(L.v[1].flags, PROC_LINE_SPLIT);
    assert_int_equal(L.v[2].len, 50);              /* '\r' stripped */
    assert_int_equal(L.v[2].flags, 0);
    assert_int_equal(L.v[2].text[49], '7');
    assert_string_equal(L.v[3].text, "short");
    assert_int_equal(r.out.lines, 2);
    assert_int_equal(r.out.long_lines, 1);
    lines_free(&L);

    /* cut mode keeps the head and says how much went */
    s.cut_long_lines = 1;
    s.ud = &L;
    L.keep = 1;
    assert_int_equal(proc_run(&s, &r, &e), 0);
    assert_int_equal(L.n, 2);
    assert_int_equal(L.v[0].flags, PROC_LINE_CUT);
    assert_int_equal(L.v[0].len, 100 + strlen(" [... 150 bytes cut]"));
    assert_string_equal(L.v[0].text + 100, " [... 150 bytes cut]");
    assert_string_equal(L.v[1].text, "short");
    lines_free(&L);

    /* split points fall on UTF-8 character boundaries: 120 x "é" */
    s.cut_long_lines = 0;
    s.max_line = 51;
    s.command = "i=0; while [ $i -lt 120 ]; do printf '\\303\\251'; i=$((i+1)); done; echo";
    L.keep = 1;
    assert_int_equal(proc_run(&s, &r, &e), 0);
    size_t total = 0;
    for (size_t i = 0; i < L.n; i++) {
        assert_int_equal(L.v[i].len % 2, 0);
        assert_int_equal((unsigned char)L.v[i].text[0], 0xC3);
        total += L.v[i].len;
    }
    assert_int_equal(total, 240);
    assert_int_equal(L.n, 5);                      /* 50+50+50+50+40 */
    lines_free(&L);
}

static void test_unicode_and_bytes(void **state)
{
    lines L = {0};
    proc_result r;
    kerr e = KERR_INIT;
    assert_int_equal(run_sh("printf 'h\\303\\251llo w\\303\\266rld \\342\\234\\223 \\360\\237\\232\\200\\n'; "
                            "printf '\\377\\376\\n'; printf 'a\\000b\\n'; printf 'c\\r\\n\\n'; "
                            "printf 'last'", &L, &r, &e), 0);
    assert_int_equal(L.n, 6);
    assert_string_equal(L.v[0].text, "héllo wörld ✓ 🚀");
    assert_int_equal(L.v[1].len, 2);
    assert_memory_equal(L.v[1].text, "\xff\xfe", 2);
    assert_int_equal(L.v[2].len, 3);                /* NUL does not truncate */
    assert_memory_equal(L.v[2].text, "a\0b", 3);
    assert_string_equal(L.v[3].text, "c");
    assert_int_equal(L.v[4].len, 0);                /* empty lines are lines */
    assert_string_equal(L.v[5].text, "last");       /* no final '\n' */
    assert_int_equal(r.out.lines, 6);
    lines_free(&L);
}

/* ---- The line splitter on its own --------------------------------------- */

/* Records every callback as text, to compare two runs byte for byte. */
typedef struct rec {
    char *s;
    size_t len, cap;
} rec;

static void rec_put(rec *r, const void *p, size_t n)
{
    if (r->len + n + 1 > r->cap) {
        r->cap = (r->len + n + 1) * 2;
        r->s = xrealloc(r->s, r->cap);
    }
    memcpy(r->s + r->len, p, n);
    r->len += n;
}

static void rec_line(void *ud, proc_stream st, const char *text, size_t len, int flags)
{
    char head[64];
    int n = snprintf(head, sizeof head, "<%d %d %zu>", (int)st, flags, len);
    rec_put(ud, head, (size_t)n);
    rec_put(ud, text, len);
}

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Feeds the same bytes in one piece and in random pieces, with random
 * settings: the lines, flags and counts must not depend on the chunking. */
static void test_lines_chunking_invariant(void **state)
{
    static const char alpha[] = {'a', 'b', '\n', '\r', '\0', (char)0xC3, (char)0xA9,
                                 (char)0xE2, (char)0x9C, (char)0x93, (char)0xFF, 'z'};
    char *data = xmalloc(6000);
    for (int it = 0; it < 1500; it++) {
        size_t n = rnd() % 6000;
        for (size_t i = 0; i < n; i++)
            data[i] = alpha[rnd() % sizeof alpha];
        size_t max_line = 1 + rnd() % 200;
        int cut = (int)(rnd() % 2);
        uint64_t cap = rnd() % 3 ? 0 : 1 + rnd() % 4000;
        size_t split = n ? rnd() % n : 0;    /* part on stdout, the rest on stderr */

        rec a = {0}, b = {0};
        proc_lines *one = proc_lines_new(max_line, cut, cap, rec_line, &a);
        proc_lines_feed(one, PROC_STDOUT, data, split);
        proc_lines_feed(one, PROC_STDERR, data + split, n - split);
        proc_lines_end(one, PROC_STDOUT);
        proc_lines_end(one, PROC_STDERR);

        proc_lines *many = proc_lines_new(max_line, cut, cap, rec_line, &b);
        for (size_t i = 0; i < split;) {
            size_t k = 1 + rnd() % 7;
            if (k > split - i) k = split - i;
            proc_lines_feed(many, PROC_STDOUT, data + i, k);
            i += k;
        }
        for (size_t i = split; i < n;) {
            size_t k = 1 + rnd() % 300;
            if (k > n - i) k = n - i;
            proc_lines_feed(many, PROC_STDERR, data + i, k);
            i += k;
        }
        proc_lines_end(many, PROC_STDOUT);
        proc_lines_end(many, PROC_STDERR);

        if ((a.len != b.len || memcmp(a.s, b.s, a.len) != 0) && getenv("DUMP")) {
            size_t d = 0;
            while (d < a.len && d < b.len && a.s[d] == b.s[d]) d++;
            size_t from = d > 80 ? d - 80 : 0;
            fprintf(stderr, "first difference at %zu\none:  ", d);
            for (size_t i = from; i < d + 40 && i < a.len; i++) fprintf(stderr, "%02x ", (unsigned char)a.s[i]);
            fprintf(stderr, "\nmany: ");
            for (size_t i = from; i < d + 40 && i < b.len; i++) fprintf(stderr, "%02x ", (unsigned char)b.s[i]);
            fprintf(stderr, "\n");
        }
        if (a.len != b.len || memcmp(a.s, b.s, a.len) != 0)
            fail_msg("iteration %d: lines differ (max_line %zu, cut %d, cap %llu)", it,
                     max_line, cut, (unsigned long long)cap);
        for (int st = PROC_STDOUT; st <= PROC_STDERR; st++) {
            const proc_stream_stats *x = proc_lines_stats(one, st);
            const proc_stream_stats *y = proc_lines_stats(many, st);
            if (memcmp(x, y, sizeof *x) != 0)
                fail_msg("iteration %d: stats of stream %d differ: bytes %llu/%llu lines "
                         "%llu/%llu long %llu/%llu truncated %d/%d (max_line %zu, cut %d, "
                         "cap %llu)", it, st,
                         (unsigned long long)x->bytes, (unsigned long long)y->bytes,
                         (unsigned long long)x->lines, (unsigned long long)y->lines,
                         (unsigned long long)x->long_lines, (unsigned long long)y->long_lines,
                         x->truncated, y->truncated, max_line, cut, (unsigned long long)cap);
        }
        assert_int_equal(proc_lines_stats(one, PROC_STDOUT)->bytes, split);
        proc_lines_free(one);
        proc_lines_free(many);
        free(a.s);
        free(b.s);
    }
    free(data);
}

/* Without caps, lines are exactly the naive split. With a cap, split pieces
 * glue back into the line, and valid UTF-8 is split between characters. */
typedef struct glue {
    rec whole;          /* pieces glued, lines separated by '\n' */
    int bad_utf8;
    size_t max_seen;
} glue;

static int valid_utf8(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = p[i] < 0x80 ? 1 : (p[i] & 0xE0) == 0xC0 ? 2 : (p[i] & 0xF0) == 0xE0 ? 3
                 : (p[i] & 0xF8) == 0xF0 ? 4 : 0;
        if (!k || i + k > n)
            return 0;
        for (size_t j = 1; j < k; j++)
            if ((p[i + j] & 0xC0) != 0x80)
                return 0;
        i += k;
    }
    return 1;
}

static void glue_line(void *ud, proc_stream st, const char *text, size_t len, int flags)
{
    glue *g = ud;
    rec_put(&g->whole, text, len);
    if (!(flags & PROC_LINE_SPLIT))
        rec_put(&g->whole, "\n", 1);
    if (!valid_utf8((const unsigned char *)text, len))
        g->bad_utf8++;
    if (len > g->max_seen)
        g->max_seen = len;
}

static void test_lines_reference(void **state)
{
    static const char *chars[] = {"a", "\n", "\r\n", "é", "✓", "🚀", "xyz", "\t"};
    char *data = xmalloc(40000);
    for (int it = 0; it < 300; it++) {
        size_t n = 0, target = rnd() % 30000;
        while (n < target) {
            const char *c = chars[rnd() % 8];
            memcpy(data + n, c, strlen(c));
            n += strlen(c);
        }
        /* the expected text: lines without '\r', each ended by '\n' */
        rec want = {0};
        for (size_t i = 0; i < n; i++)
            if (!(data[i] == '\r' && i + 1 < n && data[i + 1] == '\n'))
                rec_put(&want, data + i, 1);
        if (n && data[n - 1] != '\n')
            rec_put(&want, "\n", 1);

        size_t max_line = it % 2 ? 4 + rnd() % 100 : 0;
        glue g = {{0}, 0, 0};
        proc_lines *p = proc_lines_new(max_line, 0, 0, glue_line, &g);
        for (size_t i = 0; i < n;) {
            size_t k = 1 + rnd() % 5000;
            if (k > n - i) k = n - i;
            proc_lines_feed(p, PROC_STDOUT, data + i, k);
            i += k;
        }
        proc_lines_end(p, PROC_STDOUT);
        if (g.whole.len != want.len || memcmp(g.whole.s, want.s, want.len) != 0)
            fail_msg("iteration %d: glued lines differ from the input", it);
        assert_int_equal(g.bad_utf8, 0);
        if (max_line)
            assert_true(g.max_seen <= max_line);
        proc_lines_free(p);
        free(g.whole.s);
        free(want.s);
    }
    free(data);
}

/* ---- Environment, folder, fds, signals ----------------------------------- */

static void test_env_isolation(void **state)
{
    setenv("KITE_TEST_SECRET", "s3cr3t", 1);
    lines L = {0};
    proc_result r;
    kerr e = KERR_INIT;
    proc_spec s;
    proc_spec_init(&s);
    const char *av[] = {"/usr/bin/env", NULL};
    const char *env[] = {"FOO=bar", NULL};
    s.argv = av;
    s.env = env;
    s.on_line = on_line;
    s.ud = &L;
    L.keep = 1;
    assert_int_equal(proc_run(&s, &r, &e), 0);
    /* the spec's variables, and the run's marker (how a kill finds the
     * processes that left the group), nothing of kite's own */
    assert_int_equal(L.n, 2);
    assert_string_equal(L.v[0].text, "FOO=bar");
    assert_memory_equal(L.v[1].text, "KITE_RUN_ID=", 12);
    char *first = xstrdup(L.v[1].text);
    lines_free(&L);

    /* NULL env: only the marker, a new one for each run; a marker given in
     * the spec (an outer run's) is replaced */
    const char *env2[] = {"KITE_RUN_ID=outer.1", NULL};
    s.env = env2;
    L.keep = 1;
    assert_int_equal(proc_run(&s, &r, &e), 0);
    assert_int_equal(L.n, 1);
    assert_memory_equal(L.v[0].text, "KITE_RUN_ID=", 12);
    assert_string_not_equal(L.v[0].text, first);
    assert_string_not_equal(L.v[0].text, "KITE_RUN_ID=outer.1");
    free(first);
    lines_free(&L);
    s.env = NULL;

    /* the builder: set, replace, copy, unset */
    proc_env *v = proc_env_new();
    assert_int_equal(proc_env_set(v, "A", "1", &e), 0);
    assert_int_equal(proc_env_set(v, "B", "2", &e), 0);
    assert_int_equal(proc_env_set(v, "A", "3", &e), 0);
    assert_int_equal(proc_env_copy(v, "KITE_TEST_SECRET"), 1);
    assert_int_equal(proc_env_copy(v, "KITE_TEST_ABSENT"), 0);
    proc_env_unset(v, "B");
    assert_int_equal(proc_env_set(v, "X=Y", "1", &e), -1);
    assert_string_equal(e.msg, "environment: variable name 'X=Y' holds '='");
    assert_int_equal(proc_env_set(v, "", "1", &e), -1);
    assert_string_equal(proc_env_get(v, "A"), "3");
    assert_null(proc_env_get(v, "B"));
    s.env = proc_env_array(v);
    L.keep = 1;
    assert_int_equal(proc_run(&s, &r, &e), 0);
    assert_int_equal(L.n, 3);
    assert_string_equal(L.v[0].text, "A=3");
    assert_string_equal(L.v[1].text, "KITE_TEST_SECRET=s3cr3t");
    assert_memory_equal(L.v[2].text, "KITE_RUN_ID=", 12);
    proc_env_free(v);
    lines_free(&L);

    /* the base: PATH and friends, not the secret */
    char *old_path = getenv("PATH") ? xstrdup(getenv("PATH")) : NULL;
    setenv("PATH", "/opt/x/bin:/usr/bin", 1);
    setenv("TZ", "Europe/Paris", 1);
    v = proc_env_new_base();
    assert_string_equal(proc_env_get(v, "PATH"), "/opt/x/bin:/usr/bin");
    assert_string_equal(proc_env_get(v, "TZ"), "Europe/Paris");
    assert_null(proc_env_get(v, "KITE_TEST_SECRET"));
    proc_env_free(v);
    unsetenv("PATH");
    v = proc_env_new_base();
    assert_string_equal(proc_env_get(v, "PATH"), "/usr/local/bin:/usr/bin:/bin");
    proc_env_free(v);
    if (old_path) {
        setenv("PATH", old_path, 1);
        free(old_path);
    }
    unsetenv("TZ");
    unsetenv("KITE_TEST_SECRET");
}

static void test_cwd(void **state)
{
    char dir[] = "/tmp/kite-test-proc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char real[PATH_MAX];
    assert_non_null(realpath(dir, real));
    lines L = {0};
    proc_result r;
    kerr e = KERR_INIT;
    proc_spec s;
    proc_spec_init(&s);
    s.command = "pwd -P; echo hi > here.txt";
    s.cwd = dir;
    s.env = base_env;
    s.on_line = on_line;
    s.ud = &L;
    L.keep = 1;
    assert_int_equal(proc_run(&s, &r, &e), 0);
    assert_int_equal(L.n, 1);
    assert_string_equal(L.v[0].text, real);
    char *f = xasprintf("%s/here.txt", dir);
    assert_int_equal(access(f, F_OK), 0);
    unlink(f);
    free(f);
    rmdir(dir);
    s.cwd = "/nonexistent/kite";
    assert_int_equal(proc_run(&s, &r, &e), -1);
    assert_string_equal(e.msg, "process: working directory '/nonexistent/kite': "
                               "No such file or directory");
    lines_free(&L);
}

static void test_child_setup(void **state)
{
    /* a leaked fd, an ignored SIGPIPE and a blocked SIGUSR1 in kite must not
     * reach the child; it leads its own group and reads /dev/null */
    int leak = open("/dev/null", O_RDONLY);   /* deliberately without O_CLOEXEC */
    assert_true(leak >= 3);
    signal(SIGPIPE, SIG_IGN);
    sigset_t blk, old;
    sigemptyset(&blk);
    sigaddset(&blk, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &blk, &old);

    lines L = {0};
    proc_result r;
    kerr e = KERR_INIT;
    char *cmd = xasprintf("[ -e /proc/$$/fd/%d ] && echo leaked || echo closed; "
                          "readlink /proc/$$/fd/0; "
                          "cut -d' ' -f5,6 /proc/$$/stat; echo $$ $$", leak);
    assert_int_equal(run_sh(cmd, &L, &r, &e), 0);
    free(cmd);
    assert_int_equal(L.n, 4);
    assert_string_equal(L.v[0].text, "closed");
    assert_string_equal(L.v[1].text, "/dev/null");
    assert_string_equal(L.v[2].text, L.v[3].text);   /* pgid == sid == pid */
    assert_int_equal(atoi(L.v[3].text), r.pid);
    lines_free(&L);

    /* the spawned program itself (no shell in between: a shell blocks
     * signals around its own forks) */
    proc_spec s;
    proc_spec_init(&s);
    const char *gav[] = {"/bin/grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status", NULL};
    s.argv = gav;
    s.on_line = on_line;
    s.ud = &L;
    L.keep = 1;
    assert_int_equal(proc_run(&s, &r, &e), 0);
    assert_int_equal(L.n, 2);
    assert_string_equal(L.v[0].text, "SigBlk:\t0000000000000000");
    /* glibc's posix_spawn leaves its two internal signals (32 and 33,
     * below SIGRTMIN) ignored; nothing else may be */
    assert_int_equal(strncmp(L.v[1].text, "SigIgn:\t", 8), 0);
    unsigned long long ign = strtoull(L.v[1].text + 8, NULL, 16);
    assert_int_equal(ign & ~((1ULL << 31) | (1ULL << 32)), 0);
    lines_free(&L);

    /* ls itself holds 0, 1, 2 and the fd of the folder it lists: no more */
    const char *av[] = {"/bin/ls", "/proc/self/fd", NULL};
    s.argv = av;
    s.on_line = on_line;
    s.ud = &L;
    L.keep = 1;
    assert_int_equal(proc_run(&s, &r, &e), 0);
    assert_int_equal(L.n, 4);
    assert_string_equal(L.v[3].text, "3");
    lines_free(&L);

    pthread_sigmask(SIG_SETMASK, &old, NULL);
    signal(SIGPIPE, SIG_DFL);
    close(leak);
}

/* ---- Ending the group ---------------------------------------------------- */

static void test_timeout_kills_group(void **state)
{
    lines L = {0};
    proc_result r;
    kerr e = KERR_INIT;
    proc_spec s;
    proc_spec_init(&s);
    s.command = "sleep 100 & sleep 100";
    s.env = base_env;
    s.timeout_ms = 300;
    s.grace_ms = 2000;
    s.on_line = on_line;
    s.ud = &L;
    assert_int_equal(proc_run(&s, &r, &e), 0);
    assert_true(r.timed_out);
    assert_false(r.killed);                       /* SIGTERM was enough */
    assert_int_equal(r.term_signal, SIGTERM);
    assert_true(r.duration_us >= 300000);
    assert_true(r.duration_us < 2000000);
    assert_true(group_gone(r.pid));
    char d[128];
    /* the time it ended at: about 0.3 s, later on a loaded machine */
    assert_non_null(strstr(proc_describe(&r, d, sizeof d), "timed out after "));
}

static void test_timeout_sigkill_after_grace(void **state)
{
    proc_result r;
    kerr e = KERR_INIT;
    proc_spec s;
    proc_spec_init(&s);
    /* everyone ignores SIGTERM: only SIGKILL after the grace period ends it */
    s.command = "trap '' TERM; sleep 100 & sleep 100";
    s.env = base_env;
    s.timeout_ms = 200;
    s.grace_ms = 300;
    assert_int_equal(proc_run(&s, &r, &e), 0);
    assert_true(r.timed_out);
    assert_true(r.killed);
    assert_int_equal(r.term_signal, SIGKILL);
    assert_true(r.duration_us >= 500000);
    assert_true(r.duration_us < 2000000);
    assert_true(group_gone(r.pid));
}

static void test_leftovers_killed(void **state)
{
    lines L = {0};
    proc_result r;
    kerr e = KERR_INIT;
    /* the leader exits at once; its background child holds stdout open */
    assert_int_equal(run_sh("sleep 100 & echo done", &L, &r, &e), 0);
    assert_true(r.exited);
    assert_int_equal(r.exit_code, 0);
    assert_true(r.leftovers);
    assert_false(r.timed_out);
    assert_true(r.duration_us < 2000000);
    assert_int_equal(L.n, 1);
    assert_string_equal(L.v[0].text, "done");
    assert_true(group_gone(r.pid));
    lines_free(&L);
}

static void test_stopped_member_gets_sigterm(void **state)
{
    proc_result r;
    kerr e = KERR_INIT;
    proc_spec s;
    proc_spec_init(&s);
    /* a stopped leader would not act on SIGTERM until the grace period ran
     * out, but SIGCONT follows the SIGTERM */
    s.command = "sleep 100 & kill -STOP $$";
    s.env = base_env;
    s.timeout_ms = 200;
    s.grace_ms = 5000;
    assert_int_equal(proc_run(&s, &r, &e), 0);
    assert_true(r.timed_out);
    assert_false(r.killed);
    assert_int_equal(r.term_signal, SIGTERM);
    assert_true(r.duration_us < 2000000);
    assert_true(group_gone(r.pid));
}

static void test_leader_cannot_leave_group(void **state)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        skip();
    proc_result r;
    kerr e = KERR_INIT;
    proc_spec s;
    proc_spec_init(&s);
    /* the leader leads its session: it can join neither kite's group nor
     * the group of a child of its own, so kill(-pgid) always reaches it */
    const char *av[] = {"/usr/bin/python3", "-c",
                        "import os, time\n"
                        "def join(g):\n"
                        "    try:\n"
                        "        os.setpgid(0, g); return 'joined'\n"
                        "    except PermissionError:\n"
                        "        return 'refused'\n"
                        "print('kite', join(os.getpgid(os.getppid())), flush=True)\n"
                        "c = os.fork()\n"
                        "if c == 0:\n"
                        "    os.setpgid(0, 0); time.sleep(0.3); os._exit(0)\n"
                        "while os.getpgid(c) != c: time.sleep(0.01)\n"
                        "print('child', join(c), flush=True)\n"
                        "os.waitpid(c, 0)\n"
                        "time.sleep(100)\n", NULL};
    lines L = {0};
    L.keep = 1;
    s.argv = av;
    s.timeout_ms = 1000;
    s.grace_ms = 3000;
    s.on_line = on_line;
    s.ud = &L;
    assert_int_equal(proc_run(&s, &r, &e), 0);
    assert_int_equal(L.n, 2);
    assert_string_equal(L.v[0].text, "kite refused");
    assert_string_equal(L.v[1].text, "child refused");
    assert_true(r.timed_out);
    assert_int_equal(r.term_signal, SIGTERM);
    assert_true(r.duration_us < 3000000);
    assert_true(group_gone(r.pid));
    lines_free(&L);
}

static void test_timeout_while_writing(void **state)
{
    lines L = {0};
    proc_result r;
    kerr e = KERR_INIT;
    proc_spec s;
    proc_spec_init(&s);
    s.command = "yes 'a busy line'";
    s.env = base_env;
    s.timeout_ms = 200;
    s.on_line = on_line;
    s.ud = &L;
    assert_int_equal(proc_run(&s, &r, &e), 0);
    assert_true(r.timed_out);
    assert_true(r.out.lines > 1000);
    assert_int_equal(L.count[PROC_STDOUT], r.out.lines);
    assert_true(r.duration_us < 2000000);
    assert_true(group_gone(r.pid));
}

static void test_escaped_pipe_holder(void **state)
{
    lines L = {0};
    proc_result r;
    kerr e = KERR_INIT;
    /* a process that left the group keeps stdout open: the run still ends
     * shortly after the group is gone, with what was written before */
    assert_int_equal(run_sh("setsid sleep 2 & echo before; sleep 0.1", &L, &r, &e), 0);
    assert_int_equal(r.exit_code, 0);
    assert_true(r.duration_us < 1500000);
    assert_int_equal(L.n, 1);
    assert_string_equal(L.v[0].text, "before");
    assert_true(group_gone(r.pid));
    lines_free(&L);
}

/* ---- Escapees: processes that left the group -------------------------- */

/* Live processes (not zombies) whose environment holds `entry`. */
static int count_marked(const char *entry)
{
    size_t elen = strlen(entry);
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        char path[300], st[512];
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        size_t got = fread(st, 1, sizeof st - 1, f);
        fclose(f);
        st[got] = 0;
        char *rp = strrchr(st, ')');
        if (!rp || rp[2] == 'Z' || rp[2] == 'X')
            continue;
        snprintf(path, sizeof path, "/proc/%s/environ", de->d_name);
        f = fopen(path, "re");
        if (!f)
            continue;
        char buf[65536];
        got = fread(buf, 1, sizeof buf, f);
        fclose(f);
        for (size_t i = 0; i < got;) {
            size_t len = strnlen(buf + i, got - i);
            if (len == elen && !memcmp(buf + i, entry, elen)) {
                n++;
                break;
            }
            i += len + 1;
        }
    }
    if (d)
        closedir(d);
    return n;
}

/* Waits (at most 5 s) until n processes carry the marker. */
static int wait_marked(const char *entry, int n)
{
    for (int i = 0; i < 500; i++) {
        if (count_marked(entry) >= n)
            return 1;
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* Three ways out of the group: setsid, a double fork into a new session,
 * and Python's os.setsid() in a forked child; each carries TEST_MARK. */
static char *escaping_command(const char *mark)
{
    return xasprintf(
        "export TEST_MARK=%s; "
        "setsid sleep 300 </dev/null >/dev/null 2>&1 & "
        "( ( setsid sh -c 'sleep 300' </dev/null >/dev/null 2>&1 & ) & ) ; "
        "/usr/bin/python3 -c 'import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    time.sleep(300)\n' </dev/null >/dev/null 2>&1 & "
        "sleep 300", mark);
}

typedef struct esc_job {
    const char *mark;
    int timeout_ms;
    atomic_int *cancel;
    proc_result r;
    int rc;
} esc_job;

static void *esc_run(void *p)
{
    esc_job *j = p;
    char *cmd = escaping_command(j->mark);
    proc_spec s;
    proc_spec_init(&s);
    s.command = cmd;
    s.env = base_env;
    s.timeout_ms = j->timeout_ms;
    s.cancel = j->cancel;
    s.grace_ms = 200;
    kerr e = KERR_INIT;
    j->rc = proc_run(&s, &j->r, &e);
    free(cmd);
    return NULL;
}

static void test_timeout_kills_escapees(void **state)
{
    char mark[64];
    snprintf(mark, sizeof mark, "TEST_MARK=timeout-%d", (int)getpid());
    esc_job j = {.mark = mark + 10, .timeout_ms = 1500};
    esc_run(&j);
    assert_int_equal(j.rc, 0);
    assert_true(j.r.timed_out);
    assert_true(group_gone(j.r.pid));
    assert_int_equal(count_marked(mark), 0);
}

/* A cancel (the engine's kill) stops run A with its escapees, while run B,
 * started beside it in the same process, keeps its own escapees until it is
 * cancelled in turn. */
static void test_cancel_kills_escapees_of_its_run_only(void **state)
{
    char ma[64], mb[64];
    snprintf(ma, sizeof ma, "TEST_MARK=cancel-a-%d", (int)getpid());
    snprintf(mb, sizeof mb, "TEST_MARK=cancel-b-%d", (int)getpid());
    atomic_int ca = 0, cb = 0;
    esc_job a = {.mark = ma + 10, .cancel = &ca}, b = {.mark = mb + 10, .cancel = &cb};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, esc_run, &a);
    pthread_create(&tb, NULL, esc_run, &b);
    /* each run: the shell, its sleep, three escapees (and their parents) */
    assert_true(wait_marked(ma, 5));
    assert_true(wait_marked(mb, 5));
    struct timespec ts = {0, 200 * 1000000};
    nanosleep(&ts, NULL);
    int before_b = count_marked(mb);
    atomic_store(&ca, 1);
    pthread_join(ta, NULL);
    assert_int_equal(a.rc, 0);
    assert_true(a.r.cancelled);
    assert_int_equal(count_marked(ma), 0);
    assert_int_equal(count_marked(mb), before_b);
    atomic_store(&cb, 1);
    pthread_join(tb, NULL);
    assert_true(b.r.cancelled);
    assert_int_equal(count_marked(mb), 0);
    proc_reap_orphans();
}

typedef struct canceller {
    atomic_int flag;
    int delay_ms;
} canceller;

static void *cancel_later(void *p)
{
    canceller *c = p;
    struct timespec ts = {0, c->delay_ms * 1000000L};
    nanosleep(&ts, NULL);
    atomic_store(&c->flag, 1);
    return NULL;
}

static void test_cancel_from_thread(void **state)
{
    canceller c = {.delay_ms = 200};
    atomic_init(&c.flag, 0);
    pthread_t t;
    proc_result r;
    kerr e = KERR_INIT;
    proc_spec s;
    proc_spec_init(&s);
    s.command = "sleep 100 & sleep 100";
    s.env = base_env;
    s.cancel = &c.flag;
    pthread_create(&t, NULL, cancel_later, &c);
    assert_int_equal(proc_run(&s, &r, &e), 0);
    pthread_join(t, NULL);
    assert_true(r.cancelled);
    char d[128];
    assert_string_equal(proc_describe(&r, d, sizeof d),
                        "cancelled (killed by signal 15 (Terminated))");
    assert_false(r.timed_out);
    assert_true(r.duration_us >= 200000);
    assert_true(r.duration_us < 2000000);
    assert_true(group_gone(r.pid));
}

static void note_pid(void *ud, pid_t pid)
{
    lines *L = ud;
    L->count[0] = (uint64_t)pid;     /* slot 0 is no stream */
}

static void test_cancel_before_start(void **state)
{
    atomic_int flag;
    atomic_init(&flag, 1);
    lines L = {0};
    proc_result r;
    kerr e = KERR_INIT;
    proc_spec s;
    proc_spec_init(&s);
    s.command = "echo should not run";
    s.env = base_env;
    s.cancel = &flag;
    s.on_line = on_line;
    s.on_start = note_pid;
    s.ud = &L;
    assert_int_equal(proc_run(&s, &r, &e), 0);
    assert_true(r.cancelled);
    assert_int_equal(r.pid, 0);
    assert_int_equal(L.count[0] + L.count[PROC_STDOUT], 0);

    /* and on_start sees the pid of a run that starts */
    atomic_store(&flag, 0);
    assert_int_equal(proc_run(&s, &r, &e), 0);
    assert_int_equal(L.count[0], (uint64_t)r.pid);
    assert_int_equal(L.count[PROC_STDOUT], 1);

    /* out-of-range times are refused with the value */
    s.timeout_ms = -1;
    assert_int_equal(proc_run(&s, &r, &e), -1);
    assert_string_equal(e.msg, "process: timeout of -1 ms out of range (0 to 2592000000)");
}

static void test_cancel_from_callback(void **state)
{
    atomic_int flag;
    atomic_init(&flag, 0);
    lines L = {0};
    L.cancel_on_first = &flag;
    proc_result r;
    kerr e = KERR_INIT;
    proc_spec s;
    proc_spec_init(&s);
    s.command = "yes";
    s.env = base_env;
    s.cancel = &flag;
    s.on_line = on_line;
    s.ud = &L;
    assert_int_equal(proc_run(&s, &r, &e), 0);
    assert_true(r.cancelled);
    assert_true(r.duration_us < 2000000);
    assert_true(group_gone(r.pid));
}

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    while (d && (de = readdir(d)))
        n += de->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* No path through proc_run leaves an fd open: success, exec failure, bad
 * folder, timeout, cancel before start. */
static void test_no_fd_leak(void **state)
{
    int before = count_fds();
    proc_result r;
    kerr e = KERR_INIT;
    proc_spec s;
    proc_spec_init(&s);
    s.env = base_env;
    for (int i = 0; i < 3; i++) {
        s.command = "echo a; echo b >&2";
        s.cwd = NULL;
        s.timeout_ms = 0;
        assert_int_equal(proc_run(&s, &r, &e), 0);
        s.command = "sleep 5";
        s.timeout_ms = 50;
        assert_int_equal(proc_run(&s, &r, &e), 0);
        assert_true(r.timed_out);
        s.cwd = "/nonexistent";
        assert_int_equal(proc_run(&s, &r, &e), -1);
        s.cwd = NULL;
        s.command = NULL;
        const char *av[] = {"/nonexistent/prog", NULL};
        s.argv = av;
        if (!under_valgrind())
            assert_int_equal(proc_run(&s, &r, &e), -1);
        s.argv = NULL;
    }
    assert_int_equal(count_fds(), before);
}

/* ---- Threads ------------------------------------------------------------- */

typedef struct job {
    int idx;
    int ok;
    char why[1200];
} job;

static atomic_int jobs_done;

static void *run_job(void *p)
{
    job *j = p;
    j->ok = 1;
    for (int it = 0; it < 4 && j->ok; it++) {
        char cmd[160];
        snprintf(cmd, sizeof cmd, "i=0; while [ $i -lt 300 ]; do echo line$i; i=$((i+1)); "
                 "done; echo oops >&2; exit %d", j->idx);
        lines L = {0};
        proc_spec s;
        proc_spec_init(&s);
        s.command = cmd;
        s.env = base_env;
        s.on_line = on_line;
        s.ud = &L;
        proc_result r;
        kerr e = KERR_INIT;
        int rc = proc_run(&s, &r, &e);
        if (rc != 0 || !r.exited || r.exit_code != j->idx || L.count[PROC_STDOUT] != 300 ||
            L.count[PROC_STDERR] != 1 || r.out.lines != 300 || !group_gone(r.pid)) {
            snprintf(j->why, sizeof j->why, "job %d: rc %d exit %d lines %llu/%llu %s", j->idx,
                     rc, r.exit_code, (unsigned long long)L.count[PROC_STDOUT],
                     (unsigned long long)L.count[PROC_STDERR], e.msg);
            j->ok = 0;
        }
    }
    atomic_fetch_add(&jobs_done, 1);
    return NULL;
}

static void test_eight_threads(void **state)
{
    job jobs[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        jobs[i] = (job){.idx = i + 1};
        pthread_create(&t[i], NULL, run_job, &jobs[i]);
    }
    /* meanwhile, the orphan reaper runs without pause: it must not steal
     * anybody's child (a stolen one would show as a lost exit status) */
    long sweeps = 0;
    while (atomic_load(&jobs_done) < 8) {
        proc_reap_orphans();
        sweeps++;
    }
    assert_true(sweeps > 0);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 8; i++) {
        if (!jobs[i].ok)
            fail_msg("%s", jobs[i].why);
    }
}

/* ---- Orphans ------------------------------------------------------------- */

static void test_reap_orphans(void **state)
{
    char dir[] = "/tmp/kite-test-proc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    /* the leader waits until the escapee has left the group: any process
     * still in it when the leader exits is killed */
    char *cmd = xasprintf("setsid sh -c 'echo $$ > %s/pid; exec sleep 0.3' "
                          "</dev/null >/dev/null 2>&1 & "
                          "while [ ! -s %s/pid ]; do sleep 0.01; done", dir, dir);
    proc_result r;
    kerr e = KERR_INIT;
    proc_spec s;
    proc_spec_init(&s);
    s.command = cmd;
    s.env = base_env;
    assert_int_equal(proc_run(&s, &r, &e), 0);
    assert_true(group_gone(r.pid));
    /* the escaped process is now our child (subreaper); wait for it to die */
    char *pidfile = xasprintf("%s/pid", dir);
    int pid = 0;
    char st[64];
    for (int i = 0; i < 300; i++) {
        FILE *f = fopen(pidfile, "r");
        if (f) {
            if (fscanf(f, "%d", &pid) != 1)
                pid = 0;
            fclose(f);
        }
        if (pid > 0) {
            snprintf(st, sizeof st, "/proc/%d/stat", pid);
            FILE *g = fopen(st, "r");
            char buf[256] = "";
            if (g) {
                if (!fgets(buf, sizeof buf, g))
                    buf[0] = 0;
                fclose(g);
            }
            char *rp = strrchr(buf, ')');
            if (rp && rp[2] == 'Z')
                break;
        }
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    assert_true(pid > 0);
    assert_int_equal(getpgid(pid), pid);            /* a zombie still has its group */
    assert_true(proc_reap_orphans() >= 1);
    assert_int_equal(kill(pid, 0), -1);             /* reaped: gone */
    unlink(pidfile);
    rmdir(dir);
    free(pidfile);
    free(cmd);
}

/* ---- Working folders ----------------------------------------------------- */

static void touch(const char *dir, const char *rel)
{
    char *p = xasprintf("%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("x\n", f);
    fclose(f);
    free(p);
}

static void mkd(const char *dir, const char *rel)
{
    char *p = xasprintf("%s/%s", dir, rel);
    assert_int_equal(mkdir(p, 0700), 0);
    free(p);
}

static void test_workdir(void **state)
{
    char root[] = "/tmp/kite-test-root-XXXXXX";
    assert_non_null(mkdtemp(root));
    char outside[] = "/tmp/kite-test-outside-XXXXXX";
    assert_non_null(mkdtemp(outside));
    touch(outside, "precious.txt");

    kerr e = KERR_INIT;
    char *wd;
    assert_int_equal(proc_workdir_new(root, NULL, &wd, &e), 0);
    assert_non_null(strstr(wd, "/kite-run-"));
    struct stat st;
    assert_int_equal(stat(wd, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    touch(wd, "a.csv");
    touch(wd, "b.txt");
    mkd(wd, "out");
    mkd(wd, "out/deep");
    touch(wd, "out/deep/r.json");
    mkd(wd, "tmp");
    touch(wd, "tmp/c.csv");
    char *ln = xasprintf("%s/link", wd);
    assert_int_equal(symlink(outside, ln), 0);      /* must not be followed */
    free(ln);
    ln = xasprintf("%s/evil.csv", wd);
    assert_int_equal(symlink(outside, ln), 0);       /* matches, but links are never kept */
    free(ln);
    ln = xasprintf("%s/out/evil", wd);
    assert_int_equal(symlink(outside, ln), 0);       /* inside a kept folder: still removed */
    free(ln);

    const char *keep[] = {"*.csv", "out/**", NULL};
    char **kept;
    assert_int_equal(proc_workdir_remove(wd, keep, &kept, &e), 2);
    assert_string_equal(kept[0], "a.csv");
    assert_string_equal(kept[1], "out/deep/r.json");
    assert_null(kept[2]);
    proc_strv_free(kept);
    char *p = xasprintf("%s/b.txt", wd);
    assert_int_equal(access(p, F_OK), -1);
    free(p);
    p = xasprintf("%s/tmp", wd);
    assert_int_equal(access(p, F_OK), -1);
    free(p);
    p = xasprintf("%s/out/deep/r.json", wd);
    assert_int_equal(access(p, F_OK), 0);
    free(p);
    struct stat lst;
    p = xasprintf("%s/evil.csv", wd);
    assert_int_equal(lstat(p, &lst), -1);
    free(p);
    p = xasprintf("%s/out/evil", wd);
    assert_int_equal(lstat(p, &lst), -1);
    free(p);
    p = xasprintf("%s/precious.txt", outside);
    assert_int_equal(access(p, F_OK), 0);
    free(p);

    assert_int_equal(proc_workdir_remove(wd, NULL, NULL, &e), 0);
    assert_int_equal(access(wd, F_OK), -1);
    assert_int_equal(proc_workdir_remove(wd, NULL, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "No such file or directory"));

    assert_int_equal(proc_workdir_new("/nonexistent/kite", NULL, &p, &e), -1);
    assert_string_equal(e.msg, "working folder: cannot create a folder in "
                               "'/nonexistent/kite': No such file or directory");
    free(wd);
    touch(outside, "x");
    p = xasprintf("%s/precious.txt", outside);
    unlink(p);
    free(p);
    p = xasprintf("%s/x", outside);
    unlink(p);
    free(p);
    rmdir(outside);
    rmdir(root);
}

/* Folders a script made read-only (or unreadable) are still removed. Root
 * ignores permissions, so the check runs as nobody in a child process. */
static int build_and_remove_read_only(void)
{
    char root[] = "/tmp/kite-test-ro-XXXXXX";
    if (!mkdtemp(root))
        return 11;
    char p[128];
    snprintf(p, sizeof p, "%s/a", root);
    if (mkdir(p, 0700) != 0) return 12;
    snprintf(p, sizeof p, "%s/a/f", root);
    FILE *f = fopen(p, "w");
    if (!f) return 13;
    fclose(f);
    snprintf(p, sizeof p, "%s/b", root);
    if (mkdir(p, 0700) != 0) return 14;
    snprintf(p, sizeof p, "%s/b/c", root);
    if (mkdir(p, 0700) != 0) return 15;
    snprintf(p, sizeof p, "%s/b/c/g", root);
    f = fopen(p, "w");
    if (!f) return 16;
    fclose(f);
    snprintf(p, sizeof p, "%s/b/c", root);
    chmod(p, 0555);
    snprintf(p, sizeof p, "%s/b", root);
    chmod(p, 0);
    snprintf(p, sizeof p, "%s/a", root);
    chmod(p, 0555);
    chmod(root, 0555);
    kerr e = KERR_INIT;
    if (proc_workdir_remove(root, NULL, NULL, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 17;
    }
    return access(root, F_OK) == 0 ? 18 : 0;
}

/* A run's folder given back with its named sub-folders is reused emptied
 * (links removed, never followed; modes 0700 again); one that lost a named
 * sub-folder, or had a link in its place, is removed; another root or prefix
 * never gets it. */
static void test_workdir_reuse(void **state)
{
    (void)state;
    char root[] = "/tmp/kite-test-reuse-XXXXXX";
    assert_non_null(mkdtemp(root));
    char outside[] = "/tmp/kite-test-outside-XXXXXX";
    assert_non_null(mkdtemp(outside));
    touch(outside, "precious.txt");
    static const char *const subs[] = {"out", "work", NULL};
    kerr e = KERR_INIT;
    char *wd;
    int reused = -1;
    assert_int_equal(proc_workdir_take(root, "kite-reuse-", &wd, &reused, &e), 0);
    assert_int_equal(reused, 0);
    mkd(wd, "out");
    mkd(wd, "work");
    mkd(wd, "work/deep");
    touch(wd, "work/deep/x.txt");
    touch(wd, "out/r.json");
    mkd(wd, "bin");
    char *ln = xasprintf("%s/work/link", wd);
    assert_int_equal(symlink(outside, ln), 0);
    free(ln);
    char *w = xasprintf("%s/work", wd);
    assert_int_equal(chmod(w, 0500), 0);
    assert_int_equal(proc_workdir_give(wd, subs, NULL, &e), 0);
    assert_int_equal(access(wd, F_OK), 0); /* kept */

    char *other;
    assert_int_equal(proc_workdir_take(root, "kite-other-", &other, &reused, &e), 0);
    assert_int_equal(reused, 0);
    assert_int_equal(proc_workdir_give(other, subs, NULL, &e), 0); /* no out/, work/: removed */
    assert_int_equal(access(other, F_OK), -1);
    free(other);

    char *again;
    assert_int_equal(proc_workdir_take(root, "kite-reuse-", &again, &reused, &e), 0);
    assert_int_equal(reused, 1);
    assert_string_equal(again, wd);
    struct stat st;
    assert_int_equal(stat(w, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    DIR *d = opendir(again);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    assert_int_equal(n, 2); /* out and work, bin gone */
    d = opendir(w);
    assert_non_null(d);
    n = 0;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    assert_int_equal(n, 0);
    char *p = xasprintf("%s/precious.txt", outside);
    assert_int_equal(access(p, F_OK), 0);
    free(p);

    /* out/ replaced by a link: removed, not reused, the link not followed */
    ln = xasprintf("%s/out", again);
    assert_int_equal(rmdir(ln), 0);
    assert_int_equal(symlink(outside, ln), 0);
    free(ln);
    assert_int_equal(proc_workdir_give(again, subs, NULL, &e), 0);
    assert_int_equal(access(again, F_OK), -1);
    p = xasprintf("%s/precious.txt", outside);
    assert_int_equal(access(p, F_OK), 0);
    free(p);
    free(wd);
    assert_int_equal(proc_workdir_take(root, "kite-reuse-", &wd, &reused, &e), 0);
    assert_int_equal(reused, 0);
    assert_int_equal(proc_workdir_give(wd, subs, NULL, &e), 0);
    free(wd);

    /* a kept sub-folder keeps its content; a missing one: not reused */
    static const char *const kept[] = {"py", NULL};
    assert_int_equal(proc_workdir_take(root, "kite-reuse-", &wd, &reused, &e), 0);
    assert_int_equal(reused, 0);
    mkd(wd, "out");
    mkd(wd, "work");
    mkd(wd, "py");
    touch(wd, "py/kestra.py");
    touch(wd, "work/gone.txt");
    assert_int_equal(proc_workdir_give(wd, subs, kept, &e), 0);
    assert_int_equal(proc_workdir_take(root, "kite-reuse-", &wd, &reused, &e), 0);
    assert_int_equal(reused, 1);
    p = xasprintf("%s/py/kestra.py", wd);
    assert_int_equal(access(p, F_OK), 0);
    free(p);
    p = xasprintf("%s/work/gone.txt", wd);
    assert_int_equal(access(p, F_OK), -1);
    free(p);
    char *py = xasprintf("%s/py", wd);
    assert_int_equal(proc_workdir_remove(py, NULL, NULL, &e), 0);
    free(py);
    assert_int_equal(proc_workdir_give(wd, subs, kept, &e), 0); /* no py/: removed */
    assert_int_equal(access(wd, F_OK), -1);
    free(wd);
    free(again);
    free(w);
    assert_int_equal(proc_workdir_remove(outside, NULL, NULL, &e), 0);
    assert_int_equal(proc_workdir_remove(root, NULL, NULL, &e), 0);
}

static void test_workdir_read_only_folders(void **state)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(10);
        _exit(build_and_remove_read_only());
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_glob(void **state)
{
    struct { const char *pat, *path; int want; } c[] = {
        {"*.csv", "a.csv", 1},
        {"*.csv", "d/a.csv", 0},
        {"**/*.csv", "a.csv", 1},
        {"**/*.csv", "d/e/a.csv", 1},
        {"out/**", "out/a/b", 1},
        {"out/**", "outx/a", 0},
        {"d/**/x", "d/x", 1},
        {"d/**/x", "d/a/b/x", 1},
        {"d/**/x", "d/a/b/y", 0},
        {"r?port.[tc]sv", "report.csv", 1},
        {"r?port.[!tc]sv", "report.csv", 0},
        {"[a-c]*", "b1", 1},
        {"[a-c]*", "d1", 0},
        {"./x.txt", "x.txt", 1},
        {"a\\*", "a*", 1},
        {"a\\*", "ab", 0},
        {"*", "", 0},
        {"[", "[", 1},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        if (proc_glob_match(c[i].pat, c[i].path) != c[i].want)
            fail_msg("'%s' vs '%s': want %d", c[i].pat, c[i].path, c[i].want);
}

int main(void)
{
    kerr e = KERR_INIT;
    if (proc_init_subreaper(&e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_stdout_stderr),
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_missing_program),
        cmocka_unit_test(test_big_output_no_deadlock),
        cmocka_unit_test(test_output_cap),
        cmocka_unit_test(test_long_lines_split),
        cmocka_unit_test(test_unicode_and_bytes),
        cmocka_unit_test(test_lines_chunking_invariant),
        cmocka_unit_test(test_lines_reference),
        cmocka_unit_test(test_env_isolation),
        cmocka_unit_test(test_cwd),
        cmocka_unit_test(test_child_setup),
        cmocka_unit_test(test_timeout_kills_group),
        cmocka_unit_test(test_timeout_sigkill_after_grace),
        cmocka_unit_test(test_leftovers_killed),
        cmocka_unit_test(test_stopped_member_gets_sigterm),
        cmocka_unit_test(test_timeout_while_writing),
        cmocka_unit_test(test_leader_cannot_leave_group),
        cmocka_unit_test(test_escaped_pipe_holder),
        cmocka_unit_test(test_timeout_kills_escapees),
        cmocka_unit_test(test_cancel_kills_escapees_of_its_run_only),
        cmocka_unit_test(test_cancel_from_thread),
        cmocka_unit_test(test_cancel_from_callback),
        cmocka_unit_test(test_cancel_before_start),
        cmocka_unit_test(test_no_fd_leak),
        cmocka_unit_test(test_eight_threads),
        cmocka_unit_test(test_reap_orphans),
        cmocka_unit_test(test_workdir),
        cmocka_unit_test(test_workdir_read_only_folders),
        cmocka_unit_test(test_workdir_reuse),
        cmocka_unit_test(test_glob),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
