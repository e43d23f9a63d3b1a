/*
 * expr.h: the template and expression language (Pebble as Kestra uses it).
 *
 * A template is text with `{{ expression }}` prints, `{% tag %}` statements
 * and `{# comments #}`. It is compiled once into a tree whose attribute paths,
 * literals, filters and tests are resolved at compile time, then rendered any
 * number of times, from any number of threads at once, against different
 * contexts: a compiled template is immutable.
 *
 * Values are jansson json_t. Ownership: every function here borrows the
 * json_t it is given (the context, host-function arguments) and returns new
 * references (expr_eval's result, a host function's result) that the caller
 * releases with json_decref.
 *
 * Errors go to a kerr with the position inside the template (kerr line/col,
 * 1-based) and a message in a flow author's words, e.g.
 * "undefined variable 'inputs.nam'" or
 * "unknown filter 'uper' (did you mean 'upper'?)". A caller that knows where
 * the template sits in a YAML file adds that position itself.
 */
#ifndef KITE_EXPR_H
#define KITE_EXPR_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* ---- host functions ------------------------------------------------------ */

/* A function the host (the engine) provides: secret, kv, read, fileSize,
 * fileExists, errorLogs, currentEachOutput, or any other name. args is an
 * array of the positional arguments and kwargs an object of the named ones
 * (both borrowed, never NULL, valid only during the call: json_deep_copy
 * what you keep, since literals belong to the template). Returns a new
 * reference, or NULL with a message in e (the renderer adds the call's
 * position). Called from the rendering thread; must be thread-safe if
 * templates are rendered from many threads.
 *
 * Example: {"secret", engine_secret, run} makes `{{ secret('DB_PASS') }}`
 * call engine_secret(run, ["DB_PASS"], {}, e). */
typedef json_t *(*expr_host_fn)(void *userdata, const json_t *args, const json_t *kwargs,
                                kerr *e);

typedef struct expr_func {
    const char *name;
    expr_host_fn fn;
    void *userdata;
} expr_func;

/* ---- limits ---------------------------------------------------------------- */

/* What one render may spend, besides the caps of expr_env. Every field may be
 * 0/NULL for its default. A render that reaches a limit fails with an error
 * naming it:
 *   "expression stopped: task timeout PT2S reached"   deadline_us passed
 *   "expression stopped: killed"                      *cancel became non-zero
 *   "expression stopped: render time limit of 10s reached"
 *   "render budget of 16 MiB exceeded"                 max_bytes
 * The deadline and the cancel flag are checked at every loop iteration and
 * filter or function call, and a jq program is halted by a watchdog thread
 * (watch.c), so a render stops within about 10 ms of either. */
typedef struct expr_limits {
    int64_t deadline_us;        /* time_mono_us() at which the render stops; 0: none */
    const char *deadline_what;  /* names the deadline in the message ("task timeout PT2S");
                                   NULL: "deadline" */
    const atomic_int *cancel;   /* non-zero: stop now (a kill, a shutdown); NULL: none */
    size_t max_bytes;           /* budget of bytes one render may hold at once: the text it
                                   writes plus every string, list and map it builds; 0: 16 MiB
                                   (or max_output when larger) */
    int64_t max_time_us;        /* wall time of one render; 0: 10 s; < 0: no limit */
    /* Called with resume 0 before a computation that reads no value of the
     * context (a jq program runs on its own copy of its input) and with
     * resume 1 after it: the engine drops the execution's lock meanwhile, so
     * a kill is seen while jq runs. NULL: not called. */
    void (*yield)(void *ud, int resume);
    void *yield_ud;
} expr_limits;

/* The limits renders on this thread use when their expr_env sets none (a
 * task run sets its timeout and cancel flag here around rendering its
 * properties, see engine/worker.c op_render). l is borrowed until it is replaced; NULL
 * restores the defaults. Returns the previous one, to restore afterwards. */
const expr_limits *expr_set_thread_limits(const expr_limits *l);
/* The limits set on this thread, or NULL. */
const expr_limits *expr_thread_limits(void);

/* What a render may use besides the context; may be NULL. Host functions are
 * looked up before the built-in ones, so a host may override `now`. */
typedef struct expr_env {
    const expr_func *funcs;
    size_t nfuncs;
    size_t max_output;          /* cap on the rendered text in bytes; 0: 16 MiB */
    long max_iterations;        /* cap on loop iterations in one render; 0: 10 million */
    const expr_limits *limits;  /* NULL: the thread's (expr_set_thread_limits), else defaults */
} expr_env;

/* ---- compile and render -------------------------------------------------- */

typedef struct expr_tmpl expr_tmpl;

/* Compiles src (NUL-terminated, copied). Returns the template, or NULL with
 * the message and the line/col of the syntax error in e. */
