/*
 * expr_int.h: what the files of the expr layer share (not part of its
 * interface; nobody outside src/expr/ includes it).
 *
 * parse.c turns source into a tree of statement nodes (snode) holding
 * expression nodes (xnode); eval.c walks that tree with a render state (xr);
 * filters.c, funcs.c and dates.c hold the built-in filter, test and function
 * tables; value.c prints values (text and JSON) and compares them.
 *
 * DESIGN: the tree is built once and never written again, so any number of
 * threads may render one template at once. Everything a render changes (the
 * variable frames, the output buffer, the error) lives in its own xr on the
 * rendering thread's stack. Literal json_t in the tree are handed out with
 * json_incref only (jansson's reference counts are atomic), never modified.
 */
#ifndef KITE_EXPR_INT_H
#define KITE_EXPR_INT_H

#include "expr/expr.h"
#include "util/buf.h"
#include "util/json_limits.h"

#include <stdint.h>

#define EXPR__MAX_DEPTH 64        /* nesting of render()/macro calls */
#define EXPR__MAX_PARSE_DEPTH 200 /* nesting of brackets/expressions in source */
#define EXPR__DEFAULT_MAX_OUT (16u << 20)
#define EXPR__MAX_ITERATIONS 10000000L /* loop iterations in one render */
#define EXPR__MAX_PARAMS 8
#define EXPR__DEFAULT_MAX_TIME_US (10LL * 1000000) /* wall time of one render */
#define EXPR__DEFAULT_BUDGET (16u << 20)           /* bytes one render may hold */
#define EXPR__VALUE_DEPTH JSON_MAX_DEPTH           /* nesting of values (128, as YAML) */

typedef struct xnode xnode;
typedef struct snode snode;
typedef struct xr xr;
typedef struct macro macro;

/* A built-in filter: in is the value filtered, av[i] the argument for
 * params[i] or NULL when absent (all borrowed). Returns a new reference or
 * NULL after expr__err. */
typedef json_t *(*filter_fn)(xr *r, const xnode *n, json_t *in, json_t **av);
typedef struct filter_def {
    const char *name;
    filter_fn fn;
    int nreq;                               /* required arguments */
    const char *params[EXPR__MAX_PARAMS];   /* NULL-terminated names */
    int lenient;                            /* input may be undefined (default) */
} filter_def;

/* A built-in test (`x is even`): returns 1, 0, or -1 after expr__err. */
typedef int (*test_fn)(xr *r, const xnode *n, json_t *v);
typedef struct test_def {
    const char *name;
    test_fn fn;
    int lenient;                            /* `defined`: subject may be undefined */
} test_def;

/* A built-in function: av as for filters (positional then named, mapped onto
 * params); variadic functions get every positional in av and nargs. */
typedef json_t *(*func_fn)(xr *r, const xnode *n, json_t **av, int nargs);
typedef struct func_def {
    const char *name;
    func_fn fn;
    int nreq;
    const char *params[EXPR__MAX_PARAMS];
    int variadic;                           /* max/min: any number of positionals */
} func_def;

enum xkind {
    X_LIT,      /* lit */
    X_VAR,      /* name */
    X_GET,      /* a[lit] (constant key) or a[b] (computed key) */
    X_LIST,     /* kids */
    X_MAP,      /* kids: key0, value0, key1, value1, ... */
    X_NEG, X_NOT,
    X_BIN,      /* op: a OP b */
    X_AND, X_OR,
    X_TERNARY,  /* a ? b : c */
    X_COALESCE, /* a ?? b: b when a is undefined or null */
    X_UNDEFCO,  /* a ??? b: b when a is undefined */
    X_FILTER,   /* a | fdef(kids[0..nparams)) */
    X_TEST,     /* a is [not] tdef */
    X_CALL,     /* name(kids) with kwnames[i] (NULL for positional): host or macro */
    X_FUNC,     /* built-in function: kids mapped onto params */
    X_MACRO,    /* macro call: kids mapped onto the macro's params */
    X_HOLE,     /* the body of a {% filter %} tag */
};

