/*
 * tasks_int.h: what the task family files share and nobody else needs.
 *
 * A family is one file holding its types' table (type_def, flow/schema.h)
 * and, for the runnable ones, the code that runs them, each entry pointing
 * at its hooks (`.hooks = &kv_set_hooks`): core.c, kv.c, state.c,
 * storage.c, namespace.c, http.c, scripts.c, notify.c; the flowables' schemas are in
 * core_flow.c (their behaviour is the engine's, engine/flowables.c),
 * triggers.c and conditions.c hold schemas the scheduler acts on. tasks.c
 * lists the tables in families[] and hands them to the flow registry
 * (docs/internals/new-task-type.md).
 *
 * The P* macros below keep the property tables short: each expands to one
 * designated initializer of prop_def (flow/schema.h), and nested items,
 * objects and enum lists are compound literals, which have static storage at
 * file scope.
 *
 * Naming scheme of canonical names (docs/plugins.md says it to users):
 *   - tasks: "<family>.<class in snake_case>", the family being the last
 *     segment of Kestra's package ("storage.split", "kv.get_keys"); "log" for
 *     log.Log; "flow.foreach" (ForEach as one word); "output.values";
 *   - triggers "trigger.<name>", conditions "condition.<name>" without the
 *     "Condition" suffix, task runners "runner.<name>";
 *   - scripts "script.<language>" for <language>.Commands and
 *     "script.<language>_script" for <language>.Script.
 */
#ifndef KITE_TASKS_INT_H
#define KITE_TASKS_INT_H

#include "flow/schema.h"
#include "tasks/tasks.h"
#include "util/buf.h"
#include "util/proc.h"
#include "util/sandbox.h"

#include <stddef.h>
#include <stdio.h>

/* ---- the family tables ----------------------------------------------------- */

#define TASKS__FAMILY(f)          \
    extern const type_def f[];    \
    extern const size_t f##_count

TASKS__FAMILY(tasks__core_flow);   /* core_flow.c: flowables (run by the engine) */
TASKS__FAMILY(tasks__core);        /* core.c: log, debug, output, execution, ... */
TASKS__FAMILY(tasks__kv);          /* kv.c */
TASKS__FAMILY(tasks__state);       /* state.c */
TASKS__FAMILY(tasks__storage);     /* storage.c */
TASKS__FAMILY(tasks__namespace);   /* namespace.c: namespace files */
TASKS__FAMILY(tasks__http);        /* http.c */
TASKS__FAMILY(tasks__sql);         /* sql/sql.c: PostgreSQL, MySQL/MariaDB, SQLite, DuckDB */
TASKS__FAMILY(tasks__scripts);     /* scripts.c: script tasks and task runners */
TASKS__FAMILY(tasks__ssh);         /* ssh.c: SSH commands (ssh_int.h) */
TASKS__FAMILY(tasks__sftp);        /* sftp.c: SFTP files (ssh_int.h) */
TASKS__FAMILY(tasks__notify);      /* notify.c, notify_mail.c: alerts */
TASKS__FAMILY(tasks__git);         /* git.c: Git clone and flow sync */
TASKS__FAMILY(tasks__mongodb);     /* mongodb.c: MongoDB over libmongoc */
TASKS__FAMILY(tasks__s3);          /* s3.c: io.kestra.plugin.aws.s3.* */
TASKS__FAMILY(tasks__serdes);      /* serdes.c: CSV, JSON <-> Ion row files */
TASKS__FAMILY(tasks__avro);        /* serdes_avro.c: Ion <-> Avro row files (libavro) */
TASKS__FAMILY(tasks__parquet);     /* serdes_parquet.c: Ion <-> Parquet (DuckDB) */
TASKS__FAMILY(tasks__compress);    /* compress.c: ArchiveDecompress (libarchive) */
TASKS__FAMILY(tasks__triggers);    /* triggers.c (run by the scheduler) */
TASKS__FAMILY(tasks__conditions);  /* conditions.c (evaluated by the scheduler) */
TASKS__FAMILY(tasks__fivetran);    /* fivetran.c: Fivetran connector syncs */

/* ---- shared value lists (tasks.c) ----------------------------------------- */

