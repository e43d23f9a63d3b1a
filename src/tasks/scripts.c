/*
 * scripts.c: the script family: script tasks (Kestra's
 * io.kestra.plugin.scripts.<language>.Commands and .Script) and task
 * runners (where a script runs). kite runs script.shell, script.python,
 * script.node, their *_script forms and the pre-0.10 core scripts on its
 * process runner (util/proc.h); R, Julia, Ruby, PowerShell, Go, Lua, Perl
 * and PHP run there too when their interpreter is on the child's PATH, and
 * fail with "ruby: not installed on this host" otherwise (lang_infos[]);
 * runner.docker runs the script in a container where a Docker Engine
 * answers (script_docker.c), and on the process runner with a warning
 * where none does.
 *
 * One run goes like this:
 *   1. a private run folder R (under c->tmp_root) holds bin/ (python and
 *      python3 pointing at /usr/bin/python3, first on PATH for Python tasks),
 *      py/ (a stand-in for Kestra's Python library, on PYTHONPATH),
 *      out/ (OUTPUT_DIR) and, outside a WorkingDirectory, work/ (the working
 *      folder); inside a WorkingDirectory the shared c->workdir is used;
 *   2. namespaceFiles, then inputFiles are written into the working folder
 *      (script_io.c: never outside it); every kestra:// or kite:// URI in the
 *      rendered beforeCommands, commands and script is downloaded there and
 *      replaced by the local path, as Kestra does;
 *   3. the program is built: Commands join beforeCommands and commands with
 *      newlines (prefixed by `set -e` when failFast) and hand them to the
 *      interpreter (["/bin/sh", "-c"]); Script writes the script to a file of
 *      the working folder and runs it (sh/python3/node);
 *   4. proc_run runs it with an environment of its own (never kite's), the
 *      time left before c->deadline_us and c->cancel;
 *   5. each line goes to the output reader of script_io.c: a `::{...}::`
 *      marker (outputs, metrics, logs) or a log line;
 *   6. outputFiles and the files of OUTPUT_DIR are stored as task files
 *      (script_io.c); R is removed, the shared folder stays.
 *
 * DESIGN
 * What does not depend on where the script runs (the marker reader, input,
 * namespace and output files) is in script_io.c, for the SSH and container
 * runners to come; this file is the local process runner and the types.
 * proc_run calls the line callback on the calling (worker) thread only, and
 * its own output cap is left off: the reader caps what is logged, and keeps
 * reading markers past the cap.
 */
#include "tasks/tasks_int.h"

#include "expr/expr.h"
#include "util/buf.h"
#include "util/datetime.h"
#include "util/docker.h"
#include "util/mem.h"
#include "util/proc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The PATH the child gets when its env does not set one. */
#define BASE_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define PYTHON_BIN "/usr/bin/python3"

typedef enum lang {
    LANG_SHELL, LANG_PYTHON, LANG_NODE,
    /* the languages run only when their interpreter is installed (lang_info) */
    LANG_R, LANG_JULIA, LANG_RUBY, LANG_PWSH, LANG_GO, LANG_LUA, LANG_PERL, LANG_PHP,
    /* CLI tasks: shell commands for one tool, which must be on PATH (or in the image) */
    LANG_AWS
} lang;

/* What a language needs: its interpreter (found on the child's PATH), how a
 * Script file is run (argv before the file's path), the file's extension
 * and the Debian package that installs it (for the error message). */
typedef struct lang_info {
    const char *bin;
    const char *run[3];
    const char *ext;
    const char *deb;
} lang_info;

static const lang_info lang_infos[] = {
    [LANG_SHELL] = {"sh", {"/bin/sh"}, ".sh", "dash"},
    [LANG_PYTHON] = {"python3", {"python3"}, ".py", "python3"},
    [LANG_NODE] = {"node", {"node"}, ".js", "nodejs"},
    [LANG_R] = {"Rscript", {"Rscript"}, ".R", "r-base-core"},
    [LANG_JULIA] = {"julia", {"julia"}, ".jl", "julia"},
    [LANG_RUBY] = {"ruby", {"ruby"}, ".rb", "ruby"},
    [LANG_PWSH] = {"pwsh", {"pwsh", "-NonInteractive", "-File"}, ".ps1", "powershell"},
    [LANG_GO] = {"go", {"go", "run"}, ".go", "golang-go"},
    [LANG_LUA] = {"lua", {"lua"}, ".lua", "lua5.4"},
    [LANG_PERL] = {"perl", {"perl"}, ".pl", "perl"},
    [LANG_PHP] = {"php", {"php"}, ".php", "php-cli"},
    [LANG_AWS] = {"aws", {"/bin/sh"}, ".sh", "awscli"},
};

/* The image a language's task runs in on the Docker runner when the task
 * sets no containerImage (Kestra's defaults, as in tasks__scripts[] below). */
static const char *const lang_images[] = {
    [LANG_SHELL] = "ubuntu", [LANG_PYTHON] = "ghcr.io/kestra-io/kestrapy:latest", [LANG_NODE] = "node",
    [LANG_R] = "r-base", [LANG_JULIA] = "julia", [LANG_RUBY] = "ruby",
    [LANG_PWSH] = "mcr.microsoft.com/powershell", [LANG_GO] = "golang", [LANG_LUA] = "nickblah/lua",
    [LANG_PERL] = "perl", [LANG_PHP] = "php", [LANG_AWS] = "amazon/aws-cli",
};

/* ---- small helpers -------------------------------------------------------- */

/* Single-quotes s for sh. */
static void sh_quote(buf *b, const char *s)
{
    buf_putc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            buf_puts(b, "'\\''");
        else
            buf_putc(b, *s);
    }
    buf_putc(b, '\'');
}

/* A rendered property that is a list of strings (a single string counts as
 * a one-item list). *out is a NULL-terminated vector (proc_strv_free), NULL
 * when absent. */
static int prop_strv(task_ctx *c, const char *name, char ***out, kerr *e)
{
    *out = NULL;
    json_t *v;
    if (task_prop(c, name, &v, e))
        return -1;
    if (!v)
        return 0;
    if (json_is_string(v)) {
        char **r = xcalloc(2, sizeof *r);
        r[0] = xstrdup(json_string_value(v));
        *out = r;
        json_decref(v);
        return 0;
    }
    if (!json_is_array(v)) {
        json_decref(v);
        return kerr_set(e, "property '%s' must be a list of strings", name);
    }
    size_t n = json_array_size(v);
    char **r = xcalloc(n + 1, sizeof *r);
    for (size_t i = 0; i < n; i++) {
        const json_t *it = json_array_get(v, i);
        if (json_is_null(it)) {
            r[i] = xstrdup("");
            continue;
        }
        r[i] = json_is_string(it) ? xstrdup(json_string_value(it)) : expr_value_to_text(it);
    }
    json_decref(v);
    *out = r;
    return 0;
}

/* ---- the run's state -------------------------------------------------------- */

typedef struct srun {
    task_ctx *c;
    lang lg;
    int commands;         /* Commands (1) or Script (0) */
    int legacy;           /* a pre-0.10 io.kestra.core.tasks.scripts.* task */
    char **legacy_files;  /* legacy: outputFiles names (files in the folder) */
    char **legacy_dirs;   /* legacy: outputDirs names (folders in the folder) */
    char *rdir;           /* private run folder R */
    char *workdir;        /* working folder (R/work or the shared one) */
    char *outdir;         /* R/out, OUTPUT_DIR */
    char *bindir;         /* R/bin for Python, else NULL */
    char *pydir;          /* R/py for Python (kestra.py), else NULL */
    char *script_path;    /* Script: the file holding the script */
    json_t *localized;    /* internal-storage URI -> its local copy */

    tasks__script_out out; /* markers, logs, line counts (script_io.c) */
} srun;

/* ---- the program ------------------------------------------------------------ */

static const char *lang_binary(lang lg) { return lang_infos[lg].bin; }

