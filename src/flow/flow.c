/*
 * flow.c: loading a flow: read the file, parse the YAML with positions,
 * validate, and keep what the engine needs (id, namespace, task index).
 */
#include "flow/flow_int.h"
#include "util/fs.h"
#include "util/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void flow_free(flow *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->ntasks; i++)
        free(f->tasks[i].path);
    free(f->tasks);
    json_decref(f->doc);
    posmap_free(f->pos);
    free(f->source);
    free(f->file);
    free(f);
}

int flow_load_text(const char *text, size_t len, const char *name, flow **out, diags *d)
{
    *out = NULL;
    kerr e = KERR_INIT;
    json_t *doc;
    posmap *pm;
    if (yaml_load(text, len, NULL, &doc, &pm, &e)) {
        diags_add(d, name, e.line, e.col, NULL, "%s", e.msg);
        return FLOW_NOT_YAML;
    }
    flow *f = xcalloc(1, sizeof *f);
    f->file = xstrdup(name);
    f->source = xmalloc(len + 1);
    memcpy(f->source, text, len);
    f->source[len] = '\0';
    f->source_len = len;
    f->doc = doc;
    f->pos = pm;
    if (json_is_null(doc) || (json_is_object(doc) && json_object_size(doc) == 0)) {
        diags_add(d, name, 1, 1, "", "empty flow: a flow needs at least id, namespace and tasks");
        flow_free(f);
        return -1;
    }
    f->id = json_string_value(json_object_get(doc, "id"));
    f->namespace = json_string_value(json_object_get(doc, "namespace"));
    if (flow_validate_doc(f, d)) {
        flow_free(f);
        return -1;
    }
    json_t *rev = json_object_get(doc, "revision");
    f->revision = json_is_integer(rev) ? (int)json_integer_value(rev) : 0;
    f->disabled = json_is_true(json_object_get(doc, "disabled"));
    *out = f;
    return 0;
}

int flow_load_file(const char *path, flow **out, diags *d)
{
    *out = NULL;
    yaml_limits lim;
    yaml_limits_default(&lim);
    buf b = BUF_INIT;
    kerr e = KERR_INIT;
    if (fs_read_file(path, lim.max_bytes, &b, &e)) {
        /* the message already names the path */
        const char *m = e.msg;
        size_t pl = strlen(path);
        if (!strncmp(m, path, pl) && !strncmp(m + pl, ": ", 2))
            m += pl + 2;
        diags_add(d, path, 0, 0, NULL, "%s", m);
        buf_free(&b);
        return -1;
    }
    int rc = flow_load_text(buf_str(&b), b.len, path, out, d);
    buf_free(&b);
    return rc;
}

int flow_task_index(const flow *f, const char *id)
{
    for (size_t i = 0; i < f->ntasks; i++)
        if (f->tasks[i].id && !strcmp(f->tasks[i].id, id))
            return (int)i;
    return -1;
}

void flow_full_id(const flow *f, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s.%s", f->namespace ? f->namespace : "?", f->id ? f->id : "?");
}

/* ---- subflow recursion across a folder ------------------------------------- */

typedef struct call {
    int from, to;        /* flow indexes */
    const flow_task *task;
} call;

static int find_flow(flow *const *flows, size_t n, const char *ns, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (flows[i] && flows[i]->namespace && flows[i]->id && !strcmp(flows[i]->namespace, ns) &&
            !strcmp(flows[i]->id, id))
            return (int)i;
    return -1;
}

size_t flow_check_recursion(flow *const *flows, size_t n, diags *d)
{
    const type_def *sub = flow_type_find("io.kestra.plugin.core.flow.Subflow");
    const type_def *old = flow_type_find("io.kestra.core.tasks.flows.Flow");
    const type_def *fei = flow_type_find("io.kestra.plugin.core.flow.ForEachItem");
    call *calls = NULL;
    size_t ncalls = 0;
    for (size_t i = 0; i < n; i++) {
        if (!flows[i])
            continue;
        for (size_t t = 0; t < flows[i]->ntasks; t++) {
            const flow_task *ft = &flows[i]->tasks[t];
            if (!ft->def || !(ft->def == sub || ft->def == old || ft->def == fei))
                continue;
            const char *ns = json_string_value(json_object_get(ft->json, "namespace"));
            const char *id = json_string_value(json_object_get(ft->json, "flowId"));
            if (!ns || !id || strstr(ns, "{{") || strstr(id, "{{"))
                continue;
            int to = find_flow(flows, n, ns, id);
            if (to < 0)
                continue;
            calls = xrealloc(calls, (ncalls + 1) * sizeof *calls);
            calls[ncalls++] = (call){(int)i, to, ft};
        }
    }
    /* depth-first search for cycles; colour 0 white, 1 on stack, 2 done */
    int *colour = xcalloc(n ? n : 1, sizeof *colour);
    int *via = xcalloc(n ? n : 1, sizeof *via); /* the call taken out of each flow on the stack */
    int *stack = xcalloc(n ? n : 1, sizeof *stack);
    size_t problems = 0;
    for (size_t s = 0; s < n; s++) {
        if (colour[s] || !flows[s])
            continue;
        size_t sp = 0;
        stack[sp++] = (int)s;
        colour[s] = 1;
        via[s] = -1;
        while (sp) {
            int u = stack[sp - 1];
            int next_call = -1;
            for (size_t c = (size_t)(via[u] + 1); c < ncalls; c++)
                if (calls[c].from == u) {
                    next_call = (int)c;
                    break;
                }
            if (next_call < 0) {
                colour[u] = 2;
                sp--;
                continue;
            }
            via[u] = next_call;
            int w = calls[next_call].to;
            if (colour[w] == 1) {
                /* a cycle: report it at the call that closes it */
                buf chain = BUF_INIT;
                size_t k = 0;
                while (k < sp && stack[k] != w)
                    k++;
                for (size_t j = k; j < sp; j++) {
                    char fid[300];
                    flow_full_id(flows[stack[j]], fid, sizeof fid);
                    buf_printf(&chain, "%s -> ", fid);
                }
                char wid[300];
                flow_full_id(flows[w], wid, sizeof wid);
                buf_puts(&chain, wid);
                const flow_task *ft = calls[next_call].task;
                const flow *fu = flows[u];
                const ypos *p = posmap_find(fu->pos, ft->path);
                diags_add(d, fu->file, p ? p->line : 0, p ? p->col : 0, ft->path,
                          "task '%s': recursive subflow calls: %s", ft->id ? ft->id : "?", buf_str(&chain));
                buf_free(&chain);
                problems++;
            } else if (colour[w] == 0) {
                colour[w] = 1;
                via[w] = -1;
                stack[sp++] = w;
            }
        }
    }
    free(colour);
    free(via);
    free(stack);
    free(calls);
    return problems;
}