/* Execution and task-run states (CREATED, RUNNING, ..., SUCCESS, ...). */
extern const char *const tasks__states[];
/* Log levels: TRACE, DEBUG, INFO, WARN, ERROR. */
extern const char *const tasks__log_levels[];
/* Items for lists and maps. */
extern const prop_def tasks__item_string;
extern const prop_def tasks__item_any;
extern const prop_def tasks__item_state;
extern const prop_def tasks__item_tasks;
/* `namespaceFiles` of scripts and WorkingDirectory. */
extern const prop_def tasks__namespace_files[];
/* The time window of multiple conditions and Flow trigger preconditions. */
extern const prop_def tasks__time_window[];
/* timeWindow, and its older names sla and timeSLA. */
#define P_TIME_WINDOW                                                                   \
    POBJ("timeWindow", 0, NULL, tasks__time_window,                                     \
         "the time window the conditions must be met in"),                              \
    {.name = "timeSLA", .type = PT_OBJECT, .flags = PF_DEPRECATED,                      \
     .props = tasks__time_window, .alias_of = "timeWindow", .desc = "old name of timeWindow"}, \
    {.name = "sla", .type = PT_OBJECT, .flags = PF_DEPRECATED,                          \
     .props = tasks__time_window, .alias_of = "timeWindow", .desc = "old name of timeWindow"}

/* The purge tasks of 1.x (PurgeKV, PurgeFiles, PurgeFlows) share their scope. */
#define P_PURGE_SCOPE(what)                                                              \
    PSTRL("namespaces", 0, NULL, "namespaces to purge " what " from (default: all)"),    \
    PSTR("namespacePattern", 0, NULL, "glob of the namespaces (instead of namespaces)"), \
    PBOOL("includeChildNamespaces", 0, "true", "include their child namespaces"),        \
    PMAP("behavior", 0, NULL, &tasks__item_any,                                          \
         "what to purge: {type: key, expiredOnly} or {type: version, keepAmount, before}")

/* ---- property macros ------------------------------------------------------- */

#define PDEF(n, t, f, d, s) {.name = (n), .type = (t), .flags = (f), .dflt = (d), .desc = (s)}
#define PANY(n, f, d, s)  PDEF(n, PT_ANY, f, d, s)
#define PSTR(n, f, d, s)  PDEF(n, PT_STRING, f, d, s)
#define PINT(n, f, d, s)  PDEF(n, PT_INT, f, d, s)
#define PNUM(n, f, d, s)  PDEF(n, PT_NUMBER, f, d, s)
#define PBOOL(n, f, d, s) PDEF(n, PT_BOOL, f, d, s)
#define PDUR(n, f, d, s)  PDEF(n, PT_DURATION, f, d, s)
#define PDT(n, f, d, s)   PDEF(n, PT_DATETIME, f, d, s)
#define PSTRL(n, f, d, s) PDEF(n, PT_STRING_LIST, f, d, s)
#define PTASK(n, f, s)    PDEF(n, PT_TASK, f, NULL, s)
#define PTASKS(n, f, s)   PDEF(n, PT_TASKS, f, NULL, s)
#define PCONDS(n, f, s)   PDEF(n, PT_CONDITIONS, f, NULL, s)
/* ENUMS("A", "B") is a NULL-terminated list for PENUM. */
#define ENUMS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define PENUM(n, f, d, e, s) \
    {.name = (n), .type = PT_ENUM, .flags = (f), .dflt = (d), .desc = (s), .enums = (e)}
/* it: a pointer to the item prop_def (e.g. &tasks__item_string, or ITEM(...)) */
#define PLIST(n, f, d, it, s) \
    {.name = (n), .type = PT_LIST, .flags = (f), .dflt = (d), .desc = (s), .item = (it)}
#define PMAP(n, f, d, it, s) \
    {.name = (n), .type = PT_MAP, .flags = (f), .dflt = (d), .desc = (s), .item = (it)}
/* ps: a pointer to a {0}-terminated prop_def array (e.g. PROPS(...)) */
#define POBJ(n, f, d, ps, s) \
    {.name = (n), .type = PT_OBJECT, .flags = (f), .dflt = (d), .desc = (s), .props = (ps)}
#define PPLUGIN(n, f, k, s) \
    {.name = (n), .type = PT_PLUGIN, .flags = (f), .desc = (s), .plugin_kind = (k)}
/* An old spelling of property `of`. */
#define PALIAS(n, t, of) {.name = (n), .type = (t), .flags = PF_DEPRECATED, .alias_of = (of), \
                          .desc = "old name of `" of "`"}