enum xop {
    OP_ADD = 1, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_CONCAT,
    OP_EQ, OP_NE, OP_LT, OP_GT, OP_LE, OP_GE,
    OP_CONTAINS, OP_IN, OP_NOTIN, OP_RANGE,
};

struct xnode {
    unsigned char kind, op, neg;
    int line, col;
    unsigned start, end;        /* source span [start, end) for messages */
    json_t *lit;
    const char *name;
    xnode *a, *b, *c;
    xnode **kids;
    const char **kwnames;
    signed char *slots;         /* X_FILTER/X_FUNC/X_MACRO: kids[i] goes to params[slots[i]] */
    int nkids;
    const filter_def *fdef;
    const test_def *tdef;
    const func_def *fndef;
    const macro *mac;
};

enum skind { S_TEXT, S_PRINT, S_IF, S_FOR, S_SET, S_FILTER, S_BLOCK };

struct snode {
    unsigned char kind;
    int line, col;
    const char *text;           /* S_TEXT */
    size_t len;
    xnode *x;                   /* print / if condition / for iterable / set value / filter chain */
    const char *v1, *v2;        /* for: loop variables (v2 may be NULL); set, block: name */
    snode *body;                /* if-true / loop body / filter body / block body */
    snode *alt;                 /* if-false (an S_IF for elseif) / for-else */
    snode *next;
    snode *next_block;          /* S_BLOCK: the template's next block (expr_tmpl.blocks) */
};

struct macro {
    const char *name;
    const char *params[EXPR__MAX_PARAMS * 2];
    xnode *dflt[EXPR__MAX_PARAMS * 2];
    int nparams;
    snode *body;
    macro *next;
};

typedef struct arena_blk arena_blk;

struct expr_tmpl {
    char *src;
    snode *root;
    macro *macros;
    snode *blocks;              /* {% block %} statements, for block("name") */
    arena_blk *arena;
    json_t **lits;              /* every literal, released by expr_tmpl_free */
    size_t nlits, caplits;
    const xnode *single;        /* the expression when the template is one {{ }} */
};

/* ---- render state -------------------------------------------------------- */

typedef struct xslot {
    const char *name;
    json_t *val;                /* owned */
} xslot;

typedef struct loopinfo {
    long index, length;
} loopinfo;

typedef struct frame {
    struct frame *up;
    int n, cap;
    xslot *slots;               /* inl or heap */
    xslot inl[4];
    const loopinfo *loop;
    int isolated;               /* macro frames do not see outer frames or ctx */
} frame;

struct xr {
    const expr_tmpl *t;
    const json_t *ctx;
    const expr_env *env;
    kerr *e;
    frame *top;
    int depth;
    json_t *hole;               /* value of X_HOLE inside a {% filter %} */
    size_t max_out;
    long iterations;            /* loop iterations so far */
    long max_iterations;
    /* limits (expr_limits): checked by expr__check */
    const expr_limits *lim;     /* may be NULL */
    const atomic_int *cancel;
    int64_t deadline_us;        /* the earlier of the two below; INT64_MAX: none */
    int64_t task_deadline_us;   /* lim->deadline_us, 0: none */
    int64_t time_deadline_us;   /* start + max_time, 0: none or not known yet */
    int64_t max_time_us;        /* 0: none; the clock is read at the first check
                                   (a render that never checks is short) */
    unsigned ticks;
    size_t budget;              /* bytes the render may hold */
    size_t used;                /* bytes it holds now (see eval.c, "budget") */
    size_t saved_text_cap;      /* expr__text_cap before this render */
};

/* Why a render stopped (expr__stopped). */
enum { EXPR__STOP_DEADLINE = 1, EXPR__STOP_CANCEL };