expr_tmpl *expr_compile(const char *src, kerr *e);
void expr_tmpl_free(expr_tmpl *t);
/* The source the template was compiled from (borrowed). */
const char *expr_tmpl_source(const expr_tmpl *t);

/* Renders t against ctx (a JSON object of variables, borrowed; NULL means
 * empty) into a fresh NUL-terminated string in *out (the caller frees).
 * Returns 0, or -1 with the message and position in e (*out untouched). */
int expr_render(const expr_tmpl *t, const json_t *ctx, const expr_env *env, char **out /* OUT */,
                kerr *e);

/* Renders to a typed value: when the whole template is one `{{ expression }}`
 * the expression's value itself (a list stays a list, a number a number, null
 * stays null), otherwise the rendered text as a JSON string. *out is a new
 * reference. Returns 0 or -1 with e set. */
int expr_eval(const expr_tmpl *t, const json_t *ctx, const expr_env *env, json_t **out /* OUT */,
              kerr *e);

/* Compile + render in one call (no caching). */
int expr_render_string(const char *src, const json_t *ctx, const expr_env *env,
                       char **out /* OUT */, kerr *e);
/* Compile + eval in one call. */
int expr_eval_string(const char *src, const json_t *ctx, const expr_env *env,
                     json_t **out /* OUT */, kerr *e);

/* Renders every string inside a JSON value (map keys too), as Kestra renders
 * a task's properties; strings that are not templates are copied as they
 * are. With typed, a string that is exactly one `{{ expression }}` becomes
 * the expression's value (see expr_eval); otherwise every result is text.
 * *out is a new value. On error returns -1 with e set (line/col inside the
 * failing string) and, when err_path is not NULL, *err_path set to the JSON
 * pointer of that string ("/tasks/0/message"; the caller frees) so the
 * caller can name its position in the YAML file. */
int expr_render_json(const json_t *in, const json_t *ctx, const expr_env *env, int typed,
                     json_t **out /* OUT */, char **err_path /* OUT, may be NULL */, kerr *e);

/* True when s contains `{{` or `{%` (so it needs rendering at all). */
int expr_is_template(const char *s);

/* Frees what this thread cached while rendering (compiled jq programs).
 * Threads that exit through pthread_exit or by returning free it by
 * themselves; call this in a thread that lives on (main, before exit) to keep
 * leak checkers quiet. Rendering again afterwards is fine. */
void expr_thread_cleanup(void);

/* ---- host function names (expr/host.c) ------------------------------------ */

/* The host functions kite's engine gives a render (secret, kv, read...), by
 * name and arity, for whoever checks templates without an engine at hand
 * (the flow validator). The engine's table (engine/host.c) holds their
 * code; a unit test keeps both lists equal. */
typedef struct expr_host_name {
    const char *name;
    int min_args, max_args;     /* positional or by keyword */
} expr_host_name;

extern const expr_host_name expr_host_function_names[];
extern const size_t expr_host_function_count;

/* The entry named name, or NULL. */
const expr_host_name *expr_host_function(const char *name);

/* ---- helpers the engine and the CLI share -------------------------------- */

/* Appends the text form of v as a render prints it to a malloc'd string:
 * strings as is, integers without ".0", floats as Java prints doubles,
 * booleans, null as "", lists and maps as compact JSON. Caller frees. */
char *expr_value_to_text(const json_t *v);

/* ---- static checks (expr/check.c) ----------------------------------------- */

/* A reference to a variable of the context, found without rendering. */
typedef struct expr_ref {
    const char *root;           /* the variable: "inputs", "outputs", "vars"... */
    const char *key;            /* the constant key after it ("name" in
                                   inputs.name or inputs['name']), or NULL */
    int line, col;              /* inside the template */
    int guarded;                /* it may be undefined on purpose: under `??`,
                                   `???`, `| default`, `is defined`, or tested
                                   with `is defined` elsewhere in the template */
} expr_ref;

typedef void (*expr_ref_fn)(void *ud, const expr_ref *r);

/* Checks a compiled template without rendering it, so that a flow's
 * validation finds what would fail at run time. Calls on_ref (may be NULL)
 * for every reference to a variable of the context: names bound inside the
 * template (set, for, macro parameters) are not references. A call to a
 * function that is neither built in, a macro of the template, nor a host
 * function (expr_host_function), or a host function called with a wrong
 * number of arguments, is an error: returns -1 with the message and its
 * line/col inside the template in e (the first such call); else 0. Unknown
 * filters and tests, and syntax errors, are already expr_compile's. */
int expr_check(const expr_tmpl *t, expr_ref_fn on_ref, void *ud, kerr *e);

#endif