/* An anonymous item or property list, as a compound literal. */
#define ITEM(...)  (&(const prop_def)__VA_ARGS__)
#define PROPS(...) ((const prop_def[]){__VA_ARGS__, {0}})
/* A type with no property of its own. */
#define NO_PROPS ((const prop_def[]){{0}})
#define ALIASES(...) ((const char *const[]){__VA_ARGS__, NULL})

/* errors and finally of a flowable task */
#define P_ERRORS_FINALLY                                                          \
    PTASKS("errors", 0, "tasks run when a child task fails"),                     \
    PTASKS("finally", 0, "tasks run after the children, whatever their state")

/* ---- helpers for check hooks (tasks.c) ------------------------------------ */

/* The `id` of a task object, or "?" when it has none; borrowed. */
const char *tasks__task_id(const json_t *task);

/* ---- helpers for running tasks (ctx.c) ------------------------------------- */

/* The rendered property name as text, printed the way a template prints a
 * value (strings as is, numbers as Java prints them, lists and maps as
 * compact JSON). Absent gives a copy of dflt (NULL when dflt is); a value
 * that renders to null gives "" (as a template prints null).
 * Returns 0, or -1 with e naming the property. */
/* The purge tasks' scope (P_PURGE_SCOPE, kv.c): the namespaces given
 * (namespaces, with their children when includeChildNamespaces, or those
 * matching namespacePattern) among those kite knows (its flows' and the
 * current one), every known one by default: *out a new array of strings.
 * And the `behavior` map: type ("key" or "version", dflt_type when absent),
 * expiredOnly (default 1), keepAmount (default 1), before (0: none). */
int tasks__purge_namespaces(task_ctx *c, int action, json_t **out /* OUT */, kerr *e);
typedef struct tasks__purge_behavior {
    char type[16];
    int expired_only;
    int64_t keep;
    int64_t before_us;
} tasks__purge_behavior;
int tasks__purge_behavior_read(task_ctx *c, const char *dflt_type, tasks__purge_behavior *b /* OUT */, kerr *e);

int tasks__prop_text(task_ctx *c, const char *name, const char *dflt, char **out /* OUT */,
                     kerr *e);
/* The text of a property that must be there and not empty (malloc'd), else
 * -1 with "property 'x' is required". */
int tasks__prop_required(task_ctx *c, const char *name, char **out /* OUT */, kerr *e);
/* 1 if s is true as Kestra's TruthUtils reads a rendered condition: anything
 * but NULL, "", "false", "0" and "-0". */
int tasks__truthy(const char *s);
/* Stores len bytes as file `name` of this task run; *uri (malloc'd) is its
 * kestra:/// URI. */
int tasks__put_bytes(task_ctx *c, const char *name, const void *data, size_t len,
                     char **uri /* OUT */, kerr *e);
/* Creates an empty temporary file under c->tmp_root (else $TMPDIR, else
 * /tmp), open for writing; *path (malloc'd) names it; the caller fcloses and
 * unlinks it. NULL with e set on failure. */
FILE *tasks__tmp_file(task_ctx *c, char **path /* OUT */, kerr *e);
/* Checks an extension given by property `prop` ("", ".csv", "csv"...): one
 * file name's worth of characters, no '/' nor NUL. */
int tasks__check_extension(const char *prop, const char *ext, kerr *e);

/* ---- what script runners share (script_io.c) --------------------------------
 *
 * A script task, wherever it runs (a local process today; SSH or a container
 * later), reads the same `::{...}::` markers from its output, gets the same
 * input and namespace files in its working folder and stores the same output
 * files. The runner owns the folders; these functions fill and read them. */

/* Longest piece of a line a runner hands over (proc_spec.max_line): longer
 * lines come in pieces, which the reader joins for markers. */
#define TASKS__SCRIPT_LINE_MAX (64u << 10)

/* The reader of a script's output, one per run (no lock: one thread). */
typedef struct tasks__script_out {
    task_ctx *c;
    json_t *vars;               /* outputs of the markers, merged (owned) */
    uint64_t stdout_lines, stderr_lines;
    /* the reader's own */
    uint64_t logged_bytes, logged_lines;
    int log_capped;
    buf marker[3];              /* per stream: a marker line arriving in pieces */
    int in_split[3];            /* per stream: inside a split line */
    int split_marker[3];        /* the split line is a marker */
    int marker_too_long[3];
} tasks__script_out;