/* ---- watch.c ------------------------------------------------------------- */
/* A jq program being watched: on the caller's stack between begin and end. */
typedef struct expr_watch {
    struct expr_watch *next, *prev;
    void *jq;                   /* jq_state */
    int64_t deadline_us;        /* 0: none */
    const atomic_int *cancel;   /* may be NULL */
    int stopped;                /* EXPR__STOP_*, set by the watchdog */
    int listed;
} expr_watch;
/* Starts watching jq (halted once time_mono_us() >= deadline_us or *cancel);
 * returns -1 when the watchdog cannot start. */
int expr__watch_begin(expr_watch *w, void *jq, int64_t deadline_us, const atomic_int *cancel);
/* Stops watching; returns EXPR__STOP_* when the watchdog halted the program, else 0. */
int expr__watch_end(expr_watch *w);

/* The undefined marker returned by lenient lookups (never escapes a render). */
extern json_t expr__undef;
#define IS_UNDEF(v) ((v) == &expr__undef)

/* ---- parse.c ------------------------------------------------------------- */
void *expr__alloc(expr_tmpl *t, size_t n);
const filter_def *expr__filter_find(const char *name);
const test_def *expr__test_find(const char *name);
const func_def *expr__func_find(const char *name);
/* The closest name in a NULL-terminated list within edit distance 2, or NULL. */
const char *expr__suggest(const char *name, const char *const *names);