/* 1 if name is found as an executable in the PATH list. */
static int on_path(const char *path, const char *name)
{
    if (!path)
        return 0;
    char *p = xstrdup(path);
    int found = 0;
    for (char *save = NULL, *d = strtok_r(p, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        char *f = xasprintf("%s/%s", *d ? d : ".", name);
        found = access(f, X_OK) == 0;
        free(f);
    }
    free(p);
    return found;
}

/* kite's stand-in for Kestra's Python library (`from kestra import Kestra`),
 * found through PYTHONPATH. When the real package (pip's kestra) is
 * installed anywhere else on sys.path, importing this loads that one
 * instead; otherwise it provides outputs(), counter(), timer() and logger(),
 * which print the `::{...}::` lines this file reads. */
static const char kestra_py[] =
    "\"\"\"kite's stand-in for Kestra's Python library, used only when the kestra\n"
    "package is not installed.\"\"\"\n"
    "import json as _json, logging as _logging, os as _os, sys as _sys, time as _time\n"
    "_here = _os.path.dirname(_os.path.abspath(__file__))\n"
    "_self = _sys.modules.get(__name__)\n"
    "try:\n"
    "    import importlib.machinery as _im, importlib.util as _iu\n"
    "    _spec = _im.PathFinder.find_spec(__name__, [p for p in _sys.path\n"
    "                                                if _os.path.abspath(p or '.') != _here])\n"
    "except Exception:\n"
    "    _spec = None\n"
    "if _spec is not None and _spec.loader is not None:\n"
    "    _real = _iu.module_from_spec(_spec)\n"
    "    _sys.modules[__name__] = _real\n"
    "    try:\n"
    "        _spec.loader.exec_module(_real)\n"
    "    except BaseException:\n"
    "        _sys.modules[__name__] = _self\n"
    "        raise\n"
    "\n"
    "class Kestra:\n"
    "    _logger = None\n"
    "\n"
    "    @staticmethod\n"
    "    def format(map_):\n"
    "        return '::' + _json.dumps(map_) + '::'\n"
    "\n"
    "    @staticmethod\n"
    "    def _send(map_):\n"
    "        print(Kestra.format(map_), flush=True)\n"
    "\n"
    "    @staticmethod\n"
    "    def _metrics(name, type_, value, tags=None):\n"
    "        Kestra._send({'metrics': [{'name': name, 'type': type_, 'value': value,\n"
    "                                   'tags': tags or {}}]})\n"
    "\n"
    "    @staticmethod\n"
    "    def outputs(map_):\n"
    "        Kestra._send({'outputs': map_})\n"
    "\n"
    "    @staticmethod\n"
    "    def counter(name, value, tags=None):\n"
    "        Kestra._metrics(name, 'counter', value, tags)\n"
    "\n"
    "    @staticmethod\n"
    "    def timer(name, duration, tags=None):\n"
    "        if callable(duration):\n"
    "            start = _time.time()\n"
    "            duration()\n"
    "            duration = _time.time() - start\n"
    "        Kestra._metrics(name, 'timer', duration, tags)\n"
    "\n"
    "    @staticmethod\n"
    "    def logger():\n"
    "        if Kestra._logger is None:\n"
    "            class _H(_logging.Handler):\n"
    "                def emit(self, record):\n"
    "                    level = {'WARNING': 'WARN', 'CRITICAL': 'ERROR'}.get(record.levelname,\n"
    "                                                                         record.levelname)\n"
    "                    Kestra._send({'logs': [{'level': level, 'message': self.format(record)}]})\n"
    "            log = _logging.getLogger('Kestra')\n"
    "            log.setLevel(_logging.DEBUG)\n"
    "            log.addHandler(_H())\n"
    "            log.propagate = False\n"
    "            Kestra._logger = log\n"
    "        return Kestra._logger\n";

/* Does the folder dir (mode 0700, on the file system dev) hold exactly the
 * entries names (n of them), and nothing else? */
static int dir_holds(const char *dir, dev_t dev, const char *const *names, size_t n)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct stat st;
    int ok = fstat(dirfd(d), &st) == 0 && S_ISDIR(st.st_mode) && st.st_dev == dev &&
             (st.st_mode & 07777) == 0700;
    size_t seen = 0;
    struct dirent *de;
    while (ok && (de = readdir(d))) {
        const char *nm = de->d_name;
        if (nm[0] == '.' && (!nm[1] || (nm[1] == '.' && !nm[2])))
            continue;
        int known = 0;
        for (size_t i = 0; i < n && !known; i++)
            known = !strcmp(names[i], nm);
        ok = known;
        seen++;
    }
    closedir(d);
    return ok && seen == n;
}

/* Are a reused folder's bin/ and py/ still exactly what make_bindir writes
 * (an earlier Python script may have changed them)? Reading them back costs
 * less than writing them again: creating and removing files is what is slow
 * on some disks. */