void tasks__script_out_init(tasks__script_out *o, task_ctx *c);
void tasks__script_out_free(tasks__script_out *o);
/* One line (or piece) of output, in proc_spec.on_line's form; ud is the
 * tasks__script_out. A marker's outputs go to vars, its metrics and logs to
 * the task; any other line is logged (stdout INFO, stderr WARN), within the
 * run's cap. */
void tasks__script_out_line(void *ud, proc_stream st, const char *line, size_t len, int flags);
/* Logs one line through the reader's cap (invalid UTF-8 replaced). */
void tasks__script_log(tasks__script_out *o, store_level lv, const char *line, size_t len);

/* Checks a relative path given by the flow (an input file's name, an output
 * pattern): not empty, not absolute, no "." or ".." segment, no empty one.
 * what names it in the message. */
int tasks__check_rel(const char *what, const char *p, kerr *e);
/* write(2) until done; -1 with errno on failure. */
int tasks__write_all(int fd, const void *data, size_t n);
/* Writes task c's namespaceFiles, then its inputFiles, into folder dir. */
int tasks__script_put_inputs(task_ctx *c, const char *dir, kerr *e);
/* Stores the files of workdir matching patterns (outputFiles; NULL: none)
 * and every file under outdir (NULL: none) as the task run's files; sets the
 * output outputFiles (name -> URI) when any. */
int tasks__script_store_outputs(task_ctx *c, const char *workdir, const char *outdir, char **patterns,
                                kerr *e);
/* Stores every regular file under dir as "<prefix>/<path>", adding name ->
 * URI to files. */
int tasks__script_store_dir(task_ctx *c, const char *dir, const char *prefix, json_t *files, kerr *e);

/* ---- the Docker runner (script_docker.c) -------------------------------------- */

/* A size property ("512Mb", "256Mi", 1073741824): bytes, -1 when malformed. */
int64_t tasks__parse_bytes(const json_t *v);

/* The property holding the Docker runner's options when task c asks for it:
 * "taskRunner" (type runner.docker), or with the deprecated `runner: DOCKER`
 * "docker" or "dockerOptions"; NULL when the task does not ask for Docker. */
const char *tasks__docker_wanted(const task_ctx *c);

/* What scripts.c hands the Docker runner. */
typedef struct tasks__docker_job {
    const json_t *opts;         /* the runner's rendered options (borrowed) */
    const char *image;          /* containerImage (rendered, or the language's default) */
    int image_set;              /* the task set containerImage itself */
    char *const *argv;          /* the command: the container's Cmd */
    const char *workdir;        /* the working folder, copied in and out at its host path */
    const char *outdir;         /* the output folder, the same */
    const char *pydir;          /* kite's kestra.py folder for Python, else NULL */
    const char *rdir;           /* the run's private folder (archives go there) */
    tasks__script_out *out;     /* the output reader the lines go to */
    int copy_workdir;           /* copy the working folder back out (outputFiles, a shared folder) */
} tasks__docker_job;

/* Runs job in a container of the Docker Engine at opts.host ($DOCKER_HOST,
 * the default socket) and fills *r as proc_run would (exited, exit_code,
 * timed_out, cancelled, duration_us). 0 when the container ran whatever its
 * exit code; -1 with e set otherwise (pull, create, copy failures, and a
 * container ended by its memory limit: "killed: memory limit 512 MiB
 * reached"). The container is removed unless opts.delete is false. */
int tasks__docker_run(task_ctx *c, const tasks__docker_job *job, proc_result *r /* OUT */, kerr *e);

/* serdes.c's CSV reader, exposed for tests/fuzz/fuzz_csv.c: one record of
 * f per call (fields in r->f[0..n-1], each owned by r until the next call);
 * 1 read, 0 end of file, -1 error with e naming the line. *line is the line
 * the record started on, updated past it; *start its byte offset. */
typedef struct csv_rec {
    char **f;
    size_t n, cap;
    buf cur;
} csv_rec;
int tasks__csv_next(FILE *f, int sep, int quote, int latin1, csv_rec *r, long *line, long *start,
                    kerr *e);
