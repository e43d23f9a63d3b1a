/*
 * bench_flow.c: flows validated per second over 10,000 generated flows, and
 * the memory one loaded flow holds. Compared with the limit of the machine:
 * libyaml's bare event parse of the same texts (no values, no validation).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "flow/flow.h"
#include "tasks/tasks.h"
#include "util/buf.h"
#include "util/datetime.h"

#define NFLOWS 10000

static char *gen_flow(int i)
{
    buf b = BUF_INIT;
    buf_printf(&b, "id: flow-%d\nnamespace: company.team%d\nlabels:\n  env: prod\n  team: data\n", i, i % 10);
    buf_printf(&b, "inputs:\n  - id: name\n    type: STRING\n    defaults: world\n  - id: count\n    type: INT\n"
                   "    required: false\n");
    buf_puts(&b, "tasks:\n");
    int ntasks = 4 + i % 8;
    for (int t = 0; t < ntasks; t++) {
        switch (t % 4) {
        case 0:
            buf_printf(&b, "  - id: log-%d\n    type: io.kestra.plugin.core.log.Log\n"
                           "    message: \"Hello {{ inputs.name }} %d\"\n", t, t);
            break;
        case 1:
            buf_printf(&b, "  - id: ret-%d\n    type: io.kestra.plugin.core.debug.Return\n"
                           "    format: \"{{ execution.id }}\"\n    retry:\n      type: constant\n"
                           "      interval: PT10S\n      maxAttempt: 3\n", t);
            break;
        case 2:
            buf_printf(&b, "  - id: par-%d\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n"
                           "      - id: a-%d\n        type: io.kestra.plugin.core.log.Log\n        message: a\n"
                           "      - id: b-%d\n        type: io.kestra.plugin.core.log.Log\n        message: b\n",
                       t, t, t);
            break;
        default:
            buf_printf(&b, "  - id: each-%d\n    type: io.kestra.plugin.core.flow.ForEach\n"
                           "    values: [\"x\", \"y\", \"z\"]\n    tasks:\n      - id: in-%d\n"
                           "        type: io.kestra.plugin.core.debug.Return\n        format: \"{{ taskrun.value }}\"\n",
                       t, t);
        }
    }
    buf_printf(&b, "triggers:\n  - id: daily\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 %d * * *\"\n",
               i % 24);
    return buf_steal(&b);
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

int main(void)
{
    tasks_register_all();
    char **texts = malloc(NFLOWS * sizeof *texts);
    size_t bytes = 0;
    for (int i = 0; i < NFLOWS; i++) {
        texts[i] = gen_flow(i);
        bytes += strlen(texts[i]);
    }

    /* the limit: libyaml's event parser alone */
    int64_t t0 = time_mono_us();
    for (int i = 0; i < NFLOWS; i++) {
        yaml_parser_t p;
        yaml_event_t ev;
        yaml_parser_initialize(&p);
        yaml_parser_set_input_string(&p, (const unsigned char *)texts[i], strlen(texts[i]));
        int done = 0;
        while (!done && yaml_parser_parse(&p, &ev)) {
            done = ev.type == YAML_STREAM_END_EVENT;
            yaml_event_delete(&ev);
        }
        yaml_parser_delete(&p);
    }
    int64_t t_parse = time_mono_us() - t0;

    /* throughput: each flow freed right after, as `kite validate` does */
    t0 = time_mono_us();
    for (int i = 0; i < NFLOWS; i++) {
        diags d = DIAGS_INIT;
        flow *f = NULL;
        flow_load_text(texts[i], strlen(texts[i]), "gen.yaml", &f, &d);
        flow_free(f);
        diags_free(&d);
    }
    int64_t t_validate = time_mono_us() - t0;

    flow **flows = malloc(NFLOWS * sizeof *flows);
    size_t before = heap_in_use();
    t0 = time_mono_us();
    int invalid = 0;
    for (int i = 0; i < NFLOWS; i++) {
        diags d = DIAGS_INIT;
        if (flow_load_text(texts[i], strlen(texts[i]), "gen.yaml", &flows[i], &d)) {
            if (!invalid)
                fprintf(stderr, "unexpected: %s\n", d.n ? d.v[0].msg : "?");
            invalid++;
        }
        diags_free(&d);
    }
    int64_t t_load = time_mono_us() - t0;
    size_t after = heap_in_use();

    printf("flows: %d generated (%zu bytes, %.0f bytes average), %d invalid\n", NFLOWS, bytes,
           (double)bytes / NFLOWS, invalid);
    printf("libyaml event parse only (the limit): %8.0f flows/s  %6.1f us/flow\n", NFLOWS * 1e6 / (double)t_parse,
           (double)t_parse / NFLOWS);
    printf("load + validate + free:               %8.0f flows/s  %6.1f us/flow  (%.1fx the bare parse)\n",
           NFLOWS * 1e6 / (double)t_validate, (double)t_validate / NFLOWS, (double)t_validate / (double)t_parse);
    printf("load + validate, all kept in memory:  %8.0f flows/s  %6.1f us/flow  (%.1fx the bare parse)\n",
           NFLOWS * 1e6 / (double)t_load, (double)t_load / NFLOWS, (double)t_load / (double)t_parse);
    printf("memory per loaded flow: %.1f KiB (source text %.1f KiB of it)\n",
           (double)(after - before) / NFLOWS / 1024.0, (double)bytes / NFLOWS / 1024.0);
    for (int i = 0; i < NFLOWS; i++) {
        flow_free(flows[i]);
        free(texts[i]);
    }
    free(flows);
    free(texts);
    return invalid ? 1 : 0;
}
