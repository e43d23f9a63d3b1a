/*
 * model.c: the engine's view of a flow (eflow: branches of every flowable,
 * plugin defaults applied) and of an execution in memory (xexec: task runs
 * indexed by parent, task and iteration; the `outputs` tree of expressions),
 * and the expression context a task renders in.
 */
#include "engine/engine_int.h"
#include "util/aesgcm.h"
#include "util/datetime.h"
#include "util/mem.h"
#include "util/strutil.h"

#include <stdlib.h>
#include <string.h>

/* ---- the compiled flow ------------------------------------------------------ */

static void elist_from(const flow *f, const json_t *arr, elist *out, const etask *tasks)
{
    out->v = NULL;
    out->n = 0;
    if (!json_is_array(arr))
        return;
    out->v = xcalloc(json_array_size(arr) + 1, sizeof *out->v);
    size_t i;
    const json_t *t;
    json_array_foreach(arr, i, t) {
        const char *id = json_string_value(json_object_get(t, "id"));
        int idx = id ? flow_task_index(f, id) : -1;
        if (idx < 0 || (tasks && tasks[idx].disabled))
            continue;
        out->v[out->n++] = idx;
    }
}

static void add_branch(etask *t, const char *name, const flow *f, const json_t *arr, const etask *all)
{
    t->branches = xrealloc(t->branches, (t->nbranches + 1) * sizeof *t->branches);
    struct ebranch *b = &t->branches[t->nbranches++];
    b->name = xstrdup(name);
    elist_from(f, arr, &b->list, all);
}

const elist *etask_branch(const etask *t, const char *name)
{
    for (size_t i = 0; i < t->nbranches; i++)
        if (!strcmp(t->branches[i].name, name))
            return &t->branches[i].list;
    return NULL;
}

/* The task with the flow's pluginDefaults applied: a new reference. */
static json_t *apply_defaults(const json_t *doc, const json_t *task, const char *type, const type_def *def)
{
    json_t *out = NULL;
    for (int pass = 0; pass < 2; pass++) {
        const json_t *list = json_object_get(doc, pass ? "pluginDefaults" : "taskDefaults");
        size_t i;
        const json_t *d;
        json_array_foreach(list, i, d) {
            const char *dt = json_string_value(json_object_get(d, "type"));
            const json_t *vals = json_object_get(d, "values");
            if (!dt || !json_is_object(vals))
                continue;
            int match = !strcmp(dt, type) || str_starts_with(type, dt) || (def && flow_type_find(dt) == def);
            if (!match)
                continue;
            int forced = json_is_true(json_object_get(d, "forced"));
            if (!out)
                out = json_deep_copy(task);
            const char *k;
            json_t *v;
            json_object_foreach((json_t *)vals, k, v) {
                if (forced || !json_object_get(out, k))
                    json_object_set(out, k, v);
            }
        }
    }
    return out ? out : json_incref((json_t *)task);
}

size_t json_share(json_t *v)
{
    if (!v)
        return 0;
    size_t old = v->refcount;
    __atomic_store_n(&v->refcount, (size_t)-1, __ATOMIC_RELEASE);
    return old;
}

void json_unshare(json_t *v, size_t refcount)
{
    if (v && refcount)
        __atomic_store_n(&v->refcount, refcount, __ATOMIC_RELEASE);
}