/* A stream giving raw's bytes, in charset (iconv's names), as UTF-8; closing
 * it closes raw. NULL with e set ("property 'charset': unknown charset ...")
 * when iconv does not know the charset. After a read failed on bytes the
 * charset does not define, tasks__decode_error gives "line N: the bytes ...
 * at byte B are not valid <charset>" (d lives until the stream is closed). */
typedef struct tasks_dec tasks_dec;
FILE *tasks__decode_open(FILE *raw, const char *charset, tasks_dec **d /* OUT */, kerr *e);
const char *tasks__decode_error(const tasks_dec *d);

/* A polling trigger whose poll is its query task's run (MongoDB's Trigger
 * is Find's): runs it on c and fires with its outputs when their `size` is
 * above 0. The task_hooks.poll contract (tasks.h). */
int tasks__poll_run(task_ctx *c, task_result (*run)(task_ctx *c, kerr *e), task_fire_fn fire, kerr *e);

/* A copy of v (new reference) where each plain `{{ name }}` or `{{ a.b }}` /
 * `{{ a['b'] }}` whose key is in vars (an object of "workingDir",
 * "outputFiles.first"... to text) is replaced by its text: the variables
 * Kestra adds for scripts and DuckDB that the engine's renderer does not
 * know. *changed is set to 1 when anything was replaced (scripts.c). */
json_t *tasks__subst_tree(const json_t *v, const json_t *vars, int *changed);

/* Writes one file named name (relative, checked) into folder dir: content,
 * or the storage file it names when it is a kestra:/// URI (script_io.c). */
int tasks__put_file(task_ctx *c, const char *dir, const char *name, const char *content, kerr *e);

/* The web address of a pushed commit, as Kestra's push tasks give it
 * (commitURL; git.c): malloc'd. */
char *tasks__git_commit_url(const char *url, const char *branch, const char *id);

/* ---- DuckDB for the families other than SQL (sql/duckdb.c) ----
 * The Parquet converters run on DuckDB's own Parquet reader and writer
 * through the same dlopen of libduckdb as the SQL driver. */
typedef struct tasks_duckdb tasks_duckdb;
/* NULL when libduckdb loads, else why it cannot (static text). */
const char *tasks__duckdb_unavailable(void);
/* An in-memory database, or NULL with e set (KERR_UNAVAILABLE without
 * libduckdb). */
tasks_duckdb *tasks__duckdb_open(kerr *e);
void tasks__duckdb_close(tasks_duckdb *d);
/* Called for each row of a result: vals[k] NULL for SQL NULL, else text
 * (borrowed for the call). Non-zero stops (e set). */
typedef int (*tasks_duckdb_row_fn)(void *ud, size_t ncol, const char *const *names, char *const *vals, kerr *e);
/* Runs one statement (the result is materialized: for DESCRIBE and COPY,
 * whose results are small); fn may be NULL. 0, or -1 with DuckDB's message
 * in e (KERR_INVALID). */
int tasks__duckdb_exec(tasks_duckdb *d, const char *sql, tasks_duckdb_row_fn fn, void *ud, kerr *e);

#endif

/* ---- the sandbox runner (script_sandbox.c) ------------------------------------ */

/* Does task c run in the sandbox (util/sandbox.h), and with what? It does
 * when its taskRunner is runner.sandbox, when it has no taskRunner and
 * kite.yml's defaults.taskRunner is runner.sandbox, or when it asks for
 * Docker (docker_prop, tasks__docker_wanted) and no engine answers: then the
 * Docker runner's options docker_opts are mapped (cpu, memory, networkMode,
 * volumes) and image is reported as not used. writable: the folders the task
 * may write (handed to the sandbox's user). Returns 1 with *out made, 0 when
 * the task runs on the process runner (a Docker task where no sandbox can be
 * made, after a warning), -1 with e set (bad options, a volume outside
 * sandbox.allowedVolumes, runner.sandbox where no sandbox can be made). */
int tasks__sandbox_plan(task_ctx *c, const char *docker_prop, const json_t *docker_opts, const char *image,
                        const char *const *writable, sandbox **out /* OUT */, kerr *e);
/* After proc_run: puts the task's own exit status in r (the sandbox's init
 * reports it), then "killed: memory limit 256 MiB reached" in e (returns -1)
 * when the memory limit ended it; frees sb. */
int tasks__sandbox_done(sandbox *sb, proc_result *r, kerr *e);