/* ---- eval.c -------------------------------------------------------------- */
/* time_mono_us(), without including util/datetime.h everywhere. */
int64_t expr__now_us(void);
/* Records an error at n's position; returns NULL (for `return expr__err()`). */
json_t *expr__err(xr *r, const xnode *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Evaluates n to a new reference, NULL after an error, or &expr__undef when
 * lenient and the name or attribute does not exist. */
json_t *expr__eval(xr *r, const xnode *n, int lenient);
/* ---- the budget (eval.c) ----
 * r->used counts the bytes a render holds: the text written to its output
 * buffers, the values bound by set/for/macro arguments, and within one
 * statement every value its expression built. A value's bytes are
 * expr__owned(v): what would be freed with it. */
size_t expr__owned(const json_t *v);
/* Adds bytes to r->used: 0, or -1 after "render budget of 16 MiB exceeded" at n. */
int expr__charge(xr *r, const xnode *n, size_t bytes);
/* Takes bytes off r->used (a buffer or value freed). */
void expr__credit(xr *r, size_t bytes);
/* What the render may still build: the cap for a filter's own buffer. */
size_t expr__room(const xr *r);
/* The budget error at n; returns NULL. */
json_t *expr__budget_err(xr *r, const xnode *n);

/* Whether v nests deeper than 128 levels; shared sub-values are measured
 * once (a DAG the render built costs its distinct nodes). */
int expr__too_deep(const json_t *v);
/* "value nested deeper than 128 levels" at n; returns NULL. */
json_t *expr__depth_err(xr *r, const xnode *n);
/* After a failed write of v (toJson, yaml, printing): the depth error when v
 * is nested too deeply, else the budget error. Returns NULL. */
json_t *expr__write_err(xr *r, const xnode *n, const json_t *v);

/* Records the stop error (deadline or cancel) at n; returns -1. */
int expr__stopped(xr *r, const xnode *n, int why);
/* Checks the cancel flag, and the deadline every few calls: 0 to go on, -1
 * after recording the stop error. Called at every loop iteration and call. */
int expr__check_clock(xr *r, const xnode *n);
static inline int expr__check(xr *r, const xnode *n)
{
    if (r->cancel && atomic_load_explicit(r->cancel, memory_order_relaxed))
        return expr__stopped(r, n, EXPR__STOP_CANCEL);
    if ((++r->ticks & 15) == 0)
        return expr__check_clock(r, n);
    return 0;
}
/* Renders a template (already compiled) nested inside r: for render(). */
int expr__render_nested(xr *r, const expr_tmpl *t, buf *out);
int expr__render_body(xr *r, const snode *s, buf *out);

/* ---- value.c ------------------------------------------------------------- */
int expr__write_value(buf *b, const json_t *v);
int expr__write_json(buf *b, const json_t *v, int pretty);
int expr__fmt_double(char *out, size_t n, double d);
int expr__truthy(const json_t *v);
int expr__equal(const json_t *a, const json_t *b);
/* -1, 0, 1; *ok = 0 when the two cannot be ordered. */
int expr__compare(const json_t *a, const json_t *b, int *ok);
const char *expr__type_name(const json_t *v);
int expr__is_number(const json_t *v);
double expr__num(const json_t *v);
/* The value as text (strings as is, others as printed); caller frees. A
 * list or map prints at most expr__text_cap bytes (the render's budget, set
 * while it runs; 0: no cap): past it the text is cut and expr__text_over
 * set, which the renderer turns into the budget error. */
char *expr__to_str(const json_t *v);
extern _Thread_local size_t expr__text_cap;
extern _Thread_local int expr__text_over;
/* Length of a string (in characters), list or map; -1 otherwise. */
long expr__length(const json_t *v);

/* ---- filters.c / funcs.c / dates.c --------------------------------------- */
extern const filter_def expr__filters[];
extern const test_def expr__tests[];
extern const func_def expr__funcs[];
json_t *expr__f_date(xr *r, const xnode *n, json_t *in, json_t **av);
json_t *expr__f_date_add(xr *r, const xnode *n, json_t *in, json_t **av);
json_t *expr__f_timestamp(xr *r, const xnode *n, json_t *in, json_t **av);
json_t *expr__f_timestamp_milli(xr *r, const xnode *n, json_t *in, json_t **av);
json_t *expr__f_timestamp_micro(xr *r, const xnode *n, json_t *in, json_t **av);
json_t *expr__f_timestamp_nano(xr *r, const xnode *n, json_t *in, json_t **av);
json_t *expr__fn_now(xr *r, const xnode *n, json_t **av, int nargs);
/* Calendar functions (dates.c), as Kestra's: dayOfWeek, dayOfMonth,
 * monthOfYear, hourOfDay, isWeekend, isDayWeekInMonth, isLastWorkingDay,
 * isDateAfter, isDateBefore, isDateBetween. */
json_t *expr__fn_day_of_week(xr *r, const xnode *n, json_t **av, int nargs);
json_t *expr__fn_day_of_month(xr *r, const xnode *n, json_t **av, int nargs);
json_t *expr__fn_month_of_year(xr *r, const xnode *n, json_t **av, int nargs);
json_t *expr__fn_hour_of_day(xr *r, const xnode *n, json_t **av, int nargs);
json_t *expr__fn_is_weekend(xr *r, const xnode *n, json_t **av, int nargs);
json_t *expr__fn_is_day_week_in_month(xr *r, const xnode *n, json_t **av, int nargs);
json_t *expr__fn_is_last_working_day(xr *r, const xnode *n, json_t **av, int nargs);
json_t *expr__fn_is_date_after(xr *r, const xnode *n, json_t **av, int nargs);
json_t *expr__fn_is_date_before(xr *r, const xnode *n, json_t **av, int nargs);
json_t *expr__fn_is_date_between(xr *r, const xnode *n, json_t **av, int nargs);
json_t *expr__range(xr *r, const xnode *n, json_t *a, json_t *b, json_t *step);
/* Ion text (funcs.c). */
int expr__ion_write(buf *b, const json_t *v);
json_t *expr__ion_parse(const char *s, kerr *e);
/* YAML text <-> json (filters.c, with libyaml for reading). */
json_t *expr__yaml_parse(const char *s, kerr *e);
int expr__yaml_write(buf *b, const json_t *v, int indent);

#endif