eflow *eflow_new(flow *f, int revision, kerr *e)
{
    eflow *fl = xcalloc(1, sizeof *fl);
    fl->f = f;
    fl->revision = revision;
    fl->tasks = xcalloc(f->ntasks ? f->ntasks : 1, sizeof *fl->tasks);
    for (size_t i = 0; i < f->ntasks; i++) {
        etask *t = &fl->tasks[i];
        const flow_task *ft = &f->tasks[i];
        t->ft = ft;
        t->json = apply_defaults(f->doc, ft->json, ft->type ? ft->type : "", ft->def);
        t->disabled = json_is_true(json_object_get(t->json, "disabled"));
        if (ft->def && ft->def->kind == TK_FLOWABLE) {
            t->impl = flowable_find(ft->def);
            if (!t->impl)
                t->impl = &flowable_missing;
        } else {
            t->hooks = ft->def ? ft->def->hooks : NULL;
        }
    }
    for (size_t i = 0; i < f->ntasks; i++) {
        etask *t = &fl->tasks[i];
        if (!t->impl)
            continue;
        const type_def *def = t->ft->def;
        for (const prop_def *p = def->props; p && p->name; p++) {
            const json_t *v = json_object_get(t->json, p->name);
            if (p->type == PT_TASKS) {
                add_branch(t, p->name, f, v, fl->tasks);
            } else if (p->type == PT_MAP && p->item && p->item->type == PT_TASKS && json_is_object(v)) {
                const char *k;
                json_t *arr;
                json_object_foreach((json_t *)v, k, arr) {
                    char *name = xasprintf("%s/%s", p->name, k);
                    add_branch(t, name, f, arr, fl->tasks);
                    free(name);
                }
            }
        }
        if (t->impl->flags & FL_DAG) {
            /* the dag's children and their dependencies */
            const json_t *list = json_object_get(t->json, "tasks");
            json_t *arr = json_array();
            size_t k;
            const json_t *it;
            json_array_foreach(list, k, it) json_array_append(arr, json_object_get(it, "task"));
            add_branch(t, "dag", f, arr, fl->tasks);
            json_decref(arr);
            const elist *dl = etask_branch(t, "dag");
            t->dag_ndeps = xcalloc(dl->n + 1, sizeof *t->dag_ndeps);
            t->dag_dep_v = xcalloc(dl->n + 1, sizeof *t->dag_dep_v);
            for (size_t c = 0; c < dl->n; c++) {
                /* find the dag entry of this child */
                json_array_foreach(list, k, it) {
                    const char *cid = json_string_value(json_object_get(json_object_get(it, "task"), "id"));
                    if (!cid || strcmp(cid, f->tasks[dl->v[c]].id))
                        continue;
                    const json_t *deps = json_object_get(it, "dependsOn");
                    t->dag_dep_v[c] = xcalloc(json_array_size(deps) + 1, sizeof(int));
                    size_t d;
                    const json_t *dep;
                    json_array_foreach(deps, d, dep) {
                        const char *did = json_string_value(dep);
                        int di = did ? flow_task_index(f, did) : -1;
                        if (di >= 0 && !fl->tasks[di].disabled)
                            t->dag_dep_v[c][t->dag_ndeps[c]++] = di;
                    }
                }
            }
        }
    }
    elist_from(f, json_object_get(f->doc, "tasks"), &fl->root, fl->tasks);
    elist_from(f, json_object_get(f->doc, "errors"), &fl->errors, fl->tasks);
    elist_from(f, json_object_get(f->doc, "finally"), &fl->finally, fl->tasks);
    elist_from(f, json_object_get(f->doc, "afterExecution"), &fl->after, fl->tasks);
    fl->vars_refs = json_share(json_object_get(f->doc, "variables"));
    (void)e;
    return fl;
}

void eflow_free(eflow *fl)
{
    if (!fl)
        return;
    for (size_t i = 0; i < fl->f->ntasks; i++) {
        etask *t = &fl->tasks[i];
        json_decref((json_t *)t->json);
        if (t->dag_dep_v) {
            const elist *dl = etask_branch(t, "dag");
            for (size_t c = 0; dl && c < dl->n; c++)
                free(t->dag_dep_v[c]);
        }
        free(t->dag_dep_v);
        free(t->dag_ndeps);
        for (size_t b = 0; b < t->nbranches; b++) {
            free(t->branches[b].name);
            free(t->branches[b].list.v);
        }
        free(t->branches);
    }
    free(fl->tasks);
    free(fl->root.v);
    free(fl->errors.v);
    free(fl->finally.v);
    free(fl->after.v);
    json_unshare(json_object_get(fl->f->doc, "variables"), fl->vars_refs);
    flow_free(fl->f);
    free(fl);
}

