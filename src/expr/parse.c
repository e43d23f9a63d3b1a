/*
 * parse.c: template source to tree (lexer and recursive-descent parser).
 *
 * The lexer walks the source once: text between delimiters becomes TEXT
 * tokens (whitespace control `{{-`/`-}}` trims them here, {% raw %} bodies
 * and {# comments #} never reach the parser); inside `{{ }}` and `{% %}` it
 * cuts names, numbers, strings (escapes decoded) and punctuation, counting
 * brackets so that `{{ {'a': {'b': 1}} }}` closes at the right `}}`.
 *
 * The parser follows Pebble's precedence table (with Kestra's `??`/`???`
 * at 120): or 10, and 15, is/contains 20, comparisons and in 30, + - 40,
 * * / % 60, | (filter) 100, ~ 110, .. ?? ??? 120, unary not 5, unary - 500;
 * the ternary `? :` only at the top of an expression. Filters, tests and
 * built-in functions are resolved and their arguments mapped onto parameter
 * slots here, so that an unknown filter or a bad argument is a compile error
 * with a position, and rendering does no lookups by name except variables
 * and host functions.
 *
 * Everything the tree holds is allocated in the template's arena and freed
 * with it; json literals are listed in the template and released once.
 */
#include "expr/expr_int.h"
#include "util/strutil.h"
#include "util/utf8.h"
#include "util/mem.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ----------------------------------------------------------------- */