static int bindir_intact(const srun *s)
{
    struct stat rst;
    if (stat(s->rdir, &rst))
        return 0;
    static const char *const bins[] = {"python", "python3"};
    static const char *const pys[] = {"kestra.py"};
    if (!dir_holds(s->bindir, rst.st_dev, bins, 2) || !dir_holds(s->pydir, rst.st_dev, pys, 1))
        return 0;
    for (size_t i = 0; i < 2; i++) {
        char *l = xasprintf("%s/%s", s->bindir, bins[i]);
        char lbuf[sizeof PYTHON_BIN + 1];
        ssize_t n = readlink(l, lbuf, sizeof lbuf);
        free(l);
        if (n != (ssize_t)sizeof PYTHON_BIN - 1 || memcmp(lbuf, PYTHON_BIN, (size_t)n))
            return 0;
    }
    char *f = xasprintf("%s/kestra.py", s->pydir);
    int fd = open(f, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    free(f);
    if (fd < 0)
        return 0;
    struct stat st;
    char kbuf[sizeof kestra_py + 1];
    size_t got = 0;
    int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600 &&
             st.st_nlink == 1 && st.st_size == (off_t)sizeof kestra_py - 1;
    while (ok && got < sizeof kbuf) {
        ssize_t n = read(fd, kbuf + got, sizeof kbuf - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    return ok && got == sizeof kestra_py - 1 && !memcmp(kbuf, kestra_py, got);
}

/* The Python folders: bin/ (python and python3 -> /usr/bin/python3) and
 * py/ (kestra.py). A reused folder keeps them (srun_free gives them back
 * as they are): they are written again only when they changed. */
static int make_bindir(srun *s, int reused, kerr *e)
{
    s->bindir = xasprintf("%s/bin", s->rdir);
    s->pydir = xasprintf("%s/py", s->rdir);
    if (reused) {
        if (bindir_intact(s))
            return 0;
        /* changed, or left by a script of another language: written again */
        const char *const dirs[] = {s->bindir, s->pydir};
        for (size_t i = 0; i < 2; i++) {
            struct stat st;
            if (lstat(dirs[i], &st))
                continue;
            kerr re = KERR_INIT;
            if (!S_ISDIR(st.st_mode) ? unlink(dirs[i]) != 0 && kerr_set(&re, "%s", strerror(errno))
                                     : proc_workdir_remove(dirs[i], NULL, NULL, &re) < 0)
                return kerr_set(e, "cannot remove %s: %s", dirs[i], re.msg);
        }
    }
    if (mkdir(s->bindir, 0700))
        return kerr_set(e, "cannot create %s: %s", s->bindir, strerror(errno));
    static const char *const names[] = {"python", "python3"};
    for (size_t i = 0; i < 2; i++) {
        char *l = xasprintf("%s/%s", s->bindir, names[i]);
        int rc = symlink(PYTHON_BIN, l);
        free(l);
        if (rc)
            return kerr_set(e, "cannot create the python link in %s: %s", s->bindir, strerror(errno));
    }
    if (mkdir(s->pydir, 0700))
        return kerr_set(e, "cannot create %s: %s", s->pydir, strerror(errno));
    char *f = xasprintf("%s/kestra.py", s->pydir);
    int fd = open(f, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = fd < 0 || tasks__write_all(fd, kestra_py, sizeof kestra_py - 1) ? -1 : 0;
    if (fd >= 0 && close(fd))
        rc = -1;
    if (rc)
        kerr_set(e, "cannot write %s: %s", f, strerror(errno));
    free(f);
    return rc;
}

/* Writes the Script's text to a file of the working folder. */
static int write_script(srun *s, const char *text, kerr *e)
{
    const char *ext = lang_infos[s->lg].ext;
    char *p = xasprintf("%s/kite-script-XXXXXX%s", s->workdir, ext);
    int fd = mkostemps(p, (int)strlen(ext), O_CLOEXEC);
    if (fd < 0) {
        kerr_set(e, "cannot create the script file in %s: %s", s->workdir, strerror(errno));
        free(p);
        return -1;
    }
    int rc = tasks__write_all(fd, text, strlen(text));
    if (!rc)
        rc = fchmod(fd, 0700);
    if (close(fd))
        rc = -1;
    if (rc) {
        kerr_set(e, "cannot write the script file %s: %s", p, strerror(errno));
        free(p);
        return -1;
    }
    s->script_path = p;
    return 0;
}

/* ---- internal-storage URIs in the program ------------------------------------ */

/* Is s at a "kestra://" or "kite://" URI (what Kestra localizes)? */
static size_t uri_at(const char *s)
{
    if (!strncmp(s, "kestra://", 9) || !strncmp(s, "kite://", 7)) {
        size_t n = 0;
        while (s[n] && !strchr(" \t\r\n\"'`;|&<>(){}$,", s[n]))
            n++;
        return n;
    }
    return 0;
}

/* Downloads uri into the working folder (its file name, "<k>-<name>" when
 * taken) and returns the local path (malloc'd), recorded in s->localized so
 * that a URI written twice is fetched once. */
static char *localize_one(srun *s, const char *uri, kerr *e)
{
    if (!s->localized)
        s->localized = json_object();
    const char *known = json_string_value(json_object_get(s->localized, uri));
    if (known)
        return xstrdup(known);
    kerr se = KERR_INIT;
    int in = storage_open_fd(s->c->storage, uri, &se);
    if (in < 0) {
        kerr_set(e, "%s: %s", uri, se.msg);
        return NULL;
    }
    const char *slash = strrchr(uri, '/');
    const char *name = slash && slash[1] ? slash + 1 : "file";
    char *path = xasprintf("%s/%s", s->workdir, name);
    for (int k = 1; access(path, F_OK) == 0; k++) {
        free(path);
        path = xasprintf("%s/%d-%s", s->workdir, k, name);
    }
    int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = out < 0 ? -1 : 0;
    char chunk[65536];
    ssize_t r;
    while (!rc && (r = read(in, chunk, sizeof chunk)) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = -1;
            break;
        }
        rc = tasks__write_all(out, chunk, (size_t)r);
    }
    if (out >= 0 && close(out))
        rc = -1;
    close(in);
    if (rc) {
        kerr_set(e, "%s: cannot copy it to %s: %s", uri, path, strerror(errno));
        free(path);
        return NULL;
    }
    json_object_set_new(s->localized, uri, json_string(path));
    return path;
}

/* Replaces every internal-storage URI of *text by the path of a local copy
 * in the working folder, as Kestra does for a script's commands and script. */
static int localize_uris(srun *s, char **text, kerr *e)
{
    if (!*text || (!strstr(*text, "kestra://") && !strstr(*text, "kite://")))
        return 0;
    buf b = BUF_INIT;
    for (const char *p = *text; *p;) {
        size_t n = uri_at(p);
        if (!n) {
            buf_putc(&b, *p++);
            continue;
        }
        char *uri = xstrndup(p, n);
        char *local = localize_one(s, uri, e);
        free(uri);
        if (!local) {
            buf_free(&b);
            return -1;
        }
        buf_puts(&b, local);
        free(local);
        p += n;
    }
    free(*text);
    *text = b.data ? buf_steal(&b) : xstrdup("");
    return 0;
}

static int localize_strv(srun *s, char **v, kerr *e)
{
    for (; v && *v; v++)
        if (localize_uris(s, v, e))
            return -1;
    return 0;
}

/* Is interp ["/bin/sh", "-c"] (the default)? */
static int default_interp(char **interp)
{
    return interp && interp[0] && interp[1] && !interp[2] && !strcmp(interp[0], "/bin/sh") &&
           !strcmp(interp[1], "-c");
}

/* Is prog a POSIX-like shell (where `set -e` means failFast)? */
static int is_shell(const char *prog)
{
    const char *b = strrchr(prog, '/');
    b = b ? b + 1 : prog;
    static const char *const shells[] = {"sh", "bash", "dash", "ash", "ksh", "mksh", "zsh", "busybox"};
    for (size_t i = 0; i < sizeof shells / sizeof shells[0]; i++)
        if (!strcmp(b, shells[i]))
            return 1;
    return 0;
}

/* Builds the argv (*argv, a vector the caller frees with proc_strv_free). */
static int build_argv(srun *s, int user_path, char ***argv, kerr *e)
{
    task_ctx *c = s->c;
    char **interp = NULL, **before = NULL, **cmds = NULL;
    char *script = NULL;
    int fail_fast = 1, rc = -1;
    *argv = NULL;
    if (s->legacy) {
        /* interpreter (one program) + interpreterArgs, exitOnFailed */
        char *prog0 = NULL;
        char **args = NULL;
        if (task_prop_string(c, "interpreter", "/bin/sh", &prog0, e) ||
            prop_strv(c, "interpreterArgs", &args, e) || task_prop_bool(c, "exitOnFailed", 1, &fail_fast, e)) {
            free(prog0);
            proc_strv_free(args);
            goto out;
        }
        size_t na = 0;
        while (args && args[na])
            na++;
        interp = xcalloc(na + 3, sizeof *interp);
        interp[0] = prog0;
        if (!args) {
            interp[1] = xstrdup("-c");
        } else {
            for (size_t i = 0; i < na; i++)
                interp[i + 1] = args[i];
            free(args);
        }
    } else if (prop_strv(c, "interpreter", &interp, e) || prop_strv(c, "beforeCommands", &before, e) ||
               task_prop_bool(c, "failFast", 1, &fail_fast, e)) {
        goto out;
    }
    if (!interp) {
        interp = xcalloc(3, sizeof *interp);
        interp[0] = xstrdup("/bin/sh");
        interp[1] = xstrdup("-c");
    }
    if (!interp[0] || !*interp[0]) {
        kerr_set(e, "property 'interpreter' must name a program");
        goto out;
    }
    if (localize_strv(s, before, e))
        goto out;
    buf prog = BUF_INIT;
    if (fail_fast && is_shell(interp[0]))
        buf_puts(&prog, "set -e\n");
    for (char **b = before; b && *b; b++) {
        buf_puts(&prog, *b);
        buf_putc(&prog, '\n');
    }
    if (s->commands) {
        if (prop_strv(c, "commands", &cmds, e) || localize_strv(s, cmds, e)) {
            buf_free(&prog);
            goto out;
        }
        if ((!cmds || !cmds[0]) && s->legacy && s->lg != LANG_SHELL) {
            /* the pre-0.10 Python and Node tasks run main.py / main.js */
            proc_strv_free(cmds);
            cmds = xcalloc(2, sizeof *cmds);
            cmds[0] = xstrdup(s->lg == LANG_PYTHON ? "./bin/python main.py" : "node main.js");
        }
        if (!cmds || !cmds[0]) {
            buf_free(&prog);
            kerr_set(e, "property 'commands' is required and must hold at least one command");
            goto out;
        }
        for (char **b = cmds; *b; b++) {
            buf_puts(&prog, *b);
            if (b[1])
                buf_putc(&prog, '\n');
        }
    } else {
        if (task_prop_string(c, "script", NULL, &script, e) || localize_uris(s, &script, e)) {
            buf_free(&prog);
            goto out;
        }
        if (!script || !*script) {
            buf_free(&prog);
            kerr_set(e, "property 'script' is required and must not be empty");
            goto out;
        }
        if (write_script(s, script, e)) {
            buf_free(&prog);
            goto out;
        }
        /* Script without beforeCommands on the default interpreter: run the
         * file directly (one exec instead of sh + the interpreter). */
        if (!before && default_interp(interp)) {
            buf_free(&prog);
            char **a = xcalloc(5, sizeof *a);
            size_t k = 0;
            if (s->lg == LANG_PYTHON)
                a[k++] = xstrdup(user_path || access(PYTHON_BIN, X_OK) ? "python3" : PYTHON_BIN);
            else
                for (const char *const *w = lang_infos[s->lg].run; *w && k < 3; w++)
                    a[k++] = xstrdup(*w);
            a[k] = xstrdup(s->script_path);
            *argv = a;
            rc = 0;
            goto out;
        }
        if (s->lg == LANG_SHELL) {
            buf_puts(&prog, "sh ");
        } else {
            const char *const *w = lang_infos[s->lg].run;
            for (size_t k = 0; k < 3 && w[k]; k++) {
                buf_puts(&prog, w[k]);
                buf_putc(&prog, ' ');
            }
        }
        sh_quote(&prog, s->script_path);
    }
    size_t n = 0;
    while (interp[n])
        n++;
    char **a = xcalloc(n + 2, sizeof *a);
    for (size_t i = 0; i < n; i++)
        a[i] = xstrdup(interp[i]);
    a[n] = prog.data ? buf_steal(&prog) : xstrdup("");
    *argv = a;
    rc = 0;
out:
    proc_strv_free(interp);
    proc_strv_free(before);
    proc_strv_free(cmds);
    free(script);
    return rc;
}

/* AwsCLI's credentials and settings as the aws CLI reads them, as Kestra's
 * AwsCLI sets them (the task's env may replace any). */
static int aws_env(task_ctx *c, proc_env *env, kerr *e)
{
    static const char *const map[][2] = {
        {"accessKeyId", "AWS_ACCESS_KEY_ID"}, {"secretKeyId", "AWS_SECRET_ACCESS_KEY"},
        {"sessionToken", "AWS_SESSION_TOKEN"}, {"region", "AWS_DEFAULT_REGION"},
        {"endpointOverride", "AWS_ENDPOINT_URL"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        char *v = NULL;
        if (tasks__prop_text(c, map[i][0], NULL, &v, e))
            return -1;
        int rc = v ? proc_env_set(env, map[i][1], v, e) : 0;
        free(v);
        if (rc)
            return kerr_prefix(e, "property '%s'", map[i][0]), -1;
    }
    char *fmt = NULL;
    if (task_prop_string(c, "outputFormat", "JSON", &fmt, e))
        return -1;
    for (char *p = fmt; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    int rc = proc_env_set(env, "AWS_DEFAULT_OUTPUT", fmt, e);
    free(fmt);
    return rc;
}

/* The child's environment: PATH, HOME, LANG, WORKING_DIR, OUTPUT_DIR, then
 * the task's env (which may replace any of them). Nothing of kite's own
 * environment but USER, LOGNAME and TZ. *user_path: the task set PATH. */
static proc_env *build_env(srun *s, int *user_path, kerr *e)
{
    *user_path = 0;
    json_t *v;
    if (task_prop(s->c, "env", &v, e))
        return NULL;
    if (v && !json_is_object(v)) {
        json_decref(v);
        kerr_set(e, "property 'env' must be a map of name to value");
        return NULL;
    }
    proc_env *env = proc_env_new();
    proc_env_copy(env, "USER");
    proc_env_copy(env, "LOGNAME");
    proc_env_copy(env, "TZ");
    char *path = s->bindir ? xasprintf("%s:%s", s->bindir, BASE_PATH) : xstrdup(BASE_PATH);
    proc_env_set(env, "PATH", path, e);
    free(path);
    proc_env_set(env, "HOME", s->workdir, e);
    proc_env_set(env, "LANG", "C.UTF-8", e);
    proc_env_set(env, "WORKING_DIR", s->workdir, e);
    proc_env_set(env, "OUTPUT_DIR", s->outdir, e);
    if (s->lg == LANG_PYTHON) {
        proc_env_set(env, "PYTHONUNBUFFERED", "1", e);
        proc_env_set(env, "PYTHONPATH", s->pydir, e);
    }
    if (s->lg == LANG_AWS && aws_env(s->c, env, e)) {
        json_decref(v);
        proc_env_free(env);
        return NULL;
    }
    const char *k;
    json_t *val;
    json_object_foreach(v, k, val) {
        char *text = json_is_string(val) ? xstrdup(json_string_value(val))
                     : json_is_null(val) ? xstrdup("")
                                         : expr_value_to_text(val);
        int rc = proc_env_set(env, k, text, e);
        free(text);
        if (rc) {
            kerr_prefix(e, "property 'env'");
            json_decref(v);
            proc_env_free(env);
            return NULL;
        }
        if (!strcmp(k, "PATH"))
            *user_path = 1;
    }
    json_decref(v);
    return env;
}

/* One warning when the flow asks for a container: kite runs it as a local
 * process. Kestra's script tasks default to the Docker runner, so a
 * containerImage, docker options or runner: DOCKER without a taskRunner
 * means Docker too. */
static void warn_container(task_ctx *c)
{
    const json_t *t = c->task;
    const json_t *tr = json_object_get(t, "taskRunner");
    const char *type = json_string_value(json_object_get(tr, "type"));
    const char *image = json_string_value(json_object_get(t, "containerImage"));
    const char *runner = json_string_value(json_object_get(t, "runner"));
    const char *why = NULL;
    if (type) {
        if (flow_type_find(type) != flow_type_find("runner.process"))
            why = type;
    } else if (json_object_get(t, "docker")) {
        why = "docker";
    } else if (json_object_get(t, "dockerOptions") && !(runner && !strcasecmp(runner, "PROCESS"))) {
        why = "dockerOptions";
    } else if (runner && !strcasecmp(runner, "DOCKER")) {
        why = "runner: DOCKER";
    } else if (image) {
        why = "containerImage";
    }
    if (!why)
        return;
    if (image)
        task_log(c, LEVEL_WARN,
                 "The task asks for a container (%s, image %s) but no Docker engine is configured: it runs "
                 "as a local process on kite's process runner",
                 why, image);
    else
        task_log(c, LEVEL_WARN,
                 "The task asks for a container (%s) but no Docker engine is configured: it runs as a "
                 "local process on kite's process runner",
                 why);
}

static void warn_unsupported(srun *s)
{
    task_ctx *c = s->c;
    const json_t *deps = json_object_get(c->task, "dependencies");
    if (s->lg == LANG_PYTHON && json_array_size(deps) > 0)
        task_log(c, LEVEL_WARN, "dependencies are not installed by kite: the %zu package(s) listed must "
                                "already be importable by %s (or install them in beforeCommands)",
                 json_array_size(deps), PYTHON_BIN);
}

/* ---- `{{ workingDir }}`, `{{ outputDir }}`, `{{ outputFiles.x }}` ------------ */

/* Kestra renders script properties with a few more variables: workingDir
 * and outputDir, and for the pre-0.10 tasks outputFiles.<name> and
 * outputDirs.<name>. The engine's renderer does not know them, so their
 * plain forms (`{{workingDir}}`, `{{ outputFiles.first }}`,
 * `{{ outputFiles['first'] }}`) are replaced by their paths in a copy of the
 * task before rendering. `vars` maps "workingDir", "outputFiles.first"... to
 * text. Returns the new text, or NULL when nothing was replaced. */
static char *subst_vars(const char *s, const json_t *vars)
{
    if (!strstr(s, "{{"))
        return NULL;
    buf b = BUF_INIT;
    buf key = BUF_INIT;
    int changed = 0;
    const char *p = s;
    while (*p) {
        if (p[0] == '{' && p[1] == '{') {
            const char *q = p + 2;
            while (*q == ' ')
                q++;
            buf_reset(&key);
            int ok = 1;
            size_t n = strspn(q, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
            if (n == 0)
                ok = 0;
            buf_append(&key, q, n);
            q += n;
            while (ok && (*q == '.' || *q == '[')) {
                const char *seg;
                size_t len;
                if (*q == '.') {
                    seg = q + 1;
                    len = strspn(seg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
                    q = seg + len;
                } else {
                    char quote = q[1];
                    if (quote != '\'' && quote != '"') {
                        ok = 0;
                        break;
                    }
                    seg = q + 2;
                    const char *close = strchr(seg, quote);
                    if (!close || close[1] != ']') {
                        ok = 0;
                        break;
                    }
                    len = (size_t)(close - seg);
                    q = close + 2;
                }
                if (len == 0)
                    ok = 0;
                buf_putc(&key, '.');
                buf_append(&key, seg, len);
            }
            const char *r = q;
            while (*r == ' ')
                r++;
            const char *val = ok && key.data ? json_string_value(json_object_get(vars, key.data)) : NULL;
            if (val && r[0] == '}' && r[1] == '}') {
                buf_puts(&b, val);
                p = r + 2;
                changed = 1;
                continue;
            }
        }
        buf_putc(&b, *p++);
    }
    buf_free(&key);
    if (!changed) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

json_t *tasks__subst_tree(const json_t *v, const json_t *vars, int *changed)
{
    if (json_is_string(v)) {
        char *r = subst_vars(json_string_value(v), vars);
        if (!r)
            return json_incref((json_t *)v);
        *changed = 1;
        json_t *o = json_string(r);
        free(r);
        return o ? o : json_incref((json_t *)v);
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *it;
        json_array_foreach(v, i, it) json_array_append_new(a, tasks__subst_tree(it, vars, changed));
        return a;
    }
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *it;
        json_object_foreach((json_t *)v, k, it) json_object_set_new(o, k, tasks__subst_tree(it, vars, changed));
        return o;
    }
    return json_incref((json_t *)v);
}

/* ---- run ------------------------------------------------------------------ */

static void srun_free(srun *s)
{
    /* the script file of a shared folder goes; the rest of it stays */
    if (s->script_path && s->c->workdir)
        unlink(s->script_path);
    if (s->rdir) {
        kerr e = KERR_INIT;
        /* emptied and kept for the next script when it holds out/ and work/
         * (proc_workdir_give): a folder costs more than a spawn on some disks */
        static const char *const subdirs[] = {"out", "work", NULL};
        static const char *const py_kept[] = {"bin", "py", NULL};
        if (proc_workdir_give(s->rdir, subdirs, s->bindir ? py_kept : NULL, &e) < 0)
            task_log(s->c, LEVEL_WARN, "cannot remove the run folder: %s", e.msg);
    }
    json_decref(s->localized);
    free(s->rdir);
    free(s->workdir);
    free(s->outdir);
    free(s->bindir);
    free(s->pydir);
    free(s->script_path);
    proc_strv_free(s->legacy_files);
    proc_strv_free(s->legacy_dirs);
    tasks__script_out_free(&s->out);
}

/* The pre-0.10 tasks: outputFiles (and its old names files, outputsFiles) are
 * names of files the commands write, reached as {{ outputFiles.<name> }};
 * outputDirs are folders, {{ outputDirs.<name> }}. Adds their paths to vars
 * and creates the folders. */
static int legacy_prepare(srun *s, json_t *vars, kerr *e)
{
    task_ctx *c = s->c;
    const char *fprops[] = {"outputFiles", "files", "outputsFiles"};
    size_t nf = 0;
    for (size_t k = 0; k < 3; k++) {
        char **v = NULL;
        if (prop_strv(c, fprops[k], &v, e))
            return -1;
        for (char **p = v; p && *p; p++) {
            if (tasks__check_rel(fprops[k], *p, e)) {
                proc_strv_free(v);
                return -1;
            }
            s->legacy_files = xrealloc(s->legacy_files, (nf + 2) * sizeof *s->legacy_files);
            s->legacy_files[nf++] = xstrdup(*p);
            s->legacy_files[nf] = NULL;
            char *key = xasprintf("outputFiles.%s", *p);
            json_object_set_new(vars, key, json_sprintf("%s/%s", s->workdir, *p));
            free(key);
        }
        proc_strv_free(v);
    }
    if (prop_strv(c, "outputDirs", &s->legacy_dirs, e))
        return -1;
    for (char **p = s->legacy_dirs; p && *p; p++) {
        if (tasks__check_rel("outputDirs", *p, e))
            return -1;
        char *dir = xasprintf("%s/%s", s->workdir, *p);
        int rc = mkdir(dir, 0755);
        if (rc && errno != EEXIST) {
            kerr_set(e, "outputDirs '%s': cannot create %s: %s", *p, dir, strerror(errno));
            free(dir);
            return -1;
        }
        char *key = xasprintf("outputDirs.%s", *p);
        json_object_set_new(vars, key, json_string(dir));
        free(key);
        free(dir);
    }
    if (s->lg == LANG_PYTHON) {
        /* ./bin/python as the virtualenv Kestra made would give it */
        const json_t *req = json_object_get(c->task, "requirements");
        if (json_array_size(req) > 0)
            task_log(c, LEVEL_WARN, "requirements are not installed by kite: the %zu package(s) listed must "
                                    "already be importable by %s",
                     json_array_size(req), PYTHON_BIN);
        char *bin = xasprintf("%s/bin", s->workdir);
        if (mkdir(bin, 0755) && errno != EEXIST) {
            kerr_set(e, "cannot create %s: %s", bin, strerror(errno));
            free(bin);
            return -1;
        }
        static const char *const names[] = {"python", "python3"};
        for (size_t i = 0; i < 2; i++) {
            char *l = xasprintf("%s/%s", bin, names[i]);
            unlink(l);
            if (symlink(PYTHON_BIN, l)) {
                kerr_set(e, "cannot create %s: %s", l, strerror(errno));
                free(l);
                free(bin);
                return -1;
            }
            free(l);
        }
        free(bin);
    }
    return 0;
}

/* Stores the legacy output files (by name, those that exist) and the files
 * of the legacy output folders. */
static int legacy_store(srun *s, kerr *e)
{
    json_t *files = json_object_get(s->c->outputs, "outputFiles");
    json_t *own = files ? NULL : json_object();
    if (!files)
        files = own;
    for (char **p = s->legacy_files; p && *p; p++) {
        char *abs = xasprintf("%s/%s", s->workdir, *p);
        struct stat st;
        int rc = 0;
        if (lstat(abs, &st) == 0 && S_ISREG(st.st_mode)) {
            char *uri;
            rc = task_store_file(s->c, abs, *p, &uri, e);
            if (!rc) {
                json_object_set_new(files, *p, json_string(uri));
                free(uri);
            } else {
                kerr_prefix(e, "output file '%s'", *p);
            }
        }
        free(abs);
        if (rc) {
            json_decref(own);
            return -1;
        }
    }
    for (char **p = s->legacy_dirs; p && *p; p++) {
        char *abs = xasprintf("%s/%s", s->workdir, *p);
        int rc = tasks__script_store_dir(s->c, abs, *p, files, e);
        free(abs);
        if (rc) {
            json_decref(own);
            return -1;
        }
    }
    if (own) {
        if (json_object_size(own))
            task_output(s->c, "outputFiles", own);
        else
            json_decref(own);
    }
    return 0;
}

/* Runs a script in language lg, of the Commands form (commands) or the
 * Script one, or one of the pre-0.10 core tasks (legacy). */
static task_result script_run(task_ctx *c, lang lg, int commands, int legacy, kerr *e)
{
    srun s;
    memset(&s, 0, sizeof s);
    s.c = c;
    s.lg = lg;
    s.commands = commands;
    s.legacy = legacy;
    tasks__script_out_init(&s.out, c);

    const char *root = c->tmp_root && *c->tmp_root ? c->tmp_root : getenv("TMPDIR");
    if (!root || !*root)
        root = "/tmp";
    task_result res = TASK_FAILED;
    const json_t *saved_task = c->task;
    json_t *task_copy = NULL;
    proc_env *env = NULL;
    char **argv = NULL, **outpats = NULL, *image = NULL;
    json_t *dopts = NULL; /* the Docker runner's options, when it runs the task */
    json_t *dunreach = NULL; /* the same when no engine answers (the sandbox maps them) */
    sandbox *sb = NULL;
    int reused = 0; /* a folder given back by an earlier script: out/ and work/ are there, empty */
    if (proc_workdir_take(root, "kite-script-", &s.rdir, &reused, e))
        goto out;
    s.outdir = xasprintf("%s/out", s.rdir);
    if (!reused && mkdir(s.outdir, 0700)) {
        kerr_set(e, "cannot create %s: %s", s.outdir, strerror(errno));
        goto out;
    }
    if (c->workdir) {
        s.workdir = xstrdup(c->workdir);
    } else {
        s.workdir = xasprintf("%s/work", s.rdir);
        if (!reused && mkdir(s.workdir, 0700)) {
            kerr_set(e, "cannot create %s: %s", s.workdir, strerror(errno));
            goto out;
        }
    }
    if (s.lg == LANG_PYTHON && make_bindir(&s, reused, e))
        goto out;

    int changed = 0;
    json_t *tvars = json_pack("{s:s,s:s}", "workingDir", s.workdir, "outputDir", s.outdir);
    if (s.legacy && legacy_prepare(&s, tvars, e)) {
        json_decref(tvars);
        goto out;
    }
    task_copy = tasks__subst_tree(c->task, tvars, &changed);
    json_decref(tvars);
    if (changed)
        c->task = task_copy;

    /* the Docker runner where its engine answers; else the process runner */
    const char *dprop = tasks__docker_wanted(c);
    if (dprop) {
        if (task_prop(c, dprop, &dopts, e))
            goto out;
        if (!dopts)
            dopts = json_object();
        if (!json_is_object(dopts) || !docker_engine_reachable(json_string_value(json_object_get(dopts, "host")))) {
            if (json_is_object(dopts))
                dunreach = dopts;
            else
                json_decref(dopts);
            dopts = NULL;
        }
    }
    if ((dopts || dunreach) && task_prop_string(c, "containerImage", lang_images[s.lg], &image, e))
        goto out;
    warn_unsupported(&s);

    int user_path = 0;
    env = build_env(&s, &user_path, e);
    if (!env || tasks__script_put_inputs(c, s.workdir, e) || (!s.legacy && prop_strv(c, "outputFiles", &outpats, e)))
        goto out;
    for (char **p = outpats; p && *p; p++)
        if (tasks__check_rel("outputFiles", *p, e))
            goto out;
    if (!dopts && s.lg >= LANG_R && !on_path(proc_env_get(env, "PATH"), lang_binary(s.lg))) {
        /* these run only where their interpreter is installed */
        kerr_set(e, "%s: not installed on this host (install the Debian package %s, or run the task "
                    "where %s is on PATH)", lang_binary(s.lg), lang_infos[s.lg].deb, lang_binary(s.lg));
        goto out;
    }
    int warn_stderr = 1;
    if (task_prop_bool(c, "warningOnStdErr", 1, &warn_stderr, e))
        goto out;
    if (build_argv(&s, dopts ? 1 : user_path, &argv, e))
        goto out;
    if (!dopts) {
        /* the sandbox (runner.sandbox, the default, or Docker's stand-in),
         * once every file of the run folder is written */
        const char *writable[] = {s.rdir, c->workdir, NULL};
        int sr = tasks__sandbox_plan(c, dunreach ? dprop : NULL, dunreach, image, writable, &sb, e);
        if (sr < 0)
            goto out;
        if (!sb && !dunreach)
            warn_container(c);
    }

    proc_spec sp;
    proc_spec_init(&sp);
    sp.argv = (const char *const *)argv;
    sp.cwd = s.workdir;
    sp.env = proc_env_array(env);
    sp.cancel = c->cancel;
    sp.max_line = TASKS__SCRIPT_LINE_MAX;
    sp.on_line = tasks__script_out_line;
    sp.ud = &s.out;
    if (sb) {
        sp.spawn = sandbox_spawn;
        sp.spawn_ud = sb;
    }
    if (c->deadline_us) {
        int64_t left = (c->deadline_us - time_mono_us()) / 1000;
        sp.timeout_ms = left > 0 ? left : 1;
        if (sp.timeout_ms > PROC_MAX_MS)
            sp.timeout_ms = PROC_MAX_MS;
    }
    proc_result r;
    if (dopts) {
        tasks__docker_job dj = {.opts = dopts, .image = image,
                                .image_set = json_object_get(c->task, "containerImage") != NULL,
                                .argv = argv, .workdir = s.workdir, .outdir = s.outdir, .pydir = s.pydir,
                                .rdir = s.rdir, .out = &s.out,
                                /* the working folder comes back only when something reads it: the
                                 * task's outputFiles (or the legacy outputFiles / outputDirs), or the
                                 * later tasks of a WorkingDirectory sharing it */
                                .copy_workdir = c->workdir || (outpats && *outpats) || s.legacy_files ||
                                                (s.legacy_dirs && *s.legacy_dirs)};
        if (tasks__docker_run(c, &dj, &r, e))
            goto out;
    } else if (proc_run(&sp, &r, e)) {
        const char *bin = lang_binary(s.lg);
        if (s.lg == LANG_NODE && !on_path(proc_env_get(env, "PATH"), "node"))
            kerr_prefix(e, "node (Node.js) is not installed or not on PATH (install the Debian package "
                           "nodejs)");
        else if (!strcmp(argv[0], bin) || !strcmp(argv[0], PYTHON_BIN))
            kerr_prefix(e, "the %s interpreter cannot be started", bin);
        else
            kerr_prefix(e, "the interpreter cannot be started");
        goto out;
    }
    if (sb) {
        int oom = tasks__sandbox_done(sb, &r, e);
        sb = NULL;
        if (oom && !r.cancelled)
            goto out;
    }
    if (r.cancelled) {
        kerr_set(e, "the task was killed while the script ran (%s)", r.pid ? "process group ended" : "not started");
        res = TASK_KILLED;
        goto out;
    }
    if (r.timed_out) {
        char d[64];
        proc_describe(&r, d, sizeof d);
        /* logged too: the engine's error names the timeout only, and how
         * the script ended says whether the SIGTERM sufficed */
        task_log(c, LEVEL_WARN, "Command %s", d);
        kerr_set(e, "Command %s", d);
        goto out;
    }
    json_t *ec = json_integer(r.exited ? r.exit_code : 128 + r.term_signal);
    task_output(c, "exitCode", ec);
    task_output(c, "vars", json_deep_copy(s.out.vars));
    if (s.legacy) {
        task_output(c, "stdOutLineCount", json_integer((json_int_t)s.out.stdout_lines));
        task_output(c, "stdErrLineCount", json_integer((json_int_t)s.out.stderr_lines));
        if (legacy_store(&s, e))
            goto out;
    } else if (tasks__script_store_outputs(c, s.workdir, s.outdir, outpats, e)) {
        goto out;
    }
    if (!r.exited) {
        char d[64];
        proc_describe(&r, d, sizeof d);
        kerr_set(e, "Command failed: %s", d);
        goto out;
    }
    if (r.exit_code != 0) {
        const char *bin = lang_binary(s.lg);
        if (r.exit_code == 127 && s.lg != LANG_SHELL && !on_path(proc_env_get(env, "PATH"), bin))
            kerr_set(e, "Command failed with code 127 (%s was not found on PATH=%s%s)", bin,
                     proc_env_get(env, "PATH"),
                     s.lg == LANG_NODE ? ": install Node.js, e.g. the Debian package nodejs" : "");
        else
            kerr_set(e, "Command failed with code %d", r.exit_code);
        goto out;
    }
    res = warn_stderr && s.out.stderr_lines > 0 ? TASK_WARNING : TASK_SUCCESS;
out:
    c->task = saved_task;
    json_decref(task_copy);
    proc_env_free(env);
    proc_strv_free(argv);
    proc_strv_free(outpats);
    free(image);
    json_decref(dopts);
    json_decref(dunreach);
    sandbox_free(sb);
    srun_free(&s);
    return res;
}

/* One hooks per type: the language and the form come with the hooks, never
 * from the type's name. */
#define SCRIPT_HOOKS(name, lg, commands, legacy)                                   \
    static task_result name##_run(task_ctx *c, kerr *e)                            \
    {                                                                              \
        return script_run(c, lg, commands, legacy, e);                             \
    }                                                                              \
    static const struct task_hooks name##_hooks = {.run = name##_run}

SCRIPT_HOOKS(shell, LANG_SHELL, 1, 0);
SCRIPT_HOOKS(shell_script, LANG_SHELL, 0, 0);
SCRIPT_HOOKS(python, LANG_PYTHON, 1, 0);
SCRIPT_HOOKS(python_script, LANG_PYTHON, 0, 0);
SCRIPT_HOOKS(node, LANG_NODE, 1, 0);
SCRIPT_HOOKS(node_script, LANG_NODE, 0, 0);
SCRIPT_HOOKS(r, LANG_R, 1, 0);
SCRIPT_HOOKS(r_script, LANG_R, 0, 0);
SCRIPT_HOOKS(julia, LANG_JULIA, 1, 0);
SCRIPT_HOOKS(julia_script, LANG_JULIA, 0, 0);
SCRIPT_HOOKS(ruby, LANG_RUBY, 1, 0);
SCRIPT_HOOKS(ruby_script, LANG_RUBY, 0, 0);
SCRIPT_HOOKS(powershell, LANG_PWSH, 1, 0);
SCRIPT_HOOKS(powershell_script, LANG_PWSH, 0, 0);
SCRIPT_HOOKS(go, LANG_GO, 1, 0);
SCRIPT_HOOKS(go_script, LANG_GO, 0, 0);
SCRIPT_HOOKS(lua, LANG_LUA, 1, 0);
SCRIPT_HOOKS(lua_script, LANG_LUA, 0, 0);
SCRIPT_HOOKS(perl, LANG_PERL, 1, 0);
SCRIPT_HOOKS(perl_script, LANG_PERL, 0, 0);
SCRIPT_HOOKS(php, LANG_PHP, 1, 0);
SCRIPT_HOOKS(php_script, LANG_PHP, 0, 0);
SCRIPT_HOOKS(bash_legacy, LANG_SHELL, 1, 1);
SCRIPT_HOOKS(python_legacy, LANG_PYTHON, 1, 1);
SCRIPT_HOOKS(node_legacy, LANG_NODE, 1, 1);
SCRIPT_HOOKS(aws_cli, LANG_AWS, 1, 0);

/* ---- the family's types ------------------------------------------------------
 *
 * Every language shares the properties of Kestra's AbstractExecScript
 * (beforeCommands, interpreter, env, inputFiles, outputFiles, namespaceFiles,
 * taskRunner, containerImage, ...); a language adds its default image and, for
 * Python, its dependencies. Commands takes `commands` (a list run one after
 * the other), Script takes `script` (one inline program). The old core
 * scripts (io.kestra.core.tasks.scripts.Bash/Python/Node, before 0.10) have
 * different properties and are declared apart, deprecated.
 */

static const prop_def docker_credentials[] = {
    PSTR("registry", 0, NULL, "the registry's host"),
    PSTR("username", 0, NULL, "user name"),
    PSTR("password", 0, NULL, "password"),
    PSTR("registryToken", 0, NULL, "registry token"),
    PSTR("identityToken", 0, NULL, "identity token"),
    PSTR("auth", 0, NULL, "base64 of user:password"),
    {0},
};

/* What DockerOptions (the deprecated `docker` property) and the Docker task
 * runner share. */
#define P_DOCKER_COMMON                                                                    \
    PSTR("host", 0, NULL, "Docker daemon URL (default: the local socket)"),                \
    PANY("config", 0, NULL, "Docker config.json content (map or JSON string)"),            \
    POBJ("credentials", 0, NULL, docker_credentials, "registry credentials"),              \
    PSTR("user", 0, NULL, "user inside the container"),                                    \
    PSTRL("entryPoint", 0, NULL, "the container's entry point"),                           \
    PSTRL("extraHosts", 0, NULL, "extra /etc/hosts entries"),                              \
    PSTR("networkMode", 0, NULL, "the container's network mode"),                          \
    PSTRL("volumes", 0, NULL, "host:container volume bindings"),                           \
    PENUM("pullPolicy", 0, "\"IF_NOT_PRESENT\"", ENUMS("IF_NOT_PRESENT", "ALWAYS", "NEVER"), \
          "when to pull the image"),                                                       \
    PLIST("deviceRequests", 0, NULL, &tasks__item_any, "device requests (GPUs)"),          \
    POBJ("cpu", 0, NULL, PROPS(PNUM("cpus", 0, NULL, "CPUs available")), "CPU limits"),    \
    PMAP("memory", 0, NULL, &tasks__item_any,                                              \
         "memory limits: memory, memorySwap, memorySwappiness, memoryReservation, "        \
         "kernelMemory, oomKillDisable"),                                                  \
    PSTR("shmSize", 0, NULL, "size of /dev/shm"),                                          \
    PBOOL("privileged", 0, "false", "run the container privileged"),                       \
    PSTRL("portBindings", 0, NULL, "port bindings")

static const prop_def docker_options[] = {
    PSTR("image", 0, NULL, "the image (default: containerImage)"),
    P_DOCKER_COMMON,
    {0},
};

#define P_SCRIPT_COMMON(image)                                                             \
    PSTRL("beforeCommands", 0, NULL, "commands run first, e.g. to install dependencies"),  \
    PLIST("interpreter", 0, "[\"/bin/sh\",\"-c\"]", &tasks__item_string,                   \
          "the interpreter the commands are handed to"),                                   \
    PMAP("env", 0, NULL, &tasks__item_string, "environment variables"),                    \
    PANY("inputFiles", 0, NULL,                                                            \
         "files to create in the working folder: map of name to content, or JSON string"), \
    PSTRL("outputFiles", 0, NULL, "glob patterns of files to keep as outputs"),            \
    POBJ("namespaceFiles", 0, NULL, tasks__namespace_files, "inject the namespace's files"), \
    PBOOL("warningOnStdErr", 0, "true", "end in WARNING when something is written to stderr"), \
    PBOOL("failFast", 0, "true", "stop at the first failing command (set -e)"),            \
    PPLUGIN("taskRunner", 0, TK_RUNNER, "where the script runs (default: runner.process)"), \
    PSTR("containerImage", 0, "\"" image "\"", "image used by container task runners"),   \
    PENUM("targetOS", 0, "\"AUTO\"", ENUMS("LINUX", "WINDOWS", "AUTO"),                    \
          "OS the commands are written for"),                                              \
    POBJ("docker", PF_DEPRECATED, NULL, docker_options,                                    \
         "Docker options (use taskRunner: runner.docker)"),                                \
    PENUM("runner", PF_DEPRECATED, NULL, ENUMS("PROCESS", "DOCKER"),                       \
          "where the script runs (use taskRunner)"),                                       \
    PBOOL("outputDirectory", PF_DEPRECATED, "false",                                       \
          "expose an output folder (use outputFiles)")

#define P_COMMANDS PSTRL("commands", PF_REQUIRED | PF_NONEMPTY, NULL, "the commands, run in order")
#define P_SCRIPT PSTR("script", PF_REQUIRED, NULL, "the inline script")

#define P_PYTHON                                                                           \
    PSTRL("dependencies", 0, NULL, "pip packages installed before running"),               \
    PBOOL("dependencyCacheEnabled", 0, "true", "cache the installed dependencies"),        \
    PSTR("pythonVersion", 0, NULL, "Python version to install the dependencies for"),    \
    PENUM("packageManager", 0, "\"UV\"", ENUMS("UV", "PIP"), "installs the dependencies")

/* The two types of a language: script.<lang> (Commands) and
 * script.<lang>_script (Script), run by hooks hc and hs; fl: TF_DECLARED_ONLY
 * when kite cannot run the language yet (hc and hs NULL). */
#define LANG(lang, pkg, label, image, hc, hs, fl, ...)                                     \
    {                                                                                      \
        .name = "script." lang,                                                            \
        .hooks = (hc),                                                                     \
        .flags = (fl),                                                                     \
        .aliases = ALIASES("io.kestra.plugin.scripts." pkg ".Commands"),                   \
        .desc = "Run " label " commands in a process or a container.",                     \
        .props = PROPS(P_COMMANDS, P_SCRIPT_COMMON(image), ##__VA_ARGS__),                 \
    },                                                                                     \
    {                                                                                      \
        .name = "script." lang "_script",                                                  \
        .hooks = (hs),                                                                     \
        .flags = (fl),                                                                     \
        .aliases = ALIASES("io.kestra.plugin.scripts." pkg ".Script"),                     \
        .desc = "Run an inline " label " script in a process or a container.",             \
        .props = PROPS(P_SCRIPT, P_SCRIPT_COMMON(image), ##__VA_ARGS__),                   \
    }

/* The pre-0.10 core scripts. */
#define P_LEGACY_SCRIPT(interp)                                                            \
    PSTR("interpreter", 0, "\"" interp "\"", "the interpreter"),                           \
    PSTRL("interpreterArgs", 0, "[\"-c\"]", "the interpreter's arguments"),                \
    PBOOL("exitOnFailed", 0, "true", "stop at the first failing command"),                 \
    PSTRL("files", PF_DEPRECATED, NULL, "output files (use outputFiles)"),                 \
    PANY("inputFiles", 0, NULL, "files to create: map of name to content"),                \
    PSTRL("outputFiles", 0, NULL, "output file names"),                                    \
    PSTRL("outputsFiles", PF_DEPRECATED, NULL, "use outputFiles"),                         \
    PSTRL("outputDirs", 0, NULL, "output folder names"),                                   \
    PMAP("env", 0, NULL, &tasks__item_string, "environment variables"),                    \
    PBOOL("warningOnStdErr", 0, "true", "WARNING when something is written to stderr"),    \
    PENUM("runner", 0, "\"PROCESS\"", ENUMS("PROCESS", "DOCKER"), "where it runs"),        \
    POBJ("dockerOptions", 0, NULL, docker_options, "Docker options")

const type_def tasks__scripts[] = {
    LANG("shell", "shell", "shell", "ubuntu", &shell_hooks, &shell_script_hooks, 0),
    LANG("python", "python", "Python", "ghcr.io/kestra-io/kestrapy:latest", &python_hooks,
         &python_script_hooks, 0, P_PYTHON),
    LANG("node", "node", "Node.js", "node", &node_hooks, &node_script_hooks, 0),
    LANG("powershell", "powershell", "PowerShell", "mcr.microsoft.com/powershell", &powershell_hooks,
         &powershell_script_hooks, 0),
    LANG("r", "r", "R", "r-base", &r_hooks, &r_script_hooks, 0),
    LANG("julia", "julia", "Julia", "julia", &julia_hooks, &julia_script_hooks, 0),
    LANG("ruby", "ruby", "Ruby", "ruby", &ruby_hooks, &ruby_script_hooks, 0),
    LANG("go", "go", "Go", "golang", &go_hooks, &go_script_hooks, 0),
    LANG("lua", "lua", "Lua", "nickblah/lua", &lua_hooks, &lua_script_hooks, 0),
    LANG("perl", "perl", "Perl", "perl", &perl_hooks, &perl_script_hooks, 0),
    LANG("php", "php", "PHP", "php", &php_hooks, &php_script_hooks, 0),

    {
        .name = "script.bash_legacy",
        .hooks = &bash_legacy_hooks,
        .aliases = ALIASES("io.kestra.core.tasks.scripts.Bash"),
        .flags = TF_DEPRECATED,
        .desc = "Run shell commands (the pre-0.10 core task; use script.shell).",
        .props = PROPS(P_COMMANDS, P_LEGACY_SCRIPT("/bin/sh")),
    },
    {
        .name = "script.python_legacy",
        .hooks = &python_legacy_hooks,
        .aliases = ALIASES("io.kestra.core.tasks.scripts.Python"),
        .flags = TF_DEPRECATED,
        .desc = "Run Python (the pre-0.10 core task; use script.python).",
        .props = PROPS(PSTRL("commands", 0, "[\"./bin/python main.py\"]", "the commands"),
                       P_LEGACY_SCRIPT("/bin/sh"),
                       PSTR("pythonPath", 0, "\"python\"", "the Python interpreter"),
                       PSTRL("requirements", 0, NULL, "pip requirements"),
                       PBOOL("virtualEnv", 0, "true", "create a virtualenv with the requirements"),
                       PENUM("packageManager", 0, "\"PIP\"", ENUMS("UV", "PIP"),
                             "installs the requirements"),
                       PSTRL("args", 0, NULL, "arguments of main.py")),
    },
    {
        .name = "script.node_legacy",
        .hooks = &node_legacy_hooks,
        .aliases = ALIASES("io.kestra.core.tasks.scripts.Node"),
        .flags = TF_DEPRECATED,
        .desc = "Run Node.js (the pre-0.10 core task; use script.node).",
        .props = PROPS(PSTRL("commands", 0, "[\"node main.js\"]", "the commands"),
                       P_LEGACY_SCRIPT("/bin/sh"),
                       PSTR("nodePath", 0, "\"node\"", "the node binary"),
                       PSTR("npmPath", 0, "\"npm\"", "the npm binary"),
                       PSTRL("args", 0, NULL, "arguments of main.js")),
    },

    /* ---- CLI tasks: commands of one tool, as script.shell runs them ---- */
    {
        .name = "cli.aws_cli",
        .hooks = &aws_cli_hooks,
        .aliases = ALIASES("io.kestra.plugin.aws.cli.AwsCLI"),
        .desc = "Run aws CLI commands (the aws binary on PATH, or the image amazon/aws-cli on runner.docker) "
                "with the task's credentials in the aws CLI's environment variables.",
        .props = PROPS(P_COMMANDS, P_SCRIPT_COMMON("amazon/aws-cli"),
                       PSTR("accessKeyId", 0, NULL, "AWS_ACCESS_KEY_ID"),
                       PSTR("secretKeyId", 0, NULL, "AWS_SECRET_ACCESS_KEY (never logged)"),
                       PSTR("sessionToken", 0, NULL, "AWS_SESSION_TOKEN"),
                       PSTR("region", 0, NULL, "AWS_DEFAULT_REGION"),
                       PSTR("endpointOverride", 0, NULL, "AWS_ENDPOINT_URL: an S3-compatible or local endpoint"),
                       PENUM("outputFormat", 0, "\"JSON\"", ENUMS("JSON", "TEXT", "TABLE", "YAML"),
                             "AWS_DEFAULT_OUTPUT, the commands' output format"),
                       PSTR("stsRoleArn", PF_NOTRUN, NULL, "a role to assume through STS (not run by kite yet)"),
                       PSTR("stsRoleSessionName", PF_NOTRUN, NULL, "STS session name (not run by kite yet)"),
                       PSTR("stsRoleExternalId", PF_NOTRUN, NULL, "STS external id (not run by kite yet)"),
                       PDUR("stsRoleSessionDuration", PF_NOTRUN, NULL, "STS session duration (not run by kite yet)"),
                       PSTR("stsEndpointOverride", PF_NOTRUN, NULL, "STS endpoint (not run by kite yet)")),
    },

    /* ---- task runners ---- */
    {
        .name = "runner.process",
        .aliases = ALIASES("io.kestra.plugin.core.runner.Process",
                           "io.kestra.core.models.tasks.runners.types.ProcessTaskRunner"),
        .kind = TK_RUNNER,
        .desc = "Run the script as a local child process (the default).",
        .props = NO_PROPS,
    },
    {
        .name = "runner.sandbox",
        /* kite's own: Kestra has no runner of this name */
        .aliases = ALIASES("io.kestra.plugin.core.runner.Sandbox"),
        .kind = TK_RUNNER,
        .desc = "Run the script isolated on this host at the cost of a process: its own namespaces, the "
                "host's root read-only, no network unless allowed, seccomp, cgroup limits (docs/scripts.md).",
        .props = PROPS(PENUM("networkMode", 0, "\"none\"", ENUMS("none", "host"),
                             "none: only its own loopback; host: the host's network"),
                       PMAP("memory", 0, NULL, &tasks__item_any, "memory limits: memory (e.g. 256Mi, 1g)"),
                       POBJ("cpu", 0, NULL, PROPS(PNUM("cpus", 0, NULL, "CPUs available")), "CPU limits"),
                       PINT("pidsLimit", 0, "0", "most processes at once, through a cgroup (0: only the 8192 all sandboxed tasks share)"),
                       PSTRL("volumes", 0, NULL,
                             "host:target[:ro] bindings; hosts within kite.yml sandbox.allowedVolumes")),
    },
    {
        .name = "runner.docker",
        .aliases = ALIASES("io.kestra.plugin.scripts.runner.docker.Docker",
                           "io.kestra.plugin.scripts.runner.docker.DockerTaskRunner"),
        .kind = TK_RUNNER,
        .desc = "Run the script in a Docker container of the task's containerImage.",
        .props = PROPS(P_DOCKER_COMMON,
                       PENUM("fileHandlingStrategy", 0, "\"VOLUME\"", ENUMS("VOLUME", "MOUNT"),
                             "how files reach the container"),
                       PBOOL("delete", 0, "true", "delete the container when done"),
                       PBOOL("resume", 0, "true", "re-attach to a running container on restart"),
                       PBOOL("wait", 0, "true", "wait for the container to end"),
                       PDUR("killGracePeriod", 0, "\"PT0S\"",
                            "on kill, time the container gets to stop"),
                       PSTR("image", PF_DEPRECATED, NULL, "the image (use containerImage)")),
    },
};

const size_t tasks__scripts_count = sizeof tasks__scripts / sizeof tasks__scripts[0];