/* ---- executions in memory ------------------------------------------------------ */

xexec *xexec_new(eflow *fl)
{
    xexec *x = xcalloc(1, sizeof *x);
    x->fl = fl;
    x->outputs = json_object();
    pthread_mutex_init(&x->lock, NULL);
    return x;
}

void xexec_free(xexec *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->nruns; i++) {
        store_task_run_clear(&x->runs[i].row);
        json_decref(x->runs[i].value);
        json_decref(x->runs[i].state_data);
        xrun_loop_reset(&x->runs[i]);
    }
    free(x->runs);
    free(x->wlist);
    free(x->kidx);
    free(x->iidx);
    store_execution_clear(&x->row);
    json_decref(x->outputs);
    pthread_mutex_destroy(&x->lock);
    free(x->workdir_root);
    free(x);
}

/* ---- run indexes ------------------------------------------------------------ */

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static uint64_t key_hash(int parent, int task, int iteration)
{
    return mix(((uint64_t)(uint32_t)(parent + 1) << 40) ^ ((uint64_t)(uint32_t)task << 20) ^ (uint64_t)(uint32_t)iteration);
}

static uint64_t id_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ULL;
    }
    return h;
}

static void index_insert(xexec *x, int r);

static void index_rebuild(xexec *x, size_t cap)
{
    free(x->kidx);
    free(x->iidx);
    x->kcap = x->icap = cap;
    x->kidx = xmalloc(cap * sizeof *x->kidx);
    x->iidx = xmalloc(cap * sizeof *x->iidx);
    for (size_t i = 0; i < cap; i++)
        x->kidx[i] = x->iidx[i] = -1;
    for (size_t r = 0; r < x->nruns; r++)
        index_insert(x, (int)r);
}

/* Inserts run r; a newer run of the same key replaces the older one. */
static void index_insert(xexec *x, int r)
{
    if ((x->nruns + 1) * 2 > x->kcap) {
        index_rebuild(x, x->kcap ? x->kcap * 4 : 64);
        return; /* the rebuild inserted every run, r included */
    }
    const xrun *run = &x->runs[r];
    size_t mask = x->kcap - 1;
    size_t i = (size_t)key_hash(run->parent, run->task, run->row.iteration) & mask;
    while (x->kidx[i] >= 0) {
        const xrun *o = &x->runs[x->kidx[i]];
        if (o->parent == run->parent && o->task == run->task && o->row.iteration == run->row.iteration) {
            if (x->kidx[i] < r)
                x->kidx[i] = r;
            goto ids;
        }
        i = (i + 1) & mask;
    }
    x->kidx[i] = r;
ids:
    mask = x->icap - 1;
    i = (size_t)id_hash(run->row.id) & mask;
    while (x->iidx[i] >= 0)
        i = (i + 1) & mask;
    x->iidx[i] = r;
}

int xexec_find_run(const xexec *x, int parent, int task, int iteration)
{
    if (!x->kcap)
        return -1;
    size_t mask = x->kcap - 1;
    size_t i = (size_t)key_hash(parent, task, iteration) & mask;
    while (x->kidx[i] >= 0) {
        const xrun *o = &x->runs[x->kidx[i]];
        if (o->parent == parent && o->task == task && o->row.iteration == iteration)
            return x->kidx[i];
        i = (i + 1) & mask;
    }
    return -1;
}

int xexec_run_by_id(const xexec *x, const char *id)
{
    if (!x->icap || !id)
        return -1;
    size_t mask = x->icap - 1;
    size_t i = (size_t)id_hash(id) & mask;
    while (x->iidx[i] >= 0) {
        if (!strcmp(x->runs[x->iidx[i]].row.id, id))
            return x->iidx[i];
        i = (i + 1) & mask;
    }
    return -1;
}

/* The text of a loop value as taskrun.value shows it. */
static char *value_text(const json_t *v)
{
    if (!v || json_is_null(v))
        return NULL;
    if (json_is_string(v))
        return xstrdup(json_string_value(v));
    return expr_value_to_text(v);
}