struct arena_blk {
    arena_blk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

void *expr__alloc(expr_tmpl *t, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    arena_blk *b = t->arena;
    if (!b || b->used + n > b->cap) {
        size_t cap = n > 8192 ? n : 8192;
        b = xmalloc(sizeof *b + cap);
        b->cap = cap;
        b->used = 0;
        b->next = t->arena;
        t->arena = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

static char *arena_strndup(expr_tmpl *t, const char *s, size_t n)
{
    char *p = expr__alloc(t, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static json_t *keep_lit(expr_tmpl *t, json_t *v)
{
    if (t->nlits == t->caplits) {
        t->caplits = t->caplits ? t->caplits * 2 : 16;
        t->lits = xrealloc(t->lits, t->caplits * sizeof *t->lits);
    }
    t->lits[t->nlits++] = v;
    return v;
}

/* ---- names ----------------------------------------------------------------- */

static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    int d[41][41];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb];
}

const char *expr__suggest(const char *name, const char *const *names)
{
    const char *best = NULL;
    /* short names get one edit at most: 'f' is not a typo of 'kv' */
    int bestd = strlen(name) <= 3 ? 2 : 3;
    for (size_t i = 0; names[i]; i++) {
        int dd = edit_distance(name, names[i]);
        if (dd < bestd) {
            bestd = dd;
            best = names[i];
        }
    }
    return best;
}

const filter_def *expr__filter_find(const char *name)
{
    for (const filter_def *f = expr__filters; f->name; f++)
        if (!strcmp(f->name, name))
            return f;
    return NULL;
}

const test_def *expr__test_find(const char *name)
{
    for (const test_def *f = expr__tests; f->name; f++)
        if (!strcmp(f->name, name))
            return f;
    return NULL;
}

const func_def *expr__func_find(const char *name)
{
    for (const func_def *f = expr__funcs; f->name; f++)
        if (!strcmp(f->name, name))
            return f;
    return NULL;
}

/* ---- lexer ----------------------------------------------------------------- */

enum tk { T_EOF, T_TEXT, T_POPEN, T_PCLOSE, T_TOPEN, T_TCLOSE, T_NAME, T_INT, T_FLOAT, T_STR, T_PUNCT };

typedef struct tok {
    int type;
    unsigned start, len;       /* span in the source */
    const char *s;             /* T_TEXT: text; T_STR: decoded; T_NAME/T_PUNCT: the word */
    size_t slen;
    long long ival;
    double dval;
} tok;

typedef struct P {
    expr_tmpl *t;
    const char *src;
    size_t n;
    tok *toks;
    size_t ntoks, captoks, pos;
    kerr *e;
    int failed;
    int depth;
    unsigned *lines;           /* offsets of line starts */
    size_t nlines;
    xnode **calls;             /* X_CALL nodes to resolve once macros are known */
    size_t ncalls, capcalls;
} P;

static void lc_of(const P *p, unsigned off, int *line, int *col)
{
    size_t lo = 0, hi = p->nlines;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (p->lines[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    *line = (int)lo + 1;
    /* column in characters, not bytes */
    int c = 1;
    for (unsigned i = p->lines[lo]; i < off && i < p->n; i++)
        if (((unsigned char)p->src[i] & 0xC0) != 0x80)
            c++;
    *col = c;
}

static int perr(P *p, unsigned off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(P *p, unsigned off, const char *fmt, ...)
{
    if (p->failed)
        return -1;
    p->failed = 1;
    int line, col;
    lc_of(p, off, &line, &col);
    char msg[KERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kerr_set_at(p->e, line, col, "%s", msg);
}

static tok *push_tok(P *p, int type, size_t start, size_t len)
{
    if (p->ntoks == p->captoks) {
        p->captoks = p->captoks ? p->captoks * 2 : 64;
        p->toks = xrealloc(p->toks, p->captoks * sizeof *p->toks);
    }
    tok *t = &p->toks[p->ntoks++];
    memset(t, 0, sizeof *t);
    t->type = type;
    t->start = (unsigned)start;
    t->len = (unsigned)len;
    t->s = p->src + start;
    t->slen = len;
    return t;
}

static void push_synth(P *p, const char *text, size_t at)
{
    tok *t = push_tok(p, T_PUNCT, at, 1);
    t->s = text;
    t->slen = strlen(text);
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Emits src[a, b) as text, trimming the front when *trim_front. */
static void emit_text(P *p, size_t a, size_t b, int *trim_front, int trim_back)
{
    if (*trim_front)
        while (a < b && is_ws(p->src[a]))
            a++;
    *trim_front = 0;
    if (trim_back)
        while (b > a && is_ws(p->src[b - 1]))
            b--;
    if (b > a)
        push_tok(p, T_TEXT, a, b - a);
}

static size_t lex_expr(P *p, size_t i, char close, size_t open_at, int *trim_next);

/* A token that stands for text the source does not hold at that place (the
 * punctuation that string interpolation turns into), positioned at `at`. */
static void push_synth(P *p, const char *text, size_t at);

/* Lexes a quoted string at i; returns the offset after it or 0 on error.
 * A double-quoted string with `#{expr}` inside (Pebble's interpolation) is
 * lexed as `("text" ~ (expr) ~ "text")`, so the parser sees a plain
 * concatenation. */
static size_t lex_string(P *p, size_t i)
{
    char q = p->src[i];
    size_t j = i + 1;
    int interp = 0;
    for (;;) {
        size_t end = j;
        while (end < p->n && p->src[end] != q)
            end += p->src[end] == '\\' ? 2 : 1;
        char *out = expr__alloc(p->t, (end < p->n ? end : p->n) - j + 1); /* decoded is never longer */
        size_t o = 0, piece = j;
        while (j < p->n && p->src[j] != q) {
            char c = p->src[j];
            if (q == '"' && c == '#' && j + 1 < p->n && p->src[j + 1] == '{')
                break;
            if (c != '\\') {
                out[o++] = c;
                j++;
                continue;
            }
            if (j + 1 >= p->n) {
                j = p->n;
                break;
            }
        char d = p->src[j + 1];
        j += 2;
        switch (d) {
        case 'n': out[o++] = '\n'; break;
        case 't': out[o++] = '\t'; break;
        case 'r': out[o++] = '\r'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case '\\': out[o++] = '\\'; break;
        case '\'': out[o++] = '\''; break;
        case '"': out[o++] = '"'; break;
        case '/': out[o++] = '/'; break;
        case 'u': {
            unsigned cp = 0;
            int k;
            for (k = 0; k < 4 && j + (size_t)k < p->n && str_hexval(p->src[j + k]) >= 0; k++)
                cp = cp * 16 + (unsigned)str_hexval(p->src[j + k]);
            if (k != 4) {
                perr(p, (unsigned)(j - 2), "bad \\u escape in string (4 hex digits expected)");
                return 0;
            }
            j += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && j + 5 < p->n && p->src[j] == '\\' &&
                p->src[j + 1] == 'u') {
                unsigned lo = 0;
                int ok = 1;
                for (k = 0; k < 4; k++) {
                    int h = str_hexval(p->src[j + 2 + k]);
                    if (h < 0)
                        ok = 0;
                    else
                        lo = lo * 16 + (unsigned)h;
                }
                if (ok && lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    j += 6;
                }
            }
            if (cp >= 0xD800 && cp < 0xE000)
                cp = 0xFFFD;
            /* worst case 4 bytes out of 6 in: fits */
            o += (size_t)utf8_encode(cp, out + o);
            break;
        }
        default: /* unknown escapes stay as written: '\d' in a regex */
            out[o++] = '\\';
            out[o++] = d;
        }
    }
        if (j >= p->n) {
            perr(p, (unsigned)i, "unclosed string (missing %c)", q);
            return 0;
        }
        out[o] = '\0';
        if (p->src[j] == q) {
            tok *t = push_tok(p, T_STR, interp ? piece : i, j + 1 - (interp ? piece : i));
            t->s = out;
            t->slen = o;
            if (interp)
                push_synth(p, ")", j);
            return j + 1;
        }
        /* #{ at j */
        if (!interp)
            push_synth(p, "(", i);
        interp = 1;
        tok *t = push_tok(p, T_STR, piece, j - piece);
        t->s = out;
        t->slen = o;
        push_synth(p, "~", j);
        push_synth(p, "(", j);
        int dummy = 0;
        size_t k = lex_expr(p, j + 2, '#', j, &dummy);
        if (!k)
            return 0;
        push_synth(p, ")", k - 1);
        push_synth(p, "~", k - 1);
        j = k;
    }
}

static const char *const puncts3[] = {"???", NULL};
static const char *const puncts2[] = {"??", "..", "==", "!=", "<=", ">=", NULL};
static const char puncts1[] = "()[]{},:.|?~+-*/%<>=";

/* Lexes one `{{ }}` or `{% %}` body starting at i (after the opening
 * delimiter and its '-'); close is '}' or '%'. Returns the offset after the
 * closing delimiter, or 0 on error. */
static size_t lex_expr(P *p, size_t i, char close, size_t open_at, int *trim_next)
{
    int depth = 0;
    size_t opened[EXPR__MAX_PARSE_DEPTH + 1];
    for (;;) {
        while (i < p->n && is_ws(p->src[i]))
            i++;
        if (i >= p->n && close == '#') {
            perr(p, (unsigned)open_at, "unclosed '#{' in a string (missing '}')");
            return 0;
        }
        if (i >= p->n) {
            if (depth > 0) {
                char o = p->src[opened[depth - 1]];
                perr(p, (unsigned)opened[depth - 1], "unclosed '%c' (missing '%c')", o,
                     o == '(' ? ')' : o == '[' ? ']' : '}');
            } else {
                perr(p, (unsigned)open_at, "unclosed '%s' (missing '%s')", close == '}' ? "{{" : "{%",
                     close == '}' ? "}}" : "%}");
            }
            return 0;
        }
        const char *s = p->src + i;
        if (close == '#') {
            if (depth == 0 && s[0] == '}')
                return i + 1; /* end of #{...}: no token */
            goto token;
        }
        char other = close == '}' ? '%' : '}';
        if (depth == 0 && s[0] == other && i + 1 < p->n && s[1] == '}') {
            perr(p, (unsigned)i, "expected '%s' to close '%s', found '%c}'", close == '}' ? "}}" : "%}",
                 close == '}' ? "{{" : "{%", other);
            return 0;
        }
        if (depth > 0 && s[0] == close && i + 1 < p->n && s[1] == '}' &&
            !(close == '}' && p->src[opened[depth - 1]] == '{')) {
            char o = p->src[opened[depth - 1]];
            perr(p, (unsigned)opened[depth - 1], "unclosed '%c' (missing '%c')", o,
                 o == '(' ? ')' : o == '[' ? ']' : '}');
            return 0;
        }
        if (depth == 0) {
            if (s[0] == '-' && i + 2 < p->n && s[1] == close && s[2] == '}') {
                push_tok(p, close == '}' ? T_PCLOSE : T_TCLOSE, i, 3);
                *trim_next = 1;
                return i + 3;
            }
            if (s[0] == close && i + 1 < p->n && s[1] == '}') {
                push_tok(p, close == '}' ? T_PCLOSE : T_TCLOSE, i, 2);
                return i + 2;
            }
        }
    token:;
        unsigned char c = (unsigned char)s[0];
        if (isalpha(c) || c == '_') {
            size_t j = i + 1;
            while (j < p->n && (isalnum((unsigned char)p->src[j]) || p->src[j] == '_'))
                j++;
            push_tok(p, T_NAME, i, j - i);
            i = j;
            continue;
        }
        if (isdigit(c)) {
            size_t j = i;
            while (j < p->n && isdigit((unsigned char)p->src[j]))
                j++;
            int isf = 0;
            if (j + 1 < p->n && p->src[j] == '.' && isdigit((unsigned char)p->src[j + 1])) {
                isf = 1;
                j++;
                while (j < p->n && isdigit((unsigned char)p->src[j]))
                    j++;
            }
            if (j < p->n && (p->src[j] == 'e' || p->src[j] == 'E')) {
                size_t k = j + 1;
                if (k < p->n && (p->src[k] == '+' || p->src[k] == '-'))
                    k++;
                if (k < p->n && isdigit((unsigned char)p->src[k])) {
                    isf = 1;
                    j = k;
                    while (j < p->n && isdigit((unsigned char)p->src[j]))
                        j++;
                }
            }
            char tmp[64];
            size_t len = j - i < sizeof tmp - 1 ? j - i : sizeof tmp - 1;
            memcpy(tmp, s, len);
            tmp[len] = '\0';
            tok *t = push_tok(p, isf ? T_FLOAT : T_INT, i, j - i);
            errno = 0;
            if (isf) {
                t->dval = strtod(tmp, NULL);
            } else {
                t->ival = strtoll(tmp, NULL, 10);
                if (errno == ERANGE) {
                    t->type = T_FLOAT;
                    t->dval = strtod(tmp, NULL);
                }
            }
            i = j;
            continue;
        }
        if (c == '"' || c == '\'') {
            i = lex_string(p, i);
            if (!i)
                return 0;
            continue;
        }
        if (c == '&' && i + 1 < p->n && s[1] == '&') {
            perr(p, (unsigned)i, "unexpected '&&' (use 'and')");
            return 0;
        }
        if (c == '|' && i + 1 < p->n && s[1] == '|') {
            perr(p, (unsigned)i, "unexpected '||' (use 'or')");
            return 0;
        }
        if (c == '!' && !(i + 1 < p->n && s[1] == '=')) {
            perr(p, (unsigned)i, "unexpected '!' (use 'not')");
            return 0;
        }
        size_t plen = 0;
        for (int k = 0; puncts3[k]; k++)
            if (i + 3 <= p->n && !memcmp(s, puncts3[k], 3))
                plen = 3;
        if (!plen)
            for (int k = 0; puncts2[k]; k++)
                if (i + 2 <= p->n && !memcmp(s, puncts2[k], 2))
                    plen = 2;
        if (!plen && c && strchr(puncts1, c))
            plen = 1;
        if (!plen) {
            if (c >= 0x20 && c < 0x7f)
                perr(p, (unsigned)i, "unexpected character '%c'", c);
            else
                perr(p, (unsigned)i, "unexpected character (byte 0x%02x)", c);
            return 0;
        }
        if (plen == 1 && (c == '(' || c == '[' || c == '{')) {
            if (depth == EXPR__MAX_PARSE_DEPTH) {
                perr(p, (unsigned)i, "expression nested too deeply");
                return 0;
            }
            opened[depth++] = i;
        }
        if (plen == 1 && (c == ')' || c == ']' || c == '}') && depth > 0)
            depth--;
        push_tok(p, T_PUNCT, i, plen);
        i += plen;
    }
}

/* At `{%` at i: if this is {% raw %}, emits its body as text and returns the
 * offset after {% endraw %}; 0 when it is not a raw tag; (size_t)-1 on error. */
static size_t lex_raw(P *p, size_t i, int *trim_next)
{
    size_t k = i + 2;
    if (k < p->n && p->src[k] == '-')
        k++;
    while (k < p->n && is_ws(p->src[k]))
        k++;
    if (p->n - k < 3 || memcmp(p->src + k, "raw", 3))
        return 0;
    k += 3;
    if (k < p->n && (isalnum((unsigned char)p->src[k]) || p->src[k] == '_'))
        return 0;
    while (k < p->n && is_ws(p->src[k]))
        k++;
    int trim_body_front = 0;
    if (k < p->n && p->src[k] == '-') {
        trim_body_front = 1;
        k++;
    }
    if (p->n - k < 2 || memcmp(p->src + k, "%}", 2)) {
        perr(p, (unsigned)i, "expected '%%}' after 'raw'");
        return (size_t)-1;
    }
    size_t body = k + 2;
    for (size_t j = body; j + 1 < p->n; j++) {
        if (p->src[j] != '{' || p->src[j + 1] != '%')
            continue;
        size_t m = j + 2;
        int trim_body_back = 0;
        if (m < p->n && p->src[m] == '-') {
            trim_body_back = 1;
            m++;
        }
        while (m < p->n && is_ws(p->src[m]))
            m++;
        if (p->n - m < 6 || memcmp(p->src + m, "endraw", 6))
            continue;
        m += 6;
        while (m < p->n && is_ws(p->src[m]))
            m++;
        int tn = 0;
        if (m < p->n && p->src[m] == '-') {
            tn = 1;
            m++;
        }
        if (p->n - m < 2 || memcmp(p->src + m, "%}", 2))
            continue;
        int tf = trim_body_front;
        emit_text(p, body, j, &tf, trim_body_back);
        *trim_next = tn;
        return m + 2;
    }
    perr(p, (unsigned)i, "unclosed '{%% raw %%}' (missing '{%% endraw %%}')");
    return (size_t)-1;
}

static int lex(P *p)
{
    size_t i = 0;
    int trim_next = 0;
    while (i < p->n) {
        size_t j = i;
        while (j + 1 < p->n &&
               !(p->src[j] == '{' && (p->src[j + 1] == '{' || p->src[j + 1] == '%' || p->src[j + 1] == '#')))
            j++;
        if (j + 1 >= p->n)
            j = p->n;
        int trim_back = j + 2 < p->n && p->src[j + 2] == '-';
        emit_text(p, i, j, &trim_next, trim_back);
        if (j >= p->n)
            break;
        if (p->src[j + 1] == '%') {
            size_t r = lex_raw(p, j, &trim_next);
            if (r == (size_t)-1)
                return -1;
            if (r) {
                i = r;
                continue;
            }
        }
        char kind = p->src[j + 1];
        size_t k = j + 2 + (trim_back ? 1 : 0);
        if (kind == '#') {
            size_t m = k;
            while (m + 1 < p->n && !(p->src[m] == '#' && p->src[m + 1] == '}'))
                m++;
            if (m + 1 >= p->n)
                return perr(p, (unsigned)j, "unclosed comment (missing '#}')");
            trim_next = m > k && p->src[m - 1] == '-';
            i = m + 2;
            continue;
        }
        push_tok(p, kind == '{' ? T_POPEN : T_TOPEN, j, k - j);
        i = lex_expr(p, k, kind == '{' ? '}' : '%', j, &trim_next);
        if (!i)
            return -1;
    }
    push_tok(p, T_EOF, p->n, 0);
    return 0;
}

/* ---- parser helpers -------------------------------------------------------- */

static tok *peek(P *p) { return &p->toks[p->pos]; }
static tok *peek2(P *p) { return &p->toks[p->pos + (p->toks[p->pos].type == T_EOF ? 0 : 1)]; }
static tok *next(P *p)
{
    tok *t = &p->toks[p->pos];
    if (t->type != T_EOF)
        p->pos++;
    return t;
}

static int is_punct(const tok *t, const char *s)
{
    return t->type == T_PUNCT && t->slen == strlen(s) && !memcmp(t->s, s, t->slen);
}

static int is_name(const tok *t, const char *s)
{
    return t->type == T_NAME && t->slen == strlen(s) && !memcmp(t->s, s, t->slen);
}

static const char *tok_desc(const tok *t, char *out, size_t n)
{
    switch (t->type) {
    case T_EOF: return "the end of the template";
    case T_TEXT: return "text";
    case T_POPEN: return "'{{'";
    case T_TOPEN: return "'{%'";
    case T_PCLOSE: return "'}}'";
    case T_TCLOSE: return "'%}'";
    case T_STR: return "a string";
    default:
        snprintf(out, n, "'%.*s'", (int)(t->len > 40 ? 40 : t->len), t->s);
        return out;
    }
}

static int expect_punct(P *p, const char *s)
{
    tok *t = peek(p);
    if (!is_punct(t, s)) {
        char b[64];
        return perr(p, t->start, "expected '%s', found %s", s, tok_desc(t, b, sizeof b));
    }
    next(p);
    return 0;
}

static int expect_close(P *p, int type)
{
    tok *t = peek(p);
    if (t->type != type) {
        char b[64];
        return perr(p, t->start, "expected '%s', found %s", type == T_PCLOSE ? "}}" : "%}",
                    tok_desc(t, b, sizeof b));
    }
    next(p);
    return 0;
}

static char *tok_name(P *p, const tok *t) { return arena_strndup(p->t, t->s, t->slen); }

static xnode *mk(P *p, int kind, const tok *at)
{
    xnode *n = expr__alloc(p->t, sizeof *n);
    n->kind = (unsigned char)kind;
    n->start = at->start;
    n->end = at->start + at->len;
    lc_of(p, at->start, &n->line, &n->col);
    return n;
}

static xnode *mk_lit(P *p, const tok *at, json_t *v)
{
    xnode *n = mk(p, X_LIT, at);
    n->lit = keep_lit(p->t, v);
    return n;
}

static void end_at(P *p, xnode *n)
{
    if (p->pos > 0) {
        tok *t = &p->toks[p->pos - 1];
        if (t->start + t->len > n->end)
            n->end = t->start + t->len;
    }
}

static xnode *parse_expr(P *p, int minprec);

typedef struct arglist {
    xnode *kids[32];
    const char *names[32];
    unsigned at[32];
    int n;
} arglist;

/* Parses `( args )` after the name; the '(' is current. */
static int parse_args(P *p, arglist *al)
{
    al->n = 0;
    next(p); /* ( */
    if (is_punct(peek(p), ")")) {
        next(p);
        return 0;
    }
    for (;;) {
        if (al->n == 32)
            return perr(p, peek(p)->start, "too many arguments (32 at most)");
        const char *nm = NULL;
        al->at[al->n] = peek(p)->start;
        if (peek(p)->type == T_NAME && is_punct(peek2(p), "=")) {
            nm = tok_name(p, next(p));
            next(p);
        }
        xnode *x = parse_expr(p, 0);
        if (!x)
            return -1;
        al->kids[al->n] = x;
        al->names[al->n] = nm;
        al->n++;
        if (is_punct(peek(p), ",")) {
            next(p);
            continue;
        }
        return expect_punct(p, ")");
    }
}

/* Maps arguments onto a parameter list; fills n->kids/slots/nkids. what is
 * "filter" or "function", used in messages. */
static int map_args(P *p, xnode *n, const arglist *al, const char *what, const char *name,
                    const char *const *params, int nreq, int variadic, unsigned at)
{
    int np = 0;
    while (np < EXPR__MAX_PARAMS * 2 && params[np])
        np++;
    n->nkids = al->n;
    n->kids = expr__alloc(p->t, sizeof(xnode *) * (size_t)(al->n ? al->n : 1));
    n->kwnames = expr__alloc(p->t, sizeof(char *) * (size_t)(al->n ? al->n : 1));
    n->slots = expr__alloc(p->t, (size_t)(al->n ? al->n : 1));
    int seen[EXPR__MAX_PARAMS * 2] = {0};
    int npos = 0, named = 0;
    for (int i = 0; i < al->n; i++) {
        n->kids[i] = al->kids[i];
        n->kwnames[i] = al->names[i];
        int slot;
        if (!al->names[i]) {
            if (named)
                return perr(p, al->at[i], "positional argument after a named one in %s '%s'", what,
                            name);
            slot = npos++;
            if (variadic) {
                n->slots[i] = (signed char)(slot < 127 ? slot : 127);
                continue;
            }
            if (slot >= np && np == 0)
                return perr(p, al->at[i], "%s '%s' takes no arguments", what, name);
            if (slot >= np)
                return perr(p, al->at[i], "%s '%s' takes at most %d argument%s", what, name, np,
                            np == 1 ? "" : "s");
        } else {
            named = 1;
            slot = -1;
            for (int k = 0; k < np; k++)
                if (!strcmp(params[k], al->names[i]))
                    slot = k;
            if (slot < 0) {
                char list[256] = "";
                size_t o = 0;
                for (int k = 0; k < np && o < sizeof list - 40; k++)
                    o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", k ? ", " : "", params[k]);
                if (np == 0)
                    return perr(p, al->at[i], "%s '%s' takes no arguments", what, name);
                return perr(p, al->at[i], "%s '%s' has no argument '%s' (it takes: %s)", what, name,
                            al->names[i], list);
            }
        }
        if (seen[slot])
            return perr(p, al->at[i], "argument '%s' of %s '%s' given twice", params[slot], what, name);
        seen[slot] = 1;
        n->slots[i] = (signed char)slot;
    }
    if (variadic) {
        if (npos < nreq)
            return perr(p, at, "%s '%s' needs at least %d argument%s", what, name, nreq,
                        nreq == 1 ? "" : "s");
        return 0;
    }
    for (int k = 0; k < nreq; k++)
        if (!seen[k])
            return perr(p, at, "%s '%s' needs an argument '%s'", what, name, params[k]);
    return 0;
}

static void filter_names(const char **names, int max)
{
    int k = 0;
    for (const filter_def *f = expr__filters; f->name && k < max - 1; f++)
        names[k++] = f->name;
    names[k] = NULL;
}

static xnode *parse_filter(P *p, xnode *input)
{
    tok *t = peek(p);
    if (t->type != T_NAME) {
        char b[64];
        perr(p, t->start, "expected a filter name after '|', found %s", tok_desc(t, b, sizeof b));
        return NULL;
    }
    next(p);
    char *name = tok_name(p, t);
    const filter_def *fd = expr__filter_find(name);
    if (!fd) {
        const char *names[160];
        filter_names(names, 160);
        const char *s = expr__suggest(name, names);
        if (s)
            perr(p, t->start, "unknown filter '%s' (did you mean '%s'?)", name, s);
        else
            perr(p, t->start, "unknown filter '%s'", name);
        return NULL;
    }
    xnode *n = mk(p, X_FILTER, t);
    n->name = name;
    n->fdef = fd;
    n->a = input;
    if (input)
        n->start = input->start;
    arglist al = {.n = 0};
    if (is_punct(peek(p), "(") && parse_args(p, &al))
        return NULL;
    if (map_args(p, n, &al, "filter", name, fd->params, fd->nreq, 0, t->start))
        return NULL;
    end_at(p, n);
    return n;
}

static xnode *parse_test(P *p, xnode *subject, const tok *at)
{
    int neg = 0;
    if (is_name(peek(p), "not")) {
        next(p);
        neg = 1;
    }
    tok *t = peek(p);
    const char *name;
    if (t->type == T_NAME) {
        name = tok_name(p, t);
    } else {
        char b[64];
        perr(p, t->start, "expected a test name after 'is' (defined, null, empty, ...), found %s",
             tok_desc(t, b, sizeof b));
        return NULL;
    }
    next(p);
    const test_def *td = expr__test_find(name);
    if (!td) {
        const char *names[32];
        int k = 0;
        for (const test_def *d = expr__tests; d->name && k < 31; d++)
            names[k++] = d->name;
        names[k] = NULL;
        const char *s = expr__suggest(name, names);
        if (s)
            perr(p, t->start, "unknown test '%s' (did you mean '%s'?)", name, s);
        else
            perr(p, t->start, "unknown test '%s'", name);
        return NULL;
    }
    xnode *n = mk(p, X_TEST, at);
    n->a = subject;
    n->tdef = td;
    n->neg = (unsigned char)neg;
    n->name = name;
    n->start = subject->start;
    end_at(p, n);
    return n;
}

static xnode *parse_postfix(P *p, xnode *x)
{
    for (;;) {
        tok *t = peek(p);
        if (is_punct(t, ".")) {
            next(p);
            tok *k = next(p);
            xnode *g = mk(p, X_GET, k);
            g->a = x;
            g->start = x->start;
            g->line = x->line;
            g->col = x->col;
            if (k->type == T_NAME)
                g->lit = keep_lit(p->t, json_stringn(k->s, k->slen));
            else if (k->type == T_INT)
                g->lit = keep_lit(p->t, json_integer(k->ival));
            else {
                char b[64];
                perr(p, k->start, "expected an attribute name after '.', found %s",
                     tok_desc(k, b, sizeof b));
                return NULL;
            }
            end_at(p, g);
            if (is_punct(peek(p), "(")) {
                perr(p, peek(p)->start, "method calls such as '.%.*s()' are not supported (use a filter)",
                     (int)k->slen, k->s);
                return NULL;
            }
            x = g;
        } else if (is_punct(t, "[")) {
            next(p);
            xnode *key = parse_expr(p, 0);
            if (!key || expect_punct(p, "]"))
                return NULL;
            xnode *g = mk(p, X_GET, t);
            g->a = x;
            g->start = x->start;
            g->line = x->line;
            g->col = x->col;
            if (key->kind == X_LIT && (json_is_string(key->lit) || json_is_integer(key->lit)))
                g->lit = key->lit;
            else
                g->b = key;
            end_at(p, g);
            x = g;
        } else {
            return x;
        }
    }
}

static xnode *parse_primary(P *p)
{
    tok *t = peek(p);
    xnode *x = NULL;
    char b[64];
    switch (t->type) {
    case T_INT:
        next(p);
        x = mk_lit(p, t, json_integer(t->ival));
        break;
    case T_FLOAT:
        next(p);
        x = mk_lit(p, t, json_real(t->dval));
        break;
    case T_STR:
        next(p);
        x = mk_lit(p, t, json_stringn(t->s, t->slen));
        if (!x->lit) { /* not valid UTF-8 */
            perr(p, t->start, "string is not valid UTF-8");
            return NULL;
        }
        break;
    case T_NAME:
        next(p);
        if (is_name(t, "true"))
            x = mk_lit(p, t, json_true());
        else if (is_name(t, "false"))
            x = mk_lit(p, t, json_false());
        else if (is_name(t, "null") || is_name(t, "none"))
            x = mk_lit(p, t, json_null());
        else if (is_punct(peek(p), "(")) {
            x = mk(p, X_CALL, t);
            x->name = tok_name(p, t);
            arglist al;
            if (parse_args(p, &al))
                return NULL;
            x->nkids = al.n;
            x->kids = expr__alloc(p->t, sizeof(xnode *) * (size_t)(al.n ? al.n : 1));
            x->kwnames = expr__alloc(p->t, sizeof(char *) * (size_t)(al.n ? al.n : 1));
            x->slots = expr__alloc(p->t, (size_t)(al.n ? al.n : 1));
            for (int i = 0; i < al.n; i++) {
                x->kids[i] = al.kids[i];
                x->kwnames[i] = al.names[i];
            }
            /* remember the arglist positions for later mapping errors */
            end_at(p, x);
            if (p->ncalls == p->capcalls) {
                p->capcalls = p->capcalls ? p->capcalls * 2 : 16;
                p->calls = xrealloc(p->calls, p->capcalls * sizeof *p->calls);
            }
            p->calls[p->ncalls++] = x;
        } else {
            x = mk(p, X_VAR, t);
            x->name = tok_name(p, t);
        }
        break;
    case T_PUNCT:
        if (is_punct(t, "(")) {
            next(p);
            x = parse_expr(p, 0);
            if (!x || expect_punct(p, ")"))
                return NULL;
            break;
        }
        if (is_punct(t, "[")) {
            next(p);
            x = mk(p, X_LIST, t);
            xnode *items[64];
            xnode **heap = NULL;
            int n = 0, cap = 64;
            xnode **v = items;
            while (!is_punct(peek(p), "]")) {
                xnode *it = parse_expr(p, 0);
                if (!it) {
                    free(heap);
                    return NULL;
                }
                if (n == cap) {
                    cap *= 2;
                    xnode **nv = xmalloc(sizeof *nv * (size_t)cap);
                    memcpy(nv, v, sizeof *nv * (size_t)n);
                    free(heap);
                    heap = v = nv;
                }
                v[n++] = it;
                if (is_punct(peek(p), ","))
                    next(p);
                else
                    break;
            }
            if (expect_punct(p, "]")) {
                free(heap);
                return NULL;
            }
            x->nkids = n;
            x->kids = expr__alloc(p->t, sizeof(xnode *) * (size_t)(n ? n : 1));
            memcpy(x->kids, v, sizeof(xnode *) * (size_t)n);
            free(heap);
            end_at(p, x);
            break;
        }
        if (is_punct(t, "{")) {
            next(p);
            x = mk(p, X_MAP, t);
            xnode **v = NULL;
            int n = 0, cap = 0;
            while (!is_punct(peek(p), "}")) {
                tok *kt = peek(p);
                xnode *k;
                if (kt->type == T_NAME && is_punct(peek2(p), ":") && !is_name(kt, "true") &&
                    !is_name(kt, "false") && !is_name(kt, "null")) {
                    /* {a: 1}: a bare name is the key itself, as in JSON5 and YAML */
                    next(p);
                    k = mk_lit(p, kt, json_stringn(kt->s, kt->slen));
                } else {
                    k = parse_expr(p, 0);
                }
                if (!k || expect_punct(p, ":")) {
                    free(v);
                    return NULL;
                }
                xnode *val = parse_expr(p, 0);
                if (!val) {
                    free(v);
                    return NULL;
                }
                if (n + 2 > cap) {
                    cap = cap ? cap * 2 : 16;
                    v = xrealloc(v, sizeof *v * (size_t)cap);
                }
                v[n++] = k;
                v[n++] = val;
                if (is_punct(peek(p), ","))
                    next(p);
                else
                    break;
            }
            if (expect_punct(p, "}")) {
                free(v);
                return NULL;
            }
            x->nkids = n;
            x->kids = expr__alloc(p->t, sizeof(xnode *) * (size_t)(n ? n : 1));
            if (n)
                memcpy(x->kids, v, sizeof(xnode *) * (size_t)n);
            free(v);
            end_at(p, x);
            break;
        }
        /* fall through */
    default:
        perr(p, t->start, "expected an expression, found %s", tok_desc(t, b, sizeof b));
        return NULL;
    }
    return parse_postfix(p, x);
}

typedef struct binop {
    const char *word;
    int prec;
    int kind;
    int op;
} binop;

static const binop binops[] = {
    {"or", 10, X_OR, 0},         {"and", 15, X_AND, 0},
    {"is", 20, X_TEST, 0},       {"contains", 20, X_BIN, OP_CONTAINS},
    {"==", 30, X_BIN, OP_EQ},    {"equals", 30, X_BIN, OP_EQ},
    {"!=", 30, X_BIN, OP_NE},    {"<", 30, X_BIN, OP_LT},
    {">", 30, X_BIN, OP_GT},     {"<=", 30, X_BIN, OP_LE},
    {">=", 30, X_BIN, OP_GE},    {"in", 30, X_BIN, OP_IN},
    {"+", 40, X_BIN, OP_ADD},    {"-", 40, X_BIN, OP_SUB},
    {"*", 60, X_BIN, OP_MUL},    {"/", 60, X_BIN, OP_DIV},
    {"%", 60, X_BIN, OP_MOD},    {"|", 100, X_FILTER, 0},
    {"~", 110, X_BIN, OP_CONCAT}, {"..", 120, X_BIN, OP_RANGE},
    {"??", 120, X_COALESCE, 0},  {"???", 120, X_UNDEFCO, 0},
};

static const binop notin = {"not in", 30, X_BIN, OP_NOTIN};

static const binop *find_binop(P *p, int *ntoks)
{
    tok *t = peek(p);
    *ntoks = 1;
    if (t->type != T_PUNCT && t->type != T_NAME)
        return NULL;
    if (is_name(t, "not") && is_name(peek2(p), "in")) {
        *ntoks = 2;
        return &notin;
    }
    for (size_t i = 0; i < sizeof binops / sizeof binops[0]; i++) {
        const char *w = binops[i].word;
        int isword = isalpha((unsigned char)w[0]);
        if (isword ? is_name(t, w) : is_punct(t, w))
            return &binops[i];
    }
    return NULL;
}

static xnode *parse_expr(P *p, int minprec)
{
    if (++p->depth > EXPR__MAX_PARSE_DEPTH) {
        perr(p, peek(p)->start, "expression nested too deeply");
        return NULL;
    }
    tok *t = peek(p);
    xnode *left;
    if (is_name(t, "not")) {
        next(p);
        xnode *o = parse_expr(p, 5);
        if (!o)
            return NULL;
        left = mk(p, X_NOT, t);
        left->a = o;
        end_at(p, left);
    } else if (is_punct(t, "-") || is_punct(t, "+")) {
        next(p);
        xnode *o = parse_expr(p, 500);
        if (!o)
            return NULL;
        if (is_punct(t, "+")) {
            left = o;
        } else if (o->kind == X_LIT && json_is_integer(o->lit) &&
                   json_integer_value(o->lit) != INT64_MIN) {
            left = mk_lit(p, t, json_integer(-json_integer_value(o->lit)));
            left->end = o->end;
        } else if (o->kind == X_LIT && json_is_real(o->lit)) {
            left = mk_lit(p, t, json_real(-json_real_value(o->lit)));
            left->end = o->end;
        } else {
            left = mk(p, X_NEG, t);
            left->a = o;
            end_at(p, left);
        }
    } else {
        left = parse_primary(p);
    }
    if (!left)
        return NULL;
    for (;;) {
        int nt;
        const binop *op = find_binop(p, &nt);
        if (!op || op->prec < minprec)
            break;
        tok *opt = peek(p);
        while (nt--)
            next(p);
        xnode *n;
        if (op->kind == X_FILTER) {
            n = parse_filter(p, left);
        } else if (op->kind == X_TEST) {
            n = parse_test(p, left, opt);
        } else {
            xnode *right = parse_expr(p, op->prec + 1);
            if (!right)
                return NULL;
            n = mk(p, op->kind, opt);
            n->op = (unsigned char)op->op;
            n->a = left;
            n->b = right;
            n->start = left->start;
            n->end = right->end;
        }
        if (!n)
            return NULL;
        left = n;
    }
    if (minprec == 0 && is_punct(peek(p), "?")) {
        tok *q = next(p);
        xnode *b = parse_expr(p, 0);
        if (!b || expect_punct(p, ":"))
            return NULL;
        xnode *c = parse_expr(p, 0);
        if (!c)
            return NULL;
        xnode *n = mk(p, X_TERNARY, q);
        n->a = left;
        n->b = b;
        n->c = c;
        n->start = left->start;
        n->end = c->end;
        left = n;
    }
    p->depth--;
    return left;
}

/* ---- statements ------------------------------------------------------------ */

static snode *mks(P *p, int kind, const tok *at)
{
    snode *s = expr__alloc(p->t, sizeof *s);
    s->kind = (unsigned char)kind;
    lc_of(p, at->start, &s->line, &s->col);
    return s;
}

static int in_list(const tok *t, const char *const *stops)
{
    for (int i = 0; stops && stops[i]; i++)
        if (is_name(t, stops[i]))
            return 1;
    return 0;
}

static const char *const block_ends[] = {"endif", "elseif", "elif", "else", "endfor", "endfilter",
                                         "endmacro", "endraw", "endblock", NULL};

/* Parses statements until EOF or a tag whose name is in stops; on a stop,
 * consumes `{%` and the name and sets *found (NULL at EOF). */
static snode *parse_block(P *p, const char *const *stops, const tok **found);

static int parse_tag(P *p, const tok *open, snode **out);

static snode *parse_block(P *p, const char *const *stops, const tok **found)
{
    snode *head = NULL, **tail = &head;
    *found = NULL;
    for (;;) {
        tok *t = peek(p);
        if (p->failed)
            return NULL;
        if (t->type == T_EOF)
            return head;
        if (t->type == T_TEXT) {
            next(p);
            snode *s = mks(p, S_TEXT, t);
            s->text = t->s;
            s->len = t->slen;
            *tail = s;
            tail = &s->next;
            continue;
        }
        if (t->type == T_POPEN) {
            next(p);
            snode *s = mks(p, S_PRINT, t);
            if (is_punct(peek(p), "}") || peek(p)->type == T_PCLOSE) {
                perr(p, t->start, "empty expression in '{{ }}'");
                return NULL;
            }
            s->x = parse_expr(p, 0);
            if (!s->x || expect_close(p, T_PCLOSE))
                return NULL;
            *tail = s;
            tail = &s->next;
            continue;
        }
        if (t->type == T_TOPEN) {
            tok *name = peek2(p);
            if (in_list(name, stops)) {
                next(p);
                next(p);
                *found = name;
                return head;
            }
            next(p);
            snode *s = NULL;
            if (parse_tag(p, t, &s))
                return NULL;
            if (s) {
                *tail = s;
                tail = &s->next;
            }
            continue;
        }
        char b[64];
        perr(p, t->start, "unexpected %s", tok_desc(t, b, sizeof b));
        return NULL;
    }
}

static int need_end(P *p, const tok *found, const tok *open, const char *what, const char *end)
{
    if (found)
        return 0;
    int line, col;
    lc_of(p, open->start, &line, &col);
    return perr(p, peek(p)->start, "missing '{%% %s %%}' for the '{%% %s %%}' at line %d, column %d",
                end, what, line, col);
}

static char *expect_ident(P *p, const char *what)
{
    tok *t = peek(p);
    if (t->type != T_NAME) {
        char b[64];
        perr(p, t->start, "expected %s, found %s", what, tok_desc(t, b, sizeof b));
        return NULL;
    }
    next(p);
    return tok_name(p, t);
}

static snode *parse_if_rest(P *p, const tok *open)
{
    snode *s = mks(p, S_IF, open);
    if (peek(p)->type == T_TCLOSE) {
        perr(p, peek(p)->start, "expected a condition after 'if'");
        return NULL;
    }
    s->x = parse_expr(p, 0);
    if (!s->x || expect_close(p, T_TCLOSE))
        return NULL;
    static const char *const stops[] = {"elseif", "elif", "else", "endif", NULL};
    const tok *f;
    s->body = parse_block(p, stops, &f);
    if (p->failed || need_end(p, f, open, "if", "endif"))
        return NULL;
    if (is_name(f, "elseif") || is_name(f, "elif")) {
        s->alt = parse_if_rest(p, open);
        if (!s->alt)
            return NULL;
        return s;
    }
    if (is_name(f, "else")) {
        if (expect_close(p, T_TCLOSE))
            return NULL;
        static const char *const ends[] = {"endif", NULL};
        s->alt = parse_block(p, ends, &f);
        if (p->failed || need_end(p, f, open, "if", "endif"))
            return NULL;
    }
    if (expect_close(p, T_TCLOSE))
        return NULL;
    return s;
}

static int parse_tag(P *p, const tok *open, snode **out)
{
    tok *nt = peek(p);
    *out = NULL;
    if (nt->type != T_NAME) {
        char b[64];
        return perr(p, nt->start, "expected a tag name after '{%%', found %s", tok_desc(nt, b, sizeof b));
    }
    next(p);
    const tok *f;
    if (is_name(nt, "if")) {
        *out = parse_if_rest(p, open);
        return *out ? 0 : -1;
    }
    if (is_name(nt, "for")) {
        snode *s = mks(p, S_FOR, open);
        if (!(s->v1 = expect_ident(p, "a loop variable name after 'for'")))
            return -1;
        if (is_punct(peek(p), ",")) {
            next(p);
            if (!(s->v2 = expect_ident(p, "a second loop variable name after ','")))
                return -1;
        }
        if (!is_name(peek(p), "in")) {
            char b[64];
            return perr(p, peek(p)->start, "expected 'in' in the for tag, found %s",
                        tok_desc(peek(p), b, sizeof b));
        }
        next(p);
        s->x = parse_expr(p, 0);
        if (!s->x || expect_close(p, T_TCLOSE))
            return -1;
        static const char *const stops[] = {"else", "endfor", NULL};
        s->body = parse_block(p, stops, &f);
        if (p->failed || need_end(p, f, open, "for", "endfor"))
            return -1;
        if (is_name(f, "else")) {
            if (expect_close(p, T_TCLOSE))
                return -1;
            static const char *const ends[] = {"endfor", NULL};
            s->alt = parse_block(p, ends, &f);
            if (p->failed || need_end(p, f, open, "for", "endfor"))
                return -1;
        }
        if (expect_close(p, T_TCLOSE))
            return -1;
        *out = s;
        return 0;
    }
    if (is_name(nt, "set")) {
        snode *s = mks(p, S_SET, open);
        if (!(s->v1 = expect_ident(p, "a variable name after 'set'")))
            return -1;
        if (expect_punct(p, "="))
            return -1;
        s->x = parse_expr(p, 0);
        if (!s->x || expect_close(p, T_TCLOSE))
            return -1;
        *out = s;
        return 0;
    }
    if (is_name(nt, "filter")) {
        snode *s = mks(p, S_FILTER, open);
        xnode *hole = mk(p, X_HOLE, nt);
        xnode *x = parse_filter(p, hole);
        while (x && is_punct(peek(p), "|")) {
            next(p);
            x = parse_filter(p, x);
        }
        if (!x || expect_close(p, T_TCLOSE))
            return -1;
        s->x = x;
        static const char *const ends[] = {"endfilter", NULL};
        s->body = parse_block(p, ends, &f);
        if (p->failed || need_end(p, f, open, "filter", "endfilter") || expect_close(p, T_TCLOSE))
            return -1;
        *out = s;
        return 0;
    }
    if (is_name(nt, "macro")) {
        macro *m = expr__alloc(p->t, sizeof *m);
        if (!(m->name = expect_ident(p, "a macro name")))
            return -1;
        for (macro *o = p->t->macros; o; o = o->next)
            if (!strcmp(o->name, m->name))
                return perr(p, nt->start, "macro '%s' is defined twice", m->name);
        if (expect_punct(p, "("))
            return -1;
        while (!is_punct(peek(p), ")")) {
            if (m->nparams == EXPR__MAX_PARAMS * 2 - 1)
                return perr(p, peek(p)->start, "too many macro parameters");
            const char *pn = expect_ident(p, "a parameter name");
            if (!pn)
                return -1;
            m->params[m->nparams] = pn;
            if (is_punct(peek(p), "=")) {
                next(p);
                if (!(m->dflt[m->nparams] = parse_expr(p, 0)))
                    return -1;
            }
            m->nparams++;
            if (is_punct(peek(p), ","))
                next(p);
            else
                break;
        }
        if (expect_punct(p, ")") || expect_close(p, T_TCLOSE))
            return -1;
        static const char *const ends[] = {"endmacro", NULL};
        m->body = parse_block(p, ends, &f);
        if (p->failed || need_end(p, f, open, "macro", "endmacro") || expect_close(p, T_TCLOSE))
            return -1;
        m->next = p->t->macros;
        p->t->macros = m;
        return 0;
    }
    if (is_name(nt, "block")) {
        /* {% block name %}...{% endblock %}: renders its body in place; block("name") again */
        snode *s = mks(p, S_BLOCK, open);
        tok *bt = peek(p);
        if (bt->type != T_NAME && bt->type != T_STR) {
            char b[64];
            return perr(p, bt->start, "expected a block name, found %s", tok_desc(bt, b, sizeof b));
        }
        next(p);
        s->v1 = tok_name(p, bt);
        for (const snode *o = p->t->blocks; o; o = o->next_block)
            if (!strcmp(o->v1, s->v1))
                return perr(p, bt->start, "block '%s' is defined twice", s->v1);
        if (expect_close(p, T_TCLOSE))
            return -1;
        static const char *const ends[] = {"endblock", NULL};
        s->body = parse_block(p, ends, &f);
        if (p->failed || need_end(p, f, open, "block", "endblock"))
            return -1;
        tok *en = peek(p); /* {% endblock name %}: the name must match */
        if (en->type == T_NAME || en->type == T_STR) {
            next(p);
            if (en->slen != strlen(s->v1) || memcmp(en->s, s->v1, en->slen))
                return perr(p, en->start, "'{%% endblock %.*s %%}' closes block '%s'", (int)en->slen, en->s, s->v1);
        }
        if (expect_close(p, T_TCLOSE))
            return -1;
        s->next_block = p->t->blocks;
        p->t->blocks = s;
        *out = s;
        return 0;
    }
    if (is_name(nt, "extends") || is_name(nt, "import") || is_name(nt, "include") || is_name(nt, "embed"))
        return perr(p, nt->start, "'{%% %.*s %%}' is not supported: it loads another template by name, and a flow "
                                  "property is one template with none to load (use a macro, or block() to repeat "
                                  "a block)", (int)nt->slen, nt->s);
    if (in_list(nt, block_ends))
        return perr(p, nt->start, "unexpected '{%% %.*s %%}' (no open tag to end)", (int)nt->slen, nt->s);
    static const char *const tags[] = {"if", "for", "set", "filter", "macro", "raw", "block", NULL};
    char nm[64];
    snprintf(nm, sizeof nm, "%.*s", (int)(nt->slen < 60 ? nt->slen : 60), nt->s);
    const char *s = expr__suggest(nm, tags);
    if (s)
        return perr(p, nt->start, "unknown tag '%s' (did you mean '%s'?)", nm, s);
    return perr(p, nt->start, "unknown tag '%s'", nm);
}

/* Turns X_CALL into X_MACRO or X_FUNC when the name is known. */
static int resolve_calls(P *p)
{
    for (size_t i = 0; i < p->ncalls; i++) {
        xnode *x = p->calls[i];
        arglist al;
        al.n = x->nkids;
        for (int k = 0; k < x->nkids; k++) {
            al.kids[k] = x->kids[k];
            al.names[k] = x->kwnames[k];
            al.at[k] = x->kids[k]->start;
        }
        const macro *m = NULL;
        for (const macro *o = p->t->macros; o; o = o->next)
            if (!strcmp(o->name, x->name))
                m = o;
        if (m) {
            x->kind = X_MACRO;
            x->mac = m;
            const char *params[EXPR__MAX_PARAMS * 2 + 1];
            for (int k = 0; k < m->nparams; k++)
                params[k] = m->params[k];
            params[m->nparams] = NULL;
            if (map_args(p, x, &al, "macro", x->name, params, 0, 0, x->start))
                return -1;
            continue;
        }
        const func_def *fd = expr__func_find(x->name);
        if (fd) {
            /* the host may override a built-in: keep the raw arguments too */
            if (map_args(p, x, &al, "function", x->name, fd->params, fd->nreq, fd->variadic, x->start))
                return -1;
            x->kind = X_FUNC;
            x->fndef = fd;
        }
    }
    return 0;
}

expr_tmpl *expr_compile(const char *src, kerr *e)
{
    expr_tmpl *t = xcalloc(1, sizeof *t);
    t->src = xstrdup(src ? src : "");
    P p = {.t = t, .src = t->src, .n = strlen(t->src), .e = e};
    size_t capl = 16;
    p.lines = xmalloc(capl * sizeof *p.lines);
    p.lines[p.nlines++] = 0;
    for (size_t i = 0; i < p.n; i++)
        if (p.src[i] == '\n') {
            if (p.nlines == capl) {
                capl *= 2;
                p.lines = xrealloc(p.lines, capl * sizeof *p.lines);
            }
            p.lines[p.nlines++] = (unsigned)(i + 1);
        }
    int rc = lex(&p);
    if (!rc) {
        const tok *f;
        t->root = parse_block(&p, block_ends, &f);
        if (!p.failed && f)
            perr(&p, f->start, "unexpected '{%% %.*s %%}' (no open tag to end)", (int)f->slen, f->s);
        if (!p.failed)
            resolve_calls(&p);
        rc = p.failed ? -1 : 0;
    }
    free(p.toks);
    free(p.lines);
    free(p.calls);
    if (rc) {
        expr_tmpl_free(t);
        return NULL;
    }
    if (t->root && t->root->kind == S_PRINT && !t->root->next)
        t->single = t->root->x;
    /* Literals become immortal (the refcount jansson uses for its own static
     * true/false/null): renders hand them out with json_incref from many
     * threads at once, and an immortal value is never written to. */
    for (size_t i = 0; i < t->nlits; i++)
        if (t->lits[i] && t->lits[i]->refcount == 1)
            t->lits[i]->refcount = (size_t)-1;
    return t;
}

void expr_tmpl_free(expr_tmpl *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nlits; i++) {
        json_t *v = t->lits[i];
        if (v && v->refcount == (size_t)-1 && !json_is_boolean(v) && !json_is_null(v))
            v->refcount = 1; /* made immortal by expr_compile */
        json_decref(v);
    }
    free(t->lits);
    arena_blk *b = t->arena;
    while (b) {
        arena_blk *nb = b->next;
        free(b);
        b = nb;
    }
    free(t->src);
    free(t);
}

const char *expr_tmpl_source(const expr_tmpl *t) { return t->src; }

int expr_is_template(const char *s)
{
    if (!s)
        return 0;
    for (const char *q = strchr(s, '{'); q; q = strchr(q + 1, '{'))
        if (q[1] == '{' || q[1] == '%')
            return 1;
    return 0;
}
