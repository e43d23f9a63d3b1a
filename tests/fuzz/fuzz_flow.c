/*
 * fuzz_flow.c: libFuzzer target for flow loading: YAML parsing with
 * positions, then validation against the type tables. Any input must give
 * either a flow or diagnostics, never a crash, a leak or a hang.
 */
#include <stddef.h>
#include <stdint.h>

#include "flow/flow.h"
#include "tasks/tasks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        tasks_register_all();
        ready = 1;
    }
    flow *f = NULL;
    diags d = DIAGS_INIT;
    if (flow_load_text((const char *)data, size, "fuzz.yaml", &f, &d) == 0) {
        flow *one[1] = {f};
        flow_check_recursion(one, 1, &d);
        flow_free(f);
    }
    diags_free(&d);
    return 0;
}