int xexec_add_run(xexec *x, int task, int parent, const json_t *value, int iteration, int64_t now)
{
    if (x->nruns == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 16;
        x->runs = xrealloc(x->runs, x->cap * sizeof *x->runs);
    }
    int r = (int)x->nruns++;
    xrun *run = &x->runs[r];
    memset(run, 0, sizeof *run);
    char id[STORE_ID_LEN + 1];
    store_new_id(id);
    run->row.id = xstrdup(id);
    run->row.execution_id = xstrdup(x->row.id);
    run->row.parent_task_run_id = parent >= 0 ? xstrdup(x->runs[parent].row.id) : NULL;
    run->row.task_id = xstrdup(x->fl->tasks[task].ft->id);
    run->value = value ? json_incref((json_t *)value) : NULL;
    run->row.value = value_text(value);
    run->row.iteration = iteration;
    run->row.created_us = now;
    run->task = task;
    run->parent = parent;
    run->fresh = 1;
    store_task_run_set_state(&run->row, STATE_CREATED, now);
    index_insert(x, r);
    if (!x->fl->tasks[task].impl)
        x->active++;
    xrun_touch(x, r);
    return r;
}

void xrun_touch(xexec *x, int r)
{
    xrun *run = &x->runs[r];
    run->dirty = 1;
    if (run->listed)
        return;
    if (x->nwlist == x->wcap) {
        x->wcap = x->wcap ? x->wcap * 2 : 16;
        x->wlist = xrealloc(x->wlist, x->wcap * sizeof *x->wlist);
    }
    x->wlist[x->nwlist++] = r;
    run->listed = 1;
}

void xexec_mark_written(xexec *x)
{
    for (size_t i = 0; i < x->nwlist; i++) {
        xrun *run = &x->runs[x->wlist[i]];
        run->fresh = run->dirty = run->listed = 0;
    }
    x->nwlist = 0;
    x->dirty = 0;
}

void xrun_loop_reset(xrun *run)
{
    if (!run->loop)
        return;
    free(run->loop->open);
    free(run->loop);
    run->loop = NULL;
}

/* Keeps xexec.active and xexec.paused as a run moves from state a to b. */
static void count_state(xexec *x, const xrun *run, store_state st, int sign)
{
    if (st == STATE_PAUSED)
        x->paused += (size_t)sign;
    if (!x->fl->tasks[run->task].impl && !store_state_is_terminated(st))
        x->active += (size_t)sign;
}

void xrun_set_state(xexec *x, int r, store_state st, int64_t now)
{
    xrun *run = &x->runs[r];
    if (run->row.state == st && run->row.n_histories)
        return;
    count_state(x, run, run->row.state, -1);
    count_state(x, run, st, +1);
    store_task_run_set_state(&run->row, st, now);
    run->row.updated_us = now;
    xrun_touch(x, r);
}

int xexec_load_runs(xexec *x, store_task_run *rows, size_t n, kerr *e)
{
    x->runs = xcalloc(n ? n : 1, sizeof *x->runs);
    x->cap = n ? n : 1;
    x->nruns = 0;
    json_t *ids = json_object();
    for (size_t i = 0; i < n; i++) {
        xrun *run = &x->runs[x->nruns];
        memset(run, 0, sizeof *run);
        run->row = rows[i];
        memset(&rows[i], 0, sizeof rows[i]);
        run->task = flow_task_index(x->fl->f, run->row.task_id);
        if (run->task < 0) {
            store_task_run_clear(&run->row);
            json_decref(ids);
            return kerr_set(e, "execution %s: task run %s names task '%s', which its flow revision does not have",
                            x->row.id, run->row.id ? run->row.id : "?", run->row.task_id);
        }
        run->parent = -1;
        if (run->row.parent_task_run_id) {
            json_t *slot = json_object_get(ids, run->row.parent_task_run_id);
            if (slot)
                run->parent = (int)json_integer_value(slot);
        }
        json_object_set_new(ids, run->row.id, json_integer((json_int_t)x->nruns));
        /* the value's JSON: kept in the row's outputs under "_value" when it was not a string */
        json_t *vj = run->row.outputs ? json_object_get(run->row.outputs, "_value") : NULL;
        if (vj)
            run->value = json_incref(vj);
        else if (run->row.value)
            run->value = json_string(run->row.value);
        json_t *sd = run->row.outputs ? json_object_get(run->row.outputs, "_state") : NULL;
        if (sd)
            run->state_data = json_incref(sd);
        count_state(x, run, run->row.state, +1);
        x->nruns++;
    }
    json_decref(ids);
    size_t cap = 64;
    while (cap < x->nruns * 2 + 2)
        cap *= 2;
    index_rebuild(x, cap);
    for (size_t i = 0; i < x->nruns; i++)
        xexec_index_outputs(x, (int)i);
    return 0;
}

/* ---- outputs and the expression context ------------------------------------------- */

static int is_loop(const etask *t) { return t->impl && (t->impl->flags & FL_LOOP); }

/* The loop values from the outermost loop to the innermost, for run r:
 * each run directly under a loop contributes its value. */
size_t xexec_value_chain(const xexec *x, int r, const char **out, size_t max)
{
    const char *tmp[32];
    size_t n = 0;
    for (int cur = r; cur >= 0 && n < 32; cur = x->runs[cur].parent) {
        int p = x->runs[cur].parent;
        if (p >= 0 && is_loop(&x->fl->tasks[x->runs[p].task]) && x->runs[cur].row.value)
            tmp[n++] = x->runs[cur].row.value;
    }
    size_t k = 0;
    for (size_t i = n; i > 0 && k < max; i--)
        out[k++] = tmp[i - 1];
    return k;
}

/* Visible outputs: the row's outputs without kite's bookkeeping keys. */
static json_t *public_outputs(const json_t *o)
{
    if (!o)
        return NULL;
    if (!json_object_get(o, "_value") && !json_object_get(o, "_state"))
        return json_incref((json_t *)o);
    json_t *c = json_copy((json_t *)o);
    json_object_del(c, "_value");
    json_object_del(c, "_state");
    return c;
}

/* Whether v holds Kestra's encrypted value {type: io.kestra.datatype:aes_encrypted, value}. */
static int holds_encrypted(const json_t *v, int depth)
{
    if (depth > 32)
        return 0;
    const char *k;
    json_t *c;
    size_t i;
    if (json_is_object(v)) {
        const char *t = json_string_value(json_object_get(v, "type"));
        if (t && !strcmp(t, TASKS_ENCRYPTED_TYPE) && json_is_string(json_object_get(v, "value")))
            return 1;
        json_object_foreach((json_t *)v, k, c)
            if (holds_encrypted(c, depth + 1))
                return 1;
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, c)
            if (holds_encrypted(c, depth + 1))
                return 1;
    }
    return 0;
}

/* v with every encrypted value decrypted (a copy where something changed),
 * each plaintext masked from then on, as Kestra decrypts outputs for the
 * tasks that read them. A value that does not decrypt (another key) stays
 * as it is. New reference. */
static json_t *decrypt_values(engine *en, json_t *v, int depth)
{
    if (depth > 32 || (!json_is_object(v) && !json_is_array(v)))
        return json_incref(v);
    if (json_is_object(v)) {
        const char *t = json_string_value(json_object_get(v, "type"));
        const char *val = json_string_value(json_object_get(v, "value"));
        if (t && val && !strcmp(t, TASKS_ENCRYPTED_TYPE)) {
            kerr e = KERR_INIT;
            size_t len = 0;
            char *plain = aesgcm_decrypt(en->enc_key, val, &len, &e);
            if (!plain)
                return json_incref(v);
            engine_add_secret(en, plain);
            json_t *s = json_stringn(plain, len);
            if (!s)
                s = json_stringn_nocheck(plain, len);
            explicit_bzero(plain, len);
            free(plain);
            return s;
        }
        json_t *out = json_object();
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c)
            json_object_set_new(out, k, decrypt_values(en, c, depth + 1));
        return out;
    }
    json_t *out = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(v, i, c)
        json_array_append_new(out, decrypt_values(en, c, depth + 1));
    return out;
}

void xexec_index_outputs(xexec *x, int r)
{
    xrun *run = &x->runs[r];
    json_t *pub = public_outputs(run->row.outputs);
    if (!pub || json_object_size(pub) == 0) {
        json_decref(pub);
        return;
    }
    if (!x->has_encrypted && holds_encrypted(pub, 0))
        x->has_encrypted = 1;
    const char *chain[32];
    size_t n = xexec_value_chain(x, r, chain, 32);
    const char *tid = run->row.task_id;
    if (n == 0) {
        json_object_set_new(x->outputs, tid, pub);
        return;
    }
    json_t *node = json_object_get(x->outputs, tid);
    if (!json_is_object(node)) {
        node = json_object();
        json_object_set_new(x->outputs, tid, node);
    }
    for (size_t i = 0; i + 1 < n; i++) {
        json_t *next = json_object_get(node, chain[i]);
        if (!json_is_object(next)) {
            next = json_object();
            json_object_set_new(node, chain[i], next);
        }
        node = next;
    }
    json_object_set_new(node, chain[n - 1], pub);
}

static int64_t first_state_time(const store_history *h, size_t n)
{
    return n ? h[0].at_us : 0;
}

json_t *xexec_context(engine *en, xexec *x, int r)
{
    const flow *f = x->fl->f;
    json_t *ctx = json_object();
    /* objects built member by member, not with json_pack (which parses its
     * format at each call): every render of every task builds this */
    json_t *fo = json_object();
    json_object_set_new_nocheck(fo, "id", json_string(f->id));
    json_object_set_new_nocheck(fo, "namespace", json_string(f->namespace));
    json_object_set_new_nocheck(fo, "revision", json_integer(x->fl->revision));
    json_object_set_new_nocheck(ctx, "flow", fo);
    json_t *exe = json_object();
    json_object_set_new_nocheck(exe, "id", json_string(x->row.id));
    json_object_set_new_nocheck(exe, "startDate",
                                engine_json_time(x->row.start_us ? x->row.start_us : x->row.created_us));
    json_object_set_new_nocheck(exe, "state", json_string_nocheck(store_state_name(x->row.state)));
    if (x->row.original_id)
        json_object_set_new(exe, "originalId", json_string(x->row.original_id));
    json_object_set_new(ctx, "execution", exe);
    if (x->row.inputs)
        json_object_set(ctx, "inputs", x->row.inputs);
    else
        json_object_set_new(ctx, "inputs", json_object());
    int decrypt = x->has_encrypted && en->enc_key;
    if (decrypt)
        json_object_set_new(ctx, "outputs", decrypt_values(en, x->outputs, 0));
    else
        json_object_set(ctx, "outputs", x->outputs);
    const json_t *vars = json_object_get(f->doc, "variables");
    const json_t *own = x->row.variables ? json_object_get(x->row.variables, "_vars") : NULL;
    if (json_is_object(own)) /* changed by SetVariables: a copy, the executor changes it */
        json_object_set_new(ctx, "vars", json_deep_copy(own));
    else if (vars)
        json_object_set(ctx, "vars", (json_t *)vars);
    else
        json_object_set_new(ctx, "vars", json_object());
    if (x->row.labels)
        json_object_set(ctx, "labels", x->row.labels);
    else
        json_object_set_new(ctx, "labels", json_object());
    json_object_set(ctx, "envs", en->envs);
    json_object_set(ctx, "globals", en->globals);
    if (x->row.trigger && en->enc_key && holds_encrypted(x->row.trigger, 0)) /* HTTP trigger's encryptBody */
        json_object_set_new(ctx, "trigger", decrypt_values(en, x->row.trigger, 0));
    else if (x->row.trigger)
        json_object_set(ctx, "trigger", x->row.trigger);
    if (r < 0)
        return ctx;
    const xrun *run = &x->runs[r];
    const etask *t = &x->fl->tasks[run->task];
    json_t *to = json_object();
    json_object_set_new_nocheck(to, "id", json_string(run->row.task_id));
    json_object_set_new_nocheck(to, "type", json_string(t->ft->type ? t->ft->type : ""));
    json_object_set_new_nocheck(ctx, "task", to);
    json_t *tr = json_object();
    json_object_set_new_nocheck(tr, "id", json_string(run->row.id));
    json_object_set_new_nocheck(tr, "startDate",
                                engine_json_time(first_state_time(run->row.histories, run->row.n_histories)));
    json_object_set_new_nocheck(tr, "attemptsCount",
                                json_integer(run->row.n_attempts ? (json_int_t)run->row.n_attempts - 1 : 0));
    if (run->row.parent_task_run_id)
        json_object_set_new(tr, "parentId", json_string(run->row.parent_task_run_id));
    /* Kestra always has taskrun.value: null outside loops */
    json_object_set_new(tr, "value", run->row.value ? json_string(run->row.value) : json_null());
    json_object_set_new(tr, "iteration", json_integer(run->row.iteration));
    json_object_set_new(ctx, "taskrun", tr);
    /* parents: every ancestor with a value, nearest first */
    json_t *parents = json_array();
    for (int p = run->parent; p >= 0; p = x->runs[p].parent) {
        const xrun *pr = &x->runs[p];
        if (!pr->row.value)
            continue;
        json_t *ptr = json_pack("{s:s,s:s}", "id", pr->row.id, "value", pr->row.value);
        json_t *entry = json_pack("{s:o}", "taskrun", ptr);
        json_t *po = public_outputs(pr->row.outputs);
        if (po && decrypt) {
            json_t *d = decrypt_values(en, po, 0);
            json_decref(po);
            po = d;
        }
        if (po)
            json_object_set_new(entry, "outputs", po);
        json_array_append_new(parents, entry);
    }
    if (json_array_size(parents))
        json_object_set(ctx, "parent", json_array_get(parents, 0));
    /* Loop: `item` of the nearest Loop around the run ({value, index, key}) */
    for (int c = r, p = run->parent; p >= 0; c = p, p = x->runs[p].parent) {
        const etask *pt = &x->fl->tasks[x->runs[p].task];
        if (!pt->impl || !(pt->impl->flags & FL_ITEM))
            continue;
        const json_t *sd = x->runs[p].state_data;
        int i = x->runs[c].row.iteration;
        const json_t *v = json_array_get(json_object_get(sd, "values"), (size_t)i);
        json_t *item = json_pack("{s:O?,s:i}", "value", v, "index", i);
        const json_t *k = json_array_get(json_object_get(sd, "keys"), (size_t)i);
        if (k)
            json_object_set(item, "key", (json_t *)k);
        json_object_set_new(ctx, "item", item);
        break;
    }
    json_object_set_new(ctx, "parents", parents);
    return ctx;
}

/* ---- actions ------------------------------------------------------------------------ */

void xactions_init(xactions *a) { memset(a, 0, sizeof *a); }

void xactions_clear(xactions *a)
{
    for (size_t i = 0; i < a->njobs; i++) {
        free(a->jobs[i].taskrun_id);
        json_decref(a->jobs[i].payload);
    }
    free(a->jobs);
    for (size_t i = 0; i < a->ncancel; i++)
        free(a->cancel_runs[i]);
    free(a->cancel_runs);
    json_decref(a->subflows);
    json_decref(a->kill_children);
    json_decref(a->notify_parent);
    json_decref(a->new_execution);
    memset(a, 0, sizeof *a);
}

void xactions_push(xactions *a, const char *kind, const char *taskrun_id, json_t *payload, int64_t available_us)
{
    if (a->njobs == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 8;
        a->jobs = xrealloc(a->jobs, a->cap * sizeof *a->jobs);
    }
    xjob *j = &a->jobs[a->njobs++];
    j->kind = kind;
    j->taskrun_id = taskrun_id ? xstrdup(taskrun_id) : NULL;
    j->payload = payload;
    j->available_us = available_us;
}
